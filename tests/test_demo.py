"""`make demo` and the course's example, in a small configuration."""

from __future__ import annotations

import re

import pytest

from tfpipe import demo


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("TFPIPE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("TFPIPE_SIGN_LANGUAGE_URL", raising=False)


def test_demo_converts_every_layout_and_compares_with_image_data_generator(tmp_path, capsys):
    data = tmp_path / "tfrecords"
    argv = ["--data", str(data), "--per-class", "10", "--epochs", "1", "--workers", "1"]
    assert demo.main(argv) == 0
    out = capsys.readouterr().out

    tail = out[out.index("== conversions") :]
    for name in ("sign_language_tree", "sign_language", "sign_mnist_dirty", "sign_mnist_train",
                 "sign_mnist_test", "sign_mnist_base64", "sign_mnist_json", "tom_and_jerry_sample"):  # fmt: skip
        assert re.search(rf"^  {name} ", tail, re.M), f"no summary row for {name}"
    # the dirty CSV's problems are quarantined, not fed to the model
    assert re.search(r"^  sign_mnist_dirty .*duplicate", tail, re.M)
    assert re.search(r"^  sign_mnist_dirty .*(non-numeric|fwefew|cell)", tail, re.M | re.I)
    # the URL list was downloaded from the loopback server: all 48 images kept
    assert re.search(r"^  sign_mnist_json\s+48 ", tail, re.M)
    # each conversion printed its own summary on the way
    assert out.count("duplicates ") >= 8

    assert re.search(r"^  tfpipe\s+\d\.\d{3}", tail, re.M)
    assert re.search(r"^  ImageDataGenerator\s+\d\.\d{3}", tail, re.M)
    assert re.search(
        r"comparison: tfpipe feeds [\d.]+x the training images/s of ImageDataGenerator", tail
    )
    assert (data / "plots" / "base_mlp.png").stat().st_size > 0

    # A rerun reuses the sample and every dataset.
    assert demo.main(argv + ["--epochs", "1"]) == 0
    again = capsys.readouterr().out
    assert "sample: reusing" in again
    assert again[again.index("== conversions") :].count("reused") == 8
