"""Turn one run's rows into ratios, target verdicts, and latest.json / latest.md / latest.png.

Every ratio is taken between rows of the *same* run (same process, same
machine state), never against numbers from another run.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .workloads import WORKLOADS

PEER_KINDS = ("baseline", "peer")


# --------------------------------------------------------------------------- derived numbers


def annotate(rows: list[dict]) -> None:
    """Add ``ratio_to_baseline`` (same workload, case and phase) and W2's ``fraction_of_ceiling``."""
    for row in rows:
        work = WORKLOADS[row["workload"]]
        base = find(rows, row["workload"], work.baseline, row["phase"], row["case"])
        row["ratio_to_baseline"] = _ratio(row.get("images_per_s"), base)
        if row["workload"] == "W2":
            row["fraction_of_ceiling"] = _ratio(
                row.get("images_per_s"), ceiling(rows, "W2", row["case"])
            )


def find(
    rows: list[dict], workload: str, contender: str, phase: str, case: str = ""
) -> float | None:
    """images/s of one row, or None when it is absent or failed."""
    for r in rows:
        if (r["workload"], r["contender"], r["phase"], r["case"]) == (
            workload,
            contender,
            phase,
            case,
        ):
            return r.get("images_per_s") or None
    return None


def best(
    rows: list[dict], workload: str, case: str, kinds, phases, exclude=()
) -> tuple[float | None, str]:
    """The fastest row among ``kinds`` in ``phases``: (images/s, "contender phase")."""
    found = [
        (r["images_per_s"], f"{r['contender']} ({r['phase']})")
        for r in rows
        if r["workload"] == workload
        and r["case"] == case
        and r["kind"] in kinds
        and r["phase"] in phases
        and r.get("images_per_s")
        and r["contender"] not in exclude
    ]
    return max(found) if found else (None, "")


def ceiling(rows: list[dict], workload: str, case: str) -> float | None:
    return best(rows, workload, case, ("ceiling",), ("fit", "warm", "epoch"))[0]


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


# --------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class Target:
    """A goal from the issue: a ratio measured in this run, compared with ``threshold``."""

    id: str
    workload: str
    text: str
    threshold: float
    measure: Callable[[list[dict]], tuple[float | None, str]]  # rows -> (value, what it compares)
    unit: str = "x"


def _vs(workload, phase, other, other_phase, case=""):
    def measure(rows):
        mine = find(rows, workload, "tfpipe", phase, case)
        theirs = find(rows, workload, other, other_phase, case)
        return _ratio(mine, theirs), f"tfpipe {phase} / {other} {other_phase}"

    return measure


def _vs_best(workload, phase, kinds, phases, case="", names=None):
    def measure(rows):
        mine = find(rows, workload, "tfpipe", phase, case)
        pool = [r for r in rows if names is None or r["contender"] in names]
        theirs, which = best(pool, workload, case, kinds, phases)
        return _ratio(mine, theirs), f"tfpipe {phase} / {which or 'n/a'}"

    return measure


def _absolute(workload, contender, phase, case):
    def measure(rows):
        return find(rows, workload, contender, phase, case), f"{contender}, images/s"

    return measure


def _w4_ratio(case):
    def measure(rows):
        return (
            _ratio(
                find(rows, "W4", "workers=2", "convert", case),
                find(rows, "W4", "workers=1", "convert", case),
            ),
            "workers=2 / workers=1",
        )

    return measure


