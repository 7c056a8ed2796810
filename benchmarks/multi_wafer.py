"""The Potjans-Diesmann microcircuit on a system of several wafers (issue 16, item 3).

The 2022 demo's microcircuit (benchmarks/demo_networks.py: neuron size 8, the wafer-30
settings) at ``--scale`` of the full neuron numbers and ``--k-scale`` of the full in-degrees,
mapped onto ``--wafers`` wafer modules and run for ``--simtime`` ms, in one process and
under ``mpiexec -n 2`` (each configuration in a fresh job).

    python benchmarks/multi_wafer.py --scale 0.3 --wafers 2 --ranks 1,2

Printed per run: mapping time, run time per biological second (slowest rank), peak RSS per
rank, wafers used, synapses (requested, lost, between wafers), relayed spikes (sent, lost)
and the spike count; the spike digests of the runs must agree (the same spikes for any
number of ranks).  ``--nest-threads 1,2`` also runs the demo's NEST version of the same
network (``target="nest"``: its weights, variations and calibrated delays) on pyNN.nest with
that many threads, for the wall time side by side.
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

HERE = Path(__file__).resolve().parent
MARK = "MULTI_WAFER "


def worker(args) -> None:
    import warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, str(HERE))
    import numpy as np
    import demo_networks as demo
    import pyNN.bss_emu as sim
    kw = demo.microcircuit_setup_kwargs("hardware")
    kw.update(wafers=args.wafers, max_delay=30.0, wafer_fill=args.fill)
    rank = sim.setup(**kw)
    t0 = time.perf_counter()
    net = demo.build_microcircuit(sim, scale=args.scale, k_scale=args.k_scale)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim.run(0.0)                        # maps and programs the system
    if sim.num_processes() > 1:
        # rank 0 maps and broadcasts; the others unpickle and program later: without the
        # barrier their lag would be counted in rank 0's run time (it waits for them in the
        # first exchange); with it the lag counts as mapping, on the slowest rank
        from mpi4py import MPI
        MPI.COMM_WORLD.Barrier()
    map_s = time.perf_counter() - t0
    st = sim.get_mapping_statistics()
    t0 = time.perf_counter()
    sim.run(args.simtime)
    run_s = time.perf_counter() - t0
    pulses = sim.get_pulse_statistics()
    digest = hashlib.sha256()
    spikes = 0
    for label, pop in net.populations.items():
        counts = pop.get_spike_counts(gather=True)
        if rank == 0:
            values = np.array([counts[i] for i in sorted(counts)], dtype=np.int64)
            digest.update(values.tobytes())
            spikes += int(values.sum())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    rss_all = [rss]
    if sim.num_processes() > 1:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
        run_s = comm.allreduce(run_s, op=MPI.MAX)
        map_s = comm.allreduce(map_s, op=MPI.MAX)
        rss_all = comm.gather(rss, root=0)
    if rank == 0:
        rates = {label: round(sum(pop.get_spike_counts().values()) / pop.size
                              / (args.simtime / 1000.0), 1)
                 for label, pop in net.populations.items()} if sim.num_processes() == 1 \
            else None
        out = {"ranks": sim.num_processes(), "scale": args.scale, "k_scale": args.k_scale,
               "fill": args.fill, "rates_hz": rates,
               # one wafer: plain MappingStatistics, no relays
               "wafers": args.wafers, "wafers_used": getattr(st, "wafers_used", 1),
               "neurons": int(st.neurons_placed), "synapses": int(st.synapses_requested),
               "lost": int(st.synapses_lost),
               "offwafer": int(getattr(st, "offwafer_synapses", 0)),
               "lost_input": int(st.synapses_lost_input),
               "per_wafer_neurons": [None if w is None else int(w.neurons_placed)
                                     for w in getattr(st, "per_wafer", [st])],
               "build_s": build_s, "map_s": map_s, "run_s": run_s,
               "run_s_per_bio_s": run_s / (args.simtime / 1000.0),
               "relay_sent": int(pulses.get("l2_relay_sent", 0)),
               "relay_lost": int(pulses.get("l2_relay_lost", 0)), "spikes": spikes,
               "digest": digest.hexdigest()[:16], "rss_mb": rss_all}
        sys.stdout.write(MARK + json.dumps(out) + "\n")
        sys.stdout.flush()
    sim.end()


def nest_worker(args) -> None:
    import warnings
    warnings.simplefilter("ignore")
    sys.path.insert(0, str(HERE))
    import demo_networks as demo
    import pyNN.nest as sim
    kw = demo.microcircuit_setup_kwargs("nest")
    kw["threads"] = args.threads
    sim.setup(**kw)
    t0 = time.perf_counter()
    net = demo.build_microcircuit(sim, target="nest", scale=args.scale, k_scale=args.k_scale)
    build_s = time.perf_counter() - t0
    sim.run(0.1)
    t0 = time.perf_counter()
    sim.run(args.simtime)
    run_s = time.perf_counter() - t0
    spikes = sum(sum(p.get_spike_counts().values()) for p in net.populations.values())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out = {"simulator": "nest", "threads": args.threads, "build_s": build_s,
           "run_s": run_s, "run_s_per_bio_s": run_s / (args.simtime / 1000.0),
           "spikes": int(spikes), "rss_mb": [rss]}
    sys.stdout.write(MARK + json.dumps(out) + "\n")
    sys.stdout.flush()
    sim.end()


def launch_nest(threads: int, args) -> dict:
    return run_worker(__file__, ["--simulator", "nest", "--threads", str(threads),
                                 "--scale", str(args.scale), "--k-scale", str(args.k_scale),
                                 "--simtime", str(args.simtime)], MARK)


def launch(n_ranks: int, args) -> dict:
    return run_worker(__file__, ["--scale", str(args.scale), "--k-scale", str(args.k_scale),
                                 "--wafers", str(args.wafers), "--fill", str(args.fill),
                                 "--simtime", str(args.simtime)], MARK, n_ranks)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=float, default=0.3, help="share of the full neurons")
    ap.add_argument("--k-scale", type=float, default=0.1, help="share of the in-degrees")
    ap.add_argument("--wafers", type=int, default=2)
    ap.add_argument("--fill", type=float, default=0.85, help="setup(wafer_fill=...)")
    ap.add_argument("--simtime", type=float, default=1000.0, help="biological time (ms)")
    ap.add_argument("--ranks", default="1,2", help="comma-separated rank counts")
    ap.add_argument("--nest-threads", default="", help="e.g. 1,2 (empty: no NEST run)")
    ap.add_argument("--simulator", default="bss_emu", help=argparse.SUPPRESS)
    ap.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--json", metavar="PATH")
    args = ap.parse_args(argv)
    if args.worker:
        (nest_worker if args.simulator == "nest" else worker)(args)
        return 0
    runs = [launch(int(n), args) for n in args.ranks.split(",") if n]   # "": NEST only
    nest = [launch_nest(int(t), args) for t in args.nest_threads.split(",") if t]
    for r in runs:
        print(f"ranks {r['ranks']}: {r['neurons']:,} neurons on {r['wafers_used']} of "
              f"{r['wafers']} wafers {r['per_wafer_neurons']}, {r['synapses']:,} synapses "
              f"({r['lost']:,} lost, {r.get('lost_input', 0):,} of them for want of input "
              f"bandwidth; {r['offwafer']:,} between wafers); map {r['map_s']:.1f} s, "
              f"run {r['run_s_per_bio_s']:.2f} s per bio s; relayed {r['relay_sent']:,} "
              f"(lost {r['relay_lost']:,}); spikes {r['spikes']:,} [{r['digest']}]; RSS per "
              f"rank {', '.join(f'{m:.0f}' for m in r['rss_mb'])} MB")
        if r.get("rates_hz"):
            print("  recorded rates (Hz):", r["rates_hz"])
    for r in nest:
        print(f"pyNN.nest, {r['threads']} thread(s), the demo's NEST version: build "
              f"{r['build_s']:.1f} s, run {r['run_s_per_bio_s']:.2f} s per bio s, spikes "
              f"{r['spikes']:,}, RSS {r['rss_mb'][0]:.0f} MB")
    same = len({r["digest"] for r in runs}) <= 1
    print("same spikes for every rank count:", "yes" if same else "NO")
    if len(runs) > 1:
        print(f"speed-up {runs[0]['ranks']} -> {runs[-1]['ranks']} ranks: "
              f"{runs[0]['run_s'] / runs[-1]['run_s']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(runs + nest, indent=1))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
