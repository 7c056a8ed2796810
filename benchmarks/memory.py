#!/usr/bin/env python
"""Memory benchmark: what recording, reading out and refusing large networks costs.

Cases (each in its own subprocess, so every peak belongs to one case):

* ``get_data``  1000 ``IF_cond_exp`` driven by 50 Poisson sources, ``v`` of all 1000 recorded
                for 10 s (dt 0.1 ms: 100,000 samples x 1000 = 0.8 GB of float64), then one
                ``get_data()``: its wall time, its peak (tracemalloc: memory allocated during
                the call, above what was held before; and the process's resident peak during
                the call, from Linux's resettable high-water mark) against the size of the data
                it returns; in ideal mode and on the wafer (``analog_recording_limit=False``: the
                wafer's 2 analog outputs per reticle could not record 1000 membranes).
* ``refuse``    ``Population(10_000_000, IF_cond_exp())`` on the wafer, which holds < 100,000
                neurons: time until the error, and the process's peak memory above the idle
                simulator.
* ``create``    the same 10 M (and 1 M) neurons in ideal mode, which accepts them: time and
                peak memory of the creation.
* ``long_write`` 100 s of ``v`` of 1000 neurons (8 GB of float64 in total) written
                incrementally: ``run(chunk)`` then ``write_data(<file>, clear=True)`` per chunk
                (a new PickleIO file per chunk, deleted after writing to save disk); peak RSS
                of the whole process, against one chunk's data.

The workers use the PyNN API only, so ``--tree DIR`` can measure another checkout (e.g. the
previous main in a ``git worktree``): its directory goes first on the workers' PYTHONPATH and
they run from a neutral directory.  Usage::

    python benchmarks/memory.py                        # all cases, this checkout
    python benchmarks/memory.py --tree /tmp/old --cases get_data,refuse
    python benchmarks/memory.py --json benchmarks/results/memory.json
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

MARKER = "MEMORY_RESULT "
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASES = ("get_data", "refuse", "create", "long_write")


# ------------------------------------------------------------------ memory probes (Linux)
def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def rss_mb() -> float:
    """Current resident set size (MB)."""
    return _status_kb("VmRSS") / 1024


def reset_peak() -> bool:
    """Reset the kernel's resident high-water mark (VmHWM) to the current RSS; False if this
    kernel does not allow it (then :func:`peak_mb` is the peak since the process started)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_mb() -> float:
    """Peak resident set size (MB) since the last :func:`reset_peak` (or the start)."""
    hwm = _status_kb("VmHWM")
    return (hwm or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024


# ------------------------------------------------------------------ workers
def _quiet():
    import warnings
    warnings.simplefilter("ignore")


def _network(sim, n: int, mode: str):
    sim.setup(timestep=0.1, ideal=(mode == "ideal"), analog_recording_limit=False,
              continue_despite_synapse_loss=True)
    src = sim.Population(50, sim.SpikeSourcePoisson(rate=20.0), label="input")
    pop = sim.Population(n, sim.IF_cond_exp(tau_refrac=2.0), label="neurons")
    sim.Projection(src, pop, sim.FixedProbabilityConnector(0.2, rng=sim.NumpyRNG(1)),
                   sim.StaticSynapse(weight=0.01, delay=1.0))
    pop.record("v")
    return pop


def worker_get_data(mode: str, n: int, simtime: float) -> dict:
    import tracemalloc
    _quiet()
    import pyNN.bss_emu as sim
    pop = _network(sim, n, mode)
    reset_peak()
    t0 = time.perf_counter()
    sim.run(simtime)
    run_s = time.perf_counter() - t0
    run_peak = peak_mb()
    held = rss_mb()
    reset_peak()
    tracemalloc.start()
    t0 = time.perf_counter()
    block = pop.get_data("v")
    get_s = time.perf_counter() - t0
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    call_peak = peak_mb()
    data = sum(s.nbytes for seg in block.segments for s in seg.analogsignals)
    out = {"mode": mode, "neurons": n, "simtime_ms": simtime, "data_mb": data / 2 ** 20,
           "dtype": str(block.segments[0].analogsignals[0].dtype),
           "run_s": run_s, "run_peak_mb": run_peak, "rss_before_get_mb": held,
           "get_s": get_s, "get_traced_peak_mb": traced_peak / 2 ** 20,
           "get_rss_peak_mb": call_peak,
           "get_rss_peak_above_before_mb": call_peak - held}
    sim.end()
    return out


def worker_refuse(n: int) -> dict:
    _quiet()
    import pyNN.bss_emu as sim
    sim.setup()
    idle = rss_mb()
    reset_peak()
    t0 = time.perf_counter()
    error, where = None, None
    try:
        sim.Population(n, sim.IF_cond_exp())
    except Exception as err:            # what the user sees
        error, where = f"{type(err).__name__}: {err}", "Population()"
    if error is None:
        try:
            sim.run(0.1)                # before issue 13: the mapping refused it
        except Exception as err:
            error, where = f"{type(err).__name__}: {err}", "run()"
    seconds = time.perf_counter() - t0
    peak = peak_mb()
    try:                                # still usable afterwards, without a new setup()?
        pop = sim.Population(10, sim.IF_cond_exp(tau_refrac=2.0))
        pop.record("spikes")
        sim.run(1.0)
        usable = True
    except Exception:
        usable = False
    return {"neurons": n, "seconds": seconds, "peak_above_idle_mb": peak - idle,
            "error": error, "raised_at": where, "usable_after": usable}


def worker_create(n: int) -> dict:
    _quiet()
    import pyNN.bss_emu as sim
    sim.setup(ideal=True)
    idle = rss_mb()
    reset_peak()
    t0 = time.perf_counter()
    pop = sim.Population(n, sim.IF_cond_exp())
    seconds = time.perf_counter() - t0
    return {"neurons": pop.size, "seconds": seconds, "peak_above_idle_mb": peak_mb() - idle,
            "held_mb": rss_mb() - idle}


def worker_long_write(mode: str, n: int, simtime: float, chunk: float) -> dict:
    _quiet()
    import pyNN.bss_emu as sim
    pop = _network(sim, n, mode)
    idle = rss_mb()
    reset_peak()
    t0 = time.perf_counter()
    written = 0
    with tempfile.TemporaryDirectory(prefix="bss_emu_memory_") as tmp:
        k = 0
        while sim.get_current_time() < simtime - 1e-9:
            sim.run(min(chunk, simtime - sim.get_current_time()))
            path = os.path.join(tmp, f"v_{k:03d}.pkl")
            pop.write_data(path, clear=True)
            written += os.path.getsize(path)
            os.remove(path)
            k += 1
    seconds = time.perf_counter() - t0
    chunk_data = n * (chunk / sim.get_time_step() + 1) * 8
    return {"mode": mode, "neurons": n, "simtime_ms": simtime, "chunk_ms": chunk,
            "chunks": k, "seconds": seconds, "written_mb": written / 2 ** 20,
            "chunk_data_mb": chunk_data / 2 ** 20, "peak_mb": peak_mb(),
            "peak_above_idle_mb": peak_mb() - idle}


# ------------------------------------------------------------------ parent
def _run_worker(args: list[str], tree: str | None, timeout: float) -> dict:
    env = dict(os.environ)
    env.setdefault("PYNN_BSS_EMU_PROGRESS", "0")
    cwd = ROOT
    if tree:
        env["PYTHONPATH"] = os.pathsep.join([tree] + [p for p in env.get("PYTHONPATH", "")
                                                      .split(os.pathsep) if p])
        cwd = tempfile.gettempdir()     # not the checkout: its package would come first
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", *args],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            return json.loads(line[len(MARKER):])
    return {"args": args, "failed": True, "returncode": proc.returncode,
            "stderr": proc.stderr[-2000:]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--tree", default=None, help="checkout to measure (default: this one)")
    p.add_argument("--modes", default="ideal,wafer", help="get_data modes")
    p.add_argument("--neurons", type=int, default=1000)
    p.add_argument("--simtime", type=float, default=10_000.0, help="get_data run (ms)")
    p.add_argument("--long-simtime", type=float, default=100_000.0)
    p.add_argument("--chunk", type=float, default=10_000.0, help="long_write chunk (ms)")
    p.add_argument("--long-mode", default="wafer")
    p.add_argument("--refuse-neurons", type=int, default=10_000_000)
    p.add_argument("--create-neurons", default="1000000,10000000")
    p.add_argument("--timeout", type=float, default=3600.0)
    p.add_argument("--json", default=None)
    p.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        kind, rest = a.worker[0], a.worker[1:]
        if kind == "get_data":
            res = worker_get_data(rest[0], int(rest[1]), float(rest[2]))
        elif kind == "refuse":
            res = worker_refuse(int(rest[0]))
        elif kind == "create":
            res = worker_create(int(rest[0]))
        else:
            res = worker_long_write(rest[0], int(rest[1]), float(rest[2]), float(rest[3]))
        print(MARKER + json.dumps(res), flush=True)
        return

    cases = [c for c in a.cases.split(",") if c]
    results: dict[str, list] = {c: [] for c in cases}
    print(f"tree: {a.tree or ROOT}")
    if "get_data" in cases:
        print("\nget_data of v, %d neurons, %g ms (dt 0.1 ms)" % (a.neurons, a.simtime))
        print(f"{'mode':6} {'data MB':>8} {'run s':>6} {'run peak MB':>11} "
              f"{'get s':>6} {'traced peak MB':>14} {'÷ data':>6} {'RSS peak MB':>11} "
              f"{'above held MB':>13} {'÷ data':>6}")
        for mode in a.modes.split(","):
            r = _run_worker(["get_data", mode, str(a.neurons), str(a.simtime)], a.tree,
                            a.timeout)
            results["get_data"].append(r)
            if r.get("failed"):
                print(mode, "FAILED", r["stderr"][-500:])
                continue
            d = r["data_mb"]
            print(f"{mode:6} {d:8.0f} {r['run_s']:6.1f} {r['run_peak_mb']:11.0f} "
                  f"{r['get_s']:6.1f} {r['get_traced_peak_mb']:14.0f} "
                  f"{r['get_traced_peak_mb'] / d:6.2f} {r['get_rss_peak_mb']:11.0f} "
                  f"{r['get_rss_peak_above_before_mb']:13.0f} "
                  f"{r['get_rss_peak_above_before_mb'] / d:6.2f}")
    if "refuse" in cases:
        r = _run_worker(["refuse", str(a.refuse_neurons)], a.tree, a.timeout)
        results["refuse"].append(r)
        print(f"\nwafer, Population({a.refuse_neurons:,}):", "FAILED " + r["stderr"][-500:]
              if r.get("failed") else
              f"refused at {r['raised_at']} after {r['seconds']:.2f} s, peak "
              f"{r['peak_above_idle_mb']:.0f} MB above the idle simulator, usable after: "
              f"{r['usable_after']}\n  {str(r['error'])[:400]}")
    if "create" in cases:
        for n in a.create_neurons.split(","):
            r = _run_worker(["create", n], a.tree, a.timeout)
            results["create"].append(r)
            print(f"ideal, Population({int(n):,}):", "FAILED " + r["stderr"][-500:]
                  if r.get("failed") else
                  f"{r['seconds']:.2f} s, peak {r['peak_above_idle_mb']:.0f} MB, held "
                  f"{r['held_mb']:.0f} MB above the idle simulator")
    if "long_write" in cases:
        r = _run_worker(["long_write", a.long_mode, str(a.neurons), str(a.long_simtime),
                         str(a.chunk)], a.tree, a.timeout)
        results["long_write"].append(r)
        print(f"\n{a.long_mode}: {a.long_simtime:g} ms of v of {a.neurons} neurons, "
              f"write_data(clear=True) every {a.chunk:g} ms:",
              "FAILED " + r["stderr"][-500:] if r.get("failed") else
              f"{r['chunks']} chunks, {r['written_mb']:.0f} MB written in {r['seconds']:.1f} s,"
              f" peak RSS {r['peak_mb']:.0f} MB ({r['peak_above_idle_mb']:.0f} MB above the "
              f"built network; one chunk's data {r['chunk_data_mb']:.0f} MB)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"tree": a.tree or ROOT, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
