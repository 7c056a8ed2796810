#!/usr/bin/env python
"""Stage timings: wall time of the wafer model's large vectorised stages against their targets.

Speed targets do not belong in unit tests: a timed assertion fails on a busy or slow machine
and says nothing about correctness. The tests check what these stages compute; this script
times them at full-wafer scale and prints each median next to its target (the limits the
tests used to assert):

* ``weights``      ``synapse_weights.realise_weights`` on 2.4 M synapses (the 10 %
                   microcircuit), stochastic rounding, fixed pattern; target 2 s.
* ``placement``    placement + merger routing + L1 address assignment of 49,152 neurons of
                   size 4 (the whole wafer, no defects, no synapses); target 2 s.
* ``chain_check``  merger routing with the driver-chain check (chain length 3) of 1.5 M local
                   synapses on those 49,152 neurons (placement not timed); target 10 s.
* ``l1_routing``   L1 routing of 2,000 sources x 10 targets (radius 6), each algorithm;
                   target 30 s per algorithm.
* ``calibration``  whole-wafer calibration ``wafer_calibration(11).calibrate()`` (target 30 s),
                   then ``realise_neuron_parameters`` on all 196,608 denmems (size-8 layout,
                   the microcircuit demo's parameters) calibrated and uncalibrated (5 s each).

Each operation runs in its own process (as in the other benchmarks), first on a tiny input
(warm-up: numba JIT or loading its cache, imports), then ``--repeat`` times; the median is
reported. The inputs are built outside the timed region. Usage::

    python benchmarks/stage_timings.py
    python benchmarks/stage_timings.py --ops weights,l1_routing --repeat 5 --json out.json
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from typing import Callable

import numpy as np

MARKER = "STAGE_RESULT "
OPS = ("weights", "placement", "chain_check", "l1_routing", "calibration")
SIZE4_BIG_PF = 4 * 2.16456          # hardware capacitance of a size-4 neuron, big cap (pF)


def timed(fn: Callable[[], object], repeat: int, before: Callable[[], object] | None = None
          ) -> list[float]:
    """Wall times of ``repeat`` calls of ``fn``; ``before`` runs untimed before each call."""
    out = []
    for _ in range(repeat):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def row(operation: str, size: str, times: list[float], target: float) -> dict:
    med = statistics.median(times)
    return {"operation": operation, "size": size, "times_s": times, "median_s": med,
            "target_s": target, "met": med <= target}


def bench_weights(repeat: int) -> list[dict]:
    from pyNN_bss_emu.hardware import synapse_weights as sw
    n = 2_400_000
    rng = np.random.default_rng(0)
    h, r, c = rng.integers(0, 384, n), rng.integers(0, 448, n), rng.integers(0, 256, n)
    w = rng.uniform(0, 0.01, n)
    w[rng.random(n) < 0.05] = 0.0
    keys = sw.row_key(h, r)
    cm = np.full(n, 0.2)
    chw = SIZE4_BIG_PF * rng.choice([1, 2, 4], size=n)

    def call(k: int) -> None:
        sw.realise_weights(w[:k], keys[:k], cm[:k], chw[:k], rounding="stochastic", rng=1,
                           fixed_pattern=sw.FixedPattern(7), coordinates=(h[:k], r[:k], c[:k]))
    call(1000)                                                          # warm-up
    return [row("realise_weights", "2,400,000 synapses", timed(lambda: call(n), repeat), 2.0)]


def graph(n: int, pre: np.ndarray | None = None, post: np.ndarray | None = None):
    """One population of ``n`` neurons of size 4 with the given connections (the tests'
    ``graph([n], 4, pre=pre, post=post)``)."""
    from pyNN_bss_emu.mapping.types import BioGraph
    pre = np.zeros(0, np.int64) if pre is None else np.asarray(pre, np.int64)
    post = np.zeros(0, np.int64) if post is None else np.asarray(post, np.int64)
    return BioGraph(size=np.array([n]), is_source=np.zeros(1, bool), neuron_size=np.array([4]),
                    manual_hicanns=[None], label=["pop0"], rate=np.zeros(n), pre=pre, post=post,
                    receptor=np.zeros(pre.size, np.int64), projection=np.zeros(pre.size, np.int64))


def all_ok() -> tuple[np.ndarray, np.ndarray]:
    """Defect-free wafer: every denmem and every HICANN usable."""
    from pyNN_bss_emu.hardware import wafer
    return (np.ones((wafer.N_HICANN, wafer.DENMEM_ROWS, wafer.DENMEM_COLUMNS), bool),
            np.ones(wafer.N_HICANN, bool))


def bench_placement(repeat: int) -> list[dict]:
    from pyNN_bss_emu.mapping.addresses import assign_addresses
    from pyNN_bss_emu.mapping.merger_routing import route_mergers
    from pyNN_bss_emu.mapping.placement import place_neurons
    dok, hok = all_ok()

    def call(g) -> None:
        pl = place_neurons(g, dok, hok)
        assign_addresses(pl, route_mergers(g, pl))
    call(graph(128))                                                    # warm-up
    g = graph(49152)
    return [row("placement + mergers + addresses", "49,152 neurons (size 4)",
                timed(lambda: call(g), repeat), 2.0)]


def local_graph(n: int, n_syn: int):
    rng = np.random.default_rng(0)
    pre = rng.integers(0, n, n_syn)
    post = np.clip(pre + rng.integers(-300, 300, pre.size), 0, n - 1)   # local: many refusals
    return graph(n, pre, post)


def bench_chain_check(repeat: int) -> list[dict]:
    from pyNN_bss_emu.mapping.merger_routing import route_mergers
    from pyNN_bss_emu.mapping.placement import place_neurons
    dok, hok = all_ok()
    small = local_graph(1000, 20_000)                                   # warm-up
    route_mergers(small, place_neurons(small, dok, hok), chain_length=3)
    g = local_graph(49152, 1_500_000)
    pl = place_neurons(g, dok, hok)
    return [row("merger routing, chain check (3)", "1,500,000 synapses, 49,152 neurons",
                timed(lambda: route_mergers(g, pl, chain_length=3), repeat), 10.0)]


def random_sources(n: int, n_targets: int, radius: int, seed: int):
    """``n`` distinct (HICANN, DNC merger) sources, each with up to ``n_targets`` random
    target HICANNs within Manhattan distance ``radius``."""
    from pyNN_bss_emu.hardware import wafer
    rng = np.random.default_rng(seed)
    pairs = rng.choice(wafer.N_HICANN * 8, n, replace=False)
    sh, sm = pairs // 8, pairs % 8
    targets = []
    for h in sh:
        d = np.abs(wafer.HICANN_X - wafer.HICANN_X[h]) + np.abs(wafer.HICANN_Y - wafer.HICANN_Y[h])
        cand = np.flatnonzero(d <= radius)
        targets.append(rng.choice(cand, min(n_targets, cand.size), replace=False))
    return sh, sm, targets


def bench_l1_routing(repeat: int) -> list[dict]:
    from pyNN_bss_emu.mapping.l1_routing import ALGORITHMS, route_l1
    sh, sm, tg = random_sources(2000, 10, 6, seed=4)
    rows = []
    for alg in ALGORITHMS:
        route_l1([0], [0], [[1]], algorithm=alg)                        # warm-up
        t = timed(lambda: route_l1(sh, sm, tg, algorithm=alg), repeat)
        rows.append(row(f"L1 routing, {alg}", "2,000 sources x 10 targets", t, 30.0))
    return rows


def bench_calibration(repeat: int) -> list[dict]:
    from pyNN_bss_emu.hardware import calibration as C
    from pyNN_bss_emu.hardware.parameter_transform import TransformSettings
    settings = TransformSettings.from_voltage_range(50.0, -150.0, 1.3, 0.4, bigcap=False,
                                                    leak_mode="slow")
    params = {"cm": 0.25, "e_rev_E": 50.0, "e_rev_I": -150.0, "tau_m": 10.0,
              "tau_refrac": 2.0, "tau_syn_E": 2.2, "tau_syn_I": 2.2, "v_reset": -65.0,
              "v_rest": -65.0, "v_thresh": -50.0}

    def layout(n_hicann: int) -> C.DenmemLayout:      # size-8 neurons on every denmem
        h = np.repeat(np.arange(n_hicann), 64)
        return C.DenmemLayout.from_placement(h, np.tile(np.arange(64) * 4, n_hicann),
                                             np.full(h.size, 4))

    def realise(lay: C.DenmemLayout, mode: str) -> None:
        C.realise_neuron_parameters(params, lay, settings=settings, wafer_seed=11, mode=mode,
                                    trial_seed=3)
    wafer = layout(384)
    times: dict[str, list[float]] = {"calibrate": [], "calibrated": [], "uncalibrated": []}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # targets at some denmems' reach are reported
        realise(layout(1), "uncalibrated")                              # warm-up
        for _ in range(repeat):
            C.clear_calibration_cache()      # calibrate from scratch each time
            times["calibrate"] += timed(lambda: C.wafer_calibration(11).calibrate(), 1)
            for mode in ("calibrated", "uncalibrated"):
                times[mode] += timed(lambda: realise(wafer, mode), 1)
    size = f"{wafer.size:,} denmems"
    return [row("wafer_calibration(11).calibrate()", size, times["calibrate"], 30.0),
            row("realise_neuron_parameters, calibrated", size, times["calibrated"], 5.0),
            row("realise_neuron_parameters, uncalibrated", size, times["uncalibrated"], 5.0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ops", default=",".join(OPS),
                    help="comma-separated subset of " + ", ".join(OPS))
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per operation (median)")
    ap.add_argument("--json", default=None, metavar="PATH", help="write all results here")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(MARKER + json.dumps(globals()["bench_" + args.worker](args.repeat)))
        return
    rows: list[dict] = []
    for op in args.ops.split(","):
        if op not in OPS:
            raise SystemExit(f"unknown operation {op!r}; choose from {', '.join(OPS)}")
        print(f"running {op} ...", flush=True)
        proc = subprocess.run([sys.executable, __file__, "--worker", op,
                               "--repeat", str(args.repeat)], capture_output=True, text=True)
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
        if proc.returncode or not line:
            print(proc.stdout[-2000:], proc.stderr[-4000:])
            raise SystemExit(f"operation {op} failed")
        rows += json.loads(line[0][len(MARKER):])
    print(f"\nmedian of {args.repeat} after a warm-up\n")
    print(f"{'operation':<42}{'size':<36}{'median s':>9}{'target s':>10}  met")
    for r in rows:
        print(f"{r['operation']:<42}{r['size']:<36}{r['median_s']:>9.2f}{r['target_s']:>10.1f}"
              f"  {'yes' if r['met'] else 'no'}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"repeat": args.repeat, "python": sys.version.split()[0],
                       "numpy": np.__version__, "results": rows}, f, indent=1)


if __name__ == "__main__":
    main()
