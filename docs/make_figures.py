"""Build the figures of the documentation (``docs/_static/figures/*.png``).

    python docs/make_figures.py                 # all five figures, ~1 minute
    python docs/make_figures.py --skip-training # without the training curve (a few seconds)

A small balanced network (Poisson drive, excitatory and inhibitory populations, placed by hand
on the wafer so that the L1 routes show) runs for 500 ms on the emulated wafer
(default defect map of wafer seed 1, synapse loss accepted) and gives

* ``wafer_map.png``  -- ``sim.plot_wafer_map``: neurons per HICANN, L1 routes, loss per HICANN;
* ``raster.png``     -- ``sim.plot_raster``: spikes of both populations;
* ``membrane.png``   -- ``sim.plot_membrane``: membrane trace of one excitatory neuron;
* ``weights.png``    -- ``sim.plot_weights``: realised (4-bit) against requested weights;

and the in-the-loop training example (``examples/in_the_loop_training.py``) with short
settings gives ``training_curve.png`` (``pyNN_bss_emu.training.plotting.plot_history``).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("wafer_map.png", "raster.png", "membrane.png", "weights.png", "training_curve.png")
#: short settings of the training example (10 iterations on 400 training digits)
TRAINING_ARGS = ["--iterations", "10", "--eval-every", "5", "--n-train", "400",
                 "--batch-size", "64", "--no-progress"]


def network_figures(out: Path, dpi: int) -> None:
    import pyNN.bss_emu as sim
    sim.setup(timestep=0.1, min_delay=0.1, wafer_seed=1, neuron_size=4,
              continue_despite_synapse_loss=True)
    rng = sim.NumpyRNG(seed=42)
    cell = sim.IF_cond_exp(tau_m=20.0, v_rest=-60.0, v_thresh=-50.0, v_reset=-60.0,
                           tau_refrac=5.0, tau_syn_E=5.0, tau_syn_I=10.0, e_rev_I=-80.0)
    exc = sim.Population(400, cell, label="excitatory")
    inh = sim.Population(100, cell, label="inhibitory")
    for pop in (exc, inh):
        pop.initialize(v=sim.RandomDistribution("uniform", (-60.0, -50.0), rng=rng))
    drive = sim.Population(200, sim.SpikeSourcePoisson(rate=30.0), label="drive")
    # by hand in the middle of the wafer (the mapper alone starts at the corner, HICANN 0)
    sim.place_on_hicann(exc, [135, 136, 246, 247])
    sim.place_on_hicann(inh, [193])
    connect = sim.FixedProbabilityConnector(0.2, rng=rng)
    w_drive = sim.RandomDistribution("uniform", (0.001, 0.006), rng=rng)
    drive_exc = sim.Projection(drive, exc, connect, sim.StaticSynapse(weight=w_drive),
                               receptor_type="excitatory", label="drive→excitatory")
    sim.Projection(drive, inh, connect, sim.StaticSynapse(weight=w_drive),
                   receptor_type="excitatory", label="drive→inhibitory")
    for pre, rtype, w in ((exc, "excitatory", 0.0015), (inh, "inhibitory", 0.02)):
        for post in (exc, inh):
            sim.Projection(pre, post, connect, sim.StaticSynapse(weight=w),
                           receptor_type=rtype, label=f"{pre.label}→{post.label}")
    exc.record("spikes")
    inh.record("spikes")
    exc[2:3].record("v")   # a neuron that spikes often
    sim.run(500.0)
    print(sim.get_mapping_statistics())
    for pop in (exc, inh):
        print(f"{pop.label}: {pop.mean_spike_count() / 0.5:.1f} Hz")

    ax = sim.plot_wafer_map(out / "wafer_map.png", dpi=dpi)
    plt.close(ax.figure)
    plt.close(sim.plot_raster({"excitatory": exc.get_data("spikes"),
                               "inhibitory": inh.get_data("spikes")},
                              out / "raster.png", dpi=dpi,
                              title="balanced network on the emulated wafer"))
    plt.close(sim.plot_membrane(exc.get_data("v"), out / "membrane.png", dpi=dpi,
                                title="membrane potential (ADC readout) on the emulated wafer"))
    plt.close(sim.plot_weights(drive_exc, out / "weights.png", dpi=dpi))
    sim.end()


def training_figure(out: Path) -> None:
    spec = importlib.util.spec_from_file_location(
        "in_the_loop_training", ROOT / "examples" / "in_the_loop_training.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(TRAINING_ARGS + ["--plot", str(out / "training_curve.png")])
    plt.close("all")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "_static" / "figures"),
                   help="output directory (default: docs/_static/figures)")
    p.add_argument("--dpi", type=int, default=100, help="resolution of the PNGs")
    p.add_argument("--skip-training", action="store_true",
                   help="do not run the training example (no training_curve.png)")
    args = p.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the wafer's hardware notices, once per setup
        network_figures(out, args.dpi)
        if not args.skip_training:
            training_figure(out)
    for name in FIGURES:
        f = out / name
        if f.exists():
            print(f"{f}: {os.path.getsize(f) / 1024:.0f} kB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
