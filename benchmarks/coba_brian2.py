#!/usr/bin/env python
"""COBA benchmark network in Brian2, for comparison with ``coba.py`` (issue 16, item 0).

This script runs in Brian2's own interpreter, not in the project's venv, because Brian2 2.9
needs numpy < 2.4 (see benchmarks/README.md, "Brian2 (issue 16)").  ``coba.py
--brian2-python PATH`` starts it as a subprocess; it can also be run alone::

    /tmp/venv-brian2/bin/python benchmarks/coba_brian2.py --target cpp_standalone
    /tmp/venv-brian2/bin/python benchmarks/coba_brian2.py --target runtime --simtime 200

The model is the one ``coba.py`` builds through PyNN.  All parameters are imported from
``coba.py`` (whose module level needs only the standard library), so the two cannot drift:

* 4000 conductance-based LIF cells (PyNN ``IF_cond_exp``: exponentially decaying
  conductances that jump by the weight, v clamped to v_reset for tau_refrac), 3200 exc.
  and 800 inh.; initial v uniform in [v_reset, v_thresh];
* random connections with p = 0.02 for e->e, e->i (4 nS) and i->e, i->i (51 nS), self
  connections allowed (PyNN's default), delay 0.2 ms;
* 20 Poisson sources at 100 Hz for the first 50 ms, connected with p = 0.01 and 0.1 µS to
  every cell, delay 0.2 ms (coba.py's default delay = min_delay);
* dt = 0.1 ms; spikes of all cells and v of two excitatory cells are recorded.

Random numbers (initial v, connectivity, Poisson trains) come from numpy generators seeded
from ``coba.py``'s seeds, outside Brian2, so the 'runtime' and 'cpp_standalone' targets
simulate exactly the same network.  They are a different realisation than PyNN's NumpyRNG
draws, so compare rates with the PyNN backends, not spike trains.

Targets and what is timed (``time.perf_counter``/``CLOCK_MONOTONIC``, wall clock):

* ``runtime``: Brian2's default code generation target (``prefs.codegen.target = 'auto'``:
  Cython if a compiler works, else numpy; ``--codegen`` forces one).  ``run_s`` is Brian2's
  own measurement of the simulation loop (``device._last_run_time``); code generation and
  Cython compilation (``Network.before_run``) are reported as ``compile_s``.
* ``cpp_standalone``: one thread (no OpenMP).  ``run_s`` is the wall time of
  ``Network::run`` measured inside the generated ``main`` (code inserted around the run);
  ``run_cpu_s`` is Brian2's own figure, which without OpenMP is CPU time (``std::clock``).
  ``compile_s`` is the ``make`` of a clean project directory, ``codegen_s`` writing the code.

The worker prints one ``COBA_RESULT {json}`` line with the fields ``coba.py`` tabulates.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coba import (CELL_PARAMS, DELAY, DT, MARKER, N_STIM, P_CONN, P_STIM,  # noqa: E402
                  R_EI, RNG_SEED, STIM_DUR, STIM_RATE, STIM_SEED, W_EXC, W_INH, W_STIM)

RUN_TIME_FILE = "coba_wall_run_s.txt"   # written by the standalone binary into its directory


# ------------------------------------------------------------------ random numbers (numpy)
def random_pairs(rng, n_pre: int, n_post: int, p: float):
    """Pre and post indices of a Bernoulli(p) connection matrix ``n_pre`` x ``n_post``.

    Same distribution as drawing every pair independently (PyNN's FixedProbabilityConnector
    with self connections allowed): the number of synapses is binomial, the chosen pairs a
    uniform sample without replacement.  Sorted by presynaptic index."""
    n_pairs = n_pre * n_post
    k = rng.binomial(n_pairs, p)
    flat = rng.choice(n_pairs, size=k, replace=False, shuffle=False)
    flat.sort()
    return flat // n_post, flat % n_post


def poisson_trains(rng, n: int, rate_hz: float, duration_ms: float, dt_ms: float):
    """Source indices and spike times (ms, on the dt grid) of ``n`` Poisson trains.

    Bernoulli per time step with probability rate*dt, as Brian2's PoissonGroup draws them;
    at 100 Hz and 0.1 ms that is 0.01 per step."""
    n_steps = int(round(duration_ms / dt_ms))
    steps, idx = (rng.random((n_steps, n)) < rate_hz * dt_ms * 1e-3).nonzero()
    return idx, steps * dt_ms


def draw_network(n: int, seed: int) -> dict:
    """Everything random about the network, drawn with numpy from ``seed``.

    Stream 1 (``seed``): initial v and the four recurrent projections, in coba.py's order;
    stream 2 (``seed`` + 4321, as coba.py's external connector): the stimulus projections;
    stream 3 (coba.py's stimulus seed): the Poisson trains."""
    import numpy as np

    n_exc = int(round(n * R_EI / (1.0 + R_EI)))
    n_inh = n - n_exc
    rng = np.random.default_rng(seed)
    v0 = rng.uniform(CELL_PARAMS["v_reset"], CELL_PARAMS["v_thresh"], size=n)   # mV
    net = {"n_exc": n_exc, "n_inh": n_inh, "v0_mV": v0}
    # indices into the whole group: excitatory cells 0..n_exc-1, inhibitory after them
    for name, (pre_off, n_pre), (post_off, n_post) in (
            ("e2e", (0, n_exc), (0, n_exc)), ("e2i", (0, n_exc), (n_exc, n_inh)),
            ("i2e", (n_exc, n_inh), (0, n_exc)), ("i2i", (n_exc, n_inh), (n_exc, n_inh))):
        i, j = random_pairs(rng, n_pre, n_post, P_CONN)
        net[name] = (i + pre_off, j + post_off)
    rng_ext = np.random.default_rng(seed + 4321)
    for name, (post_off, n_post) in (("ext2e", (0, n_exc)), ("ext2i", (n_exc, n_inh))):
        i, j = random_pairs(rng_ext, N_STIM, n_post, P_STIM)
        net[name] = (i, j + post_off)
    stim_seed = (STIM_SEED + seed - RNG_SEED) % 2**31
    net["stim_idx"], net["stim_t_ms"] = poisson_trains(np.random.default_rng(stim_seed),
                                                       N_STIM, STIM_RATE, STIM_DUR, DT)
    return net


# ------------------------------------------------------------------ the network (Brian2)
EQS = """
dv/dt = (v_rest - v) / tau_m + (ge * (e_rev_E - v) + gi * (e_rev_I - v)) / c_m : volt (unless refractory)
dge/dt = -ge / tau_syn_E : siemens
dgi/dt = -gi / tau_syn_I : siemens
"""


def namespace(b2) -> dict:
    """coba.py's parameters in Brian2 units (PyNN units: ms, mV, nF, µS)."""
    p = CELL_PARAMS
    return {"tau_m": p["tau_m"] * b2.ms, "c_m": p["cm"] * b2.nF,   # "cm" is a unit
            "v_rest": p["v_rest"] * b2.mV, "v_reset": p["v_reset"] * b2.mV,
            "v_thresh": p["v_thresh"] * b2.mV,
            "tau_syn_E": p["tau_syn_E"] * b2.ms, "tau_syn_I": p["tau_syn_I"] * b2.ms,
            "e_rev_E": p["e_rev_E"] * b2.mV, "e_rev_I": p["e_rev_I"] * b2.mV,
            "w_exc": W_EXC * b2.uS, "w_inh": W_INH * b2.uS, "w_stim": W_STIM * b2.uS}


def build_network(b2, drawn: dict, n: int) -> dict:
    """Create the Brian2 objects; returns them by name (all go into one ``Network``)."""
    import numpy as np

    ns = namespace(b2)
    # exponential Euler: exact for the conductance decays and, per step, for v given the
    # conductances (the equation is linear in v); this is the integrator class bss_emu's
    # LIF kernel uses.  Brian2's default here would be forward Euler.
    cells = b2.NeuronGroup(n, EQS, threshold="v > v_thresh", reset="v = v_reset",
                           refractory=CELL_PARAMS["tau_refrac"] * b2.ms,
                           method="exponential_euler", namespace=ns, name="cells")
    cells.v = drawn["v0_mV"] * b2.mV
    stim = b2.SpikeGeneratorGroup(N_STIM, drawn["stim_idx"], drawn["stim_t_ms"] * b2.ms,
                                  name="stim")
    # one Synapses object per presynaptic population and receptor (a scalar weight and one
    # homogeneous delay each, as Brian2's own COBA example): e2e+e2i, i2e+i2i, ext2e+ext2i
    objs = {"cells": cells, "stim": stim}
    for name, source, parts, on_pre in (("exc_syn", cells, ("e2e", "e2i"), "ge += w_exc"),
                                        ("inh_syn", cells, ("i2e", "i2i"), "gi += w_inh"),
                                        ("ext_syn", stim, ("ext2e", "ext2i"), "ge += w_stim")):
        syn = b2.Synapses(source, cells, on_pre=on_pre, delay=DELAY * b2.ms, namespace=ns,
                          name=name)
        syn.connect(i=np.concatenate([drawn[p][0] for p in parts]),
                    j=np.concatenate([drawn[p][1] for p in parts]))
        objs[name] = syn
    objs["spikes"] = b2.SpikeMonitor(cells, name="spikes")
    objs["v"] = b2.StateMonitor(cells, "v", record=[0, 1], name="v_mon")
    return objs


# ------------------------------------------------------------------ worker
def rss_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024.0   # kB on Linux


def spike_statistics(spike_i, spike_t_ms, drawn: dict, simtime_ms: float) -> dict:
    """Rates and counts in coba.py's fields from the recorded spikes (indices, times ms)."""
    import numpy as np

    n_exc, n_inh = drawn["n_exc"], drawn["n_inh"]
    is_exc = spike_i < n_exc
    sec = simtime_ms / 1000.0
    counts = np.bincount(spike_i, minlength=n_exc + n_inh)
    return {"n_exc": n_exc, "n_inh": n_inh,
            "exc_rate_hz": float(is_exc.sum()) / n_exc / sec,
            "inh_rate_hz": float((~is_exc).sum()) / n_inh / sec,
            "total_spikes": int(spike_i.size),
            "active_fraction": float((counts > 0).mean()),
            "spikes_last_100ms": int((spike_t_ms > max(0.0, simtime_ms - 100.0)).sum()),
            "synapses": {name: int(drawn[name][0].size)
                         for name in ("e2e", "e2i", "i2e", "i2i", "ext2e", "ext2i")}}


def insert_wall_timer(device) -> None:
    """Time ``Network::run`` in the standalone binary with CLOCK_MONOTONIC (wall clock, like
    perf_counter): without OpenMP Brian2's own figure is std::clock, i.e. CPU time."""
    device.insert_code("before_network_run",
                       "struct timespec _coba_t0, _coba_t1;\n"
                       "clock_gettime(CLOCK_MONOTONIC, &_coba_t0);")
    device.insert_code("after_network_run",
                       "clock_gettime(CLOCK_MONOTONIC, &_coba_t1);\n"
                       "{ std::ofstream _coba_f(\"" + RUN_TIME_FILE + "\");\n"
                       "  _coba_f.precision(9);\n"
                       "  _coba_f << (_coba_t1.tv_sec - _coba_t0.tv_sec)"
                       " + 1e-9 * (_coba_t1.tv_nsec - _coba_t0.tv_nsec) << std::endl; }")


def worker(args) -> dict:
    """Build and run the network with Brian2 in this process; return the measurements."""
    out = {"simulator": f"brian2_{'standalone' if args.target == 'cpp_standalone' else 'runtime'}",
           "threads": 1, "n": args.n, "simtime_ms": args.simtime, "seed": args.seed,
           "warmup_s": None, "map_s": 0.0}
    t0 = time.perf_counter()
    import brian2 as b2
    out["import_s"] = time.perf_counter() - t0
    out["brian2_version"] = b2.__version__
    import numpy as np
    out["numpy_version"] = np.__version__

    t0 = time.perf_counter()
    b2.prefs.core.default_float_dtype = np.float64
    b2.defaultclock.dt = DT * b2.ms
    workdir = None
    if args.target == "cpp_standalone":
        # a fresh project directory each time, so compile_s is a full (clean) build
        if args.directory:
            directory = args.directory
        else:
            workdir = tempfile.TemporaryDirectory(prefix="coba-brian2-")
            directory = workdir.name
        b2.set_device("cpp_standalone", directory=directory, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0     # one thread, no OpenMP
        out["codegen_target"] = "cpp_standalone"
    else:
        b2.prefs.codegen.target = args.codegen
        out["codegen_target"] = b2.get_device().code_object_class().class_name
    out["setup_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    drawn = draw_network(args.n, args.seed)
    objs = build_network(b2, drawn, args.n)
    net = b2.Network(*objs.values())
    out["build_s"] = time.perf_counter() - t0
    out["rss_after_build_mb"] = rss_mb()

    if args.target == "cpp_standalone":
        insert_wall_timer(b2.get_device())
        t0 = time.perf_counter()
        net.run(args.simtime * b2.ms)   # records the run into main.cpp
        device = b2.get_device()
        device.build(directory=directory, compile=True, run=True, clean=True)
        total = time.perf_counter() - t0
        compile_s = sum(v for v in device.timers["compile"].values() if v)
        out["compile_s"] = compile_s
        out["binary_s"] = device.timers["run_binary"]
        out["codegen_s"] = total - compile_s - device.timers["run_binary"]
        out["run_cpu_s"] = float(device._last_run_time)
        with open(os.path.join(directory, RUN_TIME_FILE)) as fh:
            out["run_s"] = float(fh.read())
    else:
        t0 = time.perf_counter()
        net.run(args.simtime * b2.ms)
        total = time.perf_counter() - t0
        out["run_s"] = float(b2.get_device()._last_run_time)
        out["compile_s"] = total - out["run_s"]
        out["cython_cache_dir"] = (b2.prefs.codegen.runtime.cython.cache_dir
                                   or "~/.cython/brian_extensions")

    mon = objs["spikes"]
    out.update(spike_statistics(np.asarray(mon.i[:], dtype=np.int64),
                                np.asarray(mon.t[:] / b2.ms), drawn, args.simtime))
    # the standalone simulation runs in a child process: its memory counts too
    out["peak_rss_mb"] = max(rss_mb(), rss_mb(resource.RUSAGE_CHILDREN))
    if workdir is not None:
        workdir.cleanup()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", choices=("runtime", "cpp_standalone"), default="runtime")
    ap.add_argument("--codegen", choices=("auto", "cython", "numpy"), default="auto",
                    help="runtime code generation target (default: Brian2's 'auto')")
    ap.add_argument("--simtime", type=float, default=1000.0, help="biological time in ms")
    ap.add_argument("--n", type=int, default=4000, help="number of neurons (80/20 split)")
    ap.add_argument("--seed", type=int, default=RNG_SEED,
                    help="seed of initial v and connectivity (Poisson seed follows it)")
    ap.add_argument("--directory", help="cpp_standalone project directory (default: a "
                                        "fresh temporary one, so the build is a clean one)")
    args = ap.parse_args(argv)
    if args.n < 2:
        raise SystemExit(f"--n must be at least 2 (one exc. and one inh. cell), got {args.n}")
    if args.simtime <= 0:
        raise SystemExit(f"--simtime must be > 0 ms, got {args.simtime}")
    res = worker(args)
    sys.stdout.flush()
    print(MARKER + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
