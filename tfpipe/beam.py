"""The Apache Beam runner: the local conversion, expressed as a Beam pipeline.

Usage::

    python -m tfpipe.convert SOURCE --out DIR --runner beam [--beam-options "--runner=..."]

It is a second *driver* of the same steps, not a second implementation:
sources (:func:`~tfpipe.sources.open_source`), validation and encoding
(:func:`~tfpipe.encode.encode_batch`), the on_error policy
(:meth:`~tfpipe.convert.Converter.reject`), planning (:func:`~tfpipe.split.plan`),
shard writing (:func:`~tfpipe.write.write_shard`) and metadata
(:func:`~tfpipe.write.finish`) are the ones the local runner calls, so on the
same input both runners write the same bytes::

    list inputs (1 worker, chunks of CHUNK) -> Reshuffle -> encode_batch (N workers)
        |-- rejected ------------------------------------------------.
        |-- index: Entry (no pixels) -> ToList -> plan (runs once) ---+--> Plan (side input)
        '-- (uid, bytes) -> route to (split, shard) via the plan's assignment (side input)
                -> GroupByKey(shard) -> sort by key-hash position -> write_shard
                -> ToList -> finish: TFDS metadata, quarantine.jsonl, tfpipe.json last

``uid`` is an item's place in the source's listing order; it joins an encoded
image to its place in the plan (``Entry.offset`` carries it: there is no
staging file here, the bytes travel through the pipeline instead).

Apache Beam is an optional extra (``pip install 'tfpipe[beam]'``) imported only
inside :func:`convert_with_beam`; the step functions below are plain Python.
Sources and the writer use local file I/O, so ``SOURCE`` and ``--out`` must be
paths every worker can open (one machine, or a shared mount).
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .config import ConvertConfig
from .convert import CHUNK, Converter, chunk_items, summary
from .encode import Encoded, encode_batch
from .errors import Rejected, TfpipeError
from .format import (
    QUARANTINE,
    DatasetInfo,
    ImageSpec,
    ShardInfo,
    load_info,
    serialize_example,
    shard_name,
)
from .sources import Item, open_source
from .split import Entry, Plan
from .write import STAGING, finish, shard_slices, split_info, write_shard

INSTALL_HINT = "the beam runner needs Apache Beam: pip install 'tfpipe[beam]'"
METRICS_NAMESPACE = "tfpipe"

Rejection = tuple  # (origin, split, Rejected), as sources and encode_batch yield them


@dataclass(frozen=True)
class Job:
    """What every pipeline step needs to know; small and picklable."""

    config: ConvertConfig
    name: str
    out: str
    spec: ImageSpec


def convert_with_beam(
    source: str, out_dir: str | None = None, *, beam_options=None, **options
) -> DatasetInfo:
    """Convert ``source`` into ``out_dir`` with an Apache Beam pipeline.

    Args:
        source, out_dir, options: as for :func:`tfpipe.convert` (``workers`` and
            ``progress`` are ignored: Beam decides the parallelism).
        beam_options: Beam pipeline options, a command-line string
            (``"--runner=FlinkRunner --flink_master=host:8081"``), a list of
            such arguments, or a ``PipelineOptions``; default: DirectRunner.

    Returns:
        The :class:`~tfpipe.format.DatasetInfo` of the finished dataset, the
        same as the local runner returns for the same input and options.

    Raises:
        TfpipeError: Apache Beam is not installed, bad options or source, a
            bad input with ``on_error="raise"``, or the pipeline failed.
    """
    try:
        import apache_beam as beam
    except ImportError:
        raise TfpipeError(INSTALL_HINT) from None
    quiet = options.pop("quiet", False)
    cfg = ConvertConfig(
        source=str(source), out_dir=None if out_dir is None else str(out_dir), **options
    )
    start = time.perf_counter()
    converter = Converter(cfg, quiet=quiet)
    src, name, out = converter.resolve()
    done = converter.finished(out)
    if done is not None:
        return done
    job = Job(cfg, name, str(out), converter.image_spec(src))
    beam_options = pipeline_options(beam_options)
    with converter.output(out):
        try:
            with _quiet_local_runner(beam_options):
                pipeline = beam.Pipeline(options=beam_options)
                build(pipeline, job)
                result = pipeline.run()
                state = result.wait_until_finish()
        except Exception as exc:  # a step failed: Beam wraps (or stringifies) its error
            raise _as_tfpipe_error(exc) from exc
        if str(state) not in ("DONE", "PipelineState.DONE"):
            raise TfpipeError(f"the Beam pipeline ended in state {state}; rerun to convert {out}")
    info = load_info(out)
    if not quiet:
        src.skipped = _skipped(result)
        print(summary(info, _read_quarantine(out), src, time.perf_counter() - start))
    return info


def pipeline_options(beam_options=None):
    """``PipelineOptions`` from a command-line string, a list of arguments, or as given.

    On the local DirectRunner the SDK workers' logs are turned down to
    CRITICAL unless ``--default_sdk_harness_log_level`` is given: a failed
    step is reported once, as the one-line TfpipeError, not as pages of
    worker tracebacks.
    """
    from apache_beam.options.pipeline_options import PipelineOptions

    if isinstance(beam_options, PipelineOptions):
        return beam_options
    args = shlex.split(beam_options) if isinstance(beam_options, str) else list(beam_options or [])
    if _is_local(PipelineOptions(args)) and not any("sdk_harness_log_level" in a for a in args):
        args.append("--default_sdk_harness_log_level=CRITICAL")
    return PipelineOptions(args)


def build(pipeline, job: Job) -> None:
    """Add the conversion's transforms to ``pipeline`` (nothing runs until ``pipeline.run()``)."""
    import apache_beam as beam
    from apache_beam.pvalue import AsList, AsSingleton

    listed = (
        pipeline
        | "Start" >> beam.Create([None])
        | "ListInputs" >> beam.FlatMap(list_inputs, job).with_outputs("rejected", main="chunks")
    )
    encoded = (
        listed.chunks
        | "Spread" >> beam.Reshuffle()
        | "Encode"
        >> beam.FlatMap(encode_chunk, job.spec).with_outputs("index", "rejected", main="data")
    )
    rejected = (listed.rejected, encoded.rejected) | "Rejected" >> beam.Flatten()
    the_plan = (
        encoded.index
        | "CollectIndex" >> beam.combiners.ToList()
        | "Plan" >> beam.Map(make_plan, AsList(rejected), job.config)
    )
    assignment = the_plan | "Assign" >> beam.Map(assign_shards)
    shards = (
        encoded.data
        | "Route" >> beam.FlatMap(route, AsSingleton(assignment))
        | "GroupByShard" >> beam.GroupByKey()
        | "WriteShards" >> beam.Map(write_one_shard, job)
    )
    _ = (
        pipeline
        | "Finish" >> beam.Create([None])
        | "WriteMetadata" >> beam.Map(write_metadata, AsSingleton(the_plan), AsList(shards), job)
    )


