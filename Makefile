# The two commands of the README:
#   make demo   installs everything, builds a demo database and runs the app on :5000
#   make test   installs everything (also Chromium for the browser tests) and runs the tests
# Set BUURTBUDGET_TEST_DATABASE_URL to run the tests on PostgreSQL.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app buurtbudget
PORT   ?= 5000

.PHONY: demo test install translations browser lint messages node_modules

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'

translations: install
	$(BIN)/pybabel compile -d translations

# Browser tests use Debian's Chromium; install it when it is missing (needs root, as on CI).
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		echo "Installing chromium and chromium-driver"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver; \
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
	$(FLASK) seed-demo
	$(FLASK) run --port $(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: translations browser node_modules lint
	$(BIN)/pytest

# For developers: refresh the message catalogues after changing texts.
messages: install
	$(BIN)/pybabel extract -F translations/babel.cfg -k _l --no-location --sort-output -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete
