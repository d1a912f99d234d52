"""Run the whole benchmark grid in one process and write latest.json / .md / .png.

    python -m benchmarks                     # the full grid (minutes; run it on a quiet machine)
    python -m benchmarks --quick             # the same grid at tiny sizes (about a minute)
    python -m benchmarks --device gpu        # W1 and W2 on the accelerator, cache="device",
                                             # and the fraction of each step spent waiting for input
    python -m benchmarks --workloads W1,W4 --out /tmp/bench

Data is generated once from tfpipe.sample and cached under --data (default
$TFPIPE_DATA_DIR/bench or tfrecords/bench); the first full run spends about a
minute writing it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from . import report  # noqa: E402
from .workloads import PROFILES, WORKLOADS, case_label, declared, make_context, run_case  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def run(
    quick: bool = False,
    device: str = "cpu",
    out: str | os.PathLike | None = DEFAULT_OUT,
    data_dir: str | os.PathLike | None = None,
    workloads: list[str] | None = None,
    scale: bool = False,
    profiles: bool = True,
    log=print,
) -> dict:
    """Run every declared (workload, case, contender) for ``device`` mode; write the report.

    Args:
        quick: the tiny grid (:data:`benchmarks.data.QUICK`) instead of the full one.
        device: ``"cpu"`` (W1-W4) or ``"gpu"`` (W1 and W2 on the accelerator; with no GPU,
            ``/CPU:0`` stands in so the mode still runs).
        out: directory for latest.json / latest.md / latest.png; None writes nothing.
        data_dir: the data cache (default ``$TFPIPE_DATA_DIR/bench`` or ``tfrecords/bench``).
        workloads: a subset of ``W1..W4`` (default: all of them that run in this mode).
        scale: also run ``benchmarks/scale.py``'s ``run(quick)`` if it exists.
        profiles: run the stage profiles (where the time goes).

    Returns:
        The result: ``meta``, ``results`` (one row per contender and phase), ``stages``,
        ``targets`` and ``scale``.
    """
    if device not in ("cpu", "gpu"):
        raise ValueError(f"device must be 'cpu' or 'gpu', got {device!r}")
    ids = list(workloads or WORKLOADS)
    for wid in ids:
        if wid not in WORKLOADS:
            raise ValueError(f"unknown workload {wid!r}; choose from {', '.join(WORKLOADS)}")
    started, t0 = time.strftime("%Y-%m-%d %H:%M:%S"), time.perf_counter()
    load_before = _load()
    ctx = make_context(quick, device, data_dir, log=log)
    sizes = ctx.sizes
    rows: list[dict] = []
    for work, case, c in declared(ids, device):
        label = case_label(case)
        log(f"{work.id}{' ' + label if label else ''}: {c.name} ...")
        began = time.perf_counter()
        try:
            phases = run_case(ctx, work, case, c)
            for phase in c.phases:
                rows.append(_row(work.id, label, c, phase, phases[phase]))
                log(f"    {phase:<8}{rows[-1]['images_per_s']:>14,.0f} images/s")
            log(f"    ({time.perf_counter() - began:.1f} s)")
        except Exception as exc:  # one broken contender must not hide the others' numbers
            log(f"    failed: {exc!r}")
            detail = traceback.format_exc(limit=-3)
            for phase in c.phases:
                rows.append(
                    {
                        **_row(work.id, label, c, phase, {"images": 0, "seconds": 0.0}),
                        "error": _one_line(exc),
                        "traceback": detail,
                    }
                )
    stages: list[dict] = []
    if profiles:
        for wid in ids:
            if wid not in PROFILES or device not in WORKLOADS[wid].modes:
                continue
            for case in WORKLOADS[wid].cases():
                ctx.workload, ctx.params = wid, case
                log(f"{wid} stage profile {case_label(case)}".rstrip() + " ...")
                try:
                    stages += [
                        {"workload": wid, "case": case_label(case), **s} for s in PROFILES[wid](ctx)
                    ]
                except Exception as exc:
                    log(f"    failed: {exc!r}")
                    stages.append(
                        {
                            "workload": wid,
                            "case": case_label(case),
                            "stage": "failed",
                            "images": 0,
                            "seconds": 0.0,
                            "notes": _one_line(exc),
                        }
                    )
    scale_rows, scale_note = [], ""
    if scale:
        scale_rows, scale_note = _scale(quick, log)
    report.annotate(rows)
    result = {
        "meta": {
            "started": started,
            "elapsed_s": time.perf_counter() - t0,
            "command": "python -m benchmarks "
            + " ".join(
                (["--quick"] if quick else [])
                + ["--device", device]
                + (["--workloads", ",".join(ids)] if workloads else [])
                + (["--scale"] if scale else [])
            ),
            "quick": quick,
            "mode": device,
            "device": ctx.device,
            "device_note": ctx.device_note,
            "sizes": sizes.as_dict(),
            "machine": f"{platform.node() or 'host'} ({platform.machine()}, {os.cpu_count()} CPUs, "
            f"{platform.system()} {platform.release()})",
            "python": platform.python_version(),
            "versions": _versions(),
            "warm_up_s": ctx.warm_up_s,
            "first_use_s": ctx.first_use,
            "load_before": load_before,
            "load_after": _load(),
            "data_dir": str(ctx.data.root),
            "scale_note": scale_note,
        },
        "results": rows,
        "stages": stages,
        "targets": report.evaluate(rows, stages),
        "scale": scale_rows,
    }
    if out is not None:
        paths = report.write(result, out)
        log("wrote " + ", ".join(str(p) for p in paths.values()))
    return result


def _row(workload: str, case: str, c, phase: str, m: dict) -> dict:
    seconds = float(m["seconds"])
    return {
        "workload": workload,
        "case": case,
        "contender": c.name,
        "kind": c.kind,
        "phase": phase,
        **m,
        "images_per_s": m["images"] / seconds if seconds > 0 else 0.0,
        "notes": c.notes,
    }


def _one_line(exc: BaseException) -> str:
    """The exception as one table-safe line (TensorFlow's messages span many lines)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[-1] if lines else ""
    return f"{type(exc).__name__}: {text}".replace("|", "/")[:300]


def _scale(quick: bool, log) -> tuple[list[dict], str]:
    try:
        from . import scale
    except ImportError:
        return [], "benchmarks/scale.py is not present; nothing run"
    log("scale-out benchmarks (benchmarks/scale.py) ...")
    try:
        return list(scale.run(quick)), ""
    except Exception as exc:
        log(f"    failed: {exc!r}")
        return [], f"benchmarks/scale.py failed: {_one_line(exc)}"


def _load() -> str:
    try:
        return "/".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("tensorflow", "keras", "tensorflow-datasets", "numpy", "tfpipe"):
        try:
            out[name.replace("-", "_")] = version(name)
        except PackageNotFoundError:
            out[name.replace("-", "_")] = None
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    grid = p.add_argument_group("grid")
    grid.add_argument(
        "--quick", action="store_true", help="tiny sizes, one fit epoch (a smoke run)"
    )
    grid.add_argument(
        "--device",
        choices=("cpu", "gpu"),
        default="cpu",
        help="gpu: W1 and W2 on the accelerator, with cache='device' and input-wait fractions",
    )
    grid.add_argument("--workloads", metavar="W1,W2,...", help=f"subset of {','.join(WORKLOADS)}")
    grid.add_argument(
        "--scale", action="store_true", help="also run benchmarks/scale.py (Beam, tf.data service)"
    )
    grid.add_argument("--no-profile", action="store_true", help="skip the stage profiles")
    paths = p.add_argument_group("paths")
    paths.add_argument(
        "--out",
        metavar="DIR",
        default=str(DEFAULT_OUT),
        help="where latest.json/.md/.png go (default: benchmarks/results)",
    )
    paths.add_argument(
        "--data",
        metavar="DIR",
        help="data cache (default: $TFPIPE_DATA_DIR/bench or tfrecords/bench)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    workloads = [w.strip().upper() for w in args.workloads.split(",")] if args.workloads else None
    try:
        result = run(
            quick=args.quick,
            device=args.device,
            out=args.out,
            data_dir=args.data,
            workloads=workloads,
            scale=args.scale,
            profiles=not args.no_profile,
            log=lambda *a: print(*a, file=sys.stderr, flush=True),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report.markdown(result))
    return 1 if any(r.get("error") for r in result["results"]) else 0


if __name__ == "__main__":
    sys.exit(main())
