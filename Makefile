# kafkalab — the two commands a user needs:
#   make run    the whole notebook suite on the best cluster this machine can give: kind with the real Strimzi
#               operator when Docker runs and kind is installed, else the built-in hermetic cluster (started
#               and stopped for the run); its first line says which and why (kafkalab run --tier overrides)
#   make test   everything CI runs: lint, unit tests, the hermetic cluster, the notebook suite with its checks
# Everything slow (Go builds, Kafka jars) is cached in ~/.cache/kafkalab; the venv lives in .venv.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
OUT    ?= out

.PHONY: venv run test lint unit hermetic-up hermetic-down hermetic-test notebooks hermetic-run kind-offline handout lab bench clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "kafkalab needs Python 3.10+; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,bench]'
	touch $@

venv: $(VENV)/.installed

## the main job: the notebook suite on kind (real Strimzi 1.2.0) or, without Docker, the built-in cluster
run: venv
	$(VENV)/bin/kafkalab run --output $(OUT)/run $(if $(TIER),--tier $(TIER))

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
hermetic-run: venv
	$(VENV)/bin/kafkalab run --tier hermetic --output $(OUT)/hermetic-run

## the notebook suite on a kind cluster built on this machine from Debian packages and Go modules (no image pull;
## needs docker.io and debootstrap from apt; cold builds ~30 min, cached): out/kind-offline
kind-offline: venv
	bash tests/kind-offline/run.sh

## the handout site (HTML, offline) from an executed run: RUN=out/kind (make run) or out/hermetic-run
RUN ?= $(OUT)/kind
handout: venv
	$(PY) -m pip install -q -e '.[handout]'
	$(VENV)/bin/kafkalab handout $(RUN) --output $(OUT)/handout $(if $(PDF),--pdf)
	@echo "open $(OUT)/handout/index.html"

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
