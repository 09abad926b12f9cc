# The two commands of the README:
#   make demo   installs the app, builds a demo database and runs it on :5000 (PORT=8080 make demo)
#   make test   installs the app and its test tools (also Chromium for the browser tests) and runs
#               the tests
# Set BUURTBUDGET_TEST_DATABASE_URL to run the tests on PostgreSQL.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app buurtbudget
PORT   ?= 5000

.PHONY: demo test test-deps install install-test translations browser lint messages node_modules

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# What the app needs to run (make demo); the test tools come with install-test (make test).
install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

translations: install
	$(BIN)/pybabel compile -d translations

# Browser tests use Debian's Chromium; install it when it is missing (needs root, as on CI).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing chromium"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; \
	fi

# axe-core for the accessibility sweep (tests/e2e/test_page_sweep.py), pinned in
# package-lock.json and installed from the npm registry into node_modules/ (git-ignored).
node_modules: node_modules/axe-core/axe.min.js

node_modules/axe-core/axe.min.js: package.json package-lock.json
	@command -v npm >/dev/null || { \
		echo "Installing npm"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq npm; \
	}
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: translations
	$(FLASK) db upgrade
	$(FLASK) rules warm-up
	$(FLASK) seed-demo
	$(FLASK) run --port $(PORT)

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Everything the tests need, installed (.ci/run installs it before it looks at the checkout).
test-deps: install-test translations browser node_modules

# Two processes (pytest-xdist, one per core; each with its own database), then the tests that
# must run alone (restarting PostgreSQL, killing workers). JOBS=1 runs everything in one process.
JOBS ?= 2
test: test-deps lint
	$(BIN)/pytest -n $(JOBS) --dist loadfile -m "not serial"
	$(BIN)/pytest -m serial

# For developers: refresh the message catalogues after changing texts.
messages: install-test
	$(BIN)/pybabel extract -F translations/babel.cfg -k _l --no-location --sort-output -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete
