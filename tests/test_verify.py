"""``tfpipe.verify`` finds every kind of damage and names the shard file and record;
``tfpipe.inspect`` summarises a dataset and draws its samples."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

import tfpipe
from tfpipe import testing_hostile as h
from tfpipe.errors import TfpipeError
from tfpipe.format import serialize_example
from tfpipe.shards import check_shard, iter_records

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def dataset(converted, tmp_path) -> Path:
    """A private copy of the session's converted sign-language sample (train + test)."""
    copy = tmp_path / "ds"
    shutil.copytree(converted.path, copy)
    return copy


def shard(directory: Path, split: str) -> Path:
    return next(directory.glob(f"*-{split}.tfrecord-*"))


def total(directory: Path) -> tuple[int, int]:
    info = tfpipe.load_info(directory)
    return (
        sum(s.num_examples for s in info.splits.values()),
        sum(len(s.shards) for s in info.splits.values()),
    )


# --------------------------------------------------------------------------- the reader itself


def test_reader_agrees_with_tensorflows_writer(tmp_path):
    import tensorflow as tf

    rng = random.Random(0)
    sizes = [0, 1, 7, 255, 256, 257, 4099]
    data = [bytes(rng.randrange(256) for _ in range(rng.choice(sizes))) for _ in range(40)]
    path = tmp_path / "t.tfrecord"
    with tf.io.TFRecordWriter(str(path)) as writer:
        for d in data:
            writer.write(d)
    assert check_shard(path, len(data)) == []
    assert list(iter_records(path)) == data
    h.flip_byte(path, h.record_offsets(path)[-1] + 3)
    with pytest.raises(TfpipeError, match=r"t.tfrecord: record 39: corrupted length field"):
        list(iter_records(path))


# --------------------------------------------------------------------------- damage


def test_intact_dataset_verifies(dataset, capsys):
    from tfpipe.verify import main

    assert tfpipe.verify(dataset) == []
    assert main([str(dataset)]) == 0
    records, shards = total(dataset)
    assert capsys.readouterr().out.strip() == f"ok: {records} records in {shards} shards verified"


def test_jpeg_dataset_verifies(converted_rgb):
    assert converted_rgb.image.encoding == "jpeg"
    assert tfpipe.verify(converted_rgb.path) == []


