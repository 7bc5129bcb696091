# `make demo` and `make test` create .venv on first use; later runs reuse it.
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,keras]'
	touch $(STAMP)

demo: install
	$(VENV)/bin/shapeproof report examples/seeds.nn

test: install
	KERAS_BACKEND=torch $(PY) -m pytest -q

bench: install
	KERAS_BACKEND=torch $(PY) benchmarks/analyzer.py

clean:
	rm -rf $(VENV) build *.egg-info
