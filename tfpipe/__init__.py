"""tfpipe: convert any image source into sharded TFRecords, and feed Keras at full speed.

The public surface::

    tfpipe.convert(source, out_dir, **options) -> DatasetInfo   # python -m tfpipe.convert
    tfpipe.load(path, split="train", batch_size=128, ...)  -> tf.data.Dataset
    tfpipe.verify(path) -> list of problems                   # python -m tfpipe.verify
    tfpipe.load_info(path) -> DatasetInfo
    tfpipe.datasets.sign_language(), tfpipe.models, tfpipe.plots, tfpipe.sample
    tfpipe.Augment(rotation_range=10, ...)                    # ImageDataGenerator's vocabulary

Names are imported lazily: ``import tfpipe`` does not import TensorFlow.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "convert": ("tfpipe.convert", None),
    "verify": ("tfpipe.verify", None),
    "load": ("tfpipe.read", "load"),
    "load_info": ("tfpipe.format", "load_info"),
    "DatasetInfo": ("tfpipe.format", "DatasetInfo"),
    "ConvertConfig": ("tfpipe.config", "ConvertConfig"),
    "Augment": ("tfpipe.augment", "Augment"),
    "TfpipeError": ("tfpipe.errors", "TfpipeError"),
    "datasets": ("tfpipe.datasets", None),
    "models": ("tfpipe.models", None),
    "plots": ("tfpipe.plots", None),
    "sample": ("tfpipe.sample", None),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tfpipe' has no attribute {name!r}")
    module_name, attr = _EXPORTS[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + __all__)
