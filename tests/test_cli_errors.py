"""Every CLI mistake ends with a non-zero exit and ONE readable line on stderr -- no
traceback -- and argument mistakes are caught before TensorFlow is imported."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tfpipe import testing_hostile as h

ROOT = Path(__file__).resolve().parents[1]
# Root ignores file permissions; without these capabilities it does not.
DROP_ROOT_POWERS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]


@pytest.fixture(scope="module")
def src(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli") / "imgs"
    for i, cls in enumerate("ab"):
        (root / cls).mkdir(parents=True)
        (root / cls / "0.jpg").write_bytes(h.rgb_jpeg(seed=i))
    return root


def run_cli(
    args: list[str], tmp_path: Path, prefix: list[str] = ()
) -> tuple[int, list[str], set[str]]:
    """(exit code, stderr lines, heavy modules imported) of ``python -m tfpipe.convert ARGS``."""
    report = tmp_path / "modules.txt"
    env = h.child_env(tmp_path / "hooks", report_modules_to=report)
    result = subprocess.run(
        [*prefix, sys.executable, "-m", "tfpipe.convert", *args, "--no-progress"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    imported = set(report.read_text().split()) if report.exists() else {"(no report)"}
    return result.returncode, result.stderr.splitlines(), imported


def check_one_line(code: int, lines: list[str], imported: set[str], fragment: str) -> None:
    assert code != 0
    assert len(lines) == 1, "\n".join(lines)
    assert "Traceback" not in lines[0] and lines[0].startswith("error:"), lines[0]
    assert fragment in lines[0], lines[0]
    assert "tensorflow" not in imported, "an argument error imported TensorFlow"




@pytest.mark.parametrize(
    "args, fragment",
    [
        (["{tmp}/nowhere", "--out", "{tmp}/out"], "does not exist"),
        (["{src}", "--out", "{tmp}/out", "--image-size", "0", "16"], "--image-size"),
        (
            ["{src}", "--out", "{tmp}/out", "--split", "train=50,test=20"],
            "--split: parts add up to 70",
        ),
        (["{src}", "--out", "{tmp}/out", "--split", "train=80,bogus=20"], "--split"),
        (["{src}", "--out", "{tmp}/a_file"], "is a file"),
        (["{src}", "--out", "{tmp}/out", "--workers", "0"], "--workers"),
        (["{tmp}/a_file", "--out", "{tmp}/out"], "cannot tell the format"),
        pytest.param(
            ["{src}", "--out", "{tmp}/out", "--format", "bogus"], "--format"
        ),
        pytest.param(
            ["{src}", "--out", "{tmp}/out", "--workers", "two"], "--workers"
        ),
        pytest.param(
            ["{src}", "--out", "{tmp}/out", "--image-size", "16"],
            "--image-size",
        ),
        pytest.param(["{src}", "--bogus-flag"], "--bogus-flag"),
        pytest.param(
            ["{src}", "--out", "{tmp}/out", "--format", "csv"],
            "",
        ),
    ],
    ids=[
        "missing-source",
        "image-size-0",
        "split-sum",
        "split-name",
        "out-is-a-file",
        "workers-0",
        "unknown-source-format",
        "unknown-format",
        "workers-not-a-number",
        "image-size-one-number",
        "unknown-flag",
        "folder-as-csv",
    ],
)
def test_bad_arguments_fail_in_one_line_before_tensorflow(args, fragment, src, tmp_path):
    (tmp_path / "a_file").write_text("not a directory\n")
    args = [a.format(src=src, tmp=tmp_path) for a in args]
    check_one_line(*run_cli(args, tmp_path), fragment)
    assert not (tmp_path / "out").exists()


def _unwritable_prefix() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot make a directory unwritable")
    return DROP_ROOT_POWERS


def test_unwritable_output_directory(src, tmp_path):
    prefix = _unwritable_prefix()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        check_one_line(*run_cli([str(src), "--out", str(locked)], tmp_path, prefix), "not writable")
    finally:
        locked.chmod(0o755)


def test_output_directory_that_cannot_be_created(src, tmp_path):
    prefix = _unwritable_prefix()
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        check_one_line(
            *run_cli([str(src), "--out", str(locked / "out")], tmp_path, prefix), "--out"
        )
    finally:
        locked.chmod(0o755)


def test_help_is_quick_and_imports_no_tensorflow(tmp_path):
    report = tmp_path / "modules.txt"
    env = h.child_env(tmp_path / "hooks", report_modules_to=report)
    result = subprocess.run(
        [sys.executable, "-m", "tfpipe.convert", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0 and "--out" in result.stdout
    assert "tensorflow" not in report.read_text().split()
