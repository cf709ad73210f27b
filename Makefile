# Short, named targets. The README's two commands are `make course` and `make test`.
SHELL := /bin/bash
# VENV=/opt/dl-course/venv make setup builds a shared environment for a class server (README).
VENV ?= $(CURDIR)/.venv
# nbgrader runs `alembic` from PATH: the environment's bin/ comes first everywhere.
export PATH := $(VENV)/bin:$(PATH)
PORT ?= 8888
SUBMISSIONS ?= autograder/submitted

.PHONY: setup data course test test-fast notebooks reference-runs release grade lint bench constraints clean

setup:            ## build $(VENV) with the newest supported Python (PYTHON=... to choose), fetch data
	@VENV="$(VENV)" PYTHON="$(PYTHON)" bash tools/setup.sh

data: setup       ## fetch missing data sets, repair altered ones
	@python -m helpers.datasets fetch

course: setup     ## open the course in JupyterLab (prints the URL)
	@root=(); if [ "$$(id -u)" = 0 ]; then root=(--allow-root); \
	  echo "course: running JupyterLab as root is not recommended; starting it anyway (--allow-root)." >&2; fi; \
	  jupyter lab --no-browser --ServerApp.root_dir="$(CURDIR)" --port=$(PORT) --ip=127.0.0.1 "$${root[@]}"

test: setup       ## the whole test suite: unit tests, then every notebook under nbval
	python -m pytest

test-fast: setup  ## unit tests only
	python -m pytest tests -m "not slow"

notebooks: setup  ## execute the lecture and mission source notebooks in place (fresh outputs, code hashes recorded)
	python -m tools.execute_notebooks course/*.ipynb source_notebooks/*/*.ipynb

reference-runs: setup ## train the notes' Fashion-MNIST ladder for their epoch counts once (long: the file records the seconds); writes course/data/reference_runs.json for lecture 7
	python -m tools.reference_runs

release: setup    ## regenerate release/ from source_notebooks/ with nbgrader
	python -m autograder.release

grade: setup      ## grade every $(SUBMISSIONS)/<student>/<mission>/ notebook
	python -m autograder.grade "$(SUBMISSIONS)"

lint: setup
	ruff check .

bench: setup      ## measure run times, grading throughput, accuracies
	python -m benchmarks.run

constraints: setup ## re-pin every package for every supported Python (UPGRADE=1: newest releases)
	VENV="$(VENV)" bash tools/lock.sh

clean:
	rm -rf autograder/autograded autograder/feedback autograder/gradebook.db logs
