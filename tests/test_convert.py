"""Conversion end to end, one scenario per course source format, through the CLI."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tfpipe
from tfpipe import sample
from tfpipe.convert import main as cli
from tfpipe.format import QUARANTINE, SIDECAR, load_info


def quarantine(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / QUARANTINE).read_text().splitlines()]


def total(info) -> int:
    return sum(s.num_examples for s in info.splits.values())


def run(*args) -> int:
    return cli([str(a) for a in args] + ["--no-progress"])


def test_folder_tree_keeps_splits_and_flow_from_directory_class_order(converted, sample_tree):
    info = converted
    assert set(info.splits) == {"train", "test"}
    assert info.splits["train"].num_examples == 24 * 20
    assert info.splits["test"].num_examples == 24 * 5
    # flow_from_directory sorts the class folders with plain sorted()
    folders = sorted(p.name for p in (sample_tree.images / "Train").iterdir())
    assert list(info.class_names) == folders == list(sample.LETTERS)
    assert info.image.shape == (28, 28, 1) and info.image.encoding == "raw"
    assert info.splits["train"].class_counts == (20,) * 24


def test_tfds_reads_the_output_unchanged(converted, sample_tree):
    import tensorflow_datasets as tfds

    builder = tfds.builder_from_directory(converted.path)
    assert builder.info.features["label"].names == list(converted.class_names)
    assert builder.info.splits["train"].num_examples == 480
    seen = {}
    for ex in tfds.as_numpy(builder.as_dataset(split="test")):
        seen[ex["image"].tobytes()] = int(ex["label"])
    assert len(seen) == 120
    # the same pixels and labels as the JPEGs of the source tree
    from PIL import Image

    for path in sorted((sample_tree.images / "Test").rglob("*.jpg")):
        pixels = np.asarray(Image.open(path)).reshape(28, 28, 1).tobytes()
        assert seen[pixels] == converted.class_names.index(path.parent.name)


@pytest.mark.parametrize("workers", [1, 2])
def test_zip_gives_the_same_shards_as_the_folder(sample_tree, converted, tmp_path, workers):
    # workers=2 forks after the parent has read the zip (to probe the image size): the
    # workers must not share the parent's open file (that once lost images to "Bad CRC-32").
    out = tmp_path / "z"
    args = [str(sample_tree.zip), "--out", str(out), "--name", converted.name, "--workers", str(workers)]
    # a fresh process, as users run it: TensorFlow not loaded, so the workers are forked
    subprocess.run([sys.executable, "-m", "tfpipe.convert", *args, "--no-progress"], check=True,
                   capture_output=True, timeout=300)
    info = load_info(out)
    assert not quarantine(out)
    for split, s in converted.splits.items():
        assert [sh.sha256 for sh in info.splits[split].shards] == [sh.sha256 for sh in s.shards]


def test_workers_do_not_change_a_single_byte(sample_tree, tmp_path):
    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        assert run(sample_tree.rgb, "--out", out, "--workers", workers, "--split", "train=70,validation=15,test=15") == 0
        outs.append(out)
    files = sorted(p.name for p in outs[0].iterdir())
    assert files == sorted(p.name for p in outs[1].iterdir())
    for name in files:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_split_ratios_are_stratified(converted_rgb):
    info = converted_rgb
    assert set(info.splits) == {"train", "validation", "test"}
    # 6 frames per class: round(0.7*6)=4 train, round(0.85*6)-4=1 validation, 1 test
    assert info.splits["train"].class_counts == (4, 4, 4, 4)
    assert info.splits["validation"].class_counts == (1, 1, 1, 1)
    assert info.splits["test"].class_counts == (1, 1, 1, 1)
    assert info.image.shape == (64, 96, 3) and info.image.encoding == "jpeg"


def test_validation_split_carves_from_train(sample_tree, tmp_path):
    info = tfpipe.convert(sample_tree.images, tmp_path / "v", quiet=True, workers=1, validation_split=0.2)
    assert info.splits["validation"].class_counts == (4,) * 24
    assert info.splits["train"].class_counts == (16,) * 24
    assert info.splits["test"].num_examples == 120


def test_dirty_csv_quarantines_each_bad_row_with_its_line(sample_tree, tmp_path):
    out = tmp_path / "dirty"
    assert run(sample_tree.dirty_csv, "--out", out, "--workers", "2") == 0
    info = load_info(out)
    lines = quarantine(out)
    rows = sum(1 for _ in open(sample_tree.dirty_csv)) - 1
    assert total(info) + len(lines) == rows
    by_cat = {}
    for q in lines:
        by_cat.setdefault(q["category"], []).append(q)
    assert len(by_cat["duplicate"]) == 6
    assert all("duplicate of" in q["reason"] and ":line " in q["origin"] for q in by_cat["duplicate"])
    (bad,) = by_cat["non-numeric cell"]
    assert "'fwefew' in column pixel1" in bad["reason"]
    # line numbers are the file's: header is line 1
    line_no = int(bad["origin"].rsplit("line ", 1)[1])
    with open(sample_tree.dirty_csv) as fh:
        assert fh.readlines()[line_no - 1].split(",")[1] == "fwefew"
    assert info.duplicates == 6
    # integer CSV labels keep their meaning: index 9 (J) exists but is empty
    assert len(info.class_names) == 25 and info.splits["train"].class_counts[9] == 0


def test_clean_csv_infers_28x28_and_keeps_every_row(sample_tree, tmp_path):
    info = tfpipe.convert(sample_tree.test_csv, tmp_path / "t", quiet=True, workers=1)
    assert info.image.shape == (28, 28, 1)
    assert total(info) == 120 and not info.quarantined


def test_csv_bad_cells(tmp_path):
    header = "label," + ",".join(f"pixel{i}" for i in range(1, 65))
    good = ",".join(["1"] + ["7"] * 64)
    rows = [
        header,
        good,
        ",".join(["2"] + ["300"] + ["0"] * 63),  # out of range
        ",".join(["2"] + [""] + ["0"] * 63),  # missing cell
        ",".join(["2"] + ["0"] * 63),  # wrong column count
        ",".join(["3"] + ["1.5"] + ["0"] * 63),  # not an integer
        ",".join(["0"] + ["9"] * 64),
    ]
    path = tmp_path / "small.csv"
    path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "o"
    info = tfpipe.convert(path, out, quiet=True, workers=1)
    assert info.image.shape == (8, 8, 1)
    got = {q["origin"].rsplit(":", 1)[1]: q["category"] for q in quarantine(out)}
    assert got == {"line 3": "out of range", "line 4": "missing cell", "line 5": "wrong column count",
                   "line 6": "out of range"}
    assert total(info) == 2


def test_base64_json_with_an_invalid_and_a_non_image_value(sample_tree, tmp_path):
    doc = json.loads(sample_tree.base64_json.read_text())
    doc["zz"] = "not base64 at all!!"
    doc["yy"] = [doc["b"], base64.b64encode(b"hello, not an image").decode()]
    path = tmp_path / "data.json"
    path.write_text(json.dumps(doc))
    out = tmp_path / "b64"
    assert run(path, "--out", out, "--workers", "1") == 0
    info = load_info(out)
    got = {q["origin"].rsplit(":key ", 1)[1]: q["category"] for q in quarantine(out)}
    assert got["zz"] == "invalid base64"
    assert got["yy[1]"] == "not an image"
    # "yy[0]" has the same pixels as "b": exactly one of the two is kept
    assert [got.get("yy[0]"), got.get("b")].count("duplicate") == 1
    assert total(info) == 24 and info.duplicates == 1


def test_corrupt_jpeg_is_quarantined_not_fatal(sample_tree, tmp_path):
    import shutil

    src = tmp_path / "tree"
    shutil.copytree(sample_tree.images / "Test", src / "Test")
    victim = src / "Test/A/00000.jpg"
    victim.write_bytes(victim.read_bytes()[:120])  # truncated mid-scan
    (src / "Test/B/notes.txt").write_text("not an image")
    out = tmp_path / "o"
    info = tfpipe.convert(src, out, quiet=True, workers=1)
    (q,) = quarantine(out)
    assert q["origin"].endswith("Test/A/00000.jpg") and q["category"] == "corrupt image"
    assert total(info) == 119


def test_leak_between_train_and_test_is_kept_in_train_only(sample_tree, tmp_path):
    import shutil

    src = tmp_path / "tree"
    shutil.copytree(sample_tree.images, src)
    # the same image in train twice and in test once
    shutil.copy(src / "Train/C/00003.jpg", src / "Test/C/leaked.jpg")
    shutil.copy(src / "Train/C/00003.jpg", src / "Train/C/copy.jpg")
    out = tmp_path / "o"
    info = tfpipe.convert(src, out, quiet=True, workers=1)
    cats = sorted((q["category"], q["split"]) for q in quarantine(out))
    assert cats == [("duplicate", "train"), ("leak", "test")]
    assert info.leaks == 1 and info.duplicates == 1
    assert info.splits["train"].num_examples == 480 and info.splits["test"].num_examples == 120


def test_npz_arrays(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "arrays.npz"
    np.savez(path, x_train=rng.integers(0, 255, (40, 8, 8), dtype=np.uint8), y_train=np.arange(40) % 4,
             x_test=rng.integers(0, 255, (12, 8, 8), dtype=np.uint8), y_test=(np.arange(12) % 4).reshape(-1, 1))
    info = tfpipe.convert(path, tmp_path / "n", quiet=True, workers=1)
    assert {k: v.num_examples for k, v in info.splits.items()} == {"train": 40, "test": 12}
    assert info.class_names == ("0", "1", "2", "3")


def test_rerun_is_a_no_op(converted, sample_tree, capsys):
    before = (Path(converted.path) / SIDECAR).stat().st_mtime_ns
    assert run(sample_tree.images, "--out", converted.path) == 0
    assert "nothing to do" in capsys.readouterr().err
    assert (Path(converted.path) / SIDECAR).stat().st_mtime_ns == before
    # another source into the same finished folder is an error, not a silent no-op
    assert run(sample_tree.rgb, "--out", converted.path) == 2
    assert "converted from sign-language-img, not from tom_and_jerry" in capsys.readouterr().err
    assert (Path(converted.path) / SIDECAR).stat().st_mtime_ns == before


def test_python_dash_m_cli_prints_the_summary(sample_tree, tmp_path):
    out = tmp_path / "cli"
    proc = subprocess.run(
        [sys.executable, "-m", "tfpipe.convert", str(sample_tree.test_csv), "--out", str(out),
         "--workers", "2", "--validation-split", "0.25"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "validation" in proc.stdout and "images/s" in proc.stdout
    assert (out / SIDECAR).is_file()


@pytest.mark.parametrize("args, message", [
    (["/no/such/dir"], "does not exist"),
    (["{tree}", "--split", "train=70,test=20"], "add up to 90"),
    (["{tree}", "--image-size", "0", "28"], "image-size"),
])
def test_bad_arguments_are_one_line(args, message, sample_tree, tmp_path, capsys):
    args = [a.replace("{tree}", str(sample_tree.images)) for a in args]
    assert run(*args, "--out", tmp_path / "x") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and message in err and "\n" not in err


def test_a_script_without_a_main_guard_that_loaded_tensorflow(sample_tree, tmp_path):
    """TensorFlow loaded, so the workers are spawned: the script must not run again in them."""
    script = tmp_path / "train.py"
    script.write_text(
        "import tensorflow as tf\n"
        "import tfpipe\n"
        "print('top level ran')\n"
        f"info = tfpipe.convert({str(sample_tree.test_csv)!r}, {str(tmp_path / 'out')!r}, quiet=True, workers=2)\n"
        "print('converted', info.splits['train'].num_examples)\n"
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("top level ran") == 1 and "converted 120" in proc.stdout


def test_a_url_list_where_every_download_fails_says_why(tmp_path, monkeypatch, capsys):
    from tfpipe.testing import LoopbackServer

    monkeypatch.setenv("TFPIPE_CACHE_DIR", str(tmp_path / "cache"))
    with LoopbackServer() as server:
        lines = [json.dumps({"content": server.url(f"missing/{i}.jpg"), "label": "a"}) for i in range(3)]
        path = tmp_path / "data.json"
        path.write_text("\n".join(lines) + "\n")
        assert run(path, "--out", tmp_path / "o") == 2
    err = capsys.readouterr().err.strip()
    assert "found no readable image" in err and "3 x http 404" in err and "\n" not in err


def test_validation_share_is_kept_when_every_class_is_small(sample_tree, tmp_path):
    # 24 letters x 5 test images at 10%: 0.5 an image per class, 12 in all
    info = tfpipe.convert(sample_tree.images, tmp_path / "v", quiet=True, workers=1,
                          validation_split=0.1, validation_from="test")
    assert info.splits["validation"].num_examples == 12
    assert max(info.splits["validation"].class_counts) == 1  # still spread over the classes
    assert info.splits["test"].num_examples == 120 - 12


def test_too_few_class_names_for_integer_labels(sample_tree, tmp_path, capsys):
    letters = ",".join(sample.LETTERS)  # 24 names; the CSV's labels go up to 24 (J, 9, is empty)
    assert run(sample_tree.test_csv, "--out", tmp_path / "c", "--class-names", letters) == 2
    assert "give one name per index 0..24" in capsys.readouterr().err
