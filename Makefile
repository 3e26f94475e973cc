# The few verbs people type. `make run` serves the product on the embedded default (SQLite,
# eager tasks, local-memory cache); `make test` runs the whole suite on PostgreSQL and Redis.

PYTHON ?= python3
VENV ?= .venv
BIN ?= $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000
# Flower listens on FLOWER_PORT, else on a PORT given to make, else on 5555. Bound anywhere but
# the loopback it needs a login, FLOWER_BASIC_AUTH=user:password (read by Flower itself).
FLOWER_PORT ?= $(if $(filter file,$(origin PORT)),5555,$(PORT))
export FLOWER_BASIC_AUTH

# Test services, overridable from the environment.
TEST_ENV = DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/promo} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/1} \
	SECRET_KEY=$${SECRET_KEY:-test-secret-key} DEBUG=0

.PHONY: install run migrate seed serve worker beat flower test lint format bench clean

$(BIN)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(BIN)/.installed

run: install
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --noinput
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo
	DEBUG=$${DEBUG:-1} $(PY) manage.py runserver $(HOST):$(PORT)

# The commands the full stack runs (docker-compose calls these with BIN=/usr/local/bin). The
# production path is `make migrate serve`; the demo data is only loaded by an explicit `make seed`.
# seed_demo also installs the VIP example rule and the default notification templates, and prints
# the logins last; a real install gets the templates with `manage.py install_default_templates`.
migrate:
	$(PY) manage.py migrate --noinput

seed:
	$(PY) manage.py seed_demo

# The access log names the path, never the query string or the referer (they can carry an
# email address or a phone number searched for).
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s "%(a)s"'

serve:
	$(PY) manage.py collectstatic --noinput -v 0
	$(BIN)/gunicorn config.wsgi:application --bind $(HOST):$(PORT) --workers $${WEB_CONCURRENCY:-3} \
		--access-logfile - --access-logformat $(ACCESS_LOG_FORMAT)

worker:
	$(BIN)/celery -A config worker --loglevel=INFO --concurrency=$${CELERY_CONCURRENCY:-2}

beat:
	$(BIN)/celery -A config beat --loglevel=INFO

flower:
	@if [ -z "$$FLOWER_BASIC_AUTH" ]; then \
	  case "$(HOST)" in \
	    127.0.0.1|localhost|::1) unset FLOWER_BASIC_AUTH ;; \
	    *) echo "Flower on $(HOST) needs a login: set FLOWER_BASIC_AUTH=user:password." >&2; exit 2 ;; \
	  esac; \
	fi; \
	exec $(BIN)/celery -A config flower --address=$(HOST) --port=$(FLOWER_PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	DEBUG=1 DATABASE_URL=sqlite:///:memory: $(PY) manage.py makemigrations --check --dry-run
	node --test promotions/tests/js/
	$(TEST_ENV) $(PY) -m pytest -n $${PYTEST_WORKERS:-2} --dist loadfile $(PYTEST_ARGS)

bench: install
	$(TEST_ENV) LOG_LEVEL=WARNING $(PY) -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) staticfiles db.sqlite3
