#!/usr/bin/env python
"""Mapping benchmark: synapse loss, wall time per stage and peak memory of the wafer mapper.

Cases (each in its own subprocess, so its peak RSS is its own):

* ``guidebook``   marocco's guidebook loss example through the PyNN API: 50 Poisson sources +
                  50 IF_cond_exp, two FixedProbability(0.5) projections, neuron size 4, driver
                  chain length 5, neurons on HICANN 0 and sources on HICANN 1 (marocco: 23.4 %
                  lost); mean over connector seeds 1..5.
* ``random_small`` random network, 5,000 neurons of size 4, in-degree 100 (0.5 M synapses).
* ``microcircuit`` a 10 % Potjans-Diesmann microcircuit: 7,711 neurons of size 4 in 8
                  populations, layer-specific connection probabilities scaled to ~2.4 M
                  synapses, plus 800 Poisson sources (input placement and bandwidth).
* ``microcircuit8`` the same with neuron size 8 (as on the real wafer in the 2023 demo).
* ``full_wafer``  random network filling the wafer at neuron size 4 (45,000 neurons with the
                  default seeded defects), in-degree 100 (4.5 M synapses).

The random cases build the mapper's ``BioGraph`` directly with numpy (this measures the
mapper, not PyNN's connectors) and run ``map_network`` with ``continue_despite_synapse_loss``.
Usage::

    python benchmarks/mapping.py                       # all cases
    python benchmarks/mapping.py --cases guidebook,microcircuit
    python benchmarks/mapping.py --presets default,marocco   # both setup presets

``--presets``: the mapping options of ``setup(preset=...)`` ('default': clustered placement,
multapses realised, backbone+dijkstra L1 routing, merger 'auto'; 'marocco': marocco's enum
placement, multapses lost within a projection, backbone routing, minimize_as_possible).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
# this script's directory is on sys.path when it runs (also in its worker processes)
from demo_networks import MICROCIRCUIT_CONN_PROBS as PD_PROBS
from demo_networks import MICROCIRCUIT_FULL_SIZE, MICROCIRCUIT_LABELS

MARKER = "MAPPING_RESULT "

# Potjans & Diesmann (2014): full-scale sizes and connection probabilities (rows: target),
# stated once in the demo builders
PD_SIZES = np.array([MICROCIRCUIT_FULL_SIZE[label] for label in MICROCIRCUIT_LABELS])
PD_INHIBITORY = np.array([label.endswith("i") for label in MICROCIRCUIT_LABELS])


def _graph(sizes, is_source, neuron_size, rate, pre, post, receptor, projection, labels):
    from pyNN_bss_emu.mapping.types import BioGraph
    return BioGraph(size=np.asarray(sizes, dtype=np.int64),
                    is_source=np.asarray(is_source, dtype=bool),
                    neuron_size=np.asarray(neuron_size, dtype=np.int64),
                    manual_hicanns=[None] * len(sizes), label=list(labels),
                    rate=np.asarray(rate, dtype=float), pre=pre, post=post,
                    receptor=receptor, projection=projection,
                    projection_label=[f"proj{j}" for j in range(int(projection.max()) + 1)])


def random_graph(n: int, indegree: int, seed: int = 1):
    """n neurons (80 % excitatory), each receiving ``indegree`` synapses from random neurons."""
    rng = np.random.default_rng(seed)
    post = np.repeat(np.arange(n, dtype=np.int64), indegree)
    pre = rng.integers(0, n, size=post.size)
    n_exc = int(0.8 * n)
    receptor = (pre >= n_exc).astype(np.int64)
    return _graph([n_exc, n - n_exc], [False, False], [4, 4], np.zeros(n), pre, post,
                  receptor, receptor.copy(), ["exc", "inh"])


def microcircuit_graph(target_synapses: float = 2.4e6, n_sources: int = 800, seed: int = 1,
                       neuron_size: int = 4):
    rng = np.random.default_rng(seed)
    sizes = np.round(PD_SIZES * 0.1).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    expected = float(np.sum(PD_PROBS * np.outer(sizes, sizes)))
    scale = target_synapses / expected
    pres, posts, recs, projs = [], [], [], []
    j = 0
    for t in range(8):
        for s in range(8):
            p = PD_PROBS[t, s] * scale
            if p <= 0:
                continue
            k = rng.binomial(sizes[s] * sizes[t], min(p, 1.0))
            flat = rng.choice(sizes[s] * sizes[t], size=k, replace=False)
            pres.append(offsets[s] + flat // sizes[t])
            posts.append(offsets[t] + flat % sizes[t])
            recs.append(np.full(k, int(PD_INHIBITORY[s])))
            projs.append(np.full(k, j))
            j += 1
    # Poisson background: each source drives 50 random excitatory-layer neurons
    n_neurons = int(offsets[-1])
    src_cells = n_neurons + np.repeat(np.arange(n_sources), 50)
    pres.append(src_cells)
    posts.append(rng.integers(0, n_neurons, size=src_cells.size))
    recs.append(np.zeros(src_cells.size, dtype=np.int64))
    projs.append(np.full(src_cells.size, j))
    cat = (lambda xs: np.concatenate(xs).astype(np.int64))
    sizes_all = list(sizes) + [n_sources]
    return _graph(sizes_all, [False] * 8 + [True], [neuron_size] * 8 + [0],
                  np.concatenate([np.zeros(n_neurons), np.full(n_sources, 8.0)]),
                  cat(pres), cat(posts), cat(recs), cat(projs),
                  ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I", "background"])


def preset_mapping_options(preset: str):
    """The MappingOptions ``setup(preset=...)`` builds (the presets are stated once, in
    ``backend.options.PRESETS``), continuing despite synapse loss."""
    from pyNN_bss_emu.backend.options import SetupOptions
    return SetupOptions.from_keywords(0.1, "auto", preset=preset,
                                      continue_despite_synapse_loss=True).mapping


def run_graph_case(name: str, preset: str = "default") -> dict:
    from pyNN_bss_emu.hardware.defects import DefectMap
    from pyNN_bss_emu.mapping.pipeline import map_network
    t0 = time.perf_counter()
    if name == "random_small":
        graph = random_graph(5000, 100)
    elif name == "microcircuit":
        graph = microcircuit_graph()
    elif name == "microcircuit8":
        graph = microcircuit_graph(neuron_size=8)
    elif name == "full_wafer":
        graph = random_graph(45000, 100)
    else:
        raise ValueError(name)
    t_graph = time.perf_counter() - t0
    defects = DefectMap.generate(0)
    result = map_network(graph, preset_mapping_options(preset), defects)
    s = result.statistics
    return {"case": name, "preset": preset, "neurons": int(np.sum(graph.size[~graph.is_source])),
            "synapses": s.synapses_requested, "loss": s.synapse_loss,
            "lost_l1": s.synapses_lost_l1, "lost_drivers": s.synapses_lost_drivers,
            "lost_slots": s.synapses_lost_synapse_array, "lost_multapse": s.synapses_lost_multapse,
            "hicanns": s.hicanns_used, "graph_s": t_graph, "timings": s.timings}


def run_guidebook(preset: str = "default") -> dict:
    import pyNN_bss_emu as sim
    losses, timings = [], []
    for seed in range(1, 6):
        # the guidebook's cells keep PyNN's default tau_refrac (0.1 ms, below the wafer's
        # 0.147 ms): clip it, as the example would on hardware; the mapping is what is timed
        sim.setup(neuron_size=4, driver_chain_length=5, defects="none",
                  continue_despite_synapse_loss=True, clip_parameters=True, preset=preset)
        src = sim.Population(50, sim.SpikeSourcePoisson(rate=5.0))
        pop = sim.Population(50, sim.IF_cond_exp())
        sim.place_on_hicann(pop, [0])
        sim.place_on_hicann(src, [1])
        c = sim.FixedProbabilityConnector(0.5, rng=sim.NumpyRNG(seed=seed))
        sim.Projection(src, pop, c, sim.StaticSynapse(weight=0.01))
        sim.Projection(pop, pop, c, sim.StaticSynapse(weight=0.01))
        sim.run(0.1)
        s = sim.get_mapping_statistics()
        losses.append(s.synapse_loss)
        timings.append(s.timings["total"])
        sim.end()
    return {"case": "guidebook", "preset": preset, "neurons": 50, "synapses": None,
            "loss": float(np.mean(losses)), "loss_per_seed": losses,
            "timings": {"total": float(np.mean(timings))}}


def worker(name: str, preset: str) -> None:
    out = run_guidebook(preset) if name == "guidebook" else run_graph_case(name, preset)
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(MARKER + json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases",
                    default="guidebook,random_small,microcircuit,microcircuit8,full_wafer")
    ap.add_argument("--presets", default="default",
                    help="comma-separated setup presets: default, marocco")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--preset", default="default", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.preset)
        return
    rows = []
    for name, preset in [(n, p) for p in args.presets.split(",")
                         for n in args.cases.split(",")]:
        print(f"running {name} ({preset}) ...", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--worker", name, "--preset", preset],
                              capture_output=True, text=True)
        wall = time.perf_counter() - t0
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
        if proc.returncode or not line:
            print(proc.stdout[-2000:], proc.stderr[-4000:])
            raise SystemExit(f"case {name} failed")
        r = json.loads(line[0][len(MARKER):])
        r["wall_s"] = wall
        rows.append(r)
    print()
    print(f"{'case':<14}{'preset':>9}{'neurons':>9}{'synapses':>11}{'loss %':>9}{'map s':>8}"
          f"{'process s':>11}{'peak MB':>9}  per-stage s")
    for r in rows:
        t = r["timings"]
        stages = ", ".join(f"{k} {v:.2f}" for k, v in t.items() if k != "total")
        syn = "" if r["synapses"] is None else f"{r['synapses']:,}"
        print(f"{r['case']:<14}{r['preset']:>9}{r['neurons']:>9,}{syn:>11}"
              f"{100 * r['loss']:>9.2f}"
              f"{t['total']:>8.2f}{r['wall_s']:>11.2f}{r['peak_rss_mb']:>9.0f}  {stages}")
        if "loss_per_seed" in r:
            print(f"{'':<14}per seed: " + ", ".join(f"{100 * x:.2f} %"
                                                    for x in r["loss_per_seed"])
                  + "   (marocco: 23.4 %)")
        if "lost_l1" in r:
            print(f"{'':<14}lost: L1 {r['lost_l1']:,}, drivers {r['lost_drivers']:,}, "
                  f"synapse slots {r['lost_slots']:,}, multapses {r['lost_multapse']:,}; "
                  f"HICANNs used {r['hicanns']}")


if __name__ == "__main__":
    main()
