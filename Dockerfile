# Shortcode web service.
#
# Configure it with environment variables (SHORTCODE_<SECTION>_<KEY>, see docs/configuration.md).
# Required: the image ships no secret, and `serve` on 0.0.0.0 refuses to start (exit 2, naming the
# variable) while any of these is empty or a demo value published with the project:
#   SHORTCODE_USSD_SECRET    shared secret the USSD gateway sends (?key= or X-Shortcode-Key)
#   SHORTCODE_SMS_SECRETS    secrets the SMS gateway signs its callbacks with (comma-separated)
#   SHORTCODE_SMS_API_KEY    our API key at the SMS gateway
# Optional:
#   SHORTCODE_REDIS_URL      redis://host:6379/0; the default "embedded" keeps sessions in this
#                            process only (lost on restart, one container only)
#   SHORTCODE_DATABASE_URL   SQLAlchemy URL, e.g. postgresql+psycopg://user:pass@host/db (the psycopg
#                            driver is installed); the default is SQLite in /app/var/shortcode.db
#
# Mount a volume on /app/var to keep the SQLite file. Demo subscribers:
#   docker run ... IMAGE shortcode seed --demo --if-empty
# e.g. docker run -e SHORTCODE_USSD_SECRET=... -e SHORTCODE_SMS_SECRETS=... -e SHORTCODE_SMS_API_KEY=... IMAGE
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 shortcode

WORKDIR /app
COPY . /app

# Editable on purpose: config.toml, menus/ and locale/ are found relative to the project root (/app).
RUN pip install --no-cache-dir -e . \
 && pybabel compile -d locale -D messages --use-fuzzy \
 && mkdir -p var \
 && chown shortcode:shortcode var

USER shortcode
EXPOSE 8080

CMD ["sh", "-c", "shortcode db upgrade && exec shortcode serve --host 0.0.0.0"]
