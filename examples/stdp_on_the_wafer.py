"""Spike-timing-dependent plasticity on three backends: the same plastic network, the same
input spikes, on ``pyNN.nest``, on ``pyNN.bss_emu`` in ideal mode (NEST's ``stdp_synapse``
rule) and on ``pyNN.bss_emu``'s emulated wafer (the synapse array's own STDP circuit).

Twenty inputs drive four ``IF_cond_exp`` neurons through STDP synapses (``SpikePairRule``,
``AdditiveWeightDependence``).  Ten inputs fire in a correlated group: each copies half of
the spikes of one shared "mother" train, with 1 ms of jitter; the other ten are independent.
All fire at 10 Hz.  The correlated inputs make the neurons fire a few ms after them, so their
synapses see more causal pairs and grow; the independent ones, with depression slightly
stronger than potentiation, decay.  The weights are sampled with ``run(callbacks=[...])``.

Each backend runs in its own process (``--worker``; NEST and bss_emu do not share a process
cleanly), which prints one ``STDP_RESULT {json}`` line.  The parent draws one figure, three
panels side by side (weight against time, mean and spread of the correlated and of the
independent synapses), and prints the final mean weights per backend.

    python examples/stdp_on_the_wafer.py                        # 15 s, all three backends
    python examples/stdp_on_the_wafer.py --duration 3000 --output results/stdp.png
    python examples/stdp_on_the_wafer.py --backends ideal,wafer  # without NEST
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np

MARKER = "STDP_RESULT "
BACKENDS = {                    # name -> label in the figure and the summary
    "nest": "pyNN.nest",
    "ideal": "bss_emu, ideal=True",
    "wafer": "bss_emu, wafer",
}

# ------------------------------------------------------------------ the network
N_CORRELATED = 10               # inputs 0..9 share spikes of one mother train
N_INDEPENDENT = 10              # inputs 10..19 are independent Poisson trains
N_NEURONS = 4
RATE = 10.0                     # Hz, every input
CORRELATION = 0.5               # share of the mother train's spikes each correlated input copies
JITTER = 1.0                    # ms, s.d. of the Gaussian jitter of the copied spikes
DT = 0.1                        # ms
DELAY = 1.0                     # ms, all of it dendritic (PyNN's default fraction 1)
#: synaptic weights in µS.  With cm = 0.2 nF the neurons fire at about 22 Hz on NEST and 28 Hz
#: on the wafer; 4.5 nS is well inside the 4-bit range of a size-4 neuron on the wafer (about
#: 24 nS at the largest row setting, docs/substrate.md)
W_MAX = 0.0045
W_INIT = 0.5 * W_MAX
#: spike-pair rule; A_minus / A_plus = 1.5 makes uncorrelated pairs depress on balance
TAU_PLUS = 20.0                 # ms
TAU_MINUS = 20.0                # ms
A_PLUS = 0.02                   # fraction of w_max per pair
A_MINUS = 0.03
CELL = {"cm": 0.2, "tau_m": 20.0, "v_rest": -60.0, "v_reset": -60.0, "v_thresh": -50.0,
        "tau_refrac": 5.0, "tau_syn_E": 5.0, "tau_syn_I": 10.0, "e_rev_E": 0.0,
        "e_rev_I": -80.0}       # nF, ms, mV: the COBA cell of benchmarks/coba.py


def input_spike_trains(duration: float, seed: int) -> list[np.ndarray]:
    """Spike times (ms, on the dt grid, sorted, unique) of the 20 inputs over ``duration`` ms.

    Correlated input: each spike of the mother train (``RATE`` Hz) kept with probability
    ``CORRELATION`` and shifted by N(0, ``JITTER``), plus its own Poisson train at
    ``RATE * (1 - CORRELATION)``, so that every input fires at ``RATE``."""
    rng = np.random.default_rng(seed)

    def poisson(rate_hz: float) -> np.ndarray:
        return rng.uniform(0.0, duration, rng.poisson(rate_hz * duration / 1000.0))

    mother = poisson(RATE)
    trains = []
    for i in range(N_CORRELATED + N_INDEPENDENT):
        if i < N_CORRELATED:
            copied = mother[rng.random(mother.size) < CORRELATION]
            t = np.concatenate([copied + rng.normal(0.0, JITTER, copied.size),
                                poisson(RATE * (1.0 - CORRELATION))])
        else:
            t = poisson(RATE)
        # on the time grid, after t = 0 and before the end (a source cannot fire at 0)
        t = np.round(np.clip(t, DT, duration - DT) / DT) * DT
        trains.append(np.unique(t))
    return trains


def build(sim, trains: list[np.ndarray]):
    """Sources, neurons and the plastic projection on backend ``sim`` (after setup)."""
    from pyNN.parameters import Sequence     # one spike train per source
    sources = sim.Population(len(trains), sim.SpikeSourceArray(
        spike_times=[Sequence(t) for t in trains]), label="inputs")
    neurons = sim.Population(N_NEURONS, sim.IF_cond_exp(**CELL), label="neurons")
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=TAU_PLUS, tau_minus=TAU_MINUS,
                                            A_plus=A_PLUS, A_minus=A_MINUS),
        weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=W_MAX),
        weight=W_INIT, delay=DELAY)
    projection = sim.Projection(sources, neurons, sim.AllToAllConnector(), stdp,
                                receptor_type="excitatory", label="inputs→neurons")
    neurons.record("spikes")
    return neurons, projection


def setup_kwargs(backend: str) -> dict:
    """setup() arguments per backend."""
    kw = {"timestep": DT, "min_delay": DT}
    if backend == "nest":
        kw["verbosity"] = "error"
    elif backend == "ideal":
        kw["ideal"] = True
    else:
        # mapping 20 sources onto 4 neurons loses nothing; should it, run and report it
        kw["continue_despite_synapse_loss"] = True
    return kw


# ------------------------------------------------------------------ one backend (worker)
def worker(backend: str, duration: float, interval: float, seed: int) -> dict:
    """Run the network on ``backend`` in this process; weights (µS) every ``interval`` ms."""
    sim = importlib.import_module("pyNN.nest" if backend == "nest" else "pyNN.bss_emu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sim.setup(**setup_kwargs(backend))
        neurons, projection = build(sim, input_spike_trains(duration, seed))
        times, weights = [], []

        def sample_weights(t: float) -> float:
            times.append(t)
            # (inputs, neurons); NaN where the wafer lost a synapse
            weights.append(projection.get("weight", format="array").tolist())
            return t + interval

        if backend == "wafer":
            # the wafer maps the network at the first run(): map it first, so that the first
            # sample shows the realised 4-bit weights, not the requested ones
            sim.run(0.0)
        t0 = time.perf_counter()
        sim.run(duration, callbacks=[sample_weights])
        run_s = time.perf_counter() - t0
        if not times or times[-1] < sim.get_current_time():   # the weights at the very end
            sample_weights(sim.get_current_time())
        counts = np.array(list(neurons.get_spike_counts().values()), dtype=float)
        out = {"backend": backend, "times_ms": times, "weights_uS": weights,
               "rate_hz": (counts / (duration / 1000.0)).tolist(), "run_s": run_s}
        if backend == "wafer":
            out["synapse_loss"] = sim.get_mapping_statistics().synapse_loss
        sim.end()
    # what the wafer says about the rule and the hardware it runs on: pass it on once
    out["warnings"] = sorted({f"{w.category.__name__}: {w.message}" for w in caught
                              if "STDP" in str(w.message)
                              or w.category.__name__ == "HardwareParameterWarning"})
    return out


# ------------------------------------------------------------------ parent
def run_worker(backend: str, args) -> dict:
    """Start ``backend``'s worker process and return its result."""
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", backend,
           "--duration", str(args.duration), "--interval", str(args.interval),
           "--seed", str(args.seed)]
    env = dict(os.environ, PYNEST_QUIET="1")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARKER)]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise RuntimeError(f"the {backend} worker failed (exit code {proc.returncode})")
    return json.loads(lines[-1][len(MARKER):])


