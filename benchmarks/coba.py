#!/usr/bin/env python
"""COBA benchmark: the same PyNN network on ``pyNN.nest`` and ``pyNN.bss_emu``.

The network is benchmark 1 ("COBA") of Brette et al. (2007), J. Comput. Neurosci. 23:349-398,
in the form PyNN ships it as ``examples/VAbenchmarks.py <simulator> COBA`` (Vogels & Abbott
2005 network):

* 4000 ``IF_cond_exp`` cells, 80 % excitatory (3200) and 20 % inhibitory (800);
  cm = 0.2 nF (1 µF/cm² on 20000 µm²), tau_m = 20 ms, v_rest = v_reset = -60 mV,
  v_thresh = -50 mV, tau_refrac = 5 ms, tau_syn_E = 5 ms, tau_syn_I = 10 ms,
  e_rev_E = 0 mV, e_rev_I = -80 mV; initial v uniform in [v_reset, v_thresh];
* recurrent ``FixedProbabilityConnector(0.02)`` projections e->e, e->i (4 nS, excitatory) and
  i->e, i->i (51 nS, inhibitory), delay 0.2 ms;
* external kick: 20 ``SpikeSourcePoisson`` (100 Hz during the first 50 ms) connected with
  probability 0.01 and weight 0.1 µS to both populations (default delay = min_delay);
* dt = 0.1 ms, min_delay = 0.2 ms, max_delay = 1 ms; spikes of all 4000 cells and v of two
  excitatory cells are recorded.

Each simulator runs in its own subprocess (``--worker``), which prints one JSON line; the
parent collects them and prints a table with build time (populations, initial values,
projections and recording set-up, as in VAbenchmarks.py), run time (``sim.run``), the firing
rates and the ratios bss_emu / NEST.

bss_emu compiles its kernels with numba on first use and caches the machine code on disk.
By default each worker first builds and runs a tiny network (timed separately as
"warm-up"), so the measured run of the big network is a warm one; ``--cold-jit`` adds a
bss_emu worker with an empty, private numba cache to measure the first-ever compilation.

Usage::

    python benchmarks/coba.py                          # nest (1 thread) and bss_emu, 1 s
    python benchmarks/coba.py --threads 1,2            # NEST with 1 and with 2 threads
    python benchmarks/coba.py --simtime 200 --n 1000   # quicker, smaller
    python benchmarks/coba.py --cold-jit --json benchmarks/results/coba.json
    python benchmarks/coba.py --brian2-python /tmp/venv-brian2/bin/python   # + Brian2

``--brian2-python`` adds Brian2 (its own interpreter, numpy < 2.4) through
``coba_brian2.py``: the 'runtime' target (Brian2's default code generation) and
'cpp_standalone' with one thread; their run times are the simulation loop only, code
generation and compilation are reported apart (see coba_brian2.py).
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

MARKER = "COBA_RESULT "

# ------------------------------------------------------------------ model parameters
RNG_SEED = 98765            # as in VAbenchmarks.py
EXT_RNG_SEED = 4321         # VAbenchmarks leaves the ext. connector's RNG unseeded; we fix it
STIM_SEED = 12345           # seed of the simulator's own Poisson generators
R_EI = 4.0                  # excitatory : inhibitory
P_CONN = 0.02
N_STIM = 20
STIM_RATE = 100.0           # Hz
STIM_DUR = 50.0             # ms
P_STIM = 0.01
W_STIM = 0.1                # µS
DT = 0.1                    # ms
DELAY = 0.2                 # ms (also min_delay)
MAX_DELAY = 1.0             # ms

AREA = 20000e-8             # cm² (20000 µm²)
CELL_PARAMS = {
    "tau_m": 20.0,                      # ms
    "cm": 1.0 * AREA * 1000.0,          # 1 µF/cm² -> 0.2 nF
    "v_rest": -60.0,
    "v_reset": -60.0,
    "v_thresh": -50.0,
    "tau_refrac": 5.0,
    "tau_syn_E": 5.0,
    "tau_syn_I": 10.0,
    "e_rev_E": 0.0,
    "e_rev_I": -80.0,
}
W_EXC = 4.0e-3              # µS (4 nS)
W_INH = 51.0e-3             # µS (51 nS)


# ------------------------------------------------------------------ the network (PyNN API only)
def build_network(sim, n: int, seed: int = RNG_SEED, e2e_synapse=None) -> dict:
    """Create the COBA network on the backend ``sim`` (after ``sim.setup``); ``seed`` seeds the
    initial membrane potentials and the recurrent connectivity.  ``e2e_synapse`` replaces the
    static synapse of the e->e projection (``coba_stdp.py`` puts STDP there)."""
    n_exc = int(round(n * R_EI / (1.0 + R_EI)))
    n_inh = n - n_exc
    celltype = sim.IF_cond_exp(**CELL_PARAMS)
    exc = sim.Population(n_exc, celltype, label="Excitatory_Cells")
    inh = sim.Population(n_inh, celltype, label="Inhibitory_Cells")
    stim = sim.Population(N_STIM, sim.SpikeSourcePoisson(rate=STIM_RATE, duration=STIM_DUR),
                          label="expoisson")

    rng = sim.NumpyRNG(seed=seed, parallel_safe=True)
    v_init = sim.RandomDistribution("uniform", low=CELL_PARAMS["v_reset"],
                                    high=CELL_PARAMS["v_thresh"], rng=rng)
    exc.initialize(v=v_init)
    inh.initialize(v=v_init)

    conn = sim.FixedProbabilityConnector(P_CONN, rng=rng)
    ext_conn = sim.FixedProbabilityConnector(P_STIM, rng=sim.NumpyRNG(seed=seed + EXT_RNG_SEED))
    exc_syn = sim.StaticSynapse(weight=W_EXC, delay=DELAY)
    inh_syn = sim.StaticSynapse(weight=W_INH, delay=DELAY)
    ext_syn = sim.StaticSynapse(weight=W_STIM)

    prj = {
        "e2e": sim.Projection(exc, exc, conn, e2e_synapse or exc_syn, receptor_type="excitatory"),
        "e2i": sim.Projection(exc, inh, conn, exc_syn, receptor_type="excitatory"),
        "i2e": sim.Projection(inh, exc, conn, inh_syn, receptor_type="inhibitory"),
        "i2i": sim.Projection(inh, inh, conn, inh_syn, receptor_type="inhibitory"),
        "ext2e": sim.Projection(stim, exc, ext_conn, ext_syn, receptor_type="excitatory"),
        "ext2i": sim.Projection(stim, inh, ext_conn, ext_syn, receptor_type="excitatory"),
    }

    exc.record("spikes")
    inh.record("spikes")
    exc[[0, 1]].record("v")
    return {"exc": exc, "inh": inh, "stim": stim, "projections": prj}


def setup_kwargs(simulator: str, threads: int, seed: int = RNG_SEED) -> dict:
    """setup() arguments; the simulator's own Poisson generators are seeded from ``seed``."""
    kw = {"timestep": DT, "min_delay": DELAY, "max_delay": MAX_DELAY}
    stim_seed = (STIM_SEED + seed - RNG_SEED) % 2**31
    if simulator == "nest":
        kw.update(threads=threads, rng_seed=stim_seed, verbosity="error")
    elif simulator == "bss_emu":
        # the engine comparison: the ideal engine, no wafer mapping (the mapping has its own
        # benchmark, benchmarks/mapping.py)
        kw.update(stimulus_seed=stim_seed, ideal=True)
    elif simulator == "bss_emu_wafer":
        # the same network on the emulated wafer with every hardware effect on: mapping (loss
        # accepted), calibrated mismatch, 4-bit weights, routed delays, event loss.  Neuron
        # size 2 keeps COBA's 51 nS inhibition (almost) within the 4-bit range at cm 0.2 nF
        kw.update(stimulus_seed=stim_seed, neuron_size=2, continue_despite_synapse_loss=True)
    return kw


