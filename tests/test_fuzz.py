"""Fuzzing the row sources: whatever the CSV rows or JSON lines hold, every candidate is
either converted or quarantined (converted + quarantined = found), the output verifies,
and nothing but a TfpipeError ever escapes.

Labels mix class indices and names within one file; the JSON-lines format is
detected from the file, whatever its first line holds. Inputs too big to generate
here (non-UTF-8 bytes, CSV fields over 128 KiB, JSON nested thousands deep, huge
labels) have their own tests in test_hostile_inputs.py.
"""

from __future__ import annotations

import base64
import csv
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfpipe
from tfpipe import testing_hostile as h
from tfpipe.errors import TfpipeError

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
TEXT = st.text(alphabet="ab1.-e, \"'x", max_size=6)  # printable, no line breaks


def convert_and_count(source: Path, out: Path, found: int, **options) -> None:
    """Convert; on success check converted + quarantined == found and that the output verifies."""
    try:
        info = tfpipe.convert(source, out, quiet=True, workers=1, **options)
    except TfpipeError as exc:
        # the only whole-file error a row or line can cause: nothing was usable
        assert any(why in str(exc) for why in ("no usable image", "no readable image", "is empty")), exc
        assert not out.exists() or not any(out.iterdir())  # and nothing is left behind
        return
    lines = (out / "quarantine.jsonl").read_text().splitlines()
    converted = sum(s.num_examples for s in info.splits.values())
    assert converted + len(lines) == found, (converted, len(lines), found)
    assert all(json.loads(line)["origin"].startswith(str(source)) for line in lines)
    assert tfpipe.verify(out) == []


# --------------------------------------------------------------------------- CSV


def _label(kind: str):
    names = ["0", "1", "2", " 1 ", "3.0"] if kind == "int" else ["a", "b", "c d"]
    if kind == "mixed":
        names = ["0", "2", "a", "c d"]
    invalid = ["", "-1", "2.5", "nan", "inf"]  # rejected before class names are resolved
    return st.sampled_from(names + invalid)


def _cell():
    return st.one_of(
        st.integers(0, 255).map(str),
        st.integers(-300, 600).map(str),
        st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
        TEXT,
    )


@st.composite
def csv_rows(draw):
    label = _label(draw(st.sampled_from(["int", "name", "mixed"])))
    good = st.tuples(label, st.lists(st.integers(0, 255).map(str), min_size=4, max_size=4))
    odd = st.tuples(label, st.lists(_cell(), max_size=7))
    rows = draw(st.lists(st.one_of(good, odd), min_size=1, max_size=12))
    return [[lab, *cells] for lab, cells in rows]


@SETTINGS
@given(rows=csv_rows())
def test_csv_rows(rows):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rows.csv"
        with open(path, "w", newline="") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["label", "p1", "p2", "p3", "p4"])
            writer.writerows(rows)
        with open(path, newline="") as fh:  # a candidate is every non-blank record
            records = list(csv.reader(fh))[1:]
        found = sum(1 for r in records if r and not (len(r) == 1 and not r[0].strip()))
        convert_and_count(path, Path(tmp) / "out", found)


# --------------------------------------------------------------------------- JSON lines

PAYLOADS = [
    h.rgb_jpeg(6, 6, seed=1),
    h.rgb_jpeg(9, 5, seed=2),
    h.gray_png(4, 7, seed=3),
    h.rgba_png(5, 5),
    h.animated_gif(4, 4),
    h.cmyk_jpeg(4, 4),
    b"",
    h.text_as_jpeg(),
    h.truncated_jpeg(),
    h.png_bomb(20000, 20000),
]


@st.composite
def json_lines(draw):
    kind = draw(st.sampled_from(["int", "name", "mixed"]))
    label = {
        "int": st.integers(0, 3),
        "name": st.sampled_from(["a", "b", "c"]),
        "mixed": st.one_of(st.integers(0, 3), st.sampled_from(["a", "b"])),
    }[kind]
    image = st.one_of(
        st.sampled_from(PAYLOADS).map(lambda b: base64.b64encode(b).decode()),
        st.text(alphabet="QUJD+/=!@ \\", max_size=12),  # invalid or odd base64
        st.one_of(st.none(), st.integers(), st.lists(st.integers(), max_size=2)),  # not a string
    )
    record = st.fixed_dictionaries({"label": label, "image": image}).map(json.dumps)
    broken = st.one_of(
        st.fixed_dictionaries({"label": label}).map(json.dumps),  # no image
        st.fixed_dictionaries({"image": image}).map(json.dumps),  # no label
        st.sampled_from(["[1, 2]", "3", '"text"', "null"]),  # JSON, but not an object
        TEXT.filter(lambda t: t.strip()),  # not JSON at all (or a bare number)
    )
    blank = st.sampled_from(["", "   "])
    return draw(st.lists(st.one_of(record, record, broken, blank), min_size=1, max_size=12))


@SETTINGS
@given(lines=json_lines())
def test_json_lines(lines):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.jsonl"
        path.write_text("".join(line + "\n" for line in lines))
        with open(path) as fh:
            found = sum(1 for line in fh if line.strip())
        convert_and_count(path, Path(tmp) / "out", found, channels=3, image_size=(4, 4))


def test_json_lines_strategy_reaches_both_outcomes():
    """Guard against a strategy that silently never converts (or never quarantines) anything."""
    good = json.dumps({"label": "a", "image": base64.b64encode(PAYLOADS[0]).decode()})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.jsonl"
        path.write_text(good + "\n" + '{"label": "a", "image": "!!"}\n\n')
        info = tfpipe.convert(
            path, Path(tmp) / "out", quiet=True, workers=1, channels=3, image_size=(4, 4)
        )
        assert sum(s.num_examples for s in info.splits.values()) == 1
        assert len((Path(tmp) / "out" / "quarantine.jsonl").read_text().splitlines()) == 1
