"""``python -m pyNN_bss_emu``: version, resources of the emulated wafer, and a self-check.

    python -m pyNN_bss_emu                 # version and the wafer's resources
    python -m pyNN_bss_emu --self-check    # ... and a short self-check (a few seconds)
    python -m pyNN_bss_emu --json          # the same as JSON (machine readable)

The self-check is opt-in (``--self-check``) so that the plain command answers at once.  It runs
one tiny deterministic network (spike-array input -> 20 neurons -> 10 neurons) on the ideal
engine (twice: results must be identical), on the emulated wafer (it must map without synapse
loss and give spike counts within a factor 3 of the ideal engine: the wafer's 4-bit weights
and calibrated parameters differ a little) and, if NEST is importable (``pyNN.nest``) and
``--no-nest`` is not given, on NEST (spike counts of the ideal engine within 2 % + 2 spikes of
NEST's).  It prints one PASS/FAIL line per check and exits with status 1 if any check fails.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: spike-count tolerance of the ideal engine against NEST (relative, plus absolute spikes);
#: the cross-check tests (tests/test_nest_crosscheck.py) require 2 %
NEST_COUNT_RTOL = 0.02
NEST_COUNT_ATOL = 2
#: the wafer's spike counts must lie within this factor of the ideal engine's
WAFER_COUNT_FACTOR = 3.0
DURATION_MS = 300.0


def package_version() -> str:
    """Installed version (package metadata), else the one in setup.cfg, else 'unknown'."""
    import importlib.metadata
    try:
        return importlib.metadata.version("pyNN_bss_emu")
    except importlib.metadata.PackageNotFoundError:
        pass
    import configparser
    cfg = configparser.ConfigParser()
    cfg.read(Path(__file__).resolve().parent.parent / "setup.cfg")
    return cfg.get("metadata", "version", fallback="unknown")


def wafer_resources() -> dict:
    """The emulated wafer's resources (machine-readable keys, SI units for rates), from the
    backend's constants (``hardware/wafer.py``, ``hardware/event_paths.py``,
    ``mapping/pipeline.py`` and the ``setup()`` option tree in ``backend/options.py``)."""
    from .backend import options
    from .hardware import event_paths as ev
    from .hardware import wafer
    from .mapping import pipeline
    speedup = options.KEYWORDS["speedup"]
    return {
        "hicanns": wafer.N_HICANN,
        "grid": [wafer.GRID_WIDTH, wafer.GRID_HEIGHT],
        "reticles": wafer.N_RETICLES,
        "hicanns_per_reticle": wafer.N_HICANN // wafer.N_RETICLES,
        "denmems_per_hicann": wafer.DENMEMS_PER_HICANN,
        "denmem_columns": wafer.DENMEM_COLUMNS,
        "denmem_rows": wafer.DENMEM_ROWS,
        "neuron_blocks_per_hicann": wafer.N_NEURON_BLOCKS,
        "max_neuron_size": wafer.MAX_NEURON_SIZE,
        "synapse_drivers_per_hicann": wafer.N_SYNAPSE_DRIVERS,
        "synapse_drivers_per_quadrant": wafer.DRIVERS_PER_QUADRANT,
        "default_driver_chain_length": wafer.DEFAULT_CHAIN_LENGTH,
        "synapse_rows": wafer.SYNAPSE_ROWS,
        "synapses_per_hicann": wafer.SYNAPSES_PER_HICANN,
        "hlines_per_hicann": wafer.N_HLINES,
        "vlines_per_hicann": wafer.N_VLINES,
        "dnc_mergers_per_hicann": wafer.N_DNC_MERGERS,
        "usable_l1_addresses": len(wafer.USABLE_ADDRESSES),
        "reserved_l1_addresses": list(wafer.RESERVED_ADDRESSES),
        "speedup_default": float(options.setup_keywords()["speedup"][0]),
        "speedup_range": [float(speedup.accepts.lo), float(speedup.accepts.hi)],
        "fpga_event_rate_hz": ev.FPGA_EVENT_RATE_HZ,
        "hicann_link_event_rate_hz": ev.HICANN_LINK_EVENT_RATE_HZ,
        "priority_encoder_event_rate_hz": ev.PLL_HZ / ev.ENCODER_CYCLES,
        "dnc_merger_event_rate_hz": ev.MERGER_SLOW_RATE_HZ,
        "timestamp_resolution_s": ev.TIMESTAMP_S,
        "routed_delay_per_hicann_ms": pipeline.DELAY_PER_HOP_MS,
        "routed_delay_offset_ms": pipeline.DELAY_OFFSET_MS,
    }


def resource_table(r: dict) -> list[tuple[str, str, str]]:
    """(name, value, note) rows of :func:`wafer_resources` for printing."""
    speedup = r["speedup_default"]

    def mhz(rate_hz: float, per: str) -> tuple[str, str]:
        return (f"{rate_hz / 1e6:g} MHz",
                f"per {per}; {rate_hz / speedup:,.0f} events/s of biological time")

    return [
        ("HICANNs", f"{r['hicanns']}", f"on a {r['grid'][0]} x {r['grid'][1]} grid"),
        ("reticles (DNCs, FPGAs)", f"{r['reticles']}", f"{r['hicanns_per_reticle']} HICANNs "
                                                       "each"),
        ("denmems per HICANN", f"{r['denmems_per_hicann']}",
         f"{r['denmem_columns']} columns x {r['denmem_rows']} rows, "
         f"{r['neuron_blocks_per_hicann']} neuron blocks; "
         f"{r['denmems_per_hicann'] * r['hicanns']:,} on the wafer"),
        ("denmems per logical neuron", f"2..{r['max_neuron_size']}", "even"),
        ("synapse drivers per HICANN", f"{r['synapse_drivers_per_hicann']}",
         f"{r['synapse_drivers_per_quadrant']} per quadrant, 2 synapse rows each; default "
         f"chain length {r['default_driver_chain_length']}"),
        ("synapses per HICANN", f"{r['synapses_per_hicann']:,}",
         f"{r['synapse_rows']} rows x {r['denmem_columns']} columns, 4-bit weights; "
         f"{r['synapses_per_hicann'] * r['hicanns']:,} on the wafer"),
        ("L1 buses per HICANN", f"{r['hlines_per_hicann']} H + {r['vlines_per_hicann']} V",
         "horizontal + vertical"),
        ("DNC mergers per HICANN", f"{r['dnc_mergers_per_hicann']}", "one L1 output each"),
        ("usable L1 addresses", f"{r['usable_l1_addresses']}",
         f"of 64 per DNC merger (reserved: {', '.join(map(str, r['reserved_l1_addresses']))})"),
        ("speed-up (default)", f"{speedup:g}",
         f"setup(speedup=...) from {r['speedup_range'][0]:g} to {r['speedup_range'][1]:g}"),
        ("FPGA stimulus bandwidth", *mhz(r["fpga_event_rate_hz"], "FPGA")),
        ("HICANN link bandwidth", *mhz(r["hicann_link_event_rate_hz"], "HICANN")),
        ("priority encoder rate", *mhz(r["priority_encoder_event_rate_hz"], "neuron block")),
        ("DNC merger rate", *mhz(r["dnc_merger_event_rate_hz"], "merger")),
        ("timestamp resolution", f"{r['timestamp_resolution_s'] * 1e9:g} ns",
         f"{r['timestamp_resolution_s'] * speedup * 1e3:g} ms of biological time"),
        ("routed delay per HICANN", f"{r['routed_delay_per_hicann_ms']:g} ms",
         f"+ {r['routed_delay_offset_ms']:g} ms (biological time); no programmable delays"),
    ]


# ================================================================== self-check
def _network(sim, wafer: bool) -> dict:
    """A tiny deterministic network; returns spike counts per population and mapping info."""
    import numpy as np
    # on the wafer: no defects, 8 denmems per neuron (room for the 20 inputs of an output
    # neuron on the synapse drivers)
    options = dict(defects="none", neuron_size=8) if wafer else {}
    if sim.__name__.endswith("bss_emu"):
        options["ideal"] = not wafer
    sim.setup(timestep=0.1, min_delay=0.1, **options)
    cell = dict(tau_m=20.0, v_rest=-60.0, v_thresh=-50.0, v_reset=-60.0, tau_refrac=5.0,
                tau_syn_E=5.0, tau_syn_I=10.0, e_rev_I=-80.0)
    times = [list(np.round(np.arange(5.0 + 1.3 * k, DURATION_MS - 5.0, 9.0 + k), 1))
             for k in range(10)]
    stim = sim.Population(10, sim.SpikeSourceArray(spike_times=times), label="stimulus")
    hidden = sim.Population(20, sim.IF_cond_exp(**cell), label="hidden")
    out = sim.Population(10, sim.IF_cond_exp(**cell), label="output")
    conn1 = [(i, j, 0.004 + 0.0005 * j, 1.0) for i in range(10) for j in range(20)]
    conn2 = [(i, j, 0.003 + 0.0004 * (i + j), 1.0) for i in range(20) for j in range(10)]
    sim.Projection(stim, hidden, sim.FromListConnector(conn1, column_names=["weight", "delay"]),
                   sim.StaticSynapse(), receptor_type="excitatory")
    sim.Projection(hidden, out, sim.FromListConnector(conn2, column_names=["weight", "delay"]),
                   sim.StaticSynapse(), receptor_type="excitatory")
    hidden.record("spikes")
    out.record("spikes")
    sim.run(DURATION_MS)
    result = {p.label: int(sum(p.get_spike_counts().values())) for p in (hidden, out)}
    result["trains"] = [np.asarray(st.magnitude).tolist()
                        for st in hidden.get_data().segments[0].spiketrains]
    if wafer:
        stats = sim.get_mapping_statistics()
        result["synapses_lost"] = stats.synapses_lost
        result["hicanns_used"] = stats.hicanns_used
    sim.end()
    return result


def self_check(use_nest: bool = True, out=None) -> bool:
    """Run the self-check (see the module docstring); prints to ``out`` (default stdout) and
    returns True on success."""
    out = sys.stdout if out is None else out
    import os
    import warnings
    results: list[bool] = []

    def check(ok: bool, what: str) -> None:
        results.append(bool(ok))
        print(f"  [{'PASS' if ok else 'FAIL'}] {what}", file=out)

    print(f"self-check: a 10 -> 20 -> 10 network, {DURATION_MS:g} ms", file=out)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pyNN.bss_emu as sim
        ideal = _network(sim, wafer=False)
        again = _network(sim, wafer=False)
        n_ideal = ideal["hidden"] + ideal["output"]
        check(ideal["hidden"] > 0 and ideal["output"] > 0,
              f"ideal engine: {ideal['hidden']} + {ideal['output']} spikes (hidden + output)")
        check(again == ideal, "ideal engine: a second run gives identical spike trains")
        try:
            chip = _network(sim, wafer=True)
        except Exception as err:   # noqa: BLE001 - reported as a failed check
            check(False, f"emulated wafer: {type(err).__name__}: {err}")
        else:
            check(chip["synapses_lost"] == 0,
                  f"emulated wafer: mapped on {chip['hicanns_used']} HICANN(s), "
                  f"{chip['synapses_lost']} synapses lost")
            n_chip = chip["hidden"] + chip["output"]
            ok = n_ideal > 0 and 1 / WAFER_COUNT_FACTOR <= n_chip / n_ideal <= WAFER_COUNT_FACTOR
            check(ok, f"emulated wafer: {chip['hidden']} + {chip['output']} spikes "
                      f"({n_chip / max(n_ideal, 1):.2f} x the ideal engine; allowed "
                      f"{1 / WAFER_COUNT_FACTOR:g}..{WAFER_COUNT_FACTOR:g})")
        if use_nest:
            os.environ.setdefault("PYNEST_QUIET", "1")   # no NEST banner
            try:
                import pyNN.nest as nest_sim
            except Exception as err:   # noqa: BLE001 - NEST is optional
                print(f"  [SKIP] NEST comparison: pyNN.nest not importable "
                      f"({type(err).__name__})", file=out)
            else:
                ref = _network(nest_sim, wafer=False)
                for label in ("hidden", "output"):
                    a, b = ideal[label], ref[label]
                    check(abs(a - b) <= NEST_COUNT_RTOL * b + NEST_COUNT_ATOL,
                          f"ideal engine vs NEST, {label}: {a} vs {b} spikes (allowed "
                          f"{100 * NEST_COUNT_RTOL:g} % + {NEST_COUNT_ATOL})")
        else:
            print("  [SKIP] NEST comparison (--no-nest)", file=out)
    ok = all(results)
    print(f"self-check {'PASS' if ok else 'FAIL'} ({sum(results)} of {len(results)} checks "
          "passed)", file=out)
    return ok


# ================================================================== command line
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pyNN_bss_emu",
        description="pyNN.bss_emu, a PyNN backend emulating the BrainScaleS-1 wafer-scale "
                    "system: prints the version and the resources of the emulated wafer "
                    "(from the backend's hardware constants); with --self-check also runs a "
                    "short self-check.",
        epilog="Self-check: one tiny deterministic network (10 spike sources -> 20 -> 10 "
               "IF_cond_exp neurons, 300 ms) runs on the ideal engine twice (identical "
               "results), on the emulated wafer (no synapse loss, spike counts within a "
               "factor 3 of the ideal engine) and, when pyNN.nest is importable, on NEST "
               "(ideal-engine spike counts within 2 % + 2 spikes).  Exit status: 0 on "
               "success, 1 if a check fails.")
    p.add_argument("--self-check", action="store_true",
                   help="also run the self-check (a few seconds); exit status 1 on failure")
    p.add_argument("--no-nest", action="store_true",
                   help="skip the comparison with NEST in the self-check")
    p.add_argument("--json", action="store_true",
                   help="print version and resources (and the self-check result) as JSON")
    p.add_argument("--version", action="version", version=f"pyNN_bss_emu {package_version()}",
                   help="print only the version and exit")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    version = package_version()
    resources = wafer_resources()
    if args.json:
        doc = {"version": version, "resources": resources}
        if args.self_check:
            import io
            log = io.StringIO()
            doc["self_check"] = self_check(not args.no_nest, out=log)
            doc["self_check_log"] = log.getvalue().splitlines()
        print(json.dumps(doc, indent=2))
        return 0 if doc.get("self_check", True) else 1
    print(f"pyNN_bss_emu {version} (PyNN backend pyNN.bss_emu, emulated BrainScaleS-1 wafer)")
    print("emulated wafer resources (rates in biological time at the default speed-up):")
    rows = resource_table(resources)
    width = max(len(name) for name, _, _ in rows)
    for name, value, note in rows:
        print(f"  {name:<{width}}  {value:>14}  {note}")
    if not args.self_check:
        return 0
    print()
    return 0 if self_check(not args.no_nest) else 1


if __name__ == "__main__":
    sys.exit(main())