# --------------------------------------------------------------------------- steps (plain Python)


def list_inputs(_, job: Job) -> Iterator:
    """List the source in its fixed order, in chunks of CHUNK items: ``(first_uid, items)``.

    Rejections found by the source itself go to the ``rejected`` output.
    """
    from apache_beam.metrics import Metrics
    from apache_beam.pvalue import TaggedOutput

    source = open_source(job.config.source, job.config.format, config=job.config)
    for number, (items, passthrough) in enumerate(chunk_items(source.items(), CHUNK)):
        for rejection in passthrough:
            yield TaggedOutput("rejected", rejection)
        if items:  # every chunk but the last holds exactly CHUNK items
            yield number * CHUNK, items
    for reason, count in source.skipped.items():
        Metrics.counter(METRICS_NAMESPACE, f"skipped {reason}").inc(count)


def encode_chunk(chunk: tuple[int, list[Item]], spec: ImageSpec) -> Iterator:
    """encode_batch on one chunk: ``(uid, bytes)``, plus its Entry on ``index`` or a ``rejected``."""
    from apache_beam.pvalue import TaggedOutput

    first_uid, items = chunk
    for uid, result in enumerate(encode_batch(items, spec), start=first_uid):
        if isinstance(result, Encoded):
            yield TaggedOutput("index", Entry.of(result, uid, len(result.data)))
            yield uid, result.data
        else:
            yield TaggedOutput("rejected", result)


def make_plan(entries: list[Entry], rejected: list[Rejection], config: ConvertConfig) -> Plan:
    """The local runner's policy and plan, run once on the whole (pixel-free) index."""
    converter = Converter(config, quiet=True)
    kept: list[Rejection] = []
    for origin, split, rej in sorted(rejected, key=_rejection_order):
        converter.reject(origin, split, rej, kept)  # raises under on_error="raise"
    # Listing order, as the local runner with one worker sees it.
    return converter.plan(sorted(entries, key=lambda e: e.offset), kept)


def assign_shards(the_plan: Plan) -> dict[int, tuple]:
    """``uid -> (split, shard, num_shards, position, class index)`` for every kept input.

    ``position`` is the entry's place in its split, which the plan ordered
    by key hash; a shard's records are written in that order.
    """
    assignment = {}
    for split, entries in the_plan.splits.items():
        slices = shard_slices(entries)
        for shard, part in enumerate(slices):
            for position in range(part.start, part.stop):
                e = entries[position]
                assignment[e.offset] = (split, shard, len(slices), position, e.index)
    return assignment


