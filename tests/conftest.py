"""Shared, session-scoped fixtures: one sample tree, one converted dataset, built once.

TensorFlow costs seconds to import, and conversion a few more: every test
that only *reads* a dataset shares these instead of making its own.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

import tfpipe.sample


@pytest.fixture(scope="session")
def sample_tree(tmp_path_factory) -> tfpipe.sample.SampleTree:
    """The course layouts at a small size: 24 letters x (20 train + 5 test) images, and more."""
    return tfpipe.sample.write(tmp_path_factory.mktemp("sample"))


@pytest.fixture(scope="session")
def converted(sample_tree, tmp_path_factory):
    """``sample_tree.images`` converted (Train/Test folders -> train/test splits); returns DatasetInfo."""
    from tfpipe import convert

    return convert(sample_tree.images, tmp_path_factory.mktemp("converted") / "sign", quiet=True, workers=1)


@pytest.fixture(scope="session")
def converted_rgb(sample_tree, tmp_path_factory):
    """The RGB Tom-and-Jerry-like tree, 70/15/15 split, JPEG at 64x96 (larger than the raw limit)."""
    from tfpipe import convert

    return convert(sample_tree.rgb, tmp_path_factory.mktemp("rgb") / "tj", quiet=True, workers=1,
                   image_size=(64, 96), split="train=70,validation=15,test=15")