IDFD = ("image_dataset_from_directory", "image_dataset_from_directory + cache")
TARGETS: tuple[Target, ...] = (
    Target(
        "W1-warm-peers",
        "W1",
        "W1 warm >= the best peer's warm",
        1.0,
        _vs_best("W1", "warm", PEER_KINDS, ("warm",)),
    ),
    Target(
        "W1-warm-ceiling",
        "W1",
        "W1 warm >= 75% of the numpy ceiling",
        0.75,
        _vs("W1", "warm", "numpy ceiling", "warm"),
        unit="of ceiling",
    ),
    Target(
        "W1-cold-idg",
        "W1",
        "W1 first epoch from shards >= 30x ImageDataGenerator",
        30.0,
        _vs("W1", "cold", "ImageDataGenerator", "cold"),
    ),
    Target(
        "W1-cold-idfd",
        "W1",
        "W1 first epoch >= 15x image_dataset_from_directory (its faster first epoch)",
        15.0,
        _vs_best("W1", "cold", PEER_KINDS, ("cold",), names=IDFD),
    ),
    Target(
        "W2-mlp-ceiling",
        "W2",
        "W2 MLP, 3 epochs incl. the first, >= 95% of the ceiling",
        0.95,
        lambda rows: (
            _ratio(
                find(rows, "W2", "tfpipe", "fit", "model=mlp"), ceiling(rows, "W2", "model=mlp")
            ),
            "tfpipe / best ceiling",
        ),
        unit="of ceiling",
    ),
    Target(
        "W2-mlp-peers",
        "W2",
        "W2 MLP ahead of every peer",
        1.0,
        _vs_best("W2", "fit", PEER_KINDS, ("fit",), case="model=mlp"),
    ),
    Target(
        "W3-cold-idg",
        "W3",
        "W3 first epoch >= 3x ImageDataGenerator",
        3.0,
        _vs("W3", "cold", "ImageDataGenerator", "cold"),
    ),
    Target(
        "W3-warm-idg",
        "W3",
        "W3 warm >= 30x ImageDataGenerator",
        30.0,
        _vs("W3", "warm", "ImageDataGenerator", "warm"),
    ),
    *(
        t
        for source in ("tree", "csv")
        for t in (
            Target(
                f"W4-{source}-rate",
                "W4",
                f"W4 {source}: >= 10,000 images/s with 2 workers",
                10_000.0,
                _absolute("W4", "workers=2", "convert", f"source={source}"),
                unit="images/s",
            ),
            Target(
                f"W4-{source}-scaling",
                "W4",
                f"W4 {source}: workers=2 >= 1.7x workers=1",
                1.7,
                _w4_ratio(f"source={source}"),
            ),
        )
    ),
)


def evaluate(rows: list[dict], stages: list[dict]) -> list[dict]:
    """Every target whose workload ran: value, threshold, met, and for a miss where the time goes."""
    ran = {r["workload"] for r in rows}
    out = []
    for t in TARGETS:
        if t.workload not in ran:
            continue
        value, compares = t.measure(rows)
        met = None if value is None else value >= t.threshold
        entry = {
            "id": t.id,
            "workload": t.workload,
            "target": t.text,
            "threshold": t.threshold,
            "unit": t.unit,
            "value": value,
            "compares": compares,
            "met": met,
        }
        if met is False:
            entry["bottleneck"] = bottleneck(t, rows, stages)
        out.append(entry)
    return out


