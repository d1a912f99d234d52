"""The curated public surface: every exported name resolves, and importing tfpipe stays cheap."""

from __future__ import annotations

import subprocess
import sys

import tfpipe


def test_every_exported_name_resolves():
    for name in tfpipe.__all__:
        assert getattr(tfpipe, name) is not None, name
    assert callable(tfpipe.convert) and callable(tfpipe.verify) and callable(tfpipe.load)


def test_import_tfpipe_does_not_import_tensorflow_or_beam():
    code = "import sys, tfpipe; print(sorted(m for m in ('tensorflow', 'apache_beam') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_cli_module_is_also_the_function(sample_tree, tmp_path):
    import tfpipe.convert as module  # importing the submodule must not shadow the function

    assert module is tfpipe.convert
    info = tfpipe.convert(sample_tree.test_csv, tmp_path / "o", quiet=True, workers=1)
    assert info.splits["train"].num_examples == 120
