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
    assert results["numpy_vs_keras"]["rows"] == 1000
    assert results["setup"][0]["seconds"] >= 0
    md = (tmp_path / "results.md").read_text()
    assert "Machine for every row" in md and "Tiny setting" in md
