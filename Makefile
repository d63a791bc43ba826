# kafkalab — the two commands a user needs:
#   make run    the whole notebook suite against a kind cluster it creates (needs Docker + kind)
#   make test   everything CI runs: lint, unit tests, the hermetic cluster, every notebook under nbval
# Everything slow (Go builds, Kafka jars) is cached in ~/.cache/kafkalab; the venv lives in .venv.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
OUT    ?= out

.PHONY: venv run test lint unit hermetic-up hermetic-down hermetic-test notebooks hermetic-run lab bench clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "kafkalab needs Python 3.10+; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

venv: $(VENV)/.installed

## the main job: the notebook suite against a kind cluster (real Strimzi 1.2.0)
run: venv
	$(VENV)/bin/kafkalab doctor
	$(VENV)/bin/kafkalab run --output $(OUT)/kind

## the test command CI runs (.ci/run calls exactly this)
test: venv
	bash tests/run-all.sh

lint: venv
	$(VENV)/bin/ruff check kafkalab tests bench
	$(VENV)/bin/ruff format --check kafkalab tests bench

unit: venv
	$(PY) -m pytest tests/unit

hermetic-up: venv
	bash tests/hermetic/up.sh

hermetic-down:
	bash tests/hermetic/down.sh

hermetic-test: venv
	$(PY) -m pytest tests/hermetic

notebooks: venv
	bash tests/notebooks/run.sh hermetic $(OUT)/hermetic

## the notebook suite on the hermetic cluster, no Docker needed (executed notebooks in out/hermetic-run)
hermetic-run: venv hermetic-up
	. "$${KAFKALAB_HERMETIC_DIR:-/tmp/kafkalab-hermetic}/env" && $(VENV)/bin/kafkalab run --hermetic --output $(OUT)/hermetic-run; \
	  rc=$$?; bash tests/hermetic/down.sh; exit $$rc

$(VENV)/.lab-installed: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[lab]'
	touch $@

## JupyterLab on notebooks/ with the tier's kube settings (hermetic when it is up, else kind); says how first
lab: $(VENV)/.lab-installed
	$(PY) -m kafkalab.lab

bench: venv
	bash bench/run.sh

clean: hermetic-down
	rm -rf $(VENV) $(OUT) *.egg-info
