# Short, named targets. The README's two commands are `make course` and `make test`.
SHELL := /bin/bash
VENV := $(CURDIR)/.venv
# nbgrader runs `alembic` from PATH: the environment's bin/ comes first everywhere.
export PATH := $(VENV)/bin:$(PATH)
PORT ?= 8888
SUBMISSIONS ?= autograder/submitted

.PHONY: setup data course test test-fast notebooks release grade lint bench constraints clean

setup:            ## build .venv, install pins, fetch and verify the data sets
	@bash tools/setup.sh

data: setup       ## fetch missing data sets, repair altered ones
	@python -m helpers.datasets fetch

course: setup     ## open the course in JupyterLab (prints the URL)
	jupyter lab --no-browser --ServerApp.root_dir="$(CURDIR)" --port=$(PORT) --ip=127.0.0.1

test: setup       ## the whole test suite: unit tests, then every notebook under nbval
	python -m pytest

test-fast: setup  ## unit tests only
	python -m pytest tests -m "not slow"

notebooks: setup  ## execute the lecture and mission source notebooks in place (fresh outputs, code hashes recorded)
	python -m tools.execute_notebooks course/*.ipynb source_notebooks/*/*.ipynb

release: setup    ## regenerate release/ from source_notebooks/ with nbgrader
	python -m autograder.release

grade: setup      ## grade every $(SUBMISSIONS)/<student>/<mission>/ notebook
	python -m autograder.grade "$(SUBMISSIONS)"

lint: setup
	ruff check .

bench: setup      ## measure run times, grading throughput, accuracies
	python -m benchmarks.run

constraints:      ## re-pin every transitive dependency from the current .venv
	{ head -2 constraints.txt; .venv/bin/pip freeze --exclude-editable; } > constraints.txt.new && mv constraints.txt.new constraints.txt

clean:
	rm -rf autograder/autograded autograder/feedback autograder/gradebook.db logs