def bottleneck(target: Target, rows: list[dict], stages: list[dict]) -> str:
    """Where a missed target loses its time, from this run's own rows and stage profile."""
    wid = target.workload
    if wid == "W2":
        return _w2_split(rows, "model=mlp")
    case = next((c for c in ("source=tree", "source=csv") if c.split("=")[1] in target.id), "")
    mine = [
        s for s in stages if s["workload"] == wid and s["case"] == case and s.get("images_per_s")
    ]
    if wid == "W4":
        if not mine:
            return "no stage profile ran"
        total = next(s["seconds"] for s in mine if s["stage"].startswith("total"))
        parts = sorted(
            (s for s in mine if not s["stage"].startswith(("total", "main-process"))),
            key=lambda s: -s["seconds"],
        )[:3]
        serial = next((s for s in mine if s["stage"].startswith("main-process")), None)
        text = "workers=1: " + ", ".join(f"{s['stage']} {s['seconds'] / total:.0%}" for s in parts)
        if serial:
            text += (
                f"; main-process work alone caps the call at {serial['images_per_s']:,.0f} images/s"
            )
        return text
    phase = "warm" if "warm" in target.id else "cold"
    row = next(
        (
            r
            for r in rows
            if r["workload"] == wid
            and r["contender"] == "tfpipe"
            and r["phase"] == phase
            and not r.get("error")
        ),
        None,
    )
    parts = []
    if row and phase == "cold":
        rest = row["seconds"] - row.get("setup_s", 0) - row["first_batch_s"]
        parts.append(
            f"tfpipe cold {row['seconds']:.2f} s = setup {row.get('setup_s', 0):.2f} + first batch "
            f"{row['first_batch_s']:.2f} + the rest {rest:.2f}"
        )
    elif row:
        parts.append(f"tfpipe warm epoch {row['seconds']:.3f} s")
    by_name = {s["stage"]: s["seconds"] for s in mine}
    chain = ["read", "+ parse", "+ decode", "+ shuffle, batch", "+ scale, one-hot"]
    if phase == "cold" and all(c in by_name for c in chain):
        steps, before = [], 0.0
        for c in chain:
            steps.append(f"{c.lstrip('+ ')} {max(by_name[c] - before, 0):.3f}")
            before = by_name[c]
        parts.append("in-graph stages (s): " + ", ".join(steps))
    warm_keys = (
        "warm: cached decoded -> shuffle, batch, scale",
        "finished batches cached, iterated from Python",
    )
    if phase == "warm" and all(k in by_name for k in warm_keys):
        parts.append(
            f"in-graph shuffle+batch+scale of the cached examples {by_name[warm_keys[0]]:.3f} s; "
            f"finished cached batches iterated from Python {by_name[warm_keys[1]]:.3f} s (floor)"
        )
    return "; ".join(parts) or "no stage profile ran"


def _w2_split(rows: list[dict], case: str) -> str:
    """Is the gap in the first epoch (tracing, cold read) or in steady state?"""

    def get(name):
        return next(
            (
                r
                for r in rows
                if r["workload"] == "W2"
                and r["case"] == case
                and r["contender"] == name
                and not r.get("error")
            ),
            None,
        )

    mine = get("tfpipe")
    ceil = max(
        (
            r
            for r in rows
            if r["workload"] == "W2"
            and r["case"] == case
            and r["kind"] == "ceiling"
            and not r.get("error")
        ),
        key=lambda r: r["images_per_s"],
        default=None,
    )
    if mine is None or ceil is None:
        return "not measured"
    text = (
        f"first epoch {mine['first_epoch_s']:.2f} s vs {ceil['first_epoch_s']:.2f} s "
        f"({ceil['contender']}); setup {mine.get('setup_s', 0):.2f} s"
    )
    if mine.get("steady_images_per_s") and ceil.get("steady_images_per_s"):
        text += (
            f"; later epochs {mine['steady_images_per_s']:,.0f} vs "
            f"{ceil['steady_images_per_s']:,.0f} images/s"
        )
    return text


# --------------------------------------------------------------------------- writing


