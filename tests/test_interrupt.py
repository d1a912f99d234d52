"""A conversion SIGKILLed at any point leaves nothing that looks finished, and a rerun
completes it with output byte-identical to an uninterrupted run."""

from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tfpipe
from tfpipe import testing_hostile as h
from tfpipe.errors import TfpipeError
from tfpipe.shards import check_shard

ROOT = Path(__file__).resolve().parents[1]


def start(source: Path, out: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tfpipe.convert",
            str(source),
            "--out",
            str(out),
            "--workers",
            "1",
            "--no-progress",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_when(proc: subprocess.Popen, ready, timeout: float = 60) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` is true (polled every millisecond)."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None and not ready():
        if time.monotonic() > deadline:
            break
        time.sleep(0.001)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def assert_unfinished_but_sound(out: Path) -> None:
    """No commit marker, nothing a reader mistakes for a dataset, every final-named shard whole."""
    assert not (out / "tfpipe.json").exists()
    with pytest.raises(TfpipeError, match="not a finished tfpipe dataset"):
        tfpipe.load_info(out)
    for path in out.iterdir():
        if ".tfrecord-" in path.name:
            assert check_shard(path) == [], path.name


def digests(directory: Path) -> dict[str, str]:
    return {
        str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_sigkill_at_every_stage_then_rerun_is_byte_identical(sample_tree, tmp_path):
    source = sample_tree.images  # 600 JPEGs in Train/Test
    out = tmp_path / "out"
    hooks = tmp_path / "hooks"

    # 1. While encoding: the staging directory exists, nothing else does yet.
    proc = start(source, out, h.child_env(hooks))
    kill_when(proc, lambda: (out / ".tfpipe-tmp" / "images.bin").is_file())
    assert proc.returncode == -signal.SIGKILL
    assert_unfinished_but_sound(out)

    # 2. Right after the train shard got its final name; the test shard is not written yet.
    env = h.child_env(hooks, kill_after_replace="*-train.tfrecord-*", kill_in=out)
    proc = start(source, out, env)
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    names = sorted(p.name for p in out.iterdir())
    assert any("-train.tfrecord-" in n for n in names) and not any(
        "-test.tfrecord-" in n for n in names
    )
    assert_unfinished_but_sound(out)

    # 3. Half-way through moving the metadata into place.
    env = h.child_env(hooks, kill_after_replace="dataset_info.json", kill_in=out)
    proc = start(source, out, env)
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert (out / "dataset_info.json").is_file()
    assert_unfinished_but_sound(out)

    # 4. Everything in place but the commit marker.
    env = h.child_env(hooks, kill_after_replace="quarantine.jsonl", kill_in=out)
    proc = start(source, out, env)
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    assert {"dataset_info.json", "features.json", "quarantine.jsonl"} <= {
        p.name for p in out.iterdir()
    }
    assert_unfinished_but_sound(out)

    # 5. The rerun finishes the job.
    proc = start(source, out, h.child_env(hooks))
    proc.wait(timeout=120)
    assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]

    clean = tmp_path / "clean"
    tfpipe.convert(source, clean, workers=1, quiet=True)
    assert digests(out) == digests(clean)
    assert not (out / ".tfpipe-tmp").exists()
    assert tfpipe.verify(out) == []


def test_sigkill_right_after_commit_leaves_no_staging_behind(sample_tree, tmp_path):
    source, out = sample_tree.images, tmp_path / "out"
    env = h.child_env(tmp_path / "hooks", kill_after_replace="tfpipe.json", kill_in=out)
    proc = start(source, out, env)
    proc.wait(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert tfpipe.verify(out) == []  # committed: a complete dataset
    proc = start(source, out, h.child_env(tmp_path / "hooks"))  # "already converted"
    proc.wait(timeout=120)
    assert proc.returncode == 0
    leftovers = (
        sorted(p.name for p in (out / ".tfpipe-tmp").rglob("*"))
        if (out / ".tfpipe-tmp").exists()
        else []
    )
    assert not (out / ".tfpipe-tmp").exists(), leftovers