def warm_up(sim, simulator: str, threads: int) -> None:
    """A tiny network touching the same code paths (so JIT compilation / cache loading and
    first-call costs do not land in the measured build and run)."""
    sim.setup(**setup_kwargs(simulator, threads))
    cells = sim.Population(20, sim.IF_cond_exp(**CELL_PARAMS))
    stim = sim.Population(5, sim.SpikeSourcePoisson(rate=STIM_RATE, duration=STIM_DUR))
    cells.initialize(v=-55.0)
    rng = sim.NumpyRNG(seed=1)
    sim.Projection(cells, cells, sim.FixedProbabilityConnector(0.2, rng=rng),
                   sim.StaticSynapse(weight=W_EXC, delay=DELAY), receptor_type="excitatory")
    sim.Projection(cells, cells, sim.FixedProbabilityConnector(0.2, rng=rng),
                   sim.StaticSynapse(weight=W_INH, delay=DELAY), receptor_type="inhibitory")
    sim.Projection(stim, cells, sim.FixedProbabilityConnector(0.5, rng=rng),
                   sim.StaticSynapse(weight=W_STIM), receptor_type="excitatory")
    cells.record("spikes")
    cells[[0, 1]].record("v")
    sim.run(20.0)
    cells.get_spike_counts()
    sim.end()


