"""W4: conversion with one and two worker processes (see bench_grid.py for how to run)."""

from __future__ import annotations

import pytest

from benchmarks.bench_grid import bench, bench_ctx, grid  # noqa: F401 - the fixture


@pytest.mark.parametrize(("work", "case", "c"), grid(["W4"]))
def test_convert(benchmark, bench_ctx, work, case, c):  # noqa: F811
    bench(benchmark, bench_ctx, work, case, c)