def group_weights(result: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times (s) and the (samples, synapses) weights in nS of the correlated and of the
    independent inputs (all neurons pooled)."""
    w = np.asarray(result["weights_uS"], dtype=float) * 1000.0     # (samples, inputs, neurons)
    t = np.asarray(result["times_ms"]) / 1000.0
    return (t, w[:, :N_CORRELATED].reshape(len(t), -1),
            w[:, N_CORRELATED:].reshape(len(t), -1))


def plot(results: list[dict], path: str) -> None:
    """Three panels side by side: weight against time, mean ± s.d. over the synapses of each
    input group (10 inputs x 4 neurons)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4.0),
                             sharey=True, squeeze=False)
    for ax, res in zip(axes[0], results):
        t, corr, indep = group_weights(res)
        for w, colour, name in ((corr, "tab:red", "correlated"),
                                (indep, "tab:blue", "independent")):
            mean, sd = np.nanmean(w, axis=1), np.nanstd(w, axis=1)
            ax.plot(t, mean, color=colour, label=f"{name} inputs")
            ax.fill_between(t, mean - sd, mean + sd, color=colour, alpha=0.25, lw=0)
        ax.axhline(W_MAX * 1000.0, color="grey", lw=0.8, ls="--", label="w_max")
        ax.set_title(f"{BACKENDS[res['backend']]}\n{np.mean(res['rate_hz']):.1f} Hz per neuron",
                     fontsize=10)
        ax.set_xlabel("time (s)")
    # the wafer's levels carry each synapse's fixed pattern: some lie above w_max
    axes[0][0].set_ylim(bottom=0.0, top=max(axes[0][0].get_ylim()[1], 1.1 * W_MAX * 1000.0))
    axes[0][0].set_ylabel("weight (nS), mean ± s.d.")
    # one legend under the panels, where it hides no curve
    fig.legend(*axes[0][0].get_legend_handles_labels(), loc="lower center", ncol=3,
               fontsize=9, frameon=False)
    fig.tight_layout(rect=(0.0, 0.08, 1.0, 1.0))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary(results: list[dict]) -> None:
    """The final mean weights per backend, as fractions of w_max and in nS."""
    print(f"final weights (w_max = {W_MAX * 1000:g} nS, start {W_INIT * 1000:g} nS):")
    for res in results:
        _, corr, indep = group_weights(res)
        c, i = np.nanmean(corr[-1]), np.nanmean(indep[-1])
        line = (f"  {BACKENDS[res['backend']]:<20} correlated {c:5.2f} nS "
                f"({c / (W_MAX * 1000):.2f} w_max)  independent {i:5.2f} nS "
                f"({i / (W_MAX * 1000):.2f} w_max)  rate {np.mean(res['rate_hz']):5.1f} Hz  "
                f"run {res['run_s']:.1f} s")
        if "synapse_loss" in res:
            line += f"  synapse loss {100 * res['synapse_loss']:.1f} %"
        print(line)
        for text in res["warnings"]:
            print(f"    {text}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=15000.0,
                    help="biological time in ms (default 15000)")
    ap.add_argument("--interval", type=float, default=250.0,
                    help="weight sampling interval in ms (default 250)")
    ap.add_argument("--backends", default="nest,ideal,wafer",
                    help="comma-separated: nest, ideal (bss_emu ideal=True), wafer (bss_emu)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the input spike trains")
    ap.add_argument("--output", default="stdp_on_the_wafer.png", help="PNG file of the figure")
    ap.add_argument("--worker", choices=sorted(BACKENDS), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.duration <= 0 or args.interval <= 0:
        ap.error(f"--duration ({args.duration:g}) and --interval ({args.interval:g}) must be "
                 "positive (ms)")

    if args.worker:
        res = worker(args.worker, args.duration, args.interval, args.seed)
        print(MARKER + json.dumps(res), flush=True)
        return 0

    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        ap.error(f"--backends: unknown {unknown}; choose from {sorted(BACKENDS)}")
    if "nest" in backends and importlib.util.find_spec("nest") is None:
        print("NEST is not installed: skipping the pyNN.nest panel")
        backends.remove("nest")
    results = []
    for backend in backends:
        print(f"running {BACKENDS[backend]} ({args.duration / 1000:g} s) ...", flush=True)
        results.append(run_worker(backend, args))
    summary(results)
    plot(results, args.output)
    print(f"figure written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
