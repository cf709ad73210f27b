"""`make bench` works end to end on a toy setting (figures are not checked: benchmarks are not tests)."""

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_bench_runs_on_a_tiny_setting(repo, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "benchmarks.run", "--tiny", "--out", str(tmp_path)],
                          cwd=repo, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["tiny"] is True and results["machine"]["cores"]
    assert results["notebooks"][0]["seconds"] > 0
    # The figure the tiny notebook recorded travelled through $COURSE_METRICS_FILE.
    cnn = next(r for r in results["accuracy"] if r["figure"] == "lecture06_cnn_test_accuracy")
    assert cnn["measured"] == 0.5 and cnn["meets_reference"] is False
    single, batch = results["grading"]
    assert single["submissions"] == 1 and single["jobs"] == 1 and single["scores"].startswith("0/")
    assert batch["submissions"] == 2 and batch["scores"].startswith("0/")
    assert results["grading_throughput"]["parallel"]["submissions"] == 2
    # One graded submission's seconds, phase by phase, and what is not the notebook's own.
    phases = single["phases"]
    assert phases["nbgrader_startup"] > 0 and phases["kernel_start"] > 0
    assert phases["feedback"] > 0 and phases["overhead"] <= phases["total"]
    assert results["numpy_vs_keras"]["rows"] == 1000
    assert results["setup"][0]["seconds"] >= 0
    md = (tmp_path / "results.md").read_text()
    assert "Machine for every row" in md and "Tiny setting" in md
    assert "Where one submission's seconds go" in md
    # The targets table reads the same figures: the tiny CNN's 0.5 misses its 0.99.
    mnist_cnn = next(t for t in results["targets"] if t["target"].startswith("MNIST CNN"))
    assert mnist_cnn["measured"] == 0.5 and mnist_cnn["met"] is False
    assert "## Targets" in md


def test_targets_hold_or_fail_on_the_measured_figures():
    from benchmarks.run import targets

    results = {
        "bench_seconds": 1799.0,
        "notebooks": [{"notebook": "course/a.ipynb", "seconds": 299.0},
                      {"notebook": "course/b.ipynb", "seconds": 1200.0},
                      {"notebook": "source_notebooks/m/m.ipynb", "seconds": 400.0}],
        "grading": [{"mission": "m1", "batch": 1, "seconds_per_submission": 59.0},
                    {"mission": "m2", "batch": 1, "seconds_per_submission": 61.0},
                    {"mission": "m2", "batch": 20, "seconds_per_submission": 90.0}],
        "accuracy": [{"figure": "lecture06_cnn_test_accuracy", "measured": 0.9901},
                     {"figure": "lecture07_cnn_test_accuracy", "measured": 0.9099}],
        "numpy_vs_keras": {"fast_over_keras": 0.2},
    }
    met = {t["target"]: t["met"] for t in targets(results)}
    assert met == {
        "whole `make bench` under 30 min": True,
        "every notebook under 5 min": False,           # the mission notebook took 400 s
        "lecture notebooks together under 25 min": True,  # 1,499 s
        "grading under 60 s per submission, every mission": False,  # m2 alone took 61 s
        "MNIST CNN test accuracy at least 0.99": True,
        "Fashion-MNIST CNN test accuracy at least 0.91": False,
        "NumPy epoch no slower than Keras' (fast / Keras <= 1)": True,
    }
