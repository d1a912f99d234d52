"""tfpipe.load(strategy=...): per-replica batches, and each input pipeline reads only its share.

MirroredStrategy over two logical CPUs needs the CPU split before TensorFlow
initialises its devices, which the rest of the suite has long done: that
check runs ``tests/readkit.py distribute`` in a fresh process. How the split
is shared between input pipelines is checked here, in-process, by calling
the reader with the ``InputContext`` a multi-worker strategy would pass.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import tensorflow as tf
from readkit import direct, reshard, seen

from tfpipe.read import Reader, ReadOptions

HERE = Path(__file__).parent


def test_mirrored_strategy_on_two_cpus_gets_half_the_global_batch_each(converted):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "-1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    run = subprocess.run(
        [sys.executable, str(HERE / "readkit.py"), "distribute", converted.path],
        capture_output=True, text=True, timeout=240, env=env,
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert run.returncode == 0 and lines, run.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["replicas"] == 2
    assert result["shapes"] == [
        [[16, 28, 28, 1], [16, 24], "device:CPU:0"],
        [[16, 28, 28, 1], [16, 24], "device:CPU:1"],
    ]
    assert result["steps"] == 480 // 32 and result["examples"] == 480
    assert math.isfinite(result["fit_loss"])  # a real number: fit ran and did not diverge


def share(info, pipelines, index, **options):
    context = tf.distribute.InputContext(
        num_input_pipelines=pipelines, input_pipeline_id=index, num_replicas_in_sync=pipelines)
    o = ReadOptions(split="train", batch_size=32, normalize=None, label_mode="int", **options)
    return Reader(info, o, distributed=True).dataset(context)


def test_fewer_shards_than_pipelines_shares_records(converted):
    assert len(converted.split("train").shards) == 1
    parts = [share(converted, 2, i, seed=0) for i in range(2)]
    for ds in parts:
        assert ds.element_spec[0].shape.as_list() == [16, 28, 28, 1]  # static: remainder dropped
        assert int(ds.cardinality()) == 240 // 16  # per-replica batch 16, remainder dropped
        assert {int(x.shape[0]) for x, _ in ds} == {16}
    a, b = seen(parts[0]), seen(parts[1])
    assert a + b == direct(converted, "train") and not a & b


def test_enough_shards_are_shared_by_file(converted, tmp_path):
    info = reshard(converted, tmp_path / "four", "train", 4)
    files = info.shard_paths("train")
    parts = [seen(share(info, 2, i, shuffle=False)) for i in range(2)]
    whole = direct(info, "train")
    assert parts[0] + parts[1] == whole and not parts[0] & parts[1]
    by_file = [direct(_only(info, f, tmp_path / f"only{k}"), "train") for k, f in enumerate(files)]
    assert parts[0] == by_file[0] + by_file[2]  # pipeline 0 reads shards 0 and 2
    assert parts[1] == by_file[1] + by_file[3]


def _only(info, file, out):
    """A view of ``info`` whose train split is the one shard ``file``."""
    import dataclasses

    shard = next(s for s in info.split("train").shards if s.file == os.path.basename(file))
    split = dataclasses.replace(info.split("train"), shards=(shard,))
    return dataclasses.replace(info, splits={"train": split})
