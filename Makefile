# Thin wrappers. Every target creates .venv and installs the project on first use, so a fresh
# clone needs nothing else than Python >= 3.10 and make.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

comma := ,

.PHONY: verify check test lint format bench mutants clean gradescope-bundle sandbox browser

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[plot,dev]'
	rm -rf gradref.egg-info   # a build by-product; on sys.path (python -m pytest) it would shadow the install
	touch $(STAMP)

verify: $(STAMP)   ## the reference verified by finite differences and autograd, as a report
	$(VENV)/bin/gradref verify

check: $(STAMP) sandbox browser   ## the whole test suite (CI runs this)
	$(PY) -m pytest

# $(call apt_install,COMMAND,PACKAGE,NOTE): apt-get installs PACKAGE when COMMAND is missing and
# this is root with apt-get; otherwise NOTE says what is skipped without it
apt_install = @command -v $(1) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(2); \
	  else \
	    echo "note: $(2) is not installed and this is not root with apt-get: $(3)"; \
	  fi; }

sandbox:   ## bubblewrap, the sandbox's boundary: apt-get installs it when missing and root
	$(call apt_install,bwrap,bubblewrap,submissions run at the weaker uid/none isolation level$(comma) boundary tests are skipped)

browser:   ## headless Chromium, for the test that looks at the HTML class report
	$(call apt_install,chromium,chromium,the headless-browser test of the class report is skipped)

test: check

lint: $(STAMP)
	$(PY) -m ruff check __init__.py __main__.py reference checks tests bench examples

format: $(STAMP)
	$(PY) -m ruff check --fix reference checks tests bench examples

bench: $(VENV)/.bench-stamp    ## performance against peers measured in the same run
	$(PY) bench/run.py $(BENCH_ARGS)

$(VENV)/.bench-stamp: $(STAMP) pyproject.toml   # the peers (torch CPU wheel, jax): bench only
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[plot,dev,bench]'
	touch $@

mutants: $(STAMP)  ## mutation testing of reference/ and the checker (slow; not part of check)
	$(PY) tests/mutation/run.py --out mutants.json $(MUTANTS_ARGS)

gradescope-bundle: $(STAMP)
	$(VENV)/bin/gradref bundle --out gradescope-bundle.zip

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis gradescope-bundle.zip
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
