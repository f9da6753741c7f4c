# Shortcode: one image for every process (serve, worker, scheduler, db upgrade; docker-compose.yml runs them).
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
# e.g. docker run -p 8080:8080 -e SHORTCODE_USSD_SECRET=... -e SHORTCODE_SMS_SECRETS=... -e SHORTCODE_SMS_API_KEY=... IMAGE
FROM python:3.11-slim

# SHORTCODE_IN_CONTAINER: `shortcode serve` prints a banner that is true in here (bot/tools/banner.py).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SHORTCODE_IN_CONTAINER=1

RUN useradd --create-home --uid 10001 shortcode

WORKDIR /app

# Dependencies from the hashed lock alone (pip refuses any file whose hash differs), in a layer of their
# own that a code change does not rebuild. `make lock` refreshes it (docs/operations.md).
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

# The service itself: code and the data it reads, nothing else (tests/, bench/ and docs/ stay out; so does
# everything .dockerignore lists). Editable on purpose: config.toml, menus/ and locale/ are found relative
# to the project root (/app). --no-deps: everything it needs came from the lock above.
COPY pyproject.toml config.toml ./
COPY bot ./bot
COPY flows ./flows
COPY integrations ./integrations
COPY jobs ./jobs
COPY menus ./menus
COPY locale ./locale
RUN pip install --no-cache-dir --no-deps -e . \
 && pybabel compile -d locale -D messages --use-fuzzy \
 && mkdir -p var/metrics \
 && chown -R shortcode:shortcode var

USER shortcode
EXPOSE 8080

CMD ["sh", "-c", "shortcode db upgrade && exec shortcode serve --host 0.0.0.0"]