def route(element: tuple[int, bytes], assignment: dict[int, tuple]) -> Iterator:
    """``(uid, bytes)`` -> ``((split, shard, n), (position, class index, bytes))``.

    Inputs the plan quarantined (duplicates, leaks, unknown labels) are not routed.
    """
    uid, data = element
    where = assignment.get(uid)
    if where is not None:
        split, shard, n, position, index = where
        yield (split, shard, n), (position, index, data)


def write_one_shard(group, job: Job) -> tuple[str, int, ShardInfo]:
    """Sort one shard's records into key-hash order and write them with ``write_shard``."""
    (split, shard, n), records = group
    records = sorted(records, key=lambda r: r[0])
    # Each attempt writes its own temporary file: a retried bundle never collides with another.
    attempt = Path(tempfile.mkdtemp(prefix="shard-", dir=Path(job.out) / STAGING))
    try:
        info = write_shard(
            Path(job.out),
            shard_name(job.name, split, shard, n),
            (serialize_example(data, index) for _, index, data in records),
            tmp_dir=attempt,
        )
    finally:
        shutil.rmtree(attempt, ignore_errors=True)
    return split, shard, info


def write_metadata(_, the_plan: Plan, shards: list[tuple[str, int, ShardInfo]], job: Job) -> None:
    """Describe the written shards and commit the dataset with ``finish`` (tfpipe.json last)."""
    out, spec = Path(job.out), job.spec
    written = {(split, shard): info for split, shard, info in shards}
    splits = {}
    for split, entries in the_plan.splits.items():
        n = len(shard_slices(entries))
        # A shard no record was routed to (possible only with huge records) is still written, empty.
        infos = [
            written.get((split, i)) or write_shard(out, shard_name(job.name, split, i, n), [])
            for i in range(n)
        ]
        splits[split] = split_info(split, entries, infos, len(the_plan.class_names))
    info = Converter(job.config, quiet=True).describe(the_plan, splits, spec, job.name, out)
    finish(out, info, the_plan)


# --------------------------------------------------------------------------- helpers


def _rejection_order(rejection: Rejection) -> tuple:
    origin, split, rej = rejection
    return origin, split or "", rej.category, rej.detail


def _category_counts(rejected: list[Rejection]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for _, _, rej in rejected:
        counts[rej.category] += 1
    return counts


def _read_quarantine(out: Path) -> list[Rejection]:
    rejected = []
    for line in (out / QUARANTINE).read_text().splitlines():
        q = json.loads(line)
        rejected.append((q["origin"], q["split"], Rejected(q["category"], q["reason"])))
    return rejected


def _skipped(result) -> dict[str, int]:
    """The source's skip counts (non-image files...), reported by the listing step as metrics."""
    try:
        from apache_beam.metrics.metric import MetricsFilter

        counters = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))[
            "counters"
        ]
    except Exception:  # metrics are best effort: some runners do not report them
        return {}
    skipped: dict[str, int] = defaultdict(int)
    for c in counters:
        if c.key.metric.name.startswith("skipped "):
            skipped[c.key.metric.name[len("skipped ") :]] += c.committed or c.attempted or 0
    return dict(skipped)


def _is_local(options) -> bool:
    from apache_beam.options.pipeline_options import StandardOptions

    runner = options.view_as(StandardOptions).runner
    return runner is None or "direct" in str(runner).lower()


@contextmanager
def _quiet_local_runner(options):
    """Beam logs every failed bundle at ERROR with its traceback; locally we report it once."""
    logger = logging.getLogger("apache_beam")
    level = logger.level
    if _is_local(options):
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _as_tfpipe_error(exc: BaseException) -> TfpipeError:
    """One readable line from a failed pipeline.

    In-process runners re-raise a step's exception with `` [while running
    'Step']`` appended; multi-process runners raise a RuntimeError holding the
    worker's traceback text, whose last ``TfpipeError: ...`` line is the message.
    """
    seen = exc
    while seen is not None:
        if isinstance(seen, TfpipeError):
            return TfpipeError(re.sub(r" \[while running '.*'\]$", "", str(seen), flags=re.S))
        seen = seen.__cause__ or seen.__context__
    text = str(exc)
    found = re.findall(r"TfpipeError: (.+)", text)
    if found:
        return TfpipeError(re.sub(r" \[while running '.*'\]$", "", found[-1]))
    last = [line for line in text.strip().splitlines() if line.strip()]
    return TfpipeError(f"the Beam pipeline failed: {last[-1] if last else type(exc).__name__}")