def numba_cache_present() -> bool:
    """Whether compiled bss_emu kernels are on disk (index files; they may still be stale)."""
    root = os.environ.get("NUMBA_CACHE_DIR")
    if root:
        pattern = os.path.join(root, "**", "kernels.run_steps-*.nbi")
    else:
        import importlib.util
        spec = importlib.util.find_spec("pyNN_bss_emu")
        base = os.path.dirname(spec.origin) if spec and spec.origin else "."
        pattern = os.path.join(base, "engine", "__pycache__", "kernels.run_steps-*.nbi")
    return bool(glob.glob(pattern, recursive=True))


def peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0   # kB on Linux


def worker(args) -> dict:
    """Run the benchmark on one simulator in this process; return the measurements."""
    simulator = args.worker
    out = {"simulator": simulator, "threads": args.threads if simulator == "nest" else 1,
           "n": args.n, "simtime_ms": args.simtime, "seed": args.seed}
    if simulator.startswith("bss_emu"):
        out["numba_cache_present"] = numba_cache_present()
        out["numba_cache_dir"] = os.environ.get("NUMBA_CACHE_DIR", "(package __pycache__)")

    t0 = time.perf_counter()
    import importlib
    import warnings
    warnings.simplefilter("ignore")   # the wafer's one-time notices (routed delays, clipping)
    sim = importlib.import_module("pyNN.bss_emu" if simulator.startswith("bss_emu")
                                  else f"pyNN.{simulator}")
    out["import_s"] = time.perf_counter() - t0

    out["warmup_s"] = None
    if not args.no_warmup:
        t0 = time.perf_counter()
        warm_up(sim, simulator, args.threads)
        out["warmup_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    sim.setup(**setup_kwargs(simulator, args.threads, args.seed))
    out["setup_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    net = build_network(sim, args.n, args.seed)
    out["build_s"] = time.perf_counter() - t0
    out["rss_after_build_mb"] = peak_rss_mb()

    out["map_s"] = 0.0
    if simulator == "bss_emu_wafer":   # the mapping happens at the first run(): time it apart
        t0 = time.perf_counter()
        sim.run(0.0)
        out["map_s"] = time.perf_counter() - t0
        out["synapse_loss"] = sim.get_mapping_statistics().synapse_loss

    t0 = time.perf_counter()
    sim.run(args.simtime)
    out["run_s"] = time.perf_counter() - t0
    if simulator == "bss_emu_wafer":
        out["pulse_statistics"] = sim.get_pulse_statistics()

    exc, inh = net["exc"], net["inh"]
    exc_counts = exc.get_spike_counts()
    inh_counts = inh.get_spike_counts()
    sec = args.simtime / 1000.0
    out["n_exc"], out["n_inh"] = exc.size, inh.size
    out["exc_rate_hz"] = sum(exc_counts.values()) / exc.size / sec
    out["inh_rate_hz"] = sum(inh_counts.values()) / inh.size / sec
    out["total_spikes"] = int(sum(exc_counts.values()) + sum(inh_counts.values()))
    out["active_fraction"] = (sum(1 for c in exc_counts.values() if c > 0)
                              + sum(1 for c in inh_counts.values() if c > 0)) / (exc.size + inh.size)
    # activity at the end: spikes in the last 100 ms (is the network self-sustained?)
    t_last = max(0.0, args.simtime - 100.0)
    late = 0
    for pop in (exc, inh):
        seg = pop.get_data("spikes").segments[0]
        late += int(sum((st.magnitude > t_last).sum() for st in seg.spiketrains))
    out["spikes_last_100ms"] = late
    out["synapses"] = {name: int(p.size()) for name, p in net["projections"].items()}
    out["peak_rss_mb"] = peak_rss_mb()
    sim.end()
    return out


# ------------------------------------------------------------------ parent
def run_worker(simulator: str, args, threads: int = 1, env_extra: dict | None = None) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", simulator,
           "--simtime", str(args.simtime), "--n", str(args.n), "--threads", str(threads),
           "--seed", str(args.seed)]
    if args.no_warmup:
        cmd.append("--no-warmup")
    env = dict(os.environ)
    env.update(env_extra or {})
    return _run_marked(cmd, env, f"worker {simulator} (threads={threads})")


def _run_marked(cmd: list[str], env: dict | None, what: str) -> dict:
    """Run a worker process; return the JSON of its last ``MARKER`` line plus the process's
    wall time (``process_wall_s``).  A failed worker prints its output's tail and raises."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise RuntimeError(f"{what} failed with code {proc.returncode}")
    res = json.loads(lines[-1][len(MARKER):])
    res["process_wall_s"] = wall
    return res


def run_brian2_worker(target: str, args) -> dict:
    """Run coba_brian2.py with Brian2's interpreter (``--brian2-python``) for ``target``
    ('runtime' or 'cpp_standalone'); return its measurements, as run_worker does."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "coba_brian2.py")
    cmd = [args.brian2_python, script, "--target", target, "--simtime", str(args.simtime),
           "--n", str(args.n), "--seed", str(args.seed)]
    return _run_marked(cmd, None, f"Brian2 worker (target={target}, "
                                  f"python={args.brian2_python})")


def median_result(runs: list[dict]) -> dict:
    """Median of the timing fields over repeats (the other fields from the first run)."""
    res = dict(runs[0])
    for key in ("import_s", "warmup_s", "setup_s", "build_s", "run_s", "peak_rss_mb",
                "process_wall_s", "compile_s", "codegen_s", "run_cpu_s"):
        vals = [r[key] for r in runs if r.get(key) is not None]
        if vals:
            res[key] = statistics.median(vals)
    res["repeats"] = len(runs)
    res["run_s_all"] = [r["run_s"] for r in runs]
    res["build_s_all"] = [r["build_s"] for r in runs]
    return res


def fmt(x, spec):
    """Format ``x`` with ``spec``; None becomes a dash of the same width."""
    if x is None:
        width = "".join(ch for ch in spec.split(".")[0] if ch.isdigit())
        return "-".rjust(int(width or 0))
    return format(x, spec)


def print_report(results: list[dict], cold: dict | None, args) -> None:
    n_exc = results[0]["n_exc"]
    n_inh = results[0]["n_inh"]
    print()
    print(f"COBA benchmark (Brette et al. 2007, PyNN VAbenchmarks.py COBA): "
          f"{n_exc + n_inh} IF_cond_exp ({n_exc} exc / {n_inh} inh), p = {P_CONN}, "
          f"{N_STIM} Poisson sources {STIM_RATE:g} Hz for {STIM_DUR:g} ms, dt = {DT} ms, "
          f"simulated {args.simtime:g} ms")
    print(f"host: {platform.node()}, {os.cpu_count()} CPUs, python {platform.python_version()}"
          f", repeats per configuration: {args.repeat}")
    head = (f"{'simulator':<18}{'thr':>4}{'warm-up s':>10}{'setup s':>9}{'build s':>9}"
            f"{'run s':>9}{'exc Hz':>8}{'inh Hz':>8}{'spikes':>9}{'late spk':>9}"
            f"{'synapses':>10}{'RSS MB':>8}")
    print(head)
    print("-" * len(head))
    for r in results:
        nsyn = sum(r["synapses"].values())
        print(f"{r['simulator']:<18}{r['threads']:>4}{fmt(r['warmup_s'], '10.2f')}"
              f"{r['setup_s']:>9.2f}{r['build_s']:>9.2f}{r['run_s']:>9.2f}"
              f"{r['exc_rate_hz']:>8.2f}{r['inh_rate_hz']:>8.2f}{r['total_spikes']:>9d}"
              f"{r['spikes_last_100ms']:>9d}{nsyn:>10d}{r['peak_rss_mb']:>8.0f}")
    print("(build = populations + initial values + projections + recording set-up, as timed by "
          "VAbenchmarks.py; run = sim.run(); late spk = spikes in the last 100 ms; "
          "RSS = peak resident memory of the worker process)")
    for r in results:
        if r["simulator"] == "bss_emu_wafer":
            print(f"bss_emu_wafer: mapping {r['map_s']:.2f} s (not in build or run), synapse "
                  f"loss {100 * r['synapse_loss']:.1f} %, pulse statistics "
                  f"{r['pulse_statistics']}")
        if r["simulator"] == "bss_emu":
            print(f"bss_emu numba cache before start: "
                  f"{'present' if r.get('numba_cache_present') else 'absent'} "
                  f"({r.get('numba_cache_dir')}); warm-up (tiny net incl. JIT load) "
                  f"{fmt(r['warmup_s'], '.2f')} s")
    if cold is not None:
        print(f"bss_emu cold start (empty private numba cache): warm-up incl. compilation "
              f"{fmt(cold['warmup_s'], '.2f')} s, import {cold['import_s']:.2f} s")

    ours = [r for r in results if r["simulator"] == "bss_emu"]
    wafer = [r for r in results if r["simulator"] == "bss_emu_wafer"]
    if ours and wafer:
        rr = wafer[0]["run_s"] / ours[0]["run_s"]
        # on the wafer the recording path drops spikes: compare what the neurons emitted
        ps = wafer[0]["pulse_statistics"]
        emitted = ps["l1_neuron_sent"] + ps["l1_neuron_lost"]
        spk = emitted / max(ours[0]["total_spikes"], 1)
        print(f"ratio wafer / ideal run: {rr:.2f} (target <= 1.5: "
              f"{'MET' if rr <= 1.5 else 'NOT MET'}) at {spk:.2f}x the spikes emitted "
              f"({emitted} on the wafer, {wafer[0]['total_spikes']} of them recorded)")
    brians = [r for r in results if r["simulator"].startswith("brian2")]
    for r in brians:
        print(f"{r['simulator']}: Brian2 {r['brian2_version']}, numpy {r['numpy_version']}, "
              f"code target {r['codegen_target']}; "
              + (f"code generation {r['codegen_s']:.2f} s, compilation (make) "
                 f"{r['compile_s']:.2f} s, run CPU time {r['run_cpu_s']:.2f} s"
                 if "codegen_s" in r else
                 f"code generation + compilation (or cache load) {r['compile_s']:.2f} s")
              + " (not in build or run)")
    if ours and brians:
        for ref in brians:
            print(f"ratio bss_emu / {ref['simulator']}: run {ours[0]['run_s'] / ref['run_s']:.2f}"
                  f", build {ours[0]['build_s'] / ref['build_s']:.2f}")
    nests = [r for r in results if r["simulator"] == "nest"]
    if ours and nests:
        o = ours[0]
        print()
        for ref in nests:
            rb = o["build_s"] / ref["build_s"]
            rr = o["run_s"] / ref["run_s"]
            print(f"ratio bss_emu / nest ({ref['threads']} thread{'s' if ref['threads'] > 1 else ''}): "
                  f"build {rb:.3f} (target <= 1: {'MET' if rb <= 1.0 else 'NOT MET'}), "
                  f"run {rr:.3f} (target <= 0.1: {'MET' if rr <= 0.1 else 'NOT MET'})")
        syn_o, syn_n = o["synapses"], nests[0]["synapses"]
        same = syn_o == syn_n
        print(f"connectivity: synapse counts per projection "
              f"{'identical' if same else 'DIFFER'} between simulators: {syn_o}"
              + ("" if same else f" vs nest {syn_n}"))
        if not same:
            print("  (expected: PyNN 0.13's generic FixedProbabilityConnector, used by pyNN.nest, "
                  "deep-copies its RNG per projection, so projections sharing a connector reuse "
                  "the same random numbers; bss_emu's connector advances the RNG. Compare rates, "
                  "not spike trains.)")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--simtime", type=float, default=1000.0, help="biological time in ms")
    ap.add_argument("--simulators", default="nest,bss_emu",
                    help="comma-separated list of nest, bss_emu (ideal engine) and "
                         "bss_emu_wafer (every hardware effect on)")
    ap.add_argument("--n", type=int, default=4000,
                    help="network size (number of neurons, 80/20 split; p stays 0.02)")
    ap.add_argument("--threads", default="1",
                    help="NEST thread counts, comma-separated (e.g. 1,2); bss_emu is serial")
    ap.add_argument("--seed", type=int, default=RNG_SEED,
                    help="seed of initial v and connectivity (Poisson seeds follow it)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per configuration (fresh process each, round-robin over the "
                         "configurations); medians are reported")
    ap.add_argument("--no-warmup", action="store_true",
                    help="skip the tiny warm-up network (JIT loading then falls into build/run)")
    ap.add_argument("--cold-jit", action="store_true",
                    help="also measure bss_emu with an empty private numba cache (cold compile)")
    ap.add_argument("--json", metavar="PATH", help="also write all results to this JSON file")
    ap.add_argument("--brian2-python", metavar="PATH",
                    help="interpreter of a Brian2 2.9 venv: also run coba_brian2.py with it")
    ap.add_argument("--brian2-targets", default="runtime,cpp_standalone",
                    help="Brian2 targets for --brian2-python, comma-separated")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        args.threads = int(args.threads)
        res = worker(args)
        sys.stdout.flush()
        print(MARKER + json.dumps(res), flush=True)
        return 0

    brian2_targets = [t.strip() for t in args.brian2_targets.split(",") if t.strip()]
    if args.brian2_python:   # check before the long runs, not after them
        if not os.access(args.brian2_python, os.X_OK):
            ap.error(f"--brian2-python {args.brian2_python!r} is not an executable file")
        bad = [t for t in brian2_targets if t not in ("runtime", "cpp_standalone")]
        if bad:
            ap.error(f"--brian2-targets {','.join(bad)!r}: allowed are runtime, cpp_standalone")
    sims = [s.strip() for s in args.simulators.split(",") if s.strip()]
    thread_list = [int(t) for t in str(args.threads).split(",")]
    # one (label, run) per configuration; the repeats go round-robin over them, so that a
    # slow spell of a shared machine hits every simulator alike instead of one of them
    configs = []
    for s in sims:
        for thr in (thread_list if s == "nest" else [1]):
            configs.append((f"{s} (threads={thr})",
                            lambda s=s, thr=thr: run_worker(s, args, thr)))
    if args.brian2_python:
        for target in brian2_targets:
            configs.append((f"brian2 {target}",
                            lambda target=target: run_brian2_worker(target, args)))
    runs = {label: [] for label, _ in configs}
    for k in range(args.repeat):
        for label, run in configs:
            print(f"running {label} {k + 1}/{args.repeat} ...", flush=True)
            runs[label].append(run())
    results = [median_result(runs[label]) for label, _ in configs]
    cold = None
    if args.cold_jit and "bss_emu" in sims:
        with tempfile.TemporaryDirectory(prefix="coba-numba-") as cache:
            print("running bss_emu with an empty numba cache ...", flush=True)
            cold = run_worker("bss_emu", args, 1, {"NUMBA_CACHE_DIR": cache})
    print_report(results, cold, args)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump({"date": time.strftime("%Y-%m-%d %H:%M:%S"), "host": platform.node(),
                       "cpus": os.cpu_count(), "argv": sys.argv[1:], "results": results,
                       "cold_jit": cold}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
