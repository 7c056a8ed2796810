"""Strong and weak scaling of a multi-wafer system under MPI, one rank per wafer (issue 16).

The network is a row of identical columns, one per wafer. Each column has 80 % excitatory and
20 % inhibitory ``IF_cond_exp`` neurons with recurrent connections (p = 0.02), 200 Poisson
sources at 20 Hz, and excitatory connections to the other columns (p = 0.004). Neurons are 32
denmems, so that a 3000-neuron column fills most of a wafer: the wafer assignment puts each
column on a wafer of its own, and every connection between columns leaves through the
off-wafer network.

* **strong:** ``--columns`` columns (default 2) on as many wafers, run in one process and under
  ``mpiexec -n <columns>``;
* **weak:** k columns on k wafers with k ranks, for k in ``--weak`` (default 1,2,4; 4 ranks
  oversubscribe this 2-core box: correct, but the time means little).

Each configuration runs in a fresh job: mapping, a 100 ms warm-up run (the engine builds its
tables and, on ranks other than 0, numba loads its kernels), then the timed run of
``--simtime`` ms. Printed: run time (slowest rank), windows, spikes gathered per window, bytes
per rank and window, and peak RSS per rank. Spike digests must agree across rank counts.

    python benchmarks/wafer_scaling.py --repeat 3
"""
from __future__ import annotations

import argparse
import hashlib
import json
import resource
import sys
import time
from pathlib import Path

from mpi_jobs import run_worker

MARK = "WAFER_SCALING "


def build_columns(sim, n_columns: int, n: int = 3000, p: float = 0.02, p_x: float = 0.004,
                  seed: int = 11) -> list:
    """``n_columns`` columns of ``n`` neurons (see the module docstring); returns
    [(exc, inh), ...]."""
    rng = sim.NumpyRNG(seed=seed, parallel_safe=True)
    columns = []
    for c in range(n_columns):
        exc = sim.Population(int(0.8 * n), sim.IF_cond_exp(tau_refrac=2.0), label=f"E{c}")
        inh = sim.Population(n - int(0.8 * n), sim.IF_cond_exp(tau_refrac=2.0), label=f"I{c}")
        bg = sim.Population(200, sim.SpikeSourcePoisson(rate=20.0), label=f"bg{c}")
        for post in (exc, inh):
            sim.Projection(bg, post, sim.FixedProbabilityConnector(0.05, rng=rng),
                           sim.StaticSynapse(weight=0.008))
            sim.Projection(exc, post, sim.FixedProbabilityConnector(p, rng=rng),
                           sim.StaticSynapse(weight=0.002))
            sim.Projection(inh, post, sim.FixedProbabilityConnector(p, rng=rng),
                           sim.StaticSynapse(weight=0.04), receptor_type="inhibitory")
        columns.append((exc, inh))
    for a in range(n_columns):
        for b in range(n_columns):
            if a != b:
                sim.Projection(columns[a][0], columns[b][0],
                               sim.FixedProbabilityConnector(p_x, rng=rng),
                               sim.StaticSynapse(weight=0.002))
    return columns


def worker(args) -> None:
    import warnings
    warnings.simplefilter("ignore")
    import numpy as np
    import pyNN.bss_emu as sim
    rank = sim.setup(timestep=0.1, ideal=False, wafers=args.columns, neuron_size=args.neuron_size,
                     continue_despite_synapse_loss=True)
    columns = build_columns(sim, args.columns, n=args.n)
    for exc, inh in columns:
        exc.record("spikes")
        inh.record("spikes")
    t0 = time.perf_counter()
    sim.run(0.0)
    map_s = time.perf_counter() - t0
    sim.run(100.0)                                   # warm-up: tables, numba on every rank
    part = sim.get_backend().network.partition
    w0 = part.windows if part is not None else 0
    s0 = part.spikes_exchanged if part is not None else 0
    b0 = part.exchange.bytes_sent() if part is not None else 0
    t0 = time.perf_counter()
    sim.run(args.simtime)
    run_s = time.perf_counter() - t0
    windows = (part.windows - w0) if part is not None else 0
    gathered = (part.spikes_exchanged - s0) if part is not None else 0
    sent = (part.exchange.bytes_sent() - b0) if part is not None else 0
    digest = hashlib.sha256()
    spikes = 0
    for exc, inh in columns:
        for pop in (exc, inh):
            counts = pop.get_spike_counts(gather=True)
            if rank == 0:
                values = np.array([counts[i] for i in sorted(counts)], dtype=np.int64)
                digest.update(values.tobytes())
                spikes += int(values.sum())
    st = sim.get_mapping_statistics()
    pulses = sim.get_pulse_statistics()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    rss_all, sent_all = [rss], [sent]
    if sim.num_processes() > 1:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
        run_s = comm.allreduce(run_s, op=MPI.MAX)
        rss_all = comm.gather(rss, root=0)
        sent_all = comm.gather(sent, root=0)
    if rank == 0:
        out = {"ranks": sim.num_processes(), "columns": args.columns,
               "whole_wafers": bool(part is not None and part.group_local is not None),
               "neurons": int(st.neurons_placed), "synapses": int(st.synapses_requested),
               "lost": int(st.synapses_lost),
               # (one wafer: a single wafer's statistics, without the system's fields)
               "offwafer": int(getattr(st, "offwafer_synapses", 0)),
               "per_wafer_neurons": [None if w is None else int(w.neurons_placed)
                                     for w in getattr(st, "per_wafer", [st])],
               "map_s": map_s, "run_s": run_s, "simtime_ms": args.simtime,
               "windows": windows, "spikes_gathered": gathered,
               "bytes_sent_per_rank": sent_all, "spikes": spikes,
               "rate_hz": spikes / st.neurons_placed / (args.simtime / 1000.0),
               "relay_sent": int(pulses["l2_relay_sent"]),
               "relay_lost": int(pulses["l2_relay_lost"]),
               "digest": digest.hexdigest()[:16], "rss_mb": rss_all}
        sys.stdout.write(MARK + json.dumps(out) + "\n")
        sys.stdout.flush()
    sim.end()


