# The one place that knows how to set up, run, lint, test and benchmark the app.
# `make run` and `make test` are the two commands in the README.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi.py
# pytest-xdist: one test worker per core, each with its own PostgreSQL database, Chromium and Redis keys; a worker
# that finishes early takes tests from the other. PYTEST_WORKERS=0 runs every test in this one process.
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL = -n $(PYTEST_WORKERS) --dist worksteal

.PHONY: run test test-fast lint translations venv dev-venv services bench clean

$(BIN)/python:
	@scripts/ensure-venv.sh "$(PYTHON)" "$(VENV)"

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --disable-pip-version-check -q -r requirements-dev.txt
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed
dev-venv: $(VENV)/.installed-dev

translations: $(VENV)/.installed
	@$(BIN)/pybabel -q compile -d merchant_alliance/translations

## run: set up, migrate, load the Yuyuan Road demo when the database is empty, serve on :5000
run: venv translations
	$(BIN)/flask db upgrade
	$(BIN)/flask demo load --if-empty
	$(BIN)/flask run --host 127.0.0.1 --port 5000

## test: install what the tests need (PostgreSQL, Chromium, CJK fonts), start services, run every test
test: dev-venv translations
	@scripts/test-services.sh
	@set -a; [ -f instance/test-services.env ] && . instance/test-services.env; set +a; \
	$(BIN)/ruff check . && $(BIN)/pytest $(PYTEST_PARALLEL) $(PYTEST_ARGS)

## test-fast: the tests without PostgreSQL and the browser
test-fast: dev-venv translations
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not browser" $(PYTEST_ARGS)

lint: dev-venv
	$(BIN)/ruff check .

## update the catalogues after changing user-facing strings
translations-update: dev-venv
	$(BIN)/flask translate update

## bench: every figure the product is held to, on SQLite and PostgreSQL (exits 1 when one is missed)
bench: dev-venv translations
	@scripts/test-services.sh
	@set -a; [ -f instance/test-services.env ] && . instance/test-services.env; set +a; status=0; \
	for run in "photo_ingest.py --check" "fund_books.py" "fund_books.py --postgres" "page_throughput.py" \
	           "page_throughput.py --postgres" "officer_home.py" "officer_home.py --postgres" "answer_photo.py" \
	           "answer_photo.py --postgres" "works_board.py" "works_board.py --postgres" "registry.py" \
	           "registry.py --postgres"; do \
	  echo "== bench/$$run"; PYTHONPATH=. $(BIN)/python bench/$$run || status=1; \
	done; exit $$status

clean:
	rm -rf $(VENV) instance/test-* .pytest_cache
