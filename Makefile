# `make demo` and `make test` create .venv on first use; later runs reuse it.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,keras,cpu]'
	touch $(STAMP)

demo: install
	$(VENV)/bin/shapeproof report examples/seeds.nn

# NUMBA_BOUNDSCHECK: an out-of-bounds index in a generated kernel fails a test instead of reading garbage.
test: install
	KERAS_BACKEND=torch NUMBA_BOUNDSCHECK=1 $(PY) -m pytest -q

bench: install
	KERAS_BACKEND=torch $(PY) benchmarks/analyzer.py
	$(PY) benchmarks/forward_cpu.py

clean:
	rm -rf $(VENV) build *.egg-info
