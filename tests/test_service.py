"""Reading through the tf.data service: a dispatcher and two workers on loopback."""

from __future__ import annotations

import hashlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

import tfpipe
from tfpipe import service, write

BATCH = 8


@pytest.fixture(scope="module")
def sharded(sample_tree, tmp_path_factory):
    """``sample_tree.images`` in small shards (8 train, 4 test), so dynamic sharding has
    several files to hand out; returns the dataset path."""
    out = tmp_path_factory.mktemp("svc") / "sign"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(write, "MIN_RECORDS_PER_SHARD", 16)
        mp.setattr(write, "READ_PARALLELISM", 8)
        info = tfpipe.convert(sample_tree.images, out, quiet=True, workers=1)
    assert len(info.splits["train"].shards) == 8
    return str(out)


@pytest.fixture
def cluster():
    """A dispatcher and two workers, in this process, on free loopback ports."""
    dispatcher = service.start_dispatcher(port=0)
    address = dispatcher.target.split("://")[1]
    workers = [service.start_worker(address, port=0) for _ in range(2)]
    yield dispatcher, workers
    for server in (*workers, dispatcher):
        server.stop()


def read(path, **service_options):
    return tfpipe.load(
        path,
        "train",
        batch_size=BATCH,
        normalize=None,
        label_mode="int",
        shuffle=False,
        device=None,
        **service_options,
    )


def records(batches) -> Counter:
    """Multiset of (label, image hash) of everything a dataset yields."""
    seen = Counter()
    for images, labels in batches:
        for image, label in zip(images, labels):
            seen[int(label), hashlib.blake2b(image.tobytes(), digest_size=8).digest()] += 1
    return seen


@pytest.fixture(scope="module")
def direct(sharded) -> Counter:
    return records(read(sharded).as_numpy_iterator())


def test_dynamic_sharding_reads_every_record_exactly_once(sharded, direct, cluster):
    dispatcher, _ = cluster
    ds = read(
        sharded, service=dispatcher.target, service_sharding="dynamic", service_job_name="train"
    )
    for _epoch in range(2):  # the same job, a fresh epoch each time
        assert records(ds.as_numpy_iterator()) == direct
    assert sum(direct.values()) == 480


def test_sharding_off_gives_each_worker_the_whole_split(sharded, direct, cluster):
    dispatcher, _ = cluster
    ds = read(sharded, service=dispatcher.target, service_sharding="off")
    assert records(ds.as_numpy_iterator()) == Counter({k: 2 * n for k, n in direct.items()})


@pytest.mark.parametrize("stop_after", [0, 3], ids=["before-the-epoch", "after-3-batches"])
def test_a_stopped_worker_does_not_hang_the_trainer(
    sharded, direct, cluster, monkeypatch, record_property, stop_after
):
    dispatcher, workers = cluster
    monkeypatch.setattr(service, "STALL_TIMEOUT", 3.0)
    ds = read(
        sharded, service=dispatcher.target, service_sharding="dynamic", service_job_name="lost"
    )
    # No guard of our own here: tfpipe.load(service=...) must bound the epoch by itself.
    if stop_after == 0:  # registered, then gone: its task never finishes
        workers[0].stop()
    got: list = []
    failure: list = []

    def trainer():
        try:
            for i, batch in enumerate(ds.as_numpy_iterator(), start=1):
                got.append(batch)
                if i == stop_after:
                    workers[0].stop()
        except Exception as exc:  # reported below, not swallowed
            failure.append(exc)

    start = time.monotonic()
    thread = threading.Thread(target=trainer, daemon=True)
    thread.start()
    thread.join(timeout=30)
    elapsed = time.monotonic() - start
    assert not thread.is_alive(), "the trainer hung after a worker stopped"
    assert not failure, failure
    delivered = records(got)
    # At most once per epoch, always; exactly once when the lost worker had nothing yet.
    assert set(delivered) <= set(direct) and all(delivered[k] <= n for k, n in direct.items())
    if stop_after == 0:
        assert delivered == direct
        assert elapsed >= 3.0  # the guard ended the epoch: TensorFlow alone waits forever
    record_property("delivered", sum(delivered.values()))
    print(
        f"\nworker stopped {'before the epoch' if stop_after == 0 else 'after 3 batches'}: "
        f"{sum(delivered.values())} of {sum(direct.values())} records delivered, "
        f"epoch ended after {elapsed:.1f} s"
    )


def test_the_cli_servers_feed_a_trainer(sharded, direct, tmp_path):
    def start(*args):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tfpipe.service", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        return proc, proc.stdout.readline()

    dispatcher, banner = start("dispatcher", "--port", "0", "--work-dir", str(tmp_path / "disp"))
    worker = None
    try:
        port = int(re.search(r"port (\d+)", banner).group(1))
        assert "service='grpc://" in banner and f":{port}'" in banner
        worker, line = start("worker", "--dispatcher", f"localhost:{port}", "--port", "0")
        assert f"registered with grpc://localhost:{port}" in line
        ds = read(sharded, service=f"grpc://localhost:{port}", service_sharding="dynamic")
        assert records(ds.as_numpy_iterator()) == direct
    finally:
        for proc in (worker, dispatcher):
            if proc is not None:
                proc.send_signal(signal.SIGINT)
    for proc in (worker, dispatcher):
        assert proc.wait(timeout=30) == 0
        assert proc.stdout.read().strip() == "stopped"
    assert any((tmp_path / "disp").iterdir())  # the journal a restarted dispatcher resumes from


def test_bad_addresses_are_one_line_errors(capsys):
    assert service.service_address("localhost:5050") == "grpc://localhost:5050"
    with pytest.raises(tfpipe.TfpipeError, match="not a dispatcher address"):
        service.service_address("localhost")
    assert service.main(["worker", "--dispatcher", "no-port-here"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_help_does_not_import_tensorflow():
    code = "import sys, tfpipe.service; tfpipe.service.build_parser(); print('tensorflow' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
