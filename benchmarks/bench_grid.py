"""pytest-benchmark suites over the declared grid: one benchmark per (workload, case, contender).

Run with::

    pytest benchmarks/bench_*.py --benchmark-only            # quick sizes
    TFPIPE_BENCH_FULL=1 pytest benchmarks/bench_*.py --benchmark-only   # the full grid

Each benchmark times one call of the contender (all its phases: cold and
warm epochs, or a whole ``model.fit``, or a conversion); the per-phase
images/s land in ``extra_info`` (``--benchmark-json`` keeps them). The
side-by-side table with ratios and targets is ``python -m benchmarks``.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from benchmarks.workloads import case_label, declared, make_context, run_case  # noqa: E402

FULL = os.environ.get("TFPIPE_BENCH_FULL") == "1"
ROUNDS = 1 if FULL else 3


def grid(workloads: list[str], mode: str = "cpu") -> list:
    return [
        pytest.param(
            w, case, c, id=f"{w.id}-{case_label(case) or 'all'}-{c.name}".replace(" ", "_")
        )
        for w, case, c in declared(workloads, mode)
    ]


@pytest.fixture(scope="session")
def bench_ctx():
    return make_context(
        quick=not FULL,
        mode="cpu",
        data_dir=os.environ.get("TFPIPE_BENCH_DATA"),
        log=lambda *a: None,
    )


def bench(benchmark, ctx, work, case, c) -> None:
    phases = benchmark.pedantic(run_case, args=(ctx, work, case, c), rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(
        {f"{phase}_images_per_s": m["images"] / m["seconds"] for phase, m in phases.items()}
    )
    benchmark.extra_info["notes"] = c.notes
    assert all(m["images"] > 0 for m in phases.values())
