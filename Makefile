# Shortcode: `make run` starts the service on embedded defaults, `make test` runs the whole suite.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test bench soak install lock catalogs db redis-server postgresql chromium screenshots wrk extract clean

# Installs exactly what requirements-dev.lock pins (every file checked against its hash), then the project
# itself without resolving anything again. `make lock` refreshes the locks after pyproject.toml changes.
$(STAMP): pyproject.toml requirements-dev.lock
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --require-hashes -r requirements-dev.lock
	$(BIN)/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

catalogs: $(STAMP)
	$(BIN)/pybabel -q compile -d locale -D messages --use-fuzzy

db: catalogs
	$(BIN)/shortcode db upgrade
	$(BIN)/shortcode seed --demo --if-empty

run: db
	$(BIN)/shortcode serve

# A real redis-server binary for the tests; the suite starts its own instance on a free port.
redis-server:
	@command -v redis-server >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server; }

# PostgreSQL binaries for the tests; the suite initialises and starts its own cluster on a free port.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; }

# Debian's Chromium and the CJK fonts for the console's browser tests (playwright drives /usr/bin/chromium
# offline: no browser download).
chromium:
	@{ command -v chromium >/dev/null && fc-list 2>/dev/null | grep -q "Noto Sans CJK"; } || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk; }

# One pytest-xdist worker per core; an idle worker takes tests from a busy one (worksteal: 8 min 51 s to 12 min here,
# against 10 min 50 s with a file's tests kept on one worker).
test: catalogs redis-server postgresql chromium
	@$(BIN)/pytest -n auto --dist worksteal; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing on purpose"; exit 1; fi; exit $$rc

# Every console page in both languages, saved in docs/screenshots/ (docs/console.md links them).
screenshots: catalogs redis-server chromium
	SHORTCODE_SCREENSHOTS=1 $(BIN)/pytest -q tests/browser/test_screenshots.py

# Load generator for the benchmarks (Debian's wrk).
wrk:
	@command -v wrk >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }

# The compose topology as local processes (real redis-server and PostgreSQL under var/cluster/, serve x2,
# workers x2, the scheduler, the simulated gateway and Bot API) in the foreground: Ctrl-C stops it all.
# `shortcode cluster up --help` lists the ports and counts; `--detach` and `shortcode cluster down`.
.PHONY: cluster
cluster: catalogs redis-server postgresql
	$(BIN)/shortcode cluster up

# Benchmarks (never part of `make test`): each prints a table and writes JSON under bench/results/.
# About 21 minutes on 2 cores; docs/benchmarks.md records the latest figures.
bench: catalogs redis-server wrk
	$(BIN)/python bench/ussd_turn.py
	$(BIN)/python bench/variants.py
	$(BIN)/python bench/sms_roundtrip.py
	$(BIN)/python bench/sms_reply.py
	$(BIN)/python bench/telegram_roundtrip.py --with-sms
	$(BIN)/python bench/flood.py
	$(BIN)/python bench/bulk_outbound.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/scale.py

# The hardening suite at length: the stateful property test with 10x the examples.
soak: catalogs redis-server postgresql
	SHORTCODE_STATEFUL_EXAMPLES=2000 $(BIN)/pytest tests/hardening

# Maintainers: refresh messages.pot and merge it into every catalog after changing strings.
extract: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg -k T -o locale/messages.pot --no-location --sort-output .
	$(BIN)/pybabel -q update -i locale/messages.pot -d locale -D messages --no-fuzzy-matching

# Maintainers: compile pyproject.toml into the hashed locks (docs/operations.md, "Locked dependencies").
# requirements-dev.lock (runtime + test + ml) is what `make install` uses; requirements.lock (runtime only,
# the same versions) is what the Dockerfile uses. Pins already in the locks are kept while pyproject.toml
# allows them; `make lock UPGRADE=1` takes the newest releases it allows instead.
UV      := uv==0.13.9
LOCKFLAGS := --universal --python-version 3.11 --generate-hashes --custom-compile-command "make lock" \
	$(if $(UPGRADE),--upgrade) --quiet
lock: $(STAMP)
	$(BIN)/pip install -q $(UV)
	$(BIN)/uv pip compile pyproject.toml --extra test --extra ml $(LOCKFLAGS) -o requirements-dev.lock
	$(BIN)/uv pip compile pyproject.toml -c requirements-dev.lock $(LOCKFLAGS) -o requirements.lock

clean:
	rm -rf $(VENV) var
