"""The Beam runner (DirectRunner) writes exactly what the local runner writes."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

import tfpipe
from tfpipe import write
from tfpipe.convert import main as cli
from tfpipe.format import QUARANTINE, load_info

pytest.importorskip("apache_beam")

from tfpipe.beam import INSTALL_HINT, convert_with_beam  # noqa: E402

MULTI_PROCESS = "--direct_num_workers=2 --direct_running_mode=multi_processing"


def files(directory) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(Path(directory).iterdir())}


def assert_same_dataset(local, beam) -> None:
    """Every file, byte for byte: shards, TFDS metadata, quarantine.jsonl, tfpipe.json."""
    a, b = files(local), files(beam)
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], name


def test_image_tree_gives_the_local_runners_bytes(converted, sample_tree, tmp_path, capsys):
    out = tmp_path / "beam"
    assert (
        cli([str(sample_tree.images), "--out", str(out), "--runner", "beam", "--no-progress"]) == 0
    )
    assert_same_dataset(converted.path, out)
    info = load_info(out)
    assert {s: info.splits[s].num_examples for s in info.splits} == {"train": 480, "test": 120}
    assert "train" in capsys.readouterr().out  # the same end-of-run summary as the local runner
    # A finished dataset is not redone (no pipeline runs) unless asked.
    again = convert_with_beam(sample_tree.images, out, quiet=True)
    assert again.splits == info.splits


def test_many_shards_are_cut_and_ordered_like_the_local_runner(sample_tree, tmp_path, monkeypatch):
    # Small shards, so both splits get 4 shards and records must be routed and sorted.
    monkeypatch.setattr(write, "MIN_RECORDS_PER_SHARD", 16)
    local = tfpipe.convert(
        sample_tree.images, tmp_path / "local", quiet=True, workers=1, validation_split=0.2
    )
    beam = convert_with_beam(
        sample_tree.images, tmp_path / "beam", quiet=True, validation_split=0.2
    )
    assert [len(s.shards) for s in beam.splits.values()] == [4, 4, 4]
    assert beam == replace(local, path=str(tmp_path / "beam"))
    assert_same_dataset(tmp_path / "local", tmp_path / "beam")


def test_dirty_csv_quarantines_the_same_lines_with_two_worker_processes(sample_tree, tmp_path):
    local = tfpipe.convert(sample_tree.dirty_csv, tmp_path / "local", quiet=True, workers=1)
    out = tmp_path / "beam"
    argv = [
        str(sample_tree.dirty_csv),
        "--out",
        str(out),
        "--runner",
        "beam",
        "--no-progress",
        "--beam-options",
        MULTI_PROCESS,
    ]
    assert cli(argv) == 0
    assert_same_dataset(tmp_path / "local", out)
    lines = [json.loads(line) for line in (out / QUARANTINE).read_text().splitlines()]
    assert sorted(q["category"] for q in lines) == ["duplicate"] * 6 + ["non-numeric cell"]
    info = load_info(out)
    assert (info.duplicates, info.quarantined) == (6, {"duplicate": 6, "non-numeric cell": 1})
    assert info.splits["train"].num_examples == local.splits["train"].num_examples


def test_ratio_split_of_rgb_jpegs_matches(sample_tree, converted_rgb, tmp_path):
    out = tmp_path / "tj"
    info = convert_with_beam(
        sample_tree.rgb,
        out,
        quiet=True,
        image_size=(64, 96),
        split="train=70,validation=15,test=15",
    )
    assert info.image.encoding == "jpeg"
    assert {s.name: s.class_counts for s in info.splits.values()} == {
        s.name: s.class_counts for s in converted_rgb.splits.values()
    }
    assert_same_dataset(converted_rgb.path, out)


def test_on_error_raise_stops_with_one_line(sample_tree, tmp_path, capsys):
    argv = [
        str(sample_tree.dirty_csv),
        "--out",
        str(tmp_path / "x"),
        "--runner",
        "beam",
        "--no-progress",
        "--on-error",
        "raise",
    ]
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        err[-1].startswith("error: ") and "'fwefew' in column pixel1 (--on-error raise)" in err[-1]
    )
    assert "while running" not in err[-1]
    assert not (tmp_path / "x").exists()  # as the local runner: a failed run leaves nothing


def test_without_beam_the_cli_says_how_to_install_it(sample_tree, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # import apache_beam -> ImportError
    assert cli([str(sample_tree.images), "--out", str(tmp_path / "x"), "--runner", "beam"]) == 2
    assert capsys.readouterr().err == f"error: {INSTALL_HINT}\n"
    assert "pip install 'tfpipe[beam]'" in INSTALL_HINT


def test_importing_tfpipe_never_imports_beam():
    code = "import sys, tfpipe, tfpipe.convert, tfpipe.beam; print('apache_beam' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
