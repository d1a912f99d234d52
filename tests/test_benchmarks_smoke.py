"""The benchmark runner's quick grid, in process: every declared contender runs and is reported.

This checks the machinery (grid, timing, report files, the GPU mode standing
in on /CPU:0), not the speed: the numbers of a tiny grid on a busy machine
mean nothing. The real numbers come from ``python -m benchmarks``.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("matplotlib")

from benchmarks.__main__ import main, run  # noqa: E402
from benchmarks.workloads import WORKLOADS, case_label, declared  # noqa: E402


def expected(workloads, mode) -> set[tuple[str, str, str, str]]:
    return {
        (w.id, case_label(case), c.name, phase)
        for w, case, c in declared(workloads, mode)
        for phase in c.phases
    }


def check(result: dict, out, workloads, mode) -> None:
    for name in ("latest.json", "latest.md", "latest.png"):
        assert (out / name).stat().st_size > 0, name
    rows = result["results"]
    got = {(r["workload"], r["case"], r["contender"], r["phase"]) for r in rows}
    assert got == expected(workloads, mode)
    failed = {(r["contender"], r["phase"]): r["error"] for r in rows if r.get("error")}
    assert not failed
    slow = [(r["workload"], r["contender"], r["phase"]) for r in rows if not r["images_per_s"] > 0]
    assert not slow
    on_disk = json.loads((out / "latest.json").read_text())
    assert len(on_disk["results"]) == len(rows)
    md = (out / "latest.md").read_text()
    for wid in {r["workload"] for r in rows}:
        assert f"## {wid}" in md


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench-data")


def test_quick_grid_runs_every_declared_contender(data_dir, tmp_path):
    out = tmp_path / "results"
    result = run(quick=True, device="cpu", out=out, data_dir=data_dir, log=lambda *a: None)
    check(result, out, list(WORKLOADS), "cpu")
    assert {t["workload"] for t in result["targets"]} == {"W1", "W2", "W3", "W4"}
    assert all(t["met"] is not None for t in result["targets"]), result["targets"]
    assert {s["workload"] for s in result["stages"]} == {"W1", "W3", "W4"}
    ids = [(r["workload"], r["case"], r["contender"]) for r in result["results"]]
    assert ("W2", "model=mlp", "ceiling: numpy arrays") in ids
    w2 = [r for r in result["results"] if r["workload"] == "W2"]
    assert all(r["fraction_of_ceiling"] > 0 for r in w2)
    ceilings = [
        r["fraction_of_ceiling"] for r in w2 if r["kind"] == "ceiling" and r["case"] == "model=mlp"
    ]
    assert max(ceilings) == pytest.approx(1.0)


def test_gpu_mode_runs_on_cpu_with_input_wait(data_dir, tmp_path):
    out = tmp_path / "gpu"
    code = main(
        ["--quick", "--device", "gpu", "--no-profile", "--data", str(data_dir), "--out", str(out)]
    )
    assert code == 0
    result = json.loads((out / "latest.json").read_text())
    assert (
        result["meta"]["mode"] == "gpu" and result["meta"]["device_note"]
    )  # no GPU here: CPU stands in
    check(result, out, ["W1", "W2"], "gpu")
    names = {r["contender"] for r in result["results"]}
    assert 'tfpipe cache="device"' in names and "device ceiling" in names
    w2 = [r for r in result["results"] if r["workload"] == "W2"]
    assert all(0 <= r["input_wait"] < 1 and r["device_step_ms"] > 0 for r in w2)
    assert {r["workload"] for r in result["results"]} == {"W1", "W2"}
