# `make demo` and `make test` create .venv on first use; later runs reuse it.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,keras,cpu,cuda]'
	touch $(STAMP)

demo: install
	$(VENV)/bin/shapeproof report examples/seeds.nn

# NUMBA_BOUNDSCHECK: an out-of-bounds index in a generated kernel fails a test instead of reading garbage.
# tests/cuda runs in a second process: without a GPU it needs the CUDA simulator, chosen before Numba loads.
test: install
	KERAS_BACKEND=torch NUMBA_BOUNDSCHECK=1 $(PY) -m pytest -q
	KERAS_BACKEND=torch $(PY) -m pytest -q tests/cuda

bench: install
	KERAS_BACKEND=torch $(PY) benchmarks/analyzer.py
	$(PY) benchmarks/forward_cpu.py

clean:
	rm -rf $(VENV) build *.egg-info
