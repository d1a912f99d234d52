"""Scale-out benchmarks: the Beam runner against the local one, and reading through tf.data service.

    python -m benchmarks.scale [--quick] [--json FILE]
    python -m benchmarks --scale          # the benchmark runner calls run(quick)

Each function returns one flat dict (``benchmark``, ``setup``, ``images``,
``seconds``, ``images_per_s``, ``notes``); :func:`run` returns them all:

* convert -- the full-size sample tree (27,455 + 7,172 28x28 JPEGs; ``quick``:
  24 x (40 + 10)) with the local runner (2 worker processes) and the Beam
  DirectRunner (``direct_num_workers=2``, ``direct_running_mode=multi_processing``),
  and whether the two wrote the same bytes;
* read -- the train split in batches of 128, shuffled (2 timed epochs after
  one untimed warm-up; ``quick``: 1): directly (no cache, and the default
  in-memory cache), and through a tf.data service dispatcher with 1 and 2
  workers (and 2 without shuffling), each worker its own process started
  with ``python -m tfpipe.service worker``, as deployed. The notes split an
  epoch into the first batch (with shuffling: the whole split streamed into
  the shuffle buffer), the rate after it, and the wait for the end of the epoch.

On one machine the service's workers share the trainer's cores: the numbers
say what the service costs, not what remote workers would add.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

BATCH = 128
BEAM_OPTIONS = "--direct_num_workers=2 --direct_running_mode=multi_processing"
MARKER = ".complete"


def sample_tree(quick: bool, root: str | os.PathLike | None = None):
    """The sign-language tree at full size (or quick size), generated once and cached."""
    from tfpipe import sample

    if root is None:
        from benchmarks.data import default_root

        root = default_root()
    folder = Path(root).resolve() / ("scale-sample-quick" if quick else "scale-sample-full")
    if not (folder / MARKER).is_file():
        if quick:
            sample.write(folder, train_per_class=40, test_per_class=10, layouts=("tree",))
        else:
            sample.write(folder, full=True, layouts=("tree",))
        (folder / MARKER).write_text("")
    return sample.SampleTree(folder)


def _row(benchmark: str, setup: str, images: int, seconds: float, notes: str = "") -> dict:
    return {
        "benchmark": benchmark,
        "setup": setup,
        "images": int(images),
        "seconds": round(seconds, 3),
        "images_per_s": round(images / seconds, 1) if seconds > 0 else 0.0,
        "notes": notes,
    }


def _examples(info) -> int:
    return sum(s.num_examples for s in info.splits.values()) + sum(info.quarantined.values())


def convert_local(source, out, workers: int = 2) -> dict:
    """``tfpipe.convert`` with ``workers`` processes; images/s over every input."""
    import tfpipe

    start = time.perf_counter()
    info = tfpipe.convert(source, out, quiet=True, workers=workers, overwrite=True)
    seconds = time.perf_counter() - start
    return _row("convert", f"local runner, {workers} processes", _examples(info), seconds)


def convert_beam(source, out, beam_options: str = BEAM_OPTIONS) -> dict:
    """``--runner beam`` on the DirectRunner; images/s over every input, start-up included."""
    from tfpipe.beam import convert_with_beam

    start = time.perf_counter()
    info = convert_with_beam(source, out, beam_options=beam_options, quiet=True, overwrite=True)
    seconds = time.perf_counter() - start
    return _row("convert", "Beam DirectRunner, 2 processes", _examples(info), seconds, beam_options)


def same_bytes(a, b) -> bool:
    """Every file of two dataset directories identical."""
    names = sorted(p.name for p in Path(a).iterdir())
    if names != sorted(p.name for p in Path(b).iterdir()):
        return False
    return all((Path(a) / n).read_bytes() == (Path(b) / n).read_bytes() for n in names)


def _epoch(ds) -> dict:
    """One pass: images, seconds, and when the first and the last batch arrived."""
    start, images, first, last = time.perf_counter(), 0, None, 0.0
    for _, labels in ds:
        images += int(labels.shape[0])
        last = time.perf_counter() - start
        first = last if first is None else first
    return {"images": images, "seconds": time.perf_counter() - start, "first": first, "last": last}


def _timed_read(ds, epochs: int) -> tuple[int, float, str]:
    """``epochs`` timed passes after one untimed warm-up; images, seconds and a timing note."""
    _epoch(ds)  # warm-up: graph building, worker start, cache fill
    runs = [_epoch(ds) for _ in range(epochs)]
    images, seconds = sum(r["images"] for r in runs), sum(r["seconds"] for r in runs)
    first = sum(r["first"] for r in runs) / epochs
    streaming = sum(r["images"] for r in runs) / max(
        sum(r["last"] - r["first"] for r in runs), 1e-9
    )
    tail = sum(r["seconds"] - r["last"] for r in runs) / epochs
    note = (
        f"first batch after {first:.2f} s, then {streaming:,.0f} images/s, "
        f"end of epoch {tail:.2f} s after the last batch"
    )
    return images, seconds, note


def read_direct(path, cache: str | None, epochs: int = 1) -> dict:
    """``tfpipe.load`` in this process; ``cache=None`` decodes every epoch like the service does."""
    import tfpipe

    ds = tfpipe.load(path, "train", batch_size=BATCH, cache=cache, device=None)
    images, seconds, note = _timed_read(ds, epochs)
    return _row("read", f"direct, cache={cache}", images, seconds, note)


def read_service(path, workers: int, epochs: int = 1, shuffle: bool = True) -> dict:
    """``tfpipe.load(service=...)`` through a dispatcher and ``workers`` worker processes.

    Shuffled (as a trainer reads), the first batch waits for the whole split to
    fill the shuffle buffer; ``shuffle=False`` shows the stream itself.
    """
    import tfpipe
    from tfpipe import service

    dispatcher = service.start_dispatcher(port=0)
    port = int(dispatcher.target.rsplit(":", 1)[1])
    procs = []
    try:
        for _ in range(workers):
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tfpipe.service",
                    "worker",
                    "--dispatcher",
                    f"localhost:{port}",
                    "--port",
                    "0",
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            procs.append(proc)
        for proc in procs:
            if "registered" not in proc.stdout.readline():
                raise RuntimeError("a tf.data service worker did not start")
        deadline = time.monotonic() + 60
        while dispatcher._num_workers() < workers:  # the first heartbeat registers a worker
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"only {dispatcher._num_workers()} of {workers} workers registered"
                )
            time.sleep(0.1)
        ds = tfpipe.load(
            path,
            "train",
            batch_size=BATCH,
            device=None,
            shuffle=shuffle,
            service=dispatcher.target,
            service_sharding="dynamic",
        )
        images, seconds, note = _timed_read(ds, epochs)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        dispatcher.stop()
    return _row(
        "read",
        f"tf.data service, {workers} worker process{'es' if workers > 1 else ''}"
        + ("" if shuffle else ", no shuffle"),
        images,
        seconds,
        f"dynamic sharding, workers on this machine; {note}",
    )


def run(quick: bool = False, root: str | os.PathLike | None = None) -> list[dict]:
    """Every scale-out measurement, as rows (see the module docstring)."""
    import tempfile

    tree = sample_tree(quick, root)
    rows = []
    with tempfile.TemporaryDirectory(prefix="tfpipe-scale-") as tmp:
        local, beam = Path(tmp) / "local", Path(tmp) / "beam"
        rows.append(convert_local(tree.images, local))
        rows.append(convert_beam(tree.images, beam))
        identical = same_bytes(local, beam)
        rows[-1]["notes"] = f"{BEAM_OPTIONS}; same bytes as local: {'yes' if identical else 'NO'}"
        epochs = 1 if quick else 2
        rows.append(read_direct(local, None, epochs))
        rows.append(read_direct(local, "auto", epochs))
        for workers in (1, 2):
            rows.append(read_service(local, workers, epochs))
        rows.append(read_service(local, 2, epochs, shuffle=False))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.scale", description=__doc__.split("\n")[0]
    )
    p.add_argument("--quick", action="store_true", help="24 x 50 images instead of 34,627")
    p.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = p.parse_args(argv)
    rows = run(args.quick)
    print(f"{'benchmark':<9} {'setup':<38} {'images':>8} {'seconds':>9} {'images/s':>10}  notes")
    for r in rows:
        print(
            f"{r['benchmark']:<9} {r['setup']:<38} {r['images']:>8,} {r['seconds']:>9.2f} "
            f"{r['images_per_s']:>10,.0f}  {r['notes']}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
