"""`make bench` works end to end on a toy setting (figures are not checked: benchmarks are not tests)."""

import json
import subprocess
import sys

import pytest


@pytest.mark.slow
def test_bench_runs_on_a_tiny_setting(repo, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", "--tiny", "--out", str(tmp_path)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=900,
    )
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
    assert phases["kernel_stop"] >= 0 and phases["job_exit"] >= 0
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
        "notebooks": [
            {"notebook": "course/a.ipynb", "seconds": 299.0},
            {"notebook": "course/b.ipynb", "seconds": 1200.0},
            {"notebook": "source_notebooks/m/m.ipynb", "seconds": 400.0},
        ],
        "grading": [
            {
                "mission": "m1",
                "batch": 1,
                "seconds_per_submission": 59.0,
                "phases": {"overhead": 3.0},
            },
            {
                "mission": "m2",
                "batch": 1,
                "seconds_per_submission": 61.0,
                "phases": {"overhead": 3.1},
            },
            {"mission": "m2", "batch": 20, "seconds_per_submission": 90.0},
        ],
        "accuracy": [
            {"figure": "lecture06_cnn_test_accuracy", "measured": 0.9901},
            {"figure": "lecture07_cnn_test_accuracy", "measured": 0.9099},
        ],
        "numpy_vs_keras": {"fast_over_keras": 0.2},
    }
    met = {t["target"]: t["met"] for t in targets(results)}
    assert met == {
        "whole `make bench` under 30 min": True,
        "every notebook under 5 min": False,  # the mission notebook took 400 s
        "lecture notebooks together under 25 min": True,  # 1,499 s
        "grading under 60 s per submission, every mission": False,  # m2 alone took 61 s
        "grading overhead (beyond the notebook's cells) at most 3 s, every mission": False,  # m2
        "MNIST CNN test accuracy at least 0.99": True,
        "Fashion-MNIST CNN test accuracy at least 0.91": False,
        "NumPy epoch no slower than Keras' (fast / Keras <= 1)": True,
    }


def test_grading_alone_keeps_the_full_runs_other_sections(tmp_path):
    """`--only grading` replaces section 2 and says where the rest comes from."""
    from benchmarks.run import keep_other_sections, write_report

    machine = {
        "cpu": "old cpu",
        "cores": 2,
        "gpu": "none",
        "memory": "8 GiB",
        "python": "3.11",
        "host": "h",
    }
    full = {
        "date": "2026-12-01 10:00",
        "machine": machine,
        "tiny": False,
        "notebooks": [{"notebook": "course/a.ipynb", "seconds": 100.0, "under_5_min": True}],
        "grading": [{"mission": "old"}],
        "grading_throughput": {"old": 1},
        "accuracy": [{"figure": "x", "measured": 0.9}],
        "numpy_vs_keras": {"rows": 5},
        "setup": [{"setup": "cold", "seconds": 9.0}],
        "bench_seconds": 1200.0,
    }
    (tmp_path / "results.json").write_text(json.dumps(full))
    new = {
        "date": "2026-12-04 22:00",
        "machine": {**machine, "cpu": "new cpu"},
        "tiny": False,
        "notebooks": [],
        "grading": [],
        "grading_throughput": {},
        "accuracy": [],
        "numpy_vs_keras": {},
        "setup": [],
        "bench_seconds": 300.0,
    }
    merged = keep_other_sections(new, tmp_path / "results.json")
    assert merged["notebooks"] == full["notebooks"] and merged["setup"] == full["setup"]
    assert merged["bench_seconds"] == 1200.0 and merged["grading"] == []
    assert merged["full_run"] == {"date": "2026-12-01 10:00", "machine": machine}
    write_report(merged, tmp_path)
    md = (tmp_path / "results.md").read_text()
    assert "full run of 2026-12-01 10:00" in md and "old cpu" in md and "new cpu" in md
    # a second grading-only run still credits the same full run
    again = keep_other_sections(dict(new), tmp_path / "results.json")
    assert again["full_run"]["date"] == "2026-12-01 10:00"
