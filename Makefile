# Short, named targets. The README's two commands are `make course` and `make test`.
SHELL := /bin/bash
# VENV=/opt/dl-course/venv make setup builds a shared environment for a class server (README).
VENV ?= $(CURDIR)/.venv
# nbgrader runs `alembic` from PATH: the environment's bin/ comes first everywhere.
export PATH := $(VENV)/bin:$(PATH)
PORT ?= 8888
# `make collect` stages new submissions here; grading copies them into autograder/submitted.
SUBMISSIONS ?= autograder/inbox
# The class server (make hub): roster, state folder (exchange, hub database), listening port.
ROSTER ?= roster.csv
HUB_STATE ?= /var/lib/dl-course-hub
HUB_PORT ?= 8000
HUB_IP ?=
MISSION ?=
# With a hub set up, every nbgrader command of the course uses the class's exchange.
ifneq ($(wildcard $(HUB_STATE)/settings.json),)
export COURSE_EXCHANGE := $(HUB_STATE)/exchange
endif
share_if_hub = if [ -f "$(HUB_STATE)/settings.json" ] && [ "$$(id -u)" = 0 ]; then python -m tools.hub share; fi

.PHONY: setup data course test test-fast notebooks reference-runs release grade lint bench constraints clean \
	hub publish collect feedback export

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
	@$(share_if_hub)

hub: setup        ## run the class's JupyterHub (as root): ROSTER=roster.csv HUB_PORT=8000 HUB_STATE=...
	@VENV="$(VENV)" bash tools/hub/install_proxy.sh
	python -m tools.hub start --roster "$(ROSTER)" --port $(HUB_PORT) --ip "$(HUB_IP)" --state "$(HUB_STATE)"

publish: setup    ## release missions to the class's exchange (MISSION=... for one)
	python -m autograder.classroom publish $(MISSION)

collect: setup    ## collect the latest submissions; new ones go to autograder/inbox for make grade
	python -m autograder.classroom collect $(MISSION)
	@$(share_if_hub)

feedback: setup   ## release graded feedback through the exchange (MISSION=... for one)
	python -m autograder.classroom feedback $(MISSION)

export: setup     ## grades.csv (nbgrader's long format) and grades_lms.csv (Canvas/Moodle) from the gradebook
	python -m autograder.export $(if $(wildcard $(ROSTER)),--roster "$(ROSTER)")

lint: setup       ## ruff's checks, and every Python file formatted
	ruff check .
	ruff format --check .

bench: setup      ## measure run times, grading throughput, accuracies
	python -m benchmarks.run

constraints: setup ## re-pin every package for every supported Python (UPGRADE=1: newest releases)
	VENV="$(VENV)" bash tools/lock.sh

clean:
	rm -rf autograder/autograded autograder/feedback autograder/gradebook.db logs autograder/inbox autograder/collected
