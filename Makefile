# Set-up is two commands: `make demo` and `make test`. Both create .venv on their own.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
CASE ?= sample_data/demo_case

.PHONY: demo test lint bench clean sample system browser lab

# Debian packages the project needs: e2fsprogs (mke2fs builds the sample case's Linux image);
# tshark, the reference the capture tests and benchmark compare with (optional: they skip without);
# yara (the yara and yarac commands), the reference the YARA benchmark compares with (optional too);
# Pango, which WeasyPrint needs to print the report as PDF.
system:
	@command -v mke2fs >/dev/null 2>&1 || command -v /usr/sbin/mke2fs >/dev/null 2>&1 || \
	  { echo "installing e2fsprogs (mke2fs) with apt-get"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -q e2fsprogs; }
	@command -v tshark >/dev/null 2>&1 || \
	  { echo "installing tshark with apt-get"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q tshark \
	    || echo "tshark could not be installed: the tests comparing with it will skip"; }
	@command -v yara >/dev/null 2>&1 || \
	  { echo "installing yara with apt-get"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q yara \
	    || echo "yara could not be installed: the YARA benchmark will report it missing"; }
	@/sbin/ldconfig -p 2>/dev/null | grep -q libpangoft2-1.0 || \
	  { echo "installing Pango (for PDF reports) with apt-get"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    libpango-1.0-0 libpangoft2-1.0-0 || echo "Pango could not be installed: PDF reports will fail"; }

# Chromium (headless), which tests/browser.py drives to prove generated HTML reports are inert
# (optional: the tests needing it skip without, except under CI=true).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  command -v google-chrome >/dev/null 2>&1 || \
	  { echo "installing chromium with apt-get"; \
	    $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium \
	    || echo "chromium could not be installed: the tests needing it will skip"; }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py parsers/network/_checksum.c | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml setup.py parsers/network/_checksum.c | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed system
	$(BIN)/python -m forensics.demo --case $(CASE)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check forensics parsers tests benchmarks
	$(BIN)/ruff format --check forensics parsers tests benchmarks

# Regenerate the committed sample case (deterministic: a clean tree stays clean).
sample: $(VENV)/.installed system
	$(BIN)/python -m forensics.samples --out sample_data/case01

test: lint system browser
	$(BIN)/python -m pytest -n 2 -q

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks.run

# The investigation notebooks in JupyterLab (TRACEHOUND_CASE names the case folder they use).
lab: | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev,lab]'
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) .pytest_cache benchmarks/.cache build
	find parsers -name '*.so' -delete
