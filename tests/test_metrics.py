from helpers import metrics


def test_record_is_silent_without_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(metrics.ENV_VAR, raising=False)
    assert metrics.record("x", 0.5) == 0.5
    assert list(tmp_path.iterdir()) == []


def test_record_and_read(monkeypatch, tmp_path):
    target = tmp_path / "m.jsonl"
    monkeypatch.setenv(metrics.ENV_VAR, str(target))
    metrics.record("acc", 0.9)
    metrics.record("acc", 0.95)
    metrics.record("loss", 1)
    assert metrics.read(target) == {"acc": 0.95, "loss": 1.0}
    assert metrics.read(tmp_path / "missing.jsonl") == {}
