"""tf.data service: decode on other machines, train here.

TensorFlow's own servers, started from a shell::

    python -m tfpipe.service dispatcher --port 5050 [--work-dir DIR]
    python -m tfpipe.service worker --dispatcher HOST:5050 --port 5051

and a trainer that reads through them::

    tfpipe.load(path, service="grpc://HOST:5050", service_sharding="dynamic")

The workers run the read-and-decode part of :func:`tfpipe.load`'s pipeline
(they open the shard files themselves, so the dataset directory must be at
the same path on every worker); the trainer shuffles, batches and feeds the
model. With ``service_sharding="dynamic"`` the dispatcher hands out shard
files one at a time, so each record is read at most once per epoch (exactly
once when no worker fails).

A worker that dies mid-epoch takes its unread shard with it, and TensorFlow's
client then waits for it forever (the dispatcher never reassigns a lost
worker's task: tensorflow/core/data/service/dispatcher_impl.cc only hands it
back when a worker at the same address reconnects). :func:`distribute` and
:func:`guard` therefore end the epoch when no element has arrived for
``stall_timeout`` seconds, with a warning naming the service.

TensorFlow is imported only when a server or dataset is made: ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import logging
import queue
import re
import signal
import socket
import sys
import threading

from .errors import TfpipeError, check_choice

log = logging.getLogger("tfpipe")

SHARDING = ("off", "dynamic")
STALL_TIMEOUT = 60.0  # seconds without an element before the epoch is ended
DEFAULT_DISPATCHER_PORT = 5050
LOOPBACK = ("localhost", "127.0.0.1", "::1", "[::1]")


# --------------------------------------------------------------------------- trainer side


def service_address(service: str) -> str:
    """``"HOST:PORT"`` or ``"grpc://HOST:PORT"`` -> ``"grpc://HOST:PORT"``.

    Raises:
        TfpipeError: anything else, naming the bad value.
    """
    match = re.fullmatch(r"(?:grpc://)?(\[[^\]]+\]|[^:/\s]+):(\d{1,5})", str(service).strip())
    if not match:
        raise TfpipeError(f"service: {service!r} is not a dispatcher address like grpc://host:5050")
    return f"grpc://{match.group(1)}:{match.group(2)}"


def distribute(
    dataset,
    service: str,
    *,
    sharding: str = "off",
    job_name: str | None = None,
    stall_timeout: float | None = None,
):
    """Run ``dataset`` on the tf.data service's workers; read its elements here.

    Args:
        dataset: the part of the pipeline the workers run (read, parse, decode).
        service: the dispatcher, ``grpc://HOST:PORT``.
        sharding: "off" (every worker runs the whole dataset: each element once
            per worker) or "dynamic" (the dispatcher hands out the source's
            elements -- shard files -- one at a time: each at most once).
        job_name: consumers naming the same job share it (and its epoch).
        stall_timeout: seconds without an element after which the epoch is
            ended with a warning (a lost worker); default :data:`STALL_TIMEOUT`;
            0 turns the guard off (TensorFlow's behaviour: wait forever).

    Returns:
        A ``tf.data.Dataset`` with ``dataset``'s element spec.
    """
    import tensorflow as tf

    check_choice("service_sharding", sharding, SHARDING)
    address = service_address(service)
    policy = tf.data.experimental.service.ShardingPolicy
    mode = policy.DYNAMIC if sharding == "dynamic" else policy.OFF
    ds = dataset.apply(
        tf.data.experimental.service.distribute(
            processing_mode=mode, service=address, job_name=job_name
        )
    )
    timeout = STALL_TIMEOUT if stall_timeout is None else stall_timeout
    return guard(ds, timeout, what=address) if timeout else ds


def guard(dataset, stall_timeout: float, what: str = "the tf.data service"):
    """``dataset`` that ends its epoch when no element arrives for ``stall_timeout`` seconds.

    The elements are pulled by a helper thread and handed over through a small
    queue (a Python hop per element: tens of microseconds, so apply it to
    batches, not to single small examples). A stalled helper thread is left
    blocked and leaks; it holds no CPU (measured), and a later epoch starts a
    fresh one. A stall is logged as a warning with the number of elements read.

    Returns:
        A ``tf.data.Dataset`` (from a generator) with ``dataset``'s element spec;
        its cardinality is unknown.
    """
    import tensorflow as tf

    if stall_timeout <= 0:
        raise TfpipeError(f"stall_timeout: {stall_timeout!r} must be a positive number of seconds")

    def generate():
        handoff: queue.Queue = queue.Queue(maxsize=4)
        closed = threading.Event()
        end = object()

        def hand_over(item) -> bool:
            """Put ``item`` unless the consumer has gone (then never block on a full queue)."""
            while not closed.is_set():
                try:
                    handoff.put(item, timeout=0.2)
                    return True
                except queue.Full:
                    continue
            return False

        def pump():
            try:
                for element in dataset.as_numpy_iterator():
                    if not hand_over(element):  # the consumer stopped early: drop the iterator
                        return
                hand_over(end)
            except Exception as exc:  # handed to the consumer, raised there
                hand_over(exc)

        threading.Thread(target=pump, name="tfpipe-service-guard", daemon=True).start()
        count = 0
        try:
            while True:
                try:
                    element = handoff.get(timeout=stall_timeout)
                except queue.Empty:
                    log.warning(
                        "tfpipe: no element from %s for %g s: a worker was lost mid-epoch; "
                        "ending this epoch after %d elements (the lost worker's unread shards "
                        "are skipped this epoch; restart it at the same address to recover)",
                        what,
                        stall_timeout,
                        count,
                    )
                    return
                if element is end:
                    return
                if isinstance(element, Exception):
                    raise element
                count += 1
                yield element
        finally:
            closed.set()

    return tf.data.Dataset.from_generator(generate, output_signature=dataset.element_spec)


# --------------------------------------------------------------------------- servers


def start_dispatcher(port: int = DEFAULT_DISPATCHER_PORT, work_dir: str | None = None):
    """Start a ``tf.data.experimental.service.DispatchServer`` in this process.

    Args:
        port: port to listen on; 0 picks a free one.
        work_dir: where the dispatcher journals its state (fault-tolerant
            mode): a restarted dispatcher then resumes its jobs. None: in memory.

    Returns:
        The running server (``.target`` is ``grpc://localhost:PORT``).
    """
    import tensorflow as tf

    svc = tf.data.experimental.service
    config = svc.DispatcherConfig(
        port=int(port), work_dir=work_dir, fault_tolerant_mode=bool(work_dir)
    )
    return svc.DispatchServer(config)


def start_worker(dispatcher: str, port: int = 0, worker_address: str | None = None):
    """Start a ``tf.data.experimental.service.WorkerServer`` registered with ``dispatcher``.

    Args:
        dispatcher: ``HOST:PORT`` (or ``grpc://HOST:PORT``) of the dispatcher.
        port: port to listen on; 0 picks a free one.
        worker_address: the host name trainers reach this worker at; default:
            ``localhost`` when the dispatcher is on loopback, else this
            machine's fully qualified name.

    Returns:
        The running server.
    """
    import tensorflow as tf

    svc = tf.data.experimental.service
    address = service_address(dispatcher)[len("grpc://") :]
    host = worker_address or (
        "localhost" if address.rsplit(":", 1)[0] in LOOPBACK else socket.getfqdn()
    )
    config = svc.WorkerConfig(
        dispatcher_address=address,
        worker_address=f"{host}:%port%",
        port=int(port),
        data_transfer_address=f"{host}:%dts_port%",
    )
    return svc.WorkerServer(config)


def _serve(server, banner: str) -> None:
    """Print ``banner`` and block until Ctrl-C (or SIGTERM), then stop the server."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(banner, flush=True)
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    print("stopped", flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tfpipe.service",
        description="Run a tf.data service dispatcher or worker (TensorFlow's own servers).",
    )
    roles = p.add_subparsers(dest="role", required=True, metavar="{dispatcher,worker}")
    d = roles.add_parser(
        "dispatcher", help="the one coordinator: trainers and workers connect to it"
    )
    d.add_argument(
        "--port",
        type=int,
        default=DEFAULT_DISPATCHER_PORT,
        help=f"port to listen on (default {DEFAULT_DISPATCHER_PORT}; 0: any free port)",
    )
    d.add_argument(
        "--work-dir", metavar="DIR", help="journal state here, so a restarted dispatcher resumes"
    )
    w = roles.add_parser("worker", help="reads and decodes shards for the trainers")
    w.add_argument(
        "--dispatcher", required=True, metavar="HOST:PORT", help="the dispatcher's address"
    )
    w.add_argument("--port", type=int, default=0, help="port to listen on (default: any free port)")
    w.add_argument(
        "--worker-address",
        metavar="HOST",
        help="host name trainers reach this worker at (default: localhost when the "
        "dispatcher is on loopback, else this machine's fully qualified name)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.role == "dispatcher":
            server = start_dispatcher(args.port, args.work_dir)
            port = int(server.target.rsplit(":", 1)[1])
            host = socket.gethostname()
            banner = (
                f"tf.data service dispatcher on port {port}: workers use --dispatcher {host}:{port}, "
                f"trainers service='grpc://{host}:{port}' (Ctrl-C to stop)"
            )
        else:
            server = start_worker(args.dispatcher, args.port, args.worker_address)
            banner = (
                f"tf.data service worker on port {server._address.rsplit(':', 1)[1]}, "
                f"registered with {service_address(args.dispatcher)} (Ctrl-C to stop)"
            )
    except TfpipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # TensorFlow's own: port in use, bad work dir...
        print(f"error: cannot start the {args.role}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    _serve(server, banner)
    return 0


if __name__ == "__main__":
    sys.exit(main())
