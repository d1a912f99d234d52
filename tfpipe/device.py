"""Where the batches go: one accelerator, several replicas, or a split kept on a device.

* :func:`target_device` -- ``"/GPU:0"`` on a machine with a GPU, else None.
* :func:`to_device` -- the pipeline's last stage: ``prefetch_to_device``, so the
  host-to-device copy of batch *n+1* overlaps step *n*. Runs anywhere
  (``"/CPU:0"`` stands in for a GPU in tests).
* :func:`distribute` -- ``Strategy.distribute_datasets_from_function``: one
  input pipeline per worker, each told its id and per-replica batch size.
* :func:`place` -- a decoded split as uint8 tensors on a device, for
  ``tfpipe.load(cache="device")``; :func:`device_budget` says whether it fits.
"""

from __future__ import annotations

import os
from collections.abc import Callable

GPU = "/GPU:0"
# No portable way to ask TensorFlow how much memory a GPU has: keep the
# device cache well below any current accelerator's, overridable.
DEFAULT_DEVICE_CACHE_BYTES = 2 * 1024**3
PREFETCH_BUFFER = 2  # batches staged on the device ahead of the step


def target_device() -> str | None:
    """``"/GPU:0"`` when TensorFlow sees a GPU, else None (batches stay on the host)."""
    import tensorflow as tf

    return GPU if tf.config.list_logical_devices("GPU") else None


def resolve(device: str | None) -> str | None:
    """``"auto"`` -> :func:`target_device`; None -> None; a device name -> itself, validated."""
    if device == "auto":
        return target_device()
    if device is None:
        return None
    import tensorflow as tf

    from .errors import TfpipeError

    try:
        spec = tf.DeviceSpec.from_string(device)
    except ValueError:
        raise TfpipeError(f"device: {device!r} is not a device name like '/GPU:0'") from None
    names = {(d.device_type, tf.DeviceSpec.from_string(d.name).device_index)
             for d in tf.config.list_logical_devices()}
    if (spec.device_type, spec.device_index or 0) not in names:
        have = ", ".join(f"/{kind}:{index}" for kind, index in sorted(names))
        raise TfpipeError(f"device: {device!r} is not on this machine (it has {have})")
    return device


def to_device(dataset, device: str | None):
    """Make ``prefetch_to_device(device)`` the last stage (no-op when ``device`` is None)."""
    if device is None:
        return dataset
    import tensorflow as tf

    return dataset.apply(tf.data.experimental.prefetch_to_device(device, PREFETCH_BUFFER))


def distribute(strategy, make: Callable):
    """``strategy.distribute_datasets_from_function(make)``.

    ``make(input_context)`` must read only its share
    (``input_context.input_pipeline_id`` of ``num_input_pipelines``) and batch
    with ``input_context.get_per_replica_batch_size(global_batch)``.
    """
    return strategy.distribute_datasets_from_function(make)


def device_budget(device: str) -> int:
    """Bytes that ``cache="device"`` may take on ``device``.

    ``$TFPIPE_DEVICE_CACHE_BYTES`` if set; else 2 GiB on an accelerator and
    the host budget (:func:`host_budget`) on a CPU.
    """
    env = os.environ.get("TFPIPE_DEVICE_CACHE_BYTES")
    if env:
        if not env.isdigit():
            from .errors import TfpipeError

            raise TfpipeError(f"$TFPIPE_DEVICE_CACHE_BYTES={env!r} must be a number of bytes")
        return int(env)
    import tensorflow as tf

    if tf.DeviceSpec.from_string(device).device_type == "CPU":
        return host_budget()
    return DEFAULT_DEVICE_CACHE_BYTES


def host_budget() -> int:
    """Bytes of RAM a pipeline may hold (cache plus shuffle buffer):
    min(25% of total RAM, half of what is available now, 4 GiB)."""
    import psutil

    mem = psutil.virtual_memory()
    return int(min(mem.total * 0.25, mem.available * 0.5, 4 * 1024**3))


def place(device: str, *arrays):
    """Copy numpy arrays to ``device`` once; returns eager tensors that live there."""
    import tensorflow as tf

    with tf.device(device):
        return tuple(tf.identity(tf.convert_to_tensor(a)) for a in arrays)
