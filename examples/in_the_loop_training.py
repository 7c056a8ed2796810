"""In-the-loop training on the emulated BrainScaleS-1 wafer (after Schmitt et al. 2017).

1. trains a bias-free ReLU network (64-64-32-10) on scikit-learn's 8x8 digits in software;
2. converts it to a rate-coded spiking network (data-based normalisation, signed weights as
   excitatory/inhibitory projection pairs, fixed-scale 4-bit weights) and fits each layer's
   conductance unit on the backend;
3. measures the spiking network before training ("direct transfer");
4. trains in the loop: every iteration writes the weights with Projection.set, runs a batch of
   256 digits, reads the spike counts with get_data() and updates float shadow weights in
   numpy with the measured activity;
5. prints a table and writes a training-curve PNG.

    python examples/in_the_loop_training.py                     # emulated wafer, ~2 minutes
    python examples/in_the_loop_training.py --simulator nest    # same loop on NEST
    python examples/in_the_loop_training.py --wafer-seed 3 --iterations 50
    python examples/in_the_loop_training.py --checkpoint run.npz   # resumes if run.npz exists

Only standard PyNN calls drive the network; the wafer-specific lines are the setup() options
and the mapping/pulse statistics printed at the end.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings

import numpy as np

from pyNN_bss_emu.training import (InTheLoopTrainer, Quantiser, ReLUNetwork, SpikingConfig,
                                   SpikingNetwork, TrainerConfig, accuracy,
                                   load_digits_dataset, normalise_weights, train_ann,
                                   yin_yang_dataset)
from pyNN_bss_emu.training.plotting import plot_history


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--simulator", choices=("bss_emu", "nest"), default="bss_emu")
    p.add_argument("--ideal", action="store_true",
                   help="bss_emu without any hardware effect (setup(ideal=True))")
    p.add_argument("--dataset", choices=("digits", "yin_yang"), default="digits")
    p.add_argument("--iterations", type=int, default=30, help="in-the-loop iterations")
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--lr", type=float, default=TrainerConfig.lr,
                   help="Adam step in LSBs of each layer's weight grid")
    p.add_argument("--preset", choices=("default", "marocco"), default="default",
                   help="bss_emu setup preset: this emulator's defaults, or what the real "
                   "software stack (marocco/calibtic) did")
    p.add_argument("--wafer-seed", type=int, default=1, help="fixed-pattern mismatch instance")
    p.add_argument("--trial-seed", type=int, default=1, help="trial-to-trial noise")
    p.add_argument("--seed", type=int, default=0,
                   help="software network initialisation and shuffling")
    p.add_argument("--stimulus-seed", type=int, default=1, help="input spike trains")
    p.add_argument("--n-train", type=int, default=None, help="use only this many training "
                   "samples (quick runs)")
    p.add_argument("--n-test", type=int, default=None)
    p.add_argument("--epochs", type=int, default=150, help="software training epochs")
    p.add_argument("--checkpoint", default=None,
                   help="checkpoint file, written every iteration; resumed if it exists")
    p.add_argument("--plot", default="in_the_loop_training.png",
                   help="training-curve PNG ('' for none)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p.parse_args(argv)


#: where the layers go on the wafer: first the mapper's own placement (from HICANN 0, the
#: wafer's corner, like marocco), then rows of three HICANNs in the middle of the wafer.  A
#: defect map can cut routes (a dead neighbour blacklists the buses it drives); an
#: experimenter then moves the network, and so does :func:`build_trainer`.
WAFER_REGIONS = (None, (172, 173, 174), (208, 209, 210), (136, 137, 138), (244, 245, 246),
                 (100, 101, 102), (280, 281, 282))


def setup_backend(args):
    """sim.setup() for the chosen backend; returns the PyNN module."""
    if args.simulator == "nest":
        import pyNN.nest as sim
        # all delays are 1 ms: NEST then exchanges spikes every 1 ms instead of every step
        sim.setup(timestep=0.1, min_delay=1.0)
        return sim
    import pyNN.bss_emu as sim
    # Compound neurons of 8 denmems give every neuron 4 synapse columns per row, and chains of
    # up to 20 synapse drivers give every route room for both signs of 64 inputs, so the
    # all-to-all layers map without synapse loss on a defect-free region.
    # preset 'marocco': what the real software stack did (see docs/setup_options.md); the
    # keywords given here win over it.  ``setup_extra`` lets benchmarks add keywords
    # (e.g. effects=... for ablations).
    sim.setup(timestep=0.1, ideal=args.ideal, neuron_size=8, driver_chain_length=20,
              wafer_seed=args.wafer_seed, trial_seed=args.trial_seed,
              continue_despite_synapse_loss=True, preset=getattr(args, "preset", "default"),
              **getattr(args, "setup_extra", {}))
    return sim


def _placement(region):
    """A ``place`` hook putting the first hidden layer on the region's HICANNs (in order) and
    the later layers on them in reverse order."""
    if region is None:
        return None

    def place(sim, populations):
        layers = populations[1:]
        sim.place_on_hicann(layers[0], list(region))
        for pop in layers[1:]:
            sim.place_on_hicann(pop, list(region)[::-1])
    return place


def build_trainer(args, sizes, weights, data, quantiser, log=print):
    """Set up the backend, build the spiking network and fit its conductance units.  On the
    emulated wafer, move the network to the next region of :data:`WAFER_REGIONS` while the
    mapping loses synapses or the region lacks room.  Returns (sim, trainer, gains)."""
    from pyNN_bss_emu.mapping.types import MappingError
    wafer = args.simulator == "bss_emu" and not args.ideal
    regions = WAFER_REGIONS if wafer else (None,)
    for k, region in enumerate(regions):
        sim = setup_backend(args)
        net = SpikingNetwork(sim, sizes, SpikingConfig(),    # 100 Hz, 500 ms, regular trains
                             place=_placement(region))
        trainer = InTheLoopTrainer(net, weights, data,
                                   TrainerConfig(batch_size=args.batch_size, lr=args.lr),
                                   quantiser=quantiser, stimulus_seed=args.stimulus_seed,
                                   data_seed=args.seed + 1)
        where = "the mapper's placement" if region is None else f"HICANNs {region}"
        try:
            gains = trainer.characterise()      # the first run() maps the network
        except MappingError as e:
            log(f"wafer {args.wafer_seed}: {where}: {str(e).splitlines()[0]}; moving on")
            continue
        if wafer:
            loss = sim.get_mapping_statistics().synapse_loss
            if loss > 0 and k < len(regions) - 1:
                log(f"wafer {args.wafer_seed}: {where} loses {100 * loss:.1f} % of the "
                    f"synapses (defects); moving the network")
                continue
            log(f"wafer {args.wafer_seed}: network mapped on {where}, synapse loss "
                f"{100 * loss:.1f} %")
        return sim, trainer, gains
    raise RuntimeError(f"no region of wafer {args.wafer_seed} holds the network")


def main(argv=None) -> dict:
    args = parse_args(argv)
    t_start = time.perf_counter()
    if args.dataset == "digits":
        data = load_digits_dataset()
        sizes = (64, 64, 32, 10)
    else:
        data = yin_yang_dataset()
        sizes = (5, 120, 3)
    data = data.subset(args.n_train, args.n_test)

    # -- 1. software network
    ann = ReLUNetwork.initialise(sizes, seed=args.seed)
    train_ann(ann, data.x_train, data.y_train, epochs=args.epochs, seed=args.seed)
    a_sw = accuracy(ann.predict(data.x_test), data.y_test)
    weights, lambdas = normalise_weights(ann, data.x_train)
    quantiser = Quantiser.for_weights(weights)
    a_q = accuracy(ReLUNetwork(sizes, quantiser.quantise_all(weights)).predict(data.x_test),
                   data.y_test)
    print(f"software ANN {sizes}: test accuracy {100 * a_sw:.1f} % "
          f"(4-bit weights: {100 * a_q:.1f} %)")

    # -- 2. spiking network on the backend
    sim, trainer, gains = build_trainer(args, sizes, weights, data, quantiser)
    resumed = bool(args.checkpoint) and os.path.exists(args.checkpoint)
    if resumed:
        trainer.load_checkpoint(args.checkpoint)
        a_0 = trainer.history.get("direct_transfer", [float("nan")])[0]
        print(f"resumed from {args.checkpoint} at iteration {trainer.iteration}")
    else:
        a_0 = trainer.evaluate()
        trainer.history["direct_transfer"] = [a_0]
        trainer.history["eval_iteration"].append(0)     # the curve starts at the transfer
        trainer.history["eval_accuracy"].append(a_0)
        print(f"layer gains after fitting the conductance units: "
              f"{np.array2string(gains, precision=2)}")
    where = "emulated wafer" if args.simulator == "bss_emu" and not args.ideal \
        else ("bss_emu ideal" if args.simulator == "bss_emu" else "NEST")
    print(f"spiking network on {where}, direct transfer: {100 * a_0:.1f} %")

    # -- 3. in-the-loop training
    trainer.train(args.iterations, eval_every=args.eval_every, checkpoint=args.checkpoint,
                  progress=not args.no_progress)
    a_n = trainer.history["eval_accuracy"][-1] if trainer.history["eval_accuracy"] \
        else trainer.evaluate()

    # -- 4. report
    rows = [("software ANN (float)", a_sw), ("software ANN, 4-bit weights", a_q),
            (f"spiking, {where}, direct transfer", a_0)]
    for it, acc in zip(trainer.history["eval_iteration"], trainer.history["eval_accuracy"]):
        if it == 0:
            continue
        rows.append((f"spiking, {where}, after {it} iterations", acc))
    width = max(len(r[0]) for r in rows)
    print()
    print(f"| {'stage':<{width}} | test accuracy |")
    print(f"|{'-' * (width + 2)}|---------------|")
    for name, acc in rows:
        print(f"| {name:<{width}} | {100 * acc:11.1f} % |")
    secs = trainer.history["seconds"]
    per_it = f", {np.mean(secs):.2f} s each (batch {args.batch_size})" if secs else ""
    print(f"\n{len(secs)} iterations{per_it}; total {time.perf_counter() - t_start:.0f} s")
    if args.simulator == "bss_emu" and not args.ideal:
        stats = sim.get_mapping_statistics()
        pulses = sim.get_pulse_statistics()
        print(f"mapping: synapse loss {100 * stats.synapse_loss:.2f} %, "
              f"{stats.weights.get('clipped', 0)} weights clipped at the last write; "
              f"events lost on the wafer: {pulses['l1_neuron_lost']} of "
              f"{pulses['l1_neuron_sent'] + pulses['l1_neuron_lost']} neuron spikes, "
              f"{pulses['l2_up_lost']} recorded spikes")
    if args.plot:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plot_history(trainer.history, args.plot,
                         references={"software ANN": a_sw, "direct transfer": a_0},
                         title=f"in-the-loop training on {where}")
        print(f"training curve: {args.plot}")
    sim.end()
    return {"software": a_sw, "quantised": a_q, "direct": a_0, "final": a_n,
            "history": trainer.history}


if __name__ == "__main__":
    main(sys.argv[1:])
