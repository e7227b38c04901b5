# Two commands on a fresh machine: `make run` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
SERVICES := $(PY) -m config.services exec --
# Beside a running `make run`: its servers, but a Redis database of our own (README "Running commands …").
ISOLATED := $(PY) -m config.services exec --isolated --

.PHONY: install run test bench lint browser backup restore clean-var

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	$(PY) -m config.services run

# Debian's chromium drives the browser tests (Playwright never downloads a browser here).
browser:
	@{ command -v chromium && fc-list | grep -qi wqy; } >/dev/null 2>&1 || { \
	  echo "安装 Debian chromium（浏览器测试需要）…"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }

test: install browser
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	DEBUG=1 $(ISOLATED) $(PY) manage.py makemigrations --check --dry-run
	$(ISOLATED) $(PY) -m pytest $(PYTEST_ARGS)

bench: install
	$(ISOLATED) $(PY) -m tests.bench $(BENCH_ARGS)

# The configured database (DATABASE_URL, else the embedded one of `make run`) and MEDIA_ROOT, into one file
# var/backups/<db>-<date-time>.tar (README "Backups"); restore only into an empty database.
backup: install
	$(SERVICES) $(PY) manage.py backup

restore: install
	@test -n "$(FILE)" || { echo "用法: make restore FILE=var/backups/….tar"; exit 2; }
	$(SERVICES) $(PY) manage.py restore "$(FILE)"

lint: install
	$(PY) -m ruff check .

clean-var:
	rm -rf var
