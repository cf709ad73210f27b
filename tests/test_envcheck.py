import pytest

from helpers import envcheck


def test_course_environment_passes(capsys):
    versions = envcheck.check_environment()
    out = capsys.readouterr().out
    assert "Environment OK." in out
    assert versions["keras"].startswith("3.") and versions["tensorflow"].startswith("2.21")
    assert versions["data:mnist"] == "verified"


def test_version_drift_is_named_with_its_fix(monkeypatch):
    monkeypatch.setattr(envcheck, "_safe_version", lambda dist: "2.15.0")  # a Keras 2 kernel
    with pytest.raises(envcheck.EnvironmentMismatch) as err:
        envcheck.check_environment(quiet=True)
    assert "keras 2.15.0 is installed; the course needs 3." in str(err.value)
    assert "make course" in str(err.value)


def test_old_helpers_is_named(monkeypatch):
    with pytest.raises(
        envcheck.EnvironmentMismatch,
        match=r"helpers 0\.1\.0 is older than this notebook needs \(9\.0\)",
    ):
        envcheck.check_environment(min_helpers="9.0", quiet=True)


def test_expected_versions_match_requirements(repo):
    reqs = (repo / "requirements.txt").read_text()
    assert f"keras=={envcheck.EXPECTED['keras']}" in reqs
    assert f"tensorflow-cpu=={envcheck.EXPECTED['tensorflow']}." in reqs