def launch(n_ranks: int, columns: int, args) -> dict:
    return run_worker(__file__, ["--columns", str(columns), "--n", str(args.n),
                                 "--neuron-size", str(args.neuron_size),
                                 "--simtime", str(args.simtime)], MARK, n_ranks)


def median_of(runs: list[dict]) -> dict:
    runs = sorted(runs, key=lambda r: r["run_s"])
    best = dict(runs[len(runs) // 2])
    best["run_s_each"] = [r["run_s"] for r in runs]
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--columns", type=int, default=2, help="columns (= wafers) of the "
                    "strong-scaling network")
    ap.add_argument("--n", type=int, default=3000, help="neurons per column")
    ap.add_argument("--neuron-size", type=int, default=32,
                    help="denmems per neuron (3000 x 32 or 6000 x 16 fill half a wafer)")
    ap.add_argument("--simtime", type=float, default=2000.0, help="timed run (ms)")
    ap.add_argument("--weak", default="1,2,4", help="rank counts of the weak scaling "
                    "(empty: none)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    configs = [("strong", 1, args.columns), ("strong", args.columns, args.columns)]
    configs += [("weak", int(k), int(k)) for k in args.weak.split(",") if k]
    results: dict[tuple, list] = {c: [] for c in configs}
    for _ in range(args.repeat):                      # round-robin over the configurations
        for c in configs:
            print(f"running {c[0]} -n {c[1]} ({c[2]} wafers) ...", file=sys.stderr, flush=True)
            results[c].append(launch(c[1], c[2], args))
    rows = [(c, median_of(results[c])) for c in configs]
    print(f"\nMulti-wafer scaling: columns of {args.n} neurons, one per wafer; timed run "
          f"{args.simtime:.0f} ms after a 100 ms warm-up; medians of {args.repeat}")
    print(f"{'kind':6} {'ranks':>5} {'wafers':>6} {'neurons':>8} {'synapses':>9} {'rate Hz':>7} "
          f"{'run s':>6} {'windows':>7} {'spk/win':>7} {'B/rank/win':>10} {'RSS/rank MB':>12} "
          f"whole-wafer ranks")
    for (kind, n, cols), r in rows:
        w = max(r["windows"], 1)
        print(f"{kind:6} {n:>5} {cols:>6} {r['neurons']:>8} {r['synapses']:>9} "
              f"{r['rate_hz']:>7.1f} {r['run_s']:>6.2f} {r['windows']:>7} "
              f"{r['spikes_gathered'] / w:>7.1f} {max(r['bytes_sent_per_rank']) / w:>10.0f} "
              f"{max(r['rss_mb']):>12.0f} {r['whole_wafers']}")
    strong = [r for (kind, _, _), r in rows if kind == "strong"]
    same = strong[0]["digest"] == strong[1]["digest"]
    print("strong: same spikes for 1 and", args.columns, "ranks:", "yes" if same else "NO")
    print(f"strong scaling, -n 1 / -n {args.columns}: speed-up "
          f"{strong[0]['run_s'] / strong[1]['run_s']:.2f} (goal >= 1.7)")
    if args.json:
        Path(args.json).write_text(json.dumps([{"kind": c[0], **r} for c, r in rows],
                                              indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
