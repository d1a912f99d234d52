"""tfpipe's benchmarks: every workload, every contender, side by side in one process.

How to run::

    python -m benchmarks                  # full grid -> benchmarks/results/latest.{json,md,png}
    python -m benchmarks --quick          # same grid at tiny sizes (about a minute; a smoke run)
    python -m benchmarks --workloads W1,W4 --out /tmp/bench
    python -m benchmarks --scale          # also benchmarks/scale.py (Beam, tf.data service) if present
    pytest benchmarks/bench_*.py --benchmark-only       # pytest-benchmark view of the same grid
    TFPIPE_BENCH_FULL=1 pytest benchmarks/bench_*.py --benchmark-only

On a GPU machine (``pip install -e '.[gpu]'``, so ``tf.config.list_logical_devices("GPU")``
is not empty)::

    python -m benchmarks --device gpu     # W1 and W2 on /GPU:0, with cache="device",
                                          # and each step's input-wait fraction

Without a GPU the same command runs with ``/CPU:0`` standing in (the report
says so): it proves the mode works, not how fast a GPU is.

The workloads (``workloads.py`` declares them; ``data.py`` makes their data):

* W1 -- 27,455 28x28 grayscale JPEGs in class folders to batches of 128, input only:
  ImageDataGenerator (the course's call), image_dataset_from_directory plain
  and cached, TFDS ImageFolder, tfpipe from shards, and a numpy ceiling.
* W2 -- ``model.fit`` of the course's MLP and CNN for 3 epochs, fed by each of them,
  against data already in memory (the ceiling).
* W3 -- 2,000 RGB 640x360 JPEG frames read at 224x224.
* W4 -- conversion (folder tree and CSV) with 1 and 2 worker processes.

Every ratio in a report comes from one run; targets that are missed name the
stage that takes the time (the stage profiles at the end of latest.md).
"""
