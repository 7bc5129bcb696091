# `make demo` and `make test` create .venv on first use; later runs reuse it.
# The demo needs the base package only (no PyTorch, no CUDA toolchain); the tests install the extras they test.
VENV      := .venv
PY        := $(VENV)/bin/python
BASE      := $(VENV)/.base-stamp
TEST      := $(VENV)/.test-stamp
TEST_ENV  := KERAS_BACKEND=torch SHAPEPROOF_COMPILE_PROCESSES=1
# pytest-xdist workers: one per core, at most 4 (each holds Keras, PyTorch and Numba: ~1.5 GB); they keep
# the cores busy, so a build compiles in its own process only (tests/test_cache.py checks several)
JOBS      ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)
PYTEST    := $(PY) -m pytest -q -n $(JOBS)

.PHONY: install demo test test-all bench clean

install: $(TEST)

$(VENV)/bin/python:
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(BASE): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e .
	touch $(BASE)

$(TEST): pyproject.toml | $(VENV)/bin/python
	$(PY) -m pip install --quiet -e '.[test,keras,cpu,cuda,dask]'
	touch $(BASE) $(TEST)

demo: $(BASE)
	$(VENV)/bin/shapeproof report examples/seeds.nn

# NUMBA_BOUNDSCHECK: an out-of-bounds index in a generated kernel fails a test instead of reading garbage.
# tests/cuda runs in a second process: without a GPU it needs the CUDA simulator, chosen before Numba loads.
# `make test` skips the costly cases marked `full` (a bounded subset of each real-model suite runs);
# `make test-all` runs them too.
test: $(TEST)
	$(TEST_ENV) NUMBA_BOUNDSCHECK=1 $(PYTEST)
	$(TEST_ENV) $(PYTEST) tests/cuda

test-all: $(TEST)
	$(TEST_ENV) NUMBA_BOUNDSCHECK=1 SHAPEPROOF_TEST_ALL=1 $(PYTEST)
	$(TEST_ENV) SHAPEPROOF_TEST_ALL=1 $(PYTEST) tests/cuda

bench: $(TEST)
	$(TEST_ENV) $(PY) benchmarks/analyzer.py
	$(PY) benchmarks/forward_cpu.py

clean:
	rm -rf $(VENV) build *.egg-info