@pytest.mark.parametrize(
    "where, index, message",
    [
        ("data", 5, "data CRC mismatch"),  # a pixel byte
        ("footer", 6, "data CRC mismatch"),  # the stored data CRC itself
        ("length", 9, "corrupted length field"),  # framing lost from here on
    ],
)
def test_flipped_byte_names_shard_and_record(dataset, where, index, message):
    path = shard(dataset, "train")
    offsets = h.record_offsets(path)
    length = offsets[index + 1] - offsets[index] - 16
    h.flip_byte(
        path,
        offsets[index] + {"data": 12 + length // 2, "footer": 12 + length + 1, "length": 1}[where],
    )
    problems = tfpipe.verify(dataset)
    assert [(p.file, p.record) for p in problems] == [(str(path), index)]
    assert message in problems[0].message


@pytest.mark.parametrize("into, index", [(5, 17), (30, 3), (3, 40)])
def test_shard_cut_mid_record(dataset, into, index):
    path = shard(dataset, "test")
    h.cut(path, h.record_offsets(path)[index] + into)  # 3 or 5 bytes: inside the header
    problems = tfpipe.verify(dataset)
    assert [(p.file, p.record) for p in problems] == [(str(path), index)]
    assert "truncated" in problems[0].message and "cut mid-record" in problems[0].message


def test_shard_cut_at_a_record_boundary(dataset):
    path = shard(dataset, "test")
    expected = len(h.record_offsets(path))
    h.cut(path, h.record_offsets(path)[50])
    problems = tfpipe.verify(dataset)
    assert len(problems) == 1 and problems[0].file == str(path)
    assert f"holds 50 records, tfpipe.json says {expected}" in problems[0].message


def test_intact_records_in_another_order_fail_the_sha256(dataset):
    from tfpipe.format import frame_record

    path = shard(dataset, "test")
    records = list(iter_records(path))
    records[0], records[1] = records[1], records[0]  # every CRC, count and size still right
    path.write_bytes(b"".join(frame_record(r) for r in records))
    (problem,) = tfpipe.verify(dataset)
    assert problem.file == str(path) and "sha256 differs" in problem.message


def test_records_that_do_not_parse_or_decode(dataset):
    import tensorflow as tf

    path = shard(dataset, "train")
    data = list(iter_records(path))
    data[1] = b"not a tf.train.Example at all"
    data[2] = serialize_example(b"\x00" * 10, 0)  # 10 bytes where 28*28*1 are due
    data[3] = serialize_example(data_image(data[3]), 99)  # no class 99
    with tf.io.TFRecordWriter(str(path)) as writer:
        for d in data:
            writer.write(d)
    problems = tfpipe.verify(dataset)
    by_record = {p.record: p.message for p in problems if p.record is not None}
    assert set(by_record) == {1, 2, 3}
    assert "not a parseable tf.train.Example" in by_record[1]
    assert "does not decode to 28x28x1" in by_record[2]
    assert "label 99 is not a class index" in by_record[3]
    whole_file = [p.message for p in problems if p.record is None]
    assert len(whole_file) == 1 and "tfpipe.json says" in whole_file[0]  # its size changed too


def data_image(record: bytes) -> bytes:
    import tensorflow as tf

    from tfpipe.format import parse_spec

    return tf.io.parse_example(tf.constant([record]), parse_spec())["image"].numpy()[0]


def test_missing_and_stray_shards(dataset):
    test_shard = shard(dataset, "test")
    stray = dataset / test_shard.name.replace("00000-of-00001", "00001-of-00002")
    test_shard.rename(stray)
    problems = {(Path(p.file).name, p.message) for p in tfpipe.verify(dataset)}
    assert problems == {
        (test_shard.name, "missing (listed in tfpipe.json)"),
        (stray.name, "shard file not listed in tfpipe.json (stray)"),
    }


def test_metadata_that_disagrees(dataset):
    doc = json.loads((dataset / "dataset_info.json").read_text())
    doc["splits"][0]["shardLengths"] = ["1"]
    (dataset / "dataset_info.json").write_text(json.dumps(doc))
    side = json.loads((dataset / "tfpipe.json").read_text())
    side["splits"]["train"]["class_counts"][0] += 1
    (dataset / "tfpipe.json").write_text(json.dumps(side))
    messages = sorted(str(p) for p in tfpipe.verify(dataset))
    assert len(messages) == 2
    assert "dataset_info.json: split" in messages[0] and "shard lengths [1]" in messages[0]
    assert "tfpipe.json: split train: class counts" in messages[1]


def test_not_a_dataset(tmp_path):
    with pytest.raises(TfpipeError, match="not a finished tfpipe dataset"):
        tfpipe.verify(tmp_path)


def test_cli_one_line_per_problem_and_exit_code(dataset):
    train, test = shard(dataset, "train"), shard(dataset, "test")
    h.flip_byte(train, h.record_offsets(train)[4] + 100)
    h.cut(test, h.record_offsets(test)[7] + 20)
    result = subprocess.run(
        [sys.executable, "-m", "tfpipe.verify", str(dataset)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 1
    lines = sorted(result.stdout.splitlines())
    assert len(lines) == 2
    assert lines[0].startswith(f"{test}: record 7: truncated")
    assert lines[1].startswith(f"{train}: record 4: data CRC mismatch")
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------- inspect


def test_inspect_prints_summary_and_saves_samples(dataset, capsys):
    from tfpipe.inspect import main

    rows = [
        {"origin": f"x/{i}.jpg", "split": "train", "category": c, "reason": c}
        for i, c in enumerate(["empty file", "empty file", "not an image"])
    ]
    (dataset / "quarantine.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    png = dataset.parent / "grid.png"
    assert main([str(dataset), "--png", str(png), "--per-class", "3"]) == 0
    out = capsys.readouterr().out
    table = {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}
    info = tfpipe.load_info(dataset)
    records, shards = total(dataset)
    assert table["total"] == [
        f"{records:,}",
        str(shards),
        f"{sum(s.num_bytes for s in info.splits.values()):,}",
    ]
    for split in info.splits.values():
        assert table[split.name][:2] == [f"{split.num_examples:,}", str(len(split.shards))]
    first = info.class_names[0]
    assert table[first] == [str(info.splits[s].class_counts[0]) for s in ("train", "test")]
    assert "quarantined 3" in out and "2 x empty file" in out and "1 x not an image" in out
    with Image.open(png) as img:
        assert img.format == "PNG" and img.width > 200 and img.height > 200

    assert main([str(dataset), "--per-class", "2"]) == 0  # default place: DIR/samples.png
    assert (dataset / "samples.png").is_file()


def test_inspect_not_a_dataset(tmp_path, capsys):
    from tfpipe.inspect import main

    assert main([str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:")


def test_forged_record_length_is_not_trusted(tmp_path):
    """A header whose CRC is right but which announces 4 EiB is reported, not allocated."""
    import struct

    from tfpipe.format import _masked_crc, frame_record

    length = struct.pack("<Q", 2**62)
    path = tmp_path / "forged.tfrecord"
    path.write_bytes(frame_record(b"fine") + length + _masked_crc(length) + b"abc")
    problems = check_shard(path, 2)
    assert [(p.record, "announces 4611686018427387904 bytes" in p.message) for p in problems] == [
        (1, True)
    ]
