#!/usr/bin/env python
"""The two public BrainScaleS-1 demos on NEST and on the emulator, against the real wafer.

The networks are the 2022 10 % cortical microcircuit and the 2023 balanced random network
(Brunel, 1/6), built by ``benchmarks/demo_networks.py`` exactly as the demos built them
(electronicvisions/brainscales1-demos).  Each network runs on

* ``nest``: ``pyNN.nest`` with the demos' per-neuron variations, weight jitter and calibrated
  delays: the reference the demos compared the wafer with;
* ``bss_emu``: ``pyNN.bss_emu`` with the demos' hardware settings (neuron size 8, capacitors,
  leak mode, voltage transform, speed-up 1e4, run despite synapse loss), other options default;
* ``marocco``: the same plus ``setup(preset="marocco")`` (what marocco and calibtic did by
  default); skipped with a note when ``setup()`` does not know the preset.

Printed side by side: per population the mean rate (Hz, every neuron, spikes after the
warm-up) and the mean CV of the inter-spike intervals (neurons with >= 3 spikes after the
warm-up), the ratio emulator / NEST of each rate and whether it is within a factor 2; the
synapse loss (requested, realised, lost, and the mapper's breakdown) next to what the real
wafer realised; where the emulator's spikes were lost (on the way to L1, on the way to the
host); wall time per stage and peak memory per simulator.

Each (network, point, simulator) runs in its own process (``--worker``), which prints one
``REAL_WAFER_RESULT {json}`` line; the parent collects them (the layout of ``coba.py``).
Only spikes are recorded.

Usage::

    python benchmarks/real_wafer.py                                  # both networks, 2 s bio
    python benchmarks/real_wafer.py --networks brunel --duration 1500
    python benchmarks/real_wafer.py --simulators nest,bss_emu --brunel-points 8:0.8,1:0.8
    python benchmarks/real_wafer.py --duration 10000 --json benchmarks/results/real_wafer.json
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import demo_networks as dn  # noqa: E402

MARKER = "REAL_WAFER_RESULT "
NETWORKS = ("microcircuit", "brunel")
SIMULATORS = ("nest", "bss_emu", "marocco")
#: the demos discard the first second ("allow the network behaviour to settle")
WARMUP_MS = 1000.0
#: a spike train needs this many spikes after the warm-up to enter the mean CV
MIN_SPIKES_FOR_CV = 3
#: what the real wafer realised (the demos' text; requested counts: demo_networks)
REAL_WAFER = {
    "microcircuit": {"requested": 2_987_316, "realised": dn.MICROCIRCUIT_REALISED_ON_WAFER},
    "brunel": {"requested": 847_781, "realised": dn.BRUNEL_REALISED_ON_WAFER},
}
#: the default Brunel points: the wafer's mapping point and the demo's high-rate example
DEFAULT_BRUNEL_POINTS = "8:0.8,1:0.8"


# ================================================================================= statistics
def spike_statistics(spiketrains, t_start: float, t_stop: float) -> dict:
    """Mean rate (Hz) over all ``len(spiketrains)`` neurons of the spikes in [t_start,
    t_stop) ms, and the mean CV of inter-spike intervals (std / mean, ddof 0, as elephant)
    over the neurons with >= MIN_SPIKES_FOR_CV spikes in that window."""
    n = len(spiketrains)
    times = [np.asarray(st.rescale("ms").magnitude, dtype=float) for st in spiketrains]
    ids = np.repeat(np.arange(n), [t.size for t in times]) if n else np.zeros(0, int)
    t = np.concatenate(times) if n else np.zeros(0)
    keep = (t >= t_start) & (t < t_stop)
    ids, t = ids[keep], t[keep]
    order = np.lexsort((t, ids))
    ids, t = ids[order], t[order]
    counts = np.bincount(ids, minlength=n)
    same = ids[1:] == ids[:-1]                      # consecutive spikes of one neuron
    isi, isi_id = np.diff(t)[same], ids[1:][same]
    s1 = np.bincount(isi_id, weights=isi, minlength=n)
    s2 = np.bincount(isi_id, weights=isi ** 2, minlength=n)
    k = np.maximum(counts - 1, 1)
    mean = s1 / k
    std = np.sqrt(np.maximum(s2 / k - mean ** 2, 0.0))
    ok = (counts >= MIN_SPIKES_FOR_CV) & (mean > 0)
    duration_s = (t_stop - t_start) / 1000.0
    return {"neurons": n, "spikes": int(counts.sum()),
            "rate_hz": float(counts.sum() / n / duration_s) if n else float("nan"),
            "cv": float(np.mean(std[ok] / mean[ok])) if ok.any() else float("nan"),
            "cv_neurons": int(ok.sum())}


def rate_ratio(emu: float, ref: float) -> tuple[float, bool | None]:
    """Emulator / NEST rate and whether it lies within a factor 2 (None: no NEST rate)."""
    if not np.isfinite(ref) or ref <= 0 or not np.isfinite(emu):
        return float("nan"), None
    r = emu / ref
    return r, bool(0.5 <= r <= 2.0)


_MISSING_ITEM = re.compile(r"'([^':]+): (\d+)'")


def recorded_missing_by_population(report_lines: list[str]) -> tuple[dict[str, int], bool]:
    """Recorded spikes missing per population, read from the wafer report's run line (it
    names the five populations with the most; True when it left some out)."""
    for line in report_lines:
        if line.startswith("recorded spikes missing"):
            names = line.split("(in ", 1)[1] if "(in " in line else ""
            head = names.split(");", 1)[0]
            return ({k: int(v) for k, v in _MISSING_ITEM.findall(head)},
                    bool(re.search(r" and \d+ more", head)))
    return {}, False


# ===================================================================================== worker
def _simulator_module(simulator: str):
    if simulator == "nest":
        import pyNN.nest as sim
    else:
        import pyNN.bss_emu as sim
    return sim


def _setup_kwargs(network: str, simulator: str, nest_threads: int) -> dict:
    target = "nest" if simulator == "nest" else "hardware"
    kw = (dn.microcircuit_setup_kwargs if network == "microcircuit"
          else dn.brunel_setup_kwargs)(target)
    if simulator == "nest":
        kw["threads"] = nest_threads
    else:
        kw["progress"] = False
    if simulator == "marocco":
        kw["preset"] = "marocco"
    return kw


def _preset_known() -> bool:
    """Whether this pyNN.bss_emu knows ``setup(preset=...)`` (unknown keywords are only
    warned about, so setup() alone would not tell)."""
    from pyNN_bss_emu.backend import options
    return "preset" in options.KEYWORDS


def _build(sim, network: str, simulator: str, g: float, eta: float) -> dn.DemoNetwork:
    target = "nest" if simulator == "nest" else "hardware"
    if network == "microcircuit":
        return dn.build_microcircuit(sim, target=target)
    return dn.build_brunel(sim, target=target, g=g, eta=eta)


def _emulator_figures(sim, net: dn.DemoNetwork, warnings_seen: list[str]) -> dict:
    """Mapping statistics, pulse counts, the wafer report and the mean routed delay."""
    stats = sim.get_mapping_statistics()
    pulses = sim.get_pulse_statistics()
    report = sim.get_wafer_report()
    missing, partial = recorded_missing_by_population(report.get("run", []))
    delays = []
    for projs in net.projections.values():
        for p in projs:
            d = np.asarray(p.get("delay", format="array"), dtype=float)
            delays.append(d[np.isfinite(d)])
    delays = np.concatenate(delays) if delays else np.zeros(0)
    return {
        "synapses": {"requested": stats.synapses_requested,
                     "realised": stats.synapses_realized, "lost": stats.synapses_lost,
                     "lost_l1": stats.synapses_lost_l1,
                     "lost_drivers": stats.synapses_lost_drivers,
                     "lost_synapse_array": stats.synapses_lost_synapse_array,
                     "lost_multapse": stats.synapses_lost_multapse,
                     "hicanns_used": stats.hicanns_used, "l1_routes": stats.l1_routes,
                     "l1_routes_failed": stats.l1_routes_failed,
                     "timings_s": dict(stats.timings)},
        "pulses": {k: int(v) for k, v in pulses.items() if np.isscalar(v)},
        "pulses_per_population": pulses.get("per_population"),
        "recorded_missing": missing, "recorded_missing_partial": partial,
        "report": report, "mean_routed_delay_ms": float(delays.mean()) if delays.size else None,
        "warnings": warnings_seen[:20],
    }


def run_worker(args: argparse.Namespace) -> dict:
    """One network on one simulator: setup, build, map (emulator), run, statistics."""
    result = {"network": args.network, "simulator": args.worker, "g": args.g, "eta": args.eta,
              "duration_ms": args.duration, "warmup_ms": args.warmup}
    sim = _simulator_module(args.worker)
    if args.worker == "marocco" and not _preset_known():
        result["unavailable"] = "setup(preset='marocco') is not known to this pyNN.bss_emu"
        return result
    kw = _setup_kwargs(args.network, args.worker, args.nest_threads)
    seen: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        try:
            sim.setup(**kw)
        except (TypeError, ValueError) as err:
            result["unavailable"] = f"setup() refused {kw}: {err}"
            return result
        t1 = time.perf_counter()
        net = _build(sim, args.network, args.worker, args.g, args.eta)
        t2 = time.perf_counter()
        if args.worker != "nest":
            sim.run(0)                  # the mapping, timed on its own
        t3 = time.perf_counter()
        sim.run(args.duration)
        t4 = time.perf_counter()
        seen.extend(f"{type(w.message).__name__}: {w.message}" for w in caught)
    pops = {}
    for label, pop in net.populations.items():
        trains = pop.get_data("spikes", clear=True).segments[-1].spiketrains
        pops[label] = spike_statistics(trains, args.warmup, args.duration)
    result.update({"setup_kwargs": {k: v for k, v in kw.items()},
                   "neurons": net.neurons, "requested_synapses": net.requested_synapses,
                   "projections": sum(len(v) for v in net.projections.values()),
                   "populations": pops,
                   "time_s": {"setup": t1 - t0, "build": t2 - t1, "map": t3 - t2,
                              "run": t4 - t3, "total": t4 - t0},
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    if args.worker != "nest":
        result.update(_emulator_figures(sim, net, seen))
    sim.end()
    return result


# ===================================================================================== parent
def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("numpy", "pyNN", "nest", "numba", "pyNN_bss_emu"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = __import__(name)
            out[name] = getattr(module, "__version__", "?")
        except Exception as err:            # a missing simulator is reported, not fatal
            out[name] = f"unavailable ({type(err).__name__})"
    try:
        out["commit"] = subprocess.run(["git", "-C", str(HERE.parent), "rev-parse", "--short",
                                        "HEAD"], capture_output=True, text=True,
                                       check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        out["commit"] = "?"
    return out


def _machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        mem = f", {kb / 2**20:.1f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (f"{platform.node()}: {platform.machine()}, {platform.processor() or '?'}, "
            f"{os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}")


def _spawn(network: str, simulator: str, g: float, eta: float, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", simulator,
           "--network", network, "--g", str(g), "--eta", str(eta),
           "--duration", str(args.duration), "--warmup", str(args.warmup),
           "--nest-threads", str(args.nest_threads)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith(MARKER):
            result = json.loads(line[len(MARKER):])
            result["process_s"] = time.perf_counter() - t0
            return result
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    return {"network": network, "simulator": simulator, "g": g, "eta": eta,
            "failed": f"exit {proc.returncode}: " + " | ".join(tail)}


def _fmt(x, spec: str = ".2f") -> str:
    return "-" if x is None or (isinstance(x, float) and not np.isfinite(x)) else format(x, spec)


def _print_rates(runs: dict, labels: list[str]) -> None:
    ref = runs.get("nest")
    emus = [s for s in ("bss_emu", "marocco") if s in runs]
    head = f"{'pop':>5} | {'NEST Hz':>8} {'CV':>5}"
    for s in emus:
        head += f" | {s + ' Hz':>11} {'CV':>5} {'ratio':>6} {'≤2x':>4}"
    print(head)
    print("-" * len(head))
    for label in labels:
        r = ref["populations"][label] if ref else {}
        row = f"{label:>5} | {_fmt(r.get('rate_hz')):>8} {_fmt(r.get('cv')):>5}"
        for s in emus:
            e = runs[s]["populations"][label]
            ratio, ok = rate_ratio(e["rate_hz"], r.get("rate_hz", float("nan")))
            flag = "-" if ok is None else ("yes" if ok else "NO")
            row += (f" | {_fmt(e['rate_hz']):>11} {_fmt(e['cv']):>5} {_fmt(ratio):>6} "
                    f"{flag:>4}")
        print(row)


def _print_synapses(network: str, runs: dict) -> None:
    real = REAL_WAFER[network]
    lost = real["requested"] - real["realised"]
    print(f"\n{'synapses':<16} {'requested':>10} {'realised':>10} {'lost %':>7} "
          f"{'L1':>8} {'drivers':>8} {'slots':>7} {'multap.':>7} {'HICANNs':>7}")
    print(f"{'real wafer':<16} {real['requested']:>10,} {real['realised']:>10,} "
          f"{100 * lost / real['requested']:>7.1f} {'':>8} {'':>8} {'':>7} {'':>7} {'':>7}")
    for s in ("bss_emu", "marocco"):
        if s not in runs:
            continue
        syn = runs[s]["synapses"]
        print(f"{s:<16} {syn['requested']:>10,} {syn['realised']:>10,} "
              f"{100 * syn['lost'] / syn['requested']:>7.1f} {syn['lost_l1']:>8,} "
              f"{syn['lost_drivers']:>8,} {syn['lost_synapse_array']:>7,} "
              f"{syn['lost_multapse']:>7,} {syn['hicanns_used']:>7}")


def _print_spike_paths(runs: dict, labels: list[str]) -> None:
    """Where the emulator's spikes got lost: on the way to L1 (priority encoder, DNC merger;
    lost spikes reach no target) and on the way to the host (HICANN link, FPGA)."""
    for s in ("bss_emu", "marocco"):
        if s not in runs:
            continue
        p = runs[s]["pulses"]
        fired = p.get("l1_neuron_sent", 0) + p.get("l1_neuron_lost", 0)
        up = p.get("l2_up_sent", 0) + p.get("l2_up_lost", 0)
        print(f"\n{s}: spikes lost on the way to L1 (all populations): "
              f"{p.get('l1_neuron_lost', 0):,} of {fired:,} "
              f"({_fmt(100 * p.get('l1_neuron_lost', 0) / fired if fired else None, '.1f')} %; "
              f"{p.get('l1_encoder_lost', 0):,} at priority encoders, "
              f"{p.get('l1_merger_lost', 0):,} at DNC mergers); recorded spikes lost on the "
              f"way to the host: {p.get('l2_up_lost', 0):,} of {up:,} "
              f"({_fmt(100 * p.get('l2_up_lost', 0) / up if up else None, '.1f')} %)")
        # the rate columns come from the recording: where spikes never reached the host they
        # are too low; the pulse counts hold every spike the neurons fired
        neurons = sum(v["neurons"] for v in runs[s]["populations"].values())
        seconds = runs[s]["duration_ms"] / 1000.0
        recorded = sum(v["spikes"] for v in runs[s]["populations"].values())
        print(f"  fired {fired / neurons / seconds:.2f} Hz per neuron over the whole run "
              f"(pulse counts, warm-up included); recorded after the warm-up "
              f"{recorded / neurons / (seconds - runs[s]['warmup_ms'] / 1000.0):.2f} Hz")
        per_pop = runs[s].get("pulses_per_population")
        missing = runs[s].get("recorded_missing", {})
        row = "  lost to the host per population (from the wafer report): "
        items = []
        for label in labels:
            got = runs[s]["populations"][label]["spikes"]
            if label in missing:
                items.append(f"{label} {100 * missing[label] / (got + missing[label]):.1f} %")
        if runs[s].get("recorded_missing_partial"):
            items.append("others fewer (the report names five)")
        print(row + (", ".join(items) if items else "none material"))
        if per_pop:
            print(f"  per population (get_pulse_statistics): {per_pop}")
        else:
            print("  lost on the way to L1 per population: not counted by the emulator "
                  "(get_pulse_statistics has totals only)")


def _print_times(runs: dict) -> None:
    print(f"\n{'wall time s':<12} {'setup':>7} {'build':>7} {'map':>7} {'run':>8} "
          f"{'total':>8} {'process':>8} {'RSS MB':>7}")
    for s, r in runs.items():
        t = r["time_s"]
        print(f"{s:<12} {t['setup']:>7.1f} {t['build']:>7.1f} {t['map']:>7.1f} "
              f"{t['run']:>8.1f} {t['total']:>8.1f} {r.get('process_s', 0):>8.1f} "
              f"{r['peak_rss_mb']:>7.0f}")


def print_table(network: str, point: tuple[float, float] | None, results: list[dict],
                args) -> None:
    """One network (and Brunel point): rates, synapses, spike paths, wall time."""
    title = ("10 % cortical microcircuit (2022 demo)" if network == "microcircuit"
             else f"balanced random network (2023 demo), g = {point[0]:g}, eta = {point[1]:g}")
    print(f"\n=== {title}: {args.duration:g} ms bio; rates over all neurons after the "
          f"{args.warmup:g} ms warm-up, CV over neurons with >= {MIN_SPIKES_FOR_CV} spikes "
          "after it ===")
    runs = {}
    for r in results:
        if "failed" in r:
            print(f"{r['simulator']}: FAILED: {r['failed']}")
        elif "unavailable" in r:
            print(f"{r['simulator']}: unavailable: {r['unavailable']}")
        else:
            runs[r["simulator"]] = r
    if not runs:
        return
    labels = list(next(iter(runs.values()))["populations"])
    _print_rates(runs, labels)
    _print_synapses(network, runs)
    _print_spike_paths(runs, labels)
    _print_times(runs)
    for s in ("bss_emu", "marocco"):
        if s in runs and runs[s].get("mean_routed_delay_ms") is not None:
            print(f"{s}: mean routed delay {runs[s]['mean_routed_delay_ms']:.3f} ms")


def _points(text: str) -> list[tuple[float, float]]:
    points = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        try:
            g, eta = (float(x) for x in item.split(":"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"--brunel-points item {item!r}: expected g:eta, e.g. 8:0.8") from None
        if not (g > 0 and eta > 0):
            raise argparse.ArgumentTypeError(f"--brunel-points item {item!r}: g and eta > 0")
        points.append((g, eta))
    return points


def _names(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [n for n in names if n not in allowed]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"--{what} {text!r}: expected a comma-separated "
                                         f"subset of {', '.join(allowed)}")
    return names


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=2000.0,
                   help="biological time per run in ms (the demos ran 10000; default 2000)")
    p.add_argument("--warmup", type=float, default=WARMUP_MS,
                   help="spikes before this time (ms) are not evaluated (the demos' 1000)")
    p.add_argument("--networks", default=",".join(NETWORKS),
                   type=lambda s: _names(s, NETWORKS, "networks"))
    p.add_argument("--simulators", default=",".join(SIMULATORS),
                   type=lambda s: _names(s, SIMULATORS, "simulators"))
    p.add_argument("--brunel-points", default=DEFAULT_BRUNEL_POINTS, type=_points,
                   help="g:eta pairs (default: the wafer's mapping point 8:0.8 and the "
                        "demo's high-rate example 1:0.8)")
    p.add_argument("--nest-threads", type=int, default=1)
    p.add_argument("--json", metavar="PATH", help="write every result to this file")
    p.add_argument("--worker", choices=SIMULATORS, help=argparse.SUPPRESS)
    p.add_argument("--network", choices=NETWORKS, help=argparse.SUPPRESS)
    p.add_argument("--g", type=float, default=dn.BRUNEL_MAPPING_G, help=argparse.SUPPRESS)
    p.add_argument("--eta", type=float, default=dn.BRUNEL_ETA, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if not args.duration > args.warmup >= 0:
        p.error(f"--duration {args.duration:g} must exceed --warmup {args.warmup:g} (ms)")
    if args.nest_threads < 1:
        p.error(f"--nest-threads {args.nest_threads}: expected >= 1")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.worker:
        result = run_worker(args)
        print(MARKER + json.dumps(result, default=float))
        return
    versions = _versions()
    print(f"real_wafer.py, {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"machine: {_machine()}")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    all_results = []
    t0 = time.perf_counter()
    for network in args.networks:
        points = [None] if network == "microcircuit" else args.brunel_points
        for point in points:
            g, eta = point if point else (dn.BRUNEL_MAPPING_G, dn.BRUNEL_ETA)
            results = [_spawn(network, s, g, eta, args) for s in args.simulators]
            all_results.extend(results)
            print_table(network, point, results, args)
            sys.stdout.flush()
    print(f"\nwhole benchmark: {time.perf_counter() - t0:.0f} s wall")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"versions": versions, "machine": _machine(),
                                               "args": {k: v for k, v in vars(args).items()},
                                               "results": all_results}, indent=1,
                                              default=float))


if __name__ == "__main__":
    main()
