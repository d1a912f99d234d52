"""Convert any supported source into a verified, sharded, TFDS-compatible dataset.

Usage::

    python -m tfpipe.convert SOURCE [--out DIR] [options]

The stages, in order (each its own module)::

    sources/  -> encode (validate, decode, resize, hash; --workers processes)
              -> split (classes, dedup, leaks, splits)  -> write (shards, metadata)
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path

from .config import ConvertConfig, data_root, dataset_name
from .encode import Encoded, Rejection, encode_batch, probe_shape
from .errors import Rejected, TfpipeError, summarize
from .format import SIDECAR, DatasetInfo, ImageSpec, choose_encoding, load_info
from .sources import FORMATS, Item, Source, open_source
from .split import Entry, Plan, plan
from .write import STAGING, Staging, finish, pixel_stats, prepare_output, write_split

CHUNK = 64  # items per task sent to a worker process


def convert(source: str, out_dir: str | None = None, **options) -> DatasetInfo:
    """Convert ``source`` into sharded TFRecords in ``out_dir``; see ``--help`` for options.

    Returns:
        The :class:`~tfpipe.format.DatasetInfo` of the finished dataset.

    Raises:
        TfpipeError: bad options or source, or a bad input with ``on_error="raise"``.
    """
    quiet = options.pop("quiet", False)
    config = ConvertConfig(source=str(source), out_dir=None if out_dir is None else str(out_dir), **options)
    return Converter(config, quiet=quiet).run()


class Converter:
    """Drives one conversion with the local runner (processes on this machine)."""

    def __init__(self, config: ConvertConfig, quiet: bool = False):
        self.config = config
        self.quiet = quiet
        self.say = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr))

    def run(self) -> DatasetInfo:
        start = time.perf_counter()
        source, name, out = self.resolve()
        done = self.finished(out)
        if done is not None:
            return done
        spec = self.image_spec(source)
        with self.output(out) as staging_dir, self.pool() as pool:
            staging = Staging(staging_dir)
            entries: list[Entry] = []
            rejected: list[Rejection] = []
            try:
                for result in self.encoded(source, spec, pool):
                    if isinstance(result, Encoded):
                        entries.append(Entry.of(result, *staging.append(result.data)))
                    else:
                        self.reject(*result, rejected)
            finally:
                staging.close()
            the_plan = self.plan(entries, rejected)
            splits = {}
            total = sum(map(len, the_plan.splits.values()))
            with _bar(total, "write", self.config.progress and not self.quiet) as bar:
                for split, split_entries in the_plan.splits.items():
                    splits[split] = write_split(out, name, split, split_entries, staging.path,
                                                len(the_plan.class_names), bar,
                                                mapper=pool.map if pool else map)
            info = self.describe(the_plan, splits, spec, name, out)
            finish(out, info, the_plan)
        if not self.quiet:
            print(summary(info, the_plan.rejected, source, time.perf_counter() - start))
        return info

    # The steps below are shared with the Beam runner (tfpipe.beam): one
    # implementation of each, two drivers.

    def resolve(self) -> tuple[Source, str, Path]:
        """The source, the dataset name and the output directory."""
        cfg = self.config
        source = open_source(cfg.source, cfg.format, config=cfg)
        name = cfg.name or dataset_name(source.default_name())
        return source, name, Path(cfg.out_dir) if cfg.out_dir else data_root() / name

    def finished(self, out: Path) -> DatasetInfo | None:
        """The finished dataset at ``out`` (unless --overwrite): a rerun does nothing."""
        if self.config.overwrite or not (out / SIDECAR).is_file():
            return None
        info = load_info(out)
        if info.source != describe_source(self.config.source):
            raise TfpipeError(
                f"{out} already holds a dataset converted from {info.source}, not from "
                f"{describe_source(self.config.source)}; pass --overwrite to replace it, or choose another --out"
            )
        shutil.rmtree(out / STAGING, ignore_errors=True)  # left by a kill after the commit
        self.say(f"{out} is already converted ({total_examples(info):,} examples); "
                 "nothing to do (pass --overwrite to redo)")
        return info

    @contextmanager
    def output(self, out: Path) -> Iterator[Path]:
        """Prepare ``out`` and yield its staging directory; a failed run leaves nothing behind."""
        created = not out.exists()
        staging_dir = prepare_output(out, self.config.overwrite)
        try:
            yield staging_dir
        except BaseException:
            shutil.rmtree(staging_dir, ignore_errors=True)
            if created and out.is_dir() and not any(out.iterdir()):
                out.rmdir()
            raise

    def plan(self, entries: list[Entry], rejected: list[Rejection]) -> Plan:
        """Split and dedup the index; rejections the plan makes meet the on_error policy too."""
        if not entries:
            raise TfpipeError(f"no usable image in {self.config.source}: {summarize(rejected)}")
        the_plan = plan(entries, self.config)
        if self.config.on_error == "raise" and the_plan.rejected:
            origin, _, rej = the_plan.rejected[0]
            raise TfpipeError(f"{origin}: {rej.detail} (--on-error raise)")
        the_plan.rejected[:0] = rejected
        return the_plan

    def describe(self, the_plan: Plan, splits: dict, spec: ImageSpec, name: str, out: Path) -> DatasetInfo:
        """The DatasetInfo of written ``splits``: what tfpipe.json will say."""
        mean, std = pixel_stats(the_plan.splits.get("train", []), spec.height * spec.width, spec.channels)
        return DatasetInfo(
            name=name,
            class_names=tuple(the_plan.class_names),
            image=spec,
            splits=splits,
            mean=mean,
            std=std,
            quarantined=dict(sorted(Counter(r.category for _, _, r in the_plan.rejected).items())),
            leaks=the_plan.leaks,
            duplicates=the_plan.duplicates,
            source=describe_source(self.config.source),
            path=str(out),
        )

    def image_spec(self, source: Source) -> ImageSpec:
        cfg = self.config
        probed = None
        if cfg.image_size is None or cfg.channels is None:
            probed = probe_shape(source)
        height, width = cfg.image_size or probed[:2]
        channels = cfg.channels or probed[2]
        return ImageSpec(height, width, channels, cfg.encoding or choose_encoding(height, width, channels))

    def reject(self, origin: str, split: str | None, rej: Rejected, rejected: list) -> None:
        """The one place an input-level failure meets the on_error policy."""
        if self.config.on_error == "raise":
            raise TfpipeError(f"{origin}: {rej.detail} (--on-error raise)")
        rejected.append((origin, split, rej))

    @contextmanager
    def pool(self) -> Iterator[ProcessPoolExecutor | None]:
        """The worker processes that encode images and write shards (None: work in-process)."""
        if self.config.workers == 1:
            yield None
            return
        context = _worker_context()
        with _main_not_rerun(context), ProcessPoolExecutor(self.config.workers, mp_context=context) as pool:
            yield pool

    def encoded(self, source: Source, spec: ImageSpec, pool: ProcessPoolExecutor | None = None
                ) -> Iterator[Encoded | Rejection]:
        """Encode every item, in ``pool`` when there is one; results in any order."""
        show = self.config.progress and not self.quiet
        with _bar(source.count(), "convert", show) as bar:
            chunks = chunk_items(source.items(), CHUNK)
            if pool is None:
                for items, passthrough in chunks:
                    yield from passthrough
                    for result in encode_batch(items, spec):
                        bar.update(1)
                        yield result
                return
            pending = set()
            for items, passthrough in chunks:
                yield from passthrough
                pending.add(pool.submit(encode_batch, items, spec))
                if len(pending) >= 4 * self.config.workers:  # bounded: never the whole dataset in flight
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        bar.update(len(fut.result()))
                        yield from fut.result()
            for fut in pending:
                bar.update(len(fut.result()))
                yield from fut.result()


def _worker_context():
    """fork when it is safe (TensorFlow not loaded: the CLI, most scripts), else spawn.

    fork starts workers at once and does not re-run the user's script, so a
    script without an ``if __name__ == "__main__":`` guard works; but a
    process that has loaded TensorFlow may hold its threads' locks, which a
    forked child would inherit, so there the workers are spawned fresh.
    """
    method = "spawn" if "tensorflow" in sys.modules or sys.platform != "linux" else "fork"
    return multiprocessing.get_context(method)


@contextmanager
def _main_not_rerun(context) -> Iterator[None]:
    """Spawned workers must not re-run the user's script.

    spawn starts each worker by importing ``__main__`` again, so a script
    that calls ``tfpipe.convert`` at top level, without an
    ``if __name__ == "__main__":`` guard, would run again in every worker.
    The workers only need tfpipe's own functions, so while the pool lives
    ``__main__`` is made to look like an interactive session, which spawn
    does not import.
    """
    main = sys.modules.get("__main__")
    if context.get_start_method() == "fork" or main is None:
        yield
        return
    saved = {name: getattr(main, name) for name in ("__file__", "__spec__") if hasattr(main, name)}
    main.__spec__ = None
    if hasattr(main, "__file__"):
        del main.__file__
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(main, name, value)


def chunk_items(entries, size: int):
    """Group Items into chunks; rejections found by the source pass straight through."""
    items, passthrough = [], []
    for entry in entries:
        if isinstance(entry, Item):
            items.append(entry)
            if len(items) == size:
                yield items, passthrough
                items, passthrough = [], []
        else:
            passthrough.append(entry)
    if items or passthrough:
        yield items, passthrough


class _bar:
    """tqdm on stderr when asked for, a no-op otherwise."""

    def __init__(self, total: int | None, desc: str, show: bool):
        self._bar = None
        if show:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="img", file=sys.stderr, mininterval=0.5,
                             leave=False, dynamic_ncols=True)

    def update(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._bar is not None:
            self._bar.close()


def describe_source(source: str) -> str:
    return source if ("://" in source or source.startswith("keras:")) else Path(source).name


def total_examples(info: DatasetInfo) -> int:
    return sum(s.num_examples for s in info.splits.values())


def summary(info: DatasetInfo, rejected: list, source: Source, elapsed: float) -> str:
    """The end-of-run report: per split, what was found, kept and quarantined."""
    found = Counter(split or "(no split)" for _, split, _ in rejected)
    by_reason = Counter((split or "(no split)", rej.category) for _, split, rej in rejected)
    img = info.image
    lines = [
        f"{info.name}: {info.path}  ({img.height}x{img.width}x{img.channels} {img.encoding}, "
        f"{info.num_classes} classes)",
        f"  {'split':<11}{'examples':>9}{'quarantined':>12}{'found':>8}{'shards':>7}{'bytes':>12}",
    ]
    names = list(info.splits) + [s for s in sorted(found) if s not in info.splits]
    for name in names:
        split = info.splits.get(name)
        kept = split.num_examples if split else 0
        lines.append(
            f"  {name:<11}{kept:>9,}{found[name]:>12,}{kept + found[name]:>8,}"
            f"{len(split.shards) if split else 0:>7}{split.num_bytes if split else 0:>12,}"
        )
        for (s, reason), n in sorted(by_reason.items()):
            if s == name:
                lines.append(f"      quarantined {n:,} x {reason}")
    total = total_examples(info)
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(source.skipped.items()))
    lines.append(
        f"  duplicates {info.duplicates}, leaks {info.leaks}"
        + (f", skipped {skipped}" if skipped else "")
        + f"; {elapsed:.1f} s, {(total + len(rejected)) / max(elapsed, 1e-9):,.0f} images/s"
    )
    if rejected:
        lines.append(f"  reasons: {info.path}/quarantine.jsonl")
    return "\n".join(lines)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other tfpipe error."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="python -m tfpipe.convert",
        description="Convert an image source into verified, sharded, TFDS-compatible TFRecords.",
    )
    p.add_argument("source", help="folder, .zip, .csv, .json/.jsonl, .npz, keras:mnist|keras:cifar100, or http(s) URL of a zip")
    paths = p.add_argument_group("output")
    paths.add_argument("--out", metavar="DIR", help="output directory (default: $TFPIPE_DATA_DIR or tfrecords/, then NAME)")
    paths.add_argument("--name", help="dataset name used in shard file names (default: from the source)")
    paths.add_argument("--overwrite", action="store_true", help="redo a finished dataset / reuse a non-empty DIR")
    img = p.add_argument_group("images")
    img.add_argument("--image-size", nargs=2, type=int, metavar=("H", "W"), help="resize at conversion time")
    img.add_argument("--channels", type=int, choices=(1, 3), help="1 = grayscale, 3 = RGB (default: as found)")
    img.add_argument("--encoding", choices=("raw", "jpeg", "png"), help="storage (default: raw up to 64x64x3, else jpeg)")
    spl = p.add_argument_group("splits and labels")
    spl.add_argument("--split", metavar="SPEC", help="e.g. train=70,validation=15,test=15 (stratified by class)")
    spl.add_argument("--validation-split", type=float, metavar="F", help="carve a fraction F of train into validation")
    spl.add_argument("--validation-from", choices=("train", "test"), default="train", help="split that --validation-split carves from")
    spl.add_argument("--seed", type=int, default=42, help="seed of the split assignment (default 42)")
    spl.add_argument("--label-column", default="label", help="CSV label column (default: label)")
    spl.add_argument("--class-names", help="comma-separated class names, index order")
    run = p.add_argument_group("running")
    run.add_argument("--format", choices=FORMATS, help="force the source format instead of detecting it")
    run.add_argument("--workers", type=int, help="encoding processes (default: CPU count, at most 8)")
    run.add_argument("--on-error", choices=("quarantine", "raise"), default="quarantine")
    run.add_argument("--insecure", action="store_true", help="do not verify TLS certificates (explicit opt-out)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--runner", choices=("local", "beam"), default="local")
    run.add_argument("--beam-options", default="", help='Beam pipeline options, e.g. "--runner=DataflowRunner ..."')
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    options = dict(
        name=args.name, format=args.format, image_size=args.image_size, channels=args.channels,
        encoding=args.encoding, split=args.split, validation_split=args.validation_split,
        validation_from=args.validation_from, seed=args.seed, on_error=args.on_error,
        overwrite=args.overwrite, label_column=args.label_column, class_names=args.class_names,
        insecure=args.insecure, progress=not args.no_progress,
    )
    if args.workers is not None:
        options["workers"] = args.workers
    try:
        if args.runner == "beam":
            from .beam import convert_with_beam

            convert_with_beam(args.source, args.out, beam_options=args.beam_options, **options)
        else:
            convert(args.source, args.out, **options)
    except TfpipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun the same command to finish", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
else:
    from ._callable import make_callable

    make_callable(__name__, convert)
