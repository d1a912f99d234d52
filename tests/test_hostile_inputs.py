"""Hostile and awkward inputs: every image is either converted to the declared shape or
quarantined with the right reason, nothing is read or written outside the source and
the output, and the same inputs always give the same bytes."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

import tfpipe
from tfpipe import testing_hostile as h
from tfpipe.errors import Rejected, TfpipeError
from tfpipe.images import open_image, to_pixels
from tfpipe.sources import tree

ROOT = Path(__file__).resolve().parents[1]

GOOD = {
    "a/rgb.jpg": h.rgb_jpeg(seed=3),
    "a/gray.png": h.gray_png(seed=4),
    "a/progressive.jpg": h.progressive_jpeg(seed=5),
    "a/cmyk.jpg": h.cmyk_jpeg(),
    "a/png16.png": h.png16(),
    "b/palette.png": h.palette_png_transparent(),
    "b/rgba.png": h.rgba_png(),
    "b/exif6.jpg": h.exif_rotated_jpeg(),
    "b/anim.gif": h.animated_gif(),
    "b/pages.tif": h.multipage_tiff(),
}
BAD = {
    "a/empty.jpg": (b"", "empty file"),
    "a/text.jpg": (h.text_as_jpeg(), "not an image"),
    "b/truncated.jpg": (h.truncated_jpeg(), "corrupt image"),
    "b/bomb.png": (h.png_bomb(40000, 40000), "decompression bomb"),
}


def quarantine(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "quarantine.jsonl").read_text().splitlines()]


def records(info) -> list[tuple[np.ndarray, int]]:
    """(pixels, label) of every record of every split, read back from the shards."""
    import tensorflow as tf

    from tfpipe.format import parse_spec
    from tfpipe.shards import iter_records

    out = []
    for split in info.splits:
        for path in info.shard_paths(split):
            for data in iter_records(path):
                ex = tf.io.parse_example(tf.constant([data]), parse_spec())
                out.append((info.image.decode(ex["image"].numpy()[0]), int(ex["label"].numpy()[0])))
    return out


def found(info, out: Path) -> tuple[int, int]:
    converted = sum(s.num_examples for s in info.splits.values())
    return converted, len(quarantine(out))


# --------------------------------------------------------------------------- images, unit


def test_exif_orientation_is_applied_before_resize():
    data = h.exif_rotated_jpeg(width=20, height=10, orientation=6)
    assert open_image(data).size == (10, 20)  # PIL: (width, height), rotated
    arr = to_pixels(data, 3, None)
    assert arr.shape == (20, 10, 3)
    # The white corner stored top-left is displayed top-right after a 90-degree clockwise turn.
    assert arr[:3, -3:].min() > 200 and arr[:3, :3].max() < 60
    small = to_pixels(data, 1, (16, 16))
    assert small[:4, -4:].mean() > 150 and small[:4, :4].mean() < 60


@pytest.mark.parametrize(
    "data, channels, expected",
    [
        (h.cmyk_jpeg(), 3, (255, 0, 0)),  # CMYK red
        (h.png16(value=0xABCD), 1, (0xAB,)),  # 16-bit: the top 8 bits
        (h.png16(value=0x00FF), 1, (0x00,)),  # ... also when the image is dark
        (h.rgba_png(rgba=(10, 20, 200, 77)), 3, (10, 20, 200)),  # alpha dropped, not composited
        (h.multipage_tiff(), 3, (0, 180, 0)),  # first page
        (h.gray_png(), 3, None),  # grey -> three equal channels
    ],
    ids=["cmyk", "png16", "png16-dark", "rgba", "tiff-first-page", "grey-to-rgb"],
)
def test_colour_modes_become_the_declared_channels(data, channels, expected):
    arr = to_pixels(data, channels, (8, 8))
    assert arr.shape == (8, 8, channels) and arr.dtype == np.uint8
    if expected is None:
        assert (arr[..., 0] == arr[..., 1]).all() and (arr[..., 1] == arr[..., 2]).all()
    else:
        assert np.abs(arr.reshape(-1, channels).astype(int) - expected).max() <= 2


def test_palette_transparency_gif_frames_and_progressive():
    pal = to_pixels(h.palette_png_transparent(16, 16), 3, None)
    assert tuple(pal[0, 0]) == (0, 200, 0) and tuple(pal[0, -1]) == (
        255,
        0,
        0,
    )  # transparent: colour kept
    gif = to_pixels(h.animated_gif(colours=((200, 0, 0), (0, 0, 200))), 3, None)
    assert gif[..., 0].min() > 150 and gif[..., 2].max() < 50  # the first (red) frame
    progressive = to_pixels(h.progressive_jpeg(seed=7), 3, None).astype(int)
    baseline = to_pixels(h.rgb_jpeg(seed=7), 3, None).astype(int)
    assert np.abs(progressive - baseline).mean() < 3


@pytest.mark.parametrize(
    "data, category",
    [(b, c) for b, c in BAD.values()],
    ids=[name for name in BAD],
)
def test_bad_bytes_are_rejected_with_their_category(data, category):
    with pytest.raises(Rejected) as exc:
        to_pixels(data, 3, (16, 16))
    assert exc.value.category == category


def test_bomb_rejected_even_if_pillow_limits_are_disabled(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(Rejected, match="decompression bomb"):
        to_pixels(h.png_bomb(20000, 20000), 1, None)
    with pytest.raises(Rejected) as exc:
        to_pixels(h.truncated_jpeg(), 3, None)
    assert exc.value.category == "corrupt image"
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the global is restored


def test_bomb_rejected_without_allocating_its_pixels():
    """Under an address-space limit far below 40000x40000 bytes, the bomb is still just rejected."""
    code = textwrap.dedent(
        """
        import resource
        import numpy as np
        from tfpipe import testing_hostile as h
        from tfpipe.errors import Rejected
        from tfpipe.images import to_pixels
        to_pixels(h.rgb_jpeg(), 3, (8, 8))  # warm up every lazy import first
        vm = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 400 * 1024**2, resource.RLIM_INFINITY))
        try:
            np.empty(1_600_000_000, np.uint8)
            print("limit not effective")
        except MemoryError:
            pass
        try:
            to_pixels(h.png_bomb(40000, 40000), 3, (16, 16))
        except Rejected as rej:
            print(rej.category)
        """
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=60
    )
    assert result.stdout.strip() == "decompression bomb", result.stderr


def test_truncated_images_are_rejected_or_complete():
    """Any prefix of a good image either decodes to exactly the same pixels or is rejected."""
    for name, data in GOOD.items():
        whole = to_pixels(data, 3, None)
        for cut in np.linspace(1, len(data) - 1, 12).astype(int):
            try:
                part = to_pixels(data[:cut], 3, None)
            except Rejected:
                continue
            assert np.array_equal(part, whole), f"{name} cut at {cut} decodes to other pixels"


# --------------------------------------------------------------------------- folder


@pytest.fixture(scope="module")
def hostile_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile") / "imgs"
    for name, data in {**GOOD, **{k: v[0] for k, v in BAD.items()}}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    out = root.parent / "out"
    info = tfpipe.convert(root, out, channels=3, image_size=(16, 16), quiet=True, workers=1)
    return root, out, info


def test_folder_good_images_converted_bad_ones_quarantined(hostile_folder):
    root, out, info = hostile_folder
    converted, quarantined = found(info, out)
    assert (converted, quarantined) == (len(GOOD), len(BAD))
    assert converted + quarantined == len(GOOD) + len(BAD)
    got = {Path(q["origin"]).relative_to(root).as_posix(): q["category"] for q in quarantine(out)}
    assert got == {name: category for name, (_, category) in BAD.items()}
    assert info.image.shape == (16, 16, 3)
    assert tfpipe.verify(out) == []


def test_folder_records_hold_the_decoded_pixels(hostile_folder):
    _, _, info = hostile_folder
    expected = sorted(to_pixels(data, 3, (16, 16)).tobytes() for data in GOOD.values())
    assert sorted(pixels.tobytes() for pixels, _ in records(info)) == expected


def test_fifo_symlinks_and_odd_names_in_a_folder(tmp_path):
    root = tmp_path / "src"
    (root / "a").mkdir(parents=True)
    (root / "a" / "ok.jpg").write_bytes(h.rgb_jpeg(seed=1))
    (root / "a" / "other.jpg").write_bytes(h.rgb_jpeg(seed=2))
    os.mkfifo(root / "a" / "pipe.jpg")  # reading it would block forever
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(h.rgb_jpeg(seed=9))
    (root / "a" / "outside.jpg").symlink_to(secret)
    (root / "a" / "inside.jpg").symlink_to(root / "a" / "ok.jpg")  # inside: fine (a duplicate)
    (root / "a" / "loop.jpg").symlink_to(root / "a" / "loop.jpg")
    with open(os.fsencode(root / "a") + b"/\xff.jpg", "wb") as fh:  # not valid UTF-8
        fh.write(h.rgb_jpeg(seed=3))

    out = tmp_path / "out"
    info = tfpipe.convert(root, out, quiet=True, workers=1)
    categories = {Path(q["origin"]).name: q["category"] for q in quarantine(out)}
    duplicate = {"ok.jpg", "inside.jpg"} & set(categories)  # whichever key sorts second
    assert len(duplicate) == 1 and categories.pop(duplicate.pop()) == "duplicate"
    assert categories == {
        "pipe.jpg": "unsafe path",
        "outside.jpg": "unsafe path",
        "loop.jpg": "unreadable",
    }
    assert sum(s.num_examples for s in info.splits.values()) == 3  # ok, other, \xff


# --------------------------------------------------------------------------- zip


def _snapshot(root: Path, skip: Path) -> set[str]:
    return {
        os.path.relpath(os.path.join(d, f), root)
        for d, _, files in os.walk(root)
        if not Path(d).is_relative_to(skip)
        for f in files
    }


def test_zip_traversal_absolute_and_symlink_members_never_escape(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    secret = tmp_path / "secret.jpg"  # a symlink member points here; following it would convert it
    secret.write_bytes(h.rgb_jpeg(seed=11))
    canaries = [
        tmp_path / "a" / "canary_up.jpg",  # ../../canary_up.jpg from cwd
        tmp_path / "a" / "b" / "canary_up.jpg",  # ... from the output dir
        tmp_path / "canary_abs.jpg",  # the absolute member
        tmp_path / "a" / "b" / "canary_bs.jpg",  # backslash traversal
        tmp_path / "a" / "canary.txt",
    ]
    archive = h.write_zip(
        work / "evil.zip",
        [
            ("ds/a/good1.jpg", h.rgb_jpeg(seed=1)),
            ("ds/b/good2.png", h.gray_png(seed=2)),
            ("../../canary_up.jpg", h.rgb_jpeg(seed=3)),
            ("ds/a/../../../../canary_up.jpg", h.rgb_jpeg(seed=4)),
            (str(tmp_path / "canary_abs.jpg"), h.rgb_jpeg(seed=5)),
            ("ds\\a\\..\\..\\..\\canary_bs.jpg", h.rgb_jpeg(seed=6)),
            ("../../canary.txt", b"not even an image"),
            ("ds/a/link.jpg", str(secret).encode(), True),
        ],
    )
    before = _snapshot(tmp_path, work / "out")
    info = tfpipe.convert(
        archive, work / "out", quiet=True, workers=1, channels=3, image_size=(8, 8)
    )

    assert not any(c.exists() for c in canaries)
    assert _snapshot(tmp_path, work / "out") == before  # nothing new outside the output dir
    assert sum(s.num_examples for s in info.splits.values()) == 2
    rows = quarantine(work / "out")
    assert len(rows) == 6 and {r["category"] for r in rows} == {"unsafe path"}
    reasons = " ".join(r["reason"] for r in rows)
    assert "'..'" in reasons and "absolute member name" in reasons and "symbolic link" in reasons
    assert tfpipe.verify(work / "out") == []


def test_zip_encrypted_and_unknown_method_members_are_quarantined(tmp_path):
    archive = h.write_zip(
        tmp_path / "odd.zip",
        [
            ("ds/a/good.jpg", h.rgb_jpeg(seed=1)),
            ("ds/a/enc.jpg", h.rgb_jpeg(seed=2)),
            ("ds/b/aes.jpg", h.rgb_jpeg(seed=3)),
        ],
    )
    h.patch_central_directory(archive, "ds/a/enc.jpg", flag_bits=0x1)
    h.patch_central_directory(archive, "ds/b/aes.jpg", method=99)
    info = tfpipe.convert(archive, tmp_path / "out", quiet=True, workers=1)
    assert sum(s.num_examples for s in info.splits.values()) == 1
    reasons = sorted(q["reason"] for q in quarantine(tmp_path / "out"))
    assert [r.split("'")[1] for r in reasons] == ["ds/a/enc.jpg", "ds/b/aes.jpg"]
    assert "encrypted" in reasons[0] and "compression method 99" in reasons[1]


def test_zip_member_with_a_corrupt_deflate_stream_is_quarantined(tmp_path):
    path = tmp_path / "c.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ds/a/good.jpg", h.rgb_jpeg())
        zf.writestr("ds/a/bad.png", h.gray_png(64, 64) * 3)
    raw = bytearray(path.read_bytes())
    start = raw.index(b"ds/a/bad.png") + len("ds/a/bad.png") + 10  # into its deflate stream
    raw[start : start + 40] = bytes(b ^ 0x5A for b in raw[start : start + 40])
    path.write_bytes(bytes(raw))
    info = tfpipe.convert(path, tmp_path / "out", quiet=True, workers=1)
    assert sum(s.num_examples for s in info.splits.values()) == 1
    assert [q["category"] for q in quarantine(tmp_path / "out")] == ["unreadable"]


def test_zip_bomb_is_refused_in_one_line_with_no_output(tmp_path):
    bomb = h.write_zip_bomb(tmp_path / "bomb.zip", megabytes=300)
    assert bomb.stat().st_size < 2 * 1024**2
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "tfpipe.convert", str(bomb), "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "zip bomb" in lines[0] and "Traceback" not in result.stderr, (
        result.stderr
    )
    assert not out.exists() or not any(out.iterdir())


def test_zip_member_count_and_size_caps(tmp_path, monkeypatch):
    archive = h.write_zip(
        tmp_path / "many.zip", [(f"ds/a/{i}.jpg", h.rgb_jpeg(seed=i)) for i in range(12)]
    )
    monkeypatch.setattr(tree, "MAX_MEMBERS", 10)
    with pytest.raises(TfpipeError, match="12 members, over the cap of 10"):
        tfpipe.convert(archive, tmp_path / "out", quiet=True, workers=1)
    monkeypatch.setattr(tree, "MAX_MEMBERS", 1000)
    monkeypatch.setattr(tree, "MAX_ARCHIVE_BYTES", 5000)
    with pytest.raises(TfpipeError, match="inflates to .* over the cap of 5,000"):
        tfpipe.convert(archive, tmp_path / "out", quiet=True, workers=1)
    assert not (tmp_path / "out").exists()


def test_zip_with_overlapping_members_is_refused(tmp_path):
    """The "overlapping files" bomb: many directory entries share one compressed stream."""
    path = h.write_zip(tmp_path / "one.zip", [("ds/a/x.jpg", h.rgb_jpeg())])
    raw = path.read_bytes()
    cd_start = raw.index(b"PK\x01\x02")
    eocd = raw.index(b"PK\x05\x06")
    entry = raw[cd_start:eocd]
    copies = [entry] + [entry.replace(b"ds/a/x.jpg", f"ds/a/{i}.jpg".encode()) for i in range(3)]
    cd = b"".join(copies)
    tail = bytearray(raw[eocd:])
    tail[8:12] = (4).to_bytes(2, "little") * 2
    tail[12:16] = len(cd).to_bytes(4, "little")
    path.write_bytes(raw[:cd_start] + cd + bytes(tail))
    assert len(zipfile.ZipFile(path).infolist()) == 4
    with pytest.raises(TfpipeError, match="share compressed data"):
        tfpipe.convert(path, tmp_path / "out", quiet=True, workers=1)


def test_failed_conversion_leaves_no_partial_output(tmp_path):
    src = tmp_path / "src" / "a"
    src.mkdir(parents=True)
    (src / "empty.jpg").write_bytes(b"")
    (src / "text.jpg").write_bytes(h.text_as_jpeg())
    out = tmp_path / "out"
    # the one-line error says why, since no quarantine.jsonl is left to read
    with pytest.raises(TfpipeError, match=r"no usable image in .*1 x empty file, 1 x not an image"):
        tfpipe.convert(src.parent, out, quiet=True, workers=1, channels=3, image_size=(8, 8))
    assert not out.exists() or not any(out.iterdir()), sorted(p.name for p in out.rglob("*"))


# --------------------------------------------------------------------------- determinism


def _write_tree(root: Path, order: list[str], files: dict[str, bytes]) -> None:
    for name in order:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(files[name])


def test_same_inputs_in_another_order_give_identical_bytes(tmp_path):
    from tfpipe.sample import jpeg, letter_image

    files = {
        f"{c}/{i:02d}.jpg": jpeg(letter_image(k, i)) for k, c in enumerate("xyz") for i in range(8)
    }
    files["x/empty.jpg"] = b""
    files["y/bomb.png"] = h.png_bomb(30000, 30000)
    files["z/dup.jpg"] = files["z/03.jpg"]
    one, two = tmp_path / "one" / "data", tmp_path / "two" / "data"
    _write_tree(one, sorted(files), files)
    _write_tree(two, sorted(files, reverse=True), files)  # other creation (and listing) order
    tfpipe.convert(
        one, tmp_path / "out1", quiet=True, workers=1, split="train=50,validation=25,test=25"
    )
    tfpipe.convert(
        two, tmp_path / "out2", quiet=True, workers=2, split="train=50,validation=25,test=25"
    )

    names = sorted(p.name for p in (tmp_path / "out1").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "out2").iterdir())
    assert sum(".tfrecord-" in n for n in names) == 3
    for name in names:
        a, b = (tmp_path / "out1" / name).read_bytes(), (tmp_path / "out2" / name).read_bytes()
        if name == "quarantine.jsonl":  # origins are absolute paths
            a, b = a.replace(bytes(one), b"ROOT"), b.replace(bytes(two), b"ROOT")
        assert a == b, name
    assert Counter(q["category"] for q in quarantine(tmp_path / "out1")) == {
        "empty file": 1,
        "decompression bomb": 1,
        "duplicate": 1,
    }


# --------------------------------------------------------------------------- tables and base64


def test_csv_bad_rows_are_quarantined_with_their_line(tmp_path):
    rows = [
        "label,p1,p2,p3,p4",
        "0,1,2,3,4",  # line 2: good
        "1,10,20,30",  # 3: too short
        "1,10,20,30,40,50",  # 4: too long
        "0,1,abc,3,4",  # 5: non-numeric
        "1,1,2,300,4",  # 6: out of range
        "1,1,2,-1,4",  # 7: negative
        "1,1,2.5,3,4",  # 8: not an integer
        "0,1,,3,4",  # 9: missing cell
        "1,5,6,7,8",  # 10: good
    ]
    csv_path = tmp_path / "t.csv"
    csv_path.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    info = tfpipe.convert(csv_path, out, quiet=True, workers=1)
    got = {q["origin"].rsplit(":", 1)[1]: q["category"] for q in quarantine(out)}
    assert got == {
        "line 3": "wrong column count",
        "line 4": "wrong column count",
        "line 5": "non-numeric cell",
        "line 6": "out of range",
        "line 7": "out of range",
        "line 8": "out of range",
        "line 9": "missing cell",
    }
    assert sum(s.num_examples for s in info.splits.values()) == 2


def test_base64_invalid_or_not_an_image_is_quarantined_with_its_key_or_line(tmp_path):
    good = base64.b64encode(h.rgb_jpeg(seed=1)).decode()
    other = base64.b64encode(h.rgb_jpeg(seed=2)).decode()
    doc = {
        "a": good,
        "b": "@@not base64@@",
        "c": base64.b64encode(b"hello, world").decode(),
        "d": [other, 42],
    }
    (tmp_path / "data.json").write_text(json.dumps(doc))
    tfpipe.convert(tmp_path / "data.json", tmp_path / "out1", quiet=True, workers=1)
    got = {q["origin"].rsplit(":", 1)[1]: q["category"] for q in quarantine(tmp_path / "out1")}
    assert got == {"key b": "invalid base64", "key c": "not an image", "key d[1]": "invalid base64"}

    lines = [
        json.dumps({"label": "a", "image": good}),
        json.dumps({"label": "b", "image": "%%%"}),
        json.dumps({"label": "b", "image": base64.b64encode(h.text_as_jpeg()).decode()}),
        "{not json",
        json.dumps({"label": "a"}),
        json.dumps({"label": "b", "image": other}),
    ]
    (tmp_path / "data.jsonl").write_text("\n".join(lines) + "\n")
    tfpipe.convert(tmp_path / "data.jsonl", tmp_path / "out2", quiet=True, workers=1)
    got = {q["origin"].rsplit(":", 1)[1]: q["category"] for q in quarantine(tmp_path / "out2")}
    assert got == {
        "line 2": "invalid base64",
        "line 3": "not an image",
        "line 4": "bad record",
        "line 5": "bad record",
    }


def test_mixed_integer_and_name_labels_are_all_names(tmp_path):
    rows = ["label,p1,p2,p3,p4", "5,1,2,3,4", "x,5,6,7,8"]
    (tmp_path / "t.csv").write_text("\n".join(rows) + "\n")
    info = tfpipe.convert(tmp_path / "t.csv", tmp_path / "out", quiet=True, workers=1)
    assert info.class_names == ("5", "x")
    assert info.splits["train"].class_counts == (1, 1)


def test_jsonl_unhashable_label_is_quarantined(tmp_path):
    good = base64.b64encode(h.rgb_jpeg(seed=1)).decode()
    lines = [json.dumps({"label": "a", "image": good}), json.dumps({"label": ["x"], "image": good})]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    tfpipe.convert(tmp_path / "d.jsonl", tmp_path / "out", quiet=True, workers=1)
    assert len(quarantine(tmp_path / "out")) == 1


def test_huge_integer_label_is_rejected(tmp_path):
    (tmp_path / "t.csv").write_text("label,p1,p2,p3,p4\n1000000000000,1,2,3,4\n0,1,2,3,5\n")
    info = tfpipe.convert(tmp_path / "t.csv", tmp_path / "out", quiet=True, workers=1)
    assert info.class_names == ("0",)
    (q,) = quarantine(tmp_path / "out")
    assert q["category"] == "bad label" and q["origin"].endswith(":line 2")


GOOD_LINE = json.dumps({"label": "a", "image": base64.b64encode(h.rgb_jpeg()).decode()})


@pytest.mark.parametrize(
    "name, data",
    [
        pytest.param(
            "t.csv",
            b"label,p1,p2,p3,p4\n0,1,2,3,4\n1,5,6,7,\xff\n",
        ),
        pytest.param(
            "t.csv",
            b'label,p1,p2,p3,p4\n0,1,2,3,4\n1,"' + b"9" * 200_000 + b'",6,7,8\n',
        ),
        pytest.param(
            "d.jsonl",
            GOOD_LINE.encode() + b'\n{"label": "a", "image": "\xff"}\n',
        ),
        pytest.param(
            "d.jsonl",
            GOOD_LINE.encode() + b"\n" + b"[" * 100_000 + b"]" * 100_000 + b"\n",
        ),
        pytest.param(
            "d.jsonl",
            b'{"label": "a"}\n' + GOOD_LINE.encode() + b"\n",
        ),
        pytest.param(
            "d.jsonl",
            b"oops\n" + GOOD_LINE.encode() + b"\n",
        ),
    ],
    ids=[
        "csv-bad-utf8",
        "csv-huge-field",
        "jsonl-bad-utf8",
        "jsonl-deep",
        "jsonl-sniff-partial",
        "jsonl-sniff-garbage",
    ],
)
def test_hostile_rows_are_quarantined_not_crashes(tmp_path, name, data):
    (tmp_path / name).write_bytes(data)
    try:
        info = tfpipe.convert(tmp_path / name, tmp_path / "out", quiet=True, workers=1)
    except TfpipeError:
        return
    assert (
        sum(s.num_examples for s in info.splits.values()) + len(quarantine(tmp_path / "out")) == 2
    )
