"""Strong and weak scaling of the distributed emulation (issue 16) under ``mpiexec``.

The network is COBA's (benchmarks/coba.py: 80/20 exc/inh, IF_cond_exp) with the connection
probability scaled to keep COBA's ~80 recurrent inputs per neuron at every size, and a
synaptic delay of ``--delay`` ms (the wafer's routed delays are ~1 ms, COBA's is 0.2 ms); the
delay is the communication window (one spike exchange per window).  Each configuration runs in a fresh
``mpiexec -n N`` job; repeats go round-robin over the configurations.

    python benchmarks/mpi_scaling.py                       # strong 1 vs 2, weak 1/2/4
    python benchmarks/mpi_scaling.py --strong-n 16000 --repeat 3 --json out.json

Printed per run: wall time of ``sim.run`` (slowest rank), windows, spikes exchanged per
window, bytes received per rank and window, peak RSS per rank; then the speed-ups and a
projection of the communication of a 20-wafer system from the measured spike rates.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

from mpi_jobs import run_worker

HERE = Path(__file__).resolve().parent
MARK = "MPI_SCALING "


def worker(args) -> None:
    import warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, str(HERE))
    import coba
    import pyNN.bss_emu as sim
    coba.DELAY = args.delay
    kw = coba.setup_kwargs("bss_emu", 1)
    kw["max_delay"] = max(args.delay, 1.0)
    rank = sim.setup(**kw)
    n = args.n
    coba.P_CONN = 80.0 / n                 # ~80 recurrent inputs per neuron at any size
    t0 = time.perf_counter()
    net = coba.build_network(sim, n)
    build = time.perf_counter() - t0
    sim.run(0.1)                            # structure, JIT loading
    t0 = time.perf_counter()
    sim.run(args.simtime)
    run_s = time.perf_counter() - t0
    backend = sim.get_backend()
    part = backend.network.partition
    spikes = sum(net["exc"].get_spike_counts(gather=True).values()) + \
        sum(net["inh"].get_spike_counts(gather=True).values())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    if part is not None:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
        run_s = comm.allreduce(run_s, op=MPI.MAX)
        rss_all = comm.gather(rss, root=0)
        windows, exchanged = part.windows, part.spikes_exchanged
        local_synapses = comm.gather(int(backend.network._local["sel"].size), root=0)
    else:
        rss_all, windows, exchanged = [rss], 0, 0
        local_synapses = [int(backend.network.syn_weight.size)]
    if rank == 0:
        out = {"ranks": sim.num_processes(), "n": n, "delay_ms": args.delay,
               "simtime_ms": args.simtime, "build_s": build, "run_s": run_s,
               "spikes": int(spikes), "windows": int(windows),
               "spikes_exchanged": int(exchanged),
               "synapses": int(backend.network.syn_weight.size),
               "local_synapses": local_synapses, "rss_mb": rss_all}
        sys.stdout.write(MARK + json.dumps(out) + "\n")
        sys.stdout.flush()
    sim.end()


def launch(n_ranks: int, n: int, args) -> dict:
    return run_worker(__file__, ["--n", str(n), "--delay", str(args.delay),
                                 "--simtime", str(args.simtime)], MARK, n_ranks)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=16000, help=argparse.SUPPRESS)
    ap.add_argument("--strong-n", type=int, default=16000,
                    help="neurons of the strong-scaling network (1 vs 2 ranks)")
    ap.add_argument("--weak-n", type=int, default=8000,
                    help="neurons per rank in the weak-scaling runs (1, 2, 4 ranks)")
    ap.add_argument("--delay", type=float, default=1.0, help="synaptic delay (ms)")
    ap.add_argument("--simtime", type=float, default=1000.0, help="biological time (ms)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kinds", default="strong,weak", help="strong, weak or both")
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if args.worker:
        worker(args)
        return 0
    kinds = args.kinds.split(",")
    configs = ([("strong", 1, args.strong_n), ("strong", 2, args.strong_n)]
               if "strong" in kinds else []) + \
        ([("weak", k, args.weak_n * k) for k in (1, 2, 4)] if "weak" in kinds else [])
    runs: dict = {c: [] for c in configs}
    for r in range(args.repeat):
        for c in configs:
            print(f"running {c[0]} -n {c[1]} ({c[2]} neurons) {r + 1}/{args.repeat} ...",
                  flush=True)
            runs[c].append(launch(c[1], c[2], args))
    print(f"\nDistributed emulation, COBA-like network, delay {args.delay} ms "
          f"(window {args.delay} ms), {args.simtime:g} ms simulated; medians of "
          f"{args.repeat}; host: {os.cpu_count()} CPUs")
    print(f"{'kind':7s}{'ranks':>6s}{'neurons':>9s}{'synapses':>11s}{'run s':>8s}"
          f"{'spikes':>9s}{'windows':>8s}{'spk/win':>8s}{'B/rank/win':>11s}{'RSS/rank MB':>13s}")
    med = {}
    for c in configs:
        rs = runs[c]
        m = dict(rs[0])
        m["run_s"] = statistics.median(x["run_s"] for x in rs)
        med[c] = m
        per_win = m["spikes_exchanged"] / m["windows"] if m["windows"] else 0.0
        print(f"{c[0]:7s}{c[1]:>6d}{c[2]:>9d}{m['synapses']:>11d}{m['run_s']:>8.2f}"
              f"{m['spikes']:>9d}{m['windows']:>8d}{per_win:>8.1f}{16 * per_win:>11.0f}"
              f"{max(m['rss_mb']):>13.0f}")
    strong = [c for c in configs if c[0] == "strong"]
    weak = [c for c in configs if c[0] == "weak"]
    if strong:
        s1, s2 = med[strong[0]]["run_s"], med[strong[1]]["run_s"]
        print(f"\nstrong scaling, -n 1 / -n 2: speed-up {s1 / s2:.2f} (target >= 1.7)")
    if weak:
        w = [med[c]["run_s"] for c in weak]
        print(f"weak scaling, run time at 1/2/4 ranks: {w[0]:.2f} / {w[1]:.2f} / {w[2]:.2f} s "
              f"(4 ranks oversubscribe this host's {os.cpu_count()} cores: correctness only)")
    # projection for 20 wafers: every rank receives every spike of its window
    m = med[[c for c in configs if c[1] == 2][0]]
    rate = m["spikes"] / m["n"] / (m["simtime_ms"] / 1000.0)
    print(f"projection, 20 wafers (one rank each, ~{m['n'] // 2} neurons per wafer at "
          f"{rate:.1f} Hz): {20 * m['n'] // 2 * rate * args.delay / 1000.0:.0f} spikes and "
          f"{16 * 20 * m['n'] // 2 * rate * args.delay / 1000.0 / 1024:.1f} KiB received per rank "
          f"and window, {1000.0 / args.delay:.0f} windows per biological second")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "runs": {f"{k}-{r}-{n}": v for (k, r, n), v
                                                    in runs.items()}}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