def write(result: dict, out: str | Path) -> dict[str, Path]:
    """Write latest.json, latest.md and latest.png into ``out``; return their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "latest.json", "md": out / "latest.md", "png": out / "latest.png"}
    paths["json"].write_text(json.dumps(result, indent=2, default=_jsonable) + "\n")
    paths["md"].write_text(markdown(result))
    chart(result, paths["png"])
    return paths


def _jsonable(value):
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _num(value, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _x(value) -> str:
    return "–" if value is None else (f"{value:.1f}x" if value < 100 else f"{value:,.0f}x")


def markdown(result: dict) -> str:
    meta = result["meta"]
    lines = [
        f"# tfpipe benchmarks ({meta['sizes']['name']} grid, {meta['mode']} mode)",
        "",
        f"Run {meta['started']} on {meta['machine']}; device {meta['device']}; "
        f"{meta['elapsed_s']:.0f} s; load average {meta['load_before']} before, {meta['load_after']} after. "
        f"TensorFlow {meta['versions'].get('tensorflow')}, Keras {meta['versions'].get('keras')}, "
        f"TFDS {meta['versions'].get('tensorflow_datasets')}.",
        "",
        f"Command: `{meta['command']}`. Every ratio below comes from this one run.",
        "",
        "Phases: **cold** = a new pipeline's first epoch, setup included (nothing cached by the "
        "pipeline; the OS page cache is warm for everyone alike); **warm** = median later epoch; "
        "**fit** = `model.fit` over all epochs, the first included; **convert** = one `tfpipe.convert` call.",
        "",
    ]
    if meta.get("first_use_s"):
        paid = ", ".join(f"{k} {_num(v, 2)} s" for k, v in meta["first_use_s"].items())
        lines += [
            f"Paid before any clock (warm-up, reported apart): imports and TF start "
            f"{meta.get('warm_up_s', 0):.1f} s; each library's first use in the process "
            f"(build a W1 pipeline, take one batch): {paid}.",
            "",
        ]
    if meta.get("device_note"):
        lines += [f"> {meta['device_note']}", ""]
    if result.get("targets"):
        lines += [
            "## Targets",
            "",
            "| target | measured | needed | met | compares | bottleneck if missed |",
            "|---|---:|---:|:---:|---|---|",
        ]
        for t in result["targets"]:
            unit = t["unit"]
            fmt = (
                (lambda v: _num(v))
                if unit == "images/s"
                else ((lambda v: "–" if v is None else f"{v:.0%}") if unit == "of ceiling" else _x)
            )
            verdict = {True: "yes", False: "**no**", None: "not measured"}[t["met"]]
            lines.append(
                f"| {t['target']} | {fmt(t['value'])} | {fmt(t['threshold'])} | {verdict} | "
                f"{t['compares']} | {t.get('bottleneck', '')} |"
            )
        lines.append("")
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in result["results"]:
        groups.setdefault((r["workload"], r["case"]), []).append(r)
    for (wid, case), rows in groups.items():
        work = WORKLOADS[wid]
        title = f"## {wid}{' (' + case + ')' if case else ''}: {work.title}"
        gpu = any("input_wait" in r for r in rows)
        first = "first epoch s" if wid == "W2" else "first batch s"
        head = (
            f"| contender | phase | images | seconds | images/s | {first} | steady images/s | "
            f"vs {work.baseline} |"
        )
        sep = "|---|---|---:|---:|---:|---:|---:|---:|"
        if wid == "W2":
            head += " of ceiling |"
            sep += "---:|"
        if gpu:
            head += " step ms fed | step ms resident | input wait |"
            sep += "---:|---:|---:|"
        lines += [title, "", head + " notes |", sep + "---|"]
        for r in rows:
            if r.get("error"):
                lines.append(
                    f"| {r['contender']} | {r['phase']} | failed | | | | | |"
                    + (" |" if wid == "W2" else "")
                    + (" | | |" if gpu else "")
                    + f" {r['error'][:160]} |"
                )
                continue
            first = r.get("first_epoch_s") if wid == "W2" else r.get("first_batch_s")
            cells = [
                r["contender"],
                r["phase"],
                _num(r["images"]),
                _num(r["seconds"], 2),
                _num(r["images_per_s"]),
                _num(first, 2),
                _num(r.get("steady_images_per_s")),
                _x(r.get("ratio_to_baseline")),
            ]
            if wid == "W2":
                f = r.get("fraction_of_ceiling")
                cells.append("–" if f is None else f"{f:.0%}")
            if gpu:
                w = r.get("input_wait")
                cells += [
                    _num(r.get("step_ms"), 2),
                    _num(r.get("device_step_ms"), 2),
                    "–" if w is None else f"{w:.0%}",
                ]
            cells.append(r.get("notes", ""))
            lines.append("| " + " | ".join(str(c) for c in cells) + " |")
        lines.append("")
    if result.get("stages"):
        lines += [
            "## Where the time goes (stage profiles)",
            "",
            "Each stage is the pipeline cut after that step, timed over one full pass "
            "(W1/W3: tfpipe's read path rebuilt stage by stage; W4: one process).",
            "",
            "| workload | stage | images | seconds | images/s | notes |",
            "|---|---|---:|---:|---:|---|",
        ]
        for s in result["stages"]:
            label = s["workload"] + (f" ({s['case']})" if s["case"] else "")
            lines.append(
                f"| {label} | {s['stage']} | {_num(s['images'])} | {_num(s['seconds'], 3)} | "
                f"{_num(s.get('images_per_s'))} | {s.get('notes', '')} |"
            )
        lines.append("")
    if result.get("scale"):
        found = {k for row in result["scale"] for k in row}
        first = [
            k for k in ("benchmark", "setup", "images", "seconds", "images_per_s") if k in found
        ]
        keys = (
            first + sorted(found - set(first) - {"notes"}) + (["notes"] if "notes" in found else [])
        )
        lines += [
            "## Scale-out (benchmarks/scale.py)",
            "",
            "| " + " | ".join(keys) + " |",
            "|" + "---|" * len(keys),
        ]
        for row in result["scale"]:
            lines.append("| " + " | ".join(_cell(row.get(k)) for k in keys) + " |")
        lines.append("")
    if meta.get("scale_note"):
        lines += [f"Scale-out: {meta['scale_note']}", ""]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return _num(value)
    if isinstance(value, float):
        return _num(value, 2 if abs(value) < 100 else 0)
    return "" if value is None else str(value)


SHORT = {"ImageDataGenerator": "IDG", "workers=1": "workers=1"}
COLOURS = {"baseline": "#9e9e9e", "peer": "#6fa8dc", "tfpipe": "#e69138", "ceiling": "#93c47d"}


def chart(result: dict, path: Path) -> None:
    """Horizontal bars of images/s (log scale), one panel per workload case, ratio on each bar."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    groups: dict[tuple[str, str], list[dict]] = {}
    for r in result["results"]:
        groups.setdefault((r["workload"], r["case"]), []).append(r)
    heights = [max(len(rows), 1) * 0.32 + 0.9 for rows in groups.values()] or [1.0]
    fig, axes = plt.subplots(
        len(heights),
        1,
        figsize=(11, sum(heights)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, ((wid, case), rows) in zip(axes[:, 0], groups.items()):
        rows = list(reversed(rows))
        labels = [f"{r['contender']} · {r['phase']}" for r in rows]
        values = [r.get("images_per_s") or 0 for r in rows]
        ax.barh(
            range(len(rows)),
            [max(v, 1e-3) for v in values],
            color=[COLOURS.get(r["kind"], "#cccccc") for r in rows],
        )
        ax.set_yticks(range(len(rows)), labels, fontsize=8)
        ax.set_xscale("log")
        top = max(values + [1.0])
        ax.set_xlim(max(min([v for v in values if v > 0] + [top]) / 3, 1e-2), top * 6)
        base = WORKLOADS[wid].baseline
        short = SHORT.get(base, base)
        for i, r in enumerate(rows):
            text = (
                "failed"
                if r.get("error")
                else f"{values[i]:,.0f}/s  {_x(r.get('ratio_to_baseline'))} {short}"
            )
            if r.get("fraction_of_ceiling"):
                text += f"  ({r['fraction_of_ceiling']:.0%} of ceiling)"
            ax.text(max(values[i], ax.get_xlim()[0]) * 1.05, i, text, va="center", fontsize=7)
        ax.set_title(
            f"{wid}{' ' + case if case else ''}: {WORKLOADS[wid].title}  (ratios vs {base})",
            fontsize=9,
            loc="left",
        )
        ax.xaxis.set_major_formatter(
            ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
        )
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.tick_params(axis="x", labelsize=7)
    axes[-1, 0].set_xlabel("images/s (log scale)", fontsize=8)
    meta = result["meta"]
    fig.suptitle(
        f"tfpipe benchmarks: {meta['sizes']['name']} grid, {meta['mode']} mode, {meta['started']}",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
