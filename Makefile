# musicorg: `make run` opens the app (on the demo library when none is configured),
# `make test` runs the gates and the whole test suite. Both set up what they need first.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export QT_QPA_PLATFORM ?= offscreen

.PHONY: setup sysdeps run test lint format typecheck check bench clean demo report bundle bundle-smoke wheel-check

setup: sysdeps $(STAMP)

sysdeps:
	@scripts/system_deps.sh

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# The real window: Qt's X11 libraries and the audio client libraries too.
run: setup
	@scripts/system_deps.sh --desktop
	QT_QPA_PLATFORM= $(VENV)/bin/musicorg

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup lint
	$(PY) -m pytest

demo: $(STAMP)
	$(PY) scripts/make_demo.py

# The evaluation reports (training/report/REPORT.md + figures: the Debian held-out tracks;
# training/report/REALSONGS.md: the held-out real songs and the MusiCNN patch count) from the
# runs of both configurations in ~/.cache/musicorg/runs; needs the prepared corpora and the
# previous bundled model as a baseline (training/MODEL.md).
REPORT_SEEDS ?= 1 2 3
BASELINE_BUNDLE ?= $(HOME)/.cache/musicorg/baselines/hvae-0.9.0
REPORT_STAMP := $(VENV)/.report-installed

# What the training and report code needs beyond the app (figures, the lyrics corpora).
$(REPORT_STAMP): $(STAMP)
	$(PY) -m pip install -q -c constraints.txt matplotlib pandas pyarrow
	touch $(REPORT_STAMP)

report: $(REPORT_STAMP)
	$(PY) -m training.report --config training/configs/paper.toml \
		--config training/configs/ours.toml --seeds $(REPORT_SEEDS) --out training/report
	$(PY) -m training.realeval --ours ours-v9 --paper paper --seeds $(REPORT_SEEDS) \
		--baseline-bundle $(BASELINE_BUNDLE) --out training/report

# One-folder desktop bundle (PyInstaller): dist/musicorg/musicorg. Heavy (torch): not run in CI.
BUNDLE_STAMP := $(VENV)/.bundle-installed

$(BUNDLE_STAMP): $(STAMP)
	$(PY) -m pip install -q -c constraints.txt -e '.[dev,bundle]'
	touch $(BUNDLE_STAMP)

bundle: setup $(BUNDLE_STAMP)
	$(VENV)/bin/pyinstaller --noconfirm --clean --log-level WARN \
		--workpath build/pyinstaller --distpath dist packaging/musicorg.spec
	@du -sh dist/musicorg

# The built bundle runs the whole pipeline offscreen on the demo library, in a throwaway home.
bundle-smoke:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	MUSICORG_DATA_DIR=$$tmp/data MUSICORG_CONFIG_DIR=$$tmp/config \
	MUSICORG_CACHE_DIR=$$tmp/cache MUSICORG_LOG_DIR=$$tmp/log \
	dist/musicorg/musicorg --smoke --demo

# The wheel and sdist, installed into a clean venv and run headless (also run by .ci/run).
wheel-check: $(STAMP)
	scripts/check_wheel.sh

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache
