# The two commands of the README: `make quickstart` and `make test`.
# Both create .venv with the pinned torch/torchvision pair first (see requirements/constraints.txt).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt

.PHONY: install quickstart test test-slow lint clean

$(BIN)/mixup-tune: pyproject.toml $(CONSTRAINTS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) torch torchvision
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[test,cluster,postgres,timm,saliency,puzzlemix]"
	touch $@

install: $(BIN)/mixup-tune

quickstart: install
	$(BIN)/mixup-tune run sweeps/quickstart.yaml
	$(BIN)/mixup-tune analyze quickstart --out results/quickstart

# Two tiers. `make test`: everything but the slow tier, in minutes on 2 cores. `make test-slow`: the scenarios
# that wait in real time or start whole systems (chaos, clusters, Ray jobs, the browser, the benchmarks' smoke
# runs) and the storage matrix's two server modes. CI runs both (.ci/run); `pytest` alone runs everything.
test: install
	$(BIN)/python -m pytest -m "not slow"

test-slow: install
	$(BIN)/python -m pytest -m slow

# Lint, format, types and import contracts (pyproject.toml); CI runs it before the tests.
lint: install
	$(BIN)/ruff check trainables mixup_tune analysis tests benchmarks
	$(BIN)/ruff format --check trainables mixup_tune analysis tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) mlflow.db mlartifacts mixup_tune_results results
