"""deploy/: the Kubernetes Indexed Job renders for N shards into what the docs promise."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from autograder.layout import REPO
from deploy.render import JOB_MEMORY_MIB, render


def _docs(text: str) -> tuple[dict, dict]:
    job, policy = yaml.safe_load_all(text)
    return job, policy


@pytest.mark.parametrize("shards, source", [(1, "volume"), (10, "archive")])
def test_job_has_one_pod_per_shard_without_network(shards, source):
    job, policy = _docs(render(shards, "registry.example/course:1", jobs=16, source=source))
    spec = job["spec"]
    assert job["kind"] == "Job" and spec["completionMode"] == "Indexed"
    assert spec["completions"] == shards == spec["parallelism"]
    pod = spec["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False and pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["image"] == "registry.example/course:1"
    script = container["args"][0]
    # JOB_COMPLETION_INDEX (0-based) becomes --shard I/N (1-based), in shell arithmetic.
    assert f'shard="$((JOB_COMPLETION_INDEX + 1))/{shards}"' in script
    assert '--shard "$shard"' in script and "--no-sandbox" in script
    assert f"shard-$((JOB_COMPLETION_INDEX + 1))-of-{shards}" in script
    assert ("tar -xzf /input/submissions.tar.gz" in script) == (source == "archive")
    limits = container["resources"]["limits"]
    assert limits["memory"] == f"{JOB_MEMORY_MIB * 16}Mi" and limits["cpu"] == "16"
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["submissions"]["readOnly"] is True
    # Deny all: both directions named, no rule allowing anything.
    assert policy["kind"] == "NetworkPolicy"
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in policy["spec"] and "egress" not in policy["spec"]
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"] == labels


def test_the_pod_script_is_valid_shell_and_picks_its_shard(tmp_path):
    job, _ = _docs(render(4, "img:1", source="archive"))
    script = job["spec"]["template"]["spec"]["containers"][0]["args"][0]
    assert subprocess.run(["bash", "-n", "-c", script]).returncode == 0
    probe = script.split("\n", 1)[0] + '\necho "$shard"'
    out = subprocess.run(
        ["bash", "-c", probe], env={"JOB_COMPLETION_INDEX": "3"}, capture_output=True, text=True
    )
    assert out.stdout.strip() == "4/4"


def test_render_command_refuses_bad_names(tmp_path):
    ok = subprocess.run(
        [
            sys.executable,
            "-m",
            "deploy.render",
            "--shards",
            "2",
            "--image",
            "i:1",
            "--out",
            str(tmp_path / "job.yaml"),
        ],
        cwd=REPO,
    )
    assert ok.returncode == 0 and (tmp_path / "job.yaml").exists()
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "deploy.render",
            "--shards",
            "2",
            "--image",
            "i:1",
            "--name",
            "Bad_Name",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "lower-case" in bad.stderr
