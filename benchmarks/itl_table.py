"""The paper's table (Schmitt et al. 2017) on the emulated wafer, over several wafer seeds.

Per seed s (the software network's initialisation and the wafer's fixed pattern both use s):

  B0  software ANN (float)                      B1  software ANN with the 4-bit weights
  B2  spiking network, bss_emu ideal mode       B3  emulated wafer s, direct transfer, with
      the layers' conductance units fitted in ideal mode, and fitted on the wafer itself
  B4  wafer s after 5 / 10 / 20 / 50 in-the-loop iterations (batch 256)
  B6  the trained weights moved to another wafer (seed s + 100), same conductance units

Prints a markdown table (mean ± std and per-seed values), the acceptance checks of
in_the_loop_training.md 7.4 and writes the numbers as JSON; with ``--presets default marocco``
one table per setup preset (this emulator's defaults; what marocco/calibtic did).

``--ablation``: per seed, the direct transfer again with one emulated effect switched off at a
time (``setup(effects={name: False})``: mismatch, trial_noise, weight_quantisation,
weight_floor, event_loss) and with all of them off; the table says how many points of
direct-transfer accuracy each effect costs (accuracy without it minus with everything on).
The conductance units are fitted anew in each configuration, as a user would.

    python benchmarks/itl_table.py                  # seeds 1..5, ~8 minutes on 2 cores
    python benchmarks/itl_table.py --seeds 1 2 --iterations 20
    python benchmarks/itl_table.py --presets default marocco --ablation
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import pathlib
import time
import types
import warnings

import numpy as np

import pyNN.bss_emu as sim
from pyNN_bss_emu.training import (Quantiser, ReLUNetwork, accuracy, load_digits_dataset,
                                   normalise_weights, train_ann)

SIZES = (64, 64, 32, 10)
CHECKPOINTS = (5, 10, 20, 50)
#: the effects an ablation switches off (setup(effects=...)), in the order of the table
EFFECTS = ("mismatch", "trial_noise", "weight_quantisation", "weight_floor", "event_loss")


def _example():
    """The example script as a module: the benchmark uses its setup and placement search."""
    path = pathlib.Path(__file__).resolve().parents[1] / "examples" / "in_the_loop_training.py"
    spec = importlib.util.spec_from_file_location("itl_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


EXAMPLE = _example()


def one_seed(seed: int, iterations: int, data, preset: str = "default",
             ablation: bool = False) -> dict:
    ann = ReLUNetwork.initialise(SIZES, seed=seed)
    train_ann(ann, data.x_train, data.y_train, epochs=150, seed=seed)
    weights, _ = normalise_weights(ann, data.x_train)
    quantiser = Quantiser.for_weights(weights)
    out = {"seed": seed, "preset": preset,
           "software": accuracy(ann.predict(data.x_test), data.y_test),
           "quantised": accuracy(ReLUNetwork(SIZES, quantiser.quantise_all(weights))
                                 .predict(data.x_test), data.y_test)}

    def trainer_on(wafer_seed: int, ideal: bool = False, effects: dict | None = None):
        args = types.SimpleNamespace(simulator="bss_emu", ideal=ideal, wafer_seed=wafer_seed,
                                     trial_seed=seed, batch_size=256, stimulus_seed=seed,
                                     seed=seed, lr=EXAMPLE.TrainerConfig.lr, preset=preset,
                                     setup_extra={} if effects is None else
                                     {"effects": effects})
        _, trainer, _ = EXAMPLE.build_trainer(args, SIZES, weights, data, quantiser,
                                              log=lambda m: print("  " + m, flush=True))
        return trainer

    ideal = trainer_on(seed, ideal=True)
    out["ideal"] = ideal.evaluate()
    if ablation:
        for name in EFFECTS + ("all",):
            off = {e: False for e in EFFECTS} if name == "all" else {name: False}
            out[f"direct_without_{name}"] = trainer_on(seed, effects=off).evaluate()

    tr = trainer_on(seed)
    out["direct"] = tr.evaluate()
    # the same transfer with the conductance units fitted in ideal mode, i.e. without
    # measuring the layer gains on this wafer
    fitted = tr.network.unit_uS.copy()
    tr.network.unit_uS = ideal.network.unit_uS.copy()
    out["direct_ideal_units"] = tr.evaluate()
    tr.network.unit_uS = fitted
    stats = sim.get_mapping_statistics()
    out["synapse_loss"] = stats.synapse_loss
    for n in CHECKPOINTS:
        if n > iterations:
            break
        tr.train(n, eval_every=0, progress=False)
        out[f"after_{n}"] = tr.evaluate()
    out["seconds_per_iteration"] = float(np.mean(tr.history["seconds"]))
    pulses = sim.get_pulse_statistics()
    out["neuron_spikes_lost"] = pulses["l1_neuron_lost"] / max(
        1, pulses["l1_neuron_sent"] + pulses["l1_neuron_lost"])
    out["recorded_spikes_lost"] = pulses["l2_up_lost"] / max(
        1, pulses["l2_up_sent"] + pulses["l2_up_lost"])
    trained, units = [w.copy() for w in tr.shadow], tr.network.unit_uS.copy()

    other = trainer_on(seed + 100)
    other.shadow = trained
    other.network.unit_uS = units
    out["other_wafer"] = other.evaluate()
    sim.end()
    return out


ROWS = [("software ANN (float)", "software"), ("software ANN, 4-bit weights", "quantised"),
        ("spiking, ideal mode", "ideal"),
        ("emulated wafer, direct transfer (units fitted in ideal mode)", "direct_ideal_units"),
        ("emulated wafer, direct transfer (units fitted on the wafer)", "direct")] + \
       [(f"emulated wafer, after {n} iterations", f"after_{n}") for n in CHECKPOINTS] + \
       [("trained weights on another wafer", "other_wafer")]


def table(results: list[dict]) -> str:
    seeds = [r["seed"] for r in results]
    head = "| stage | mean ± std (%) | " + " | ".join(f"seed {s}" for s in seeds) + " |"
    lines = [head, "|" + "---|" * (2 + len(seeds))]
    for name, key in ROWS:
        vals = [r.get(key) for r in results]
        if any(v is None for v in vals):
            continue
        v = 100 * np.array(vals)
        lines.append(f"| {name} | {v.mean():.1f} ± {v.std():.1f} | "
                     + " | ".join(f"{x:.1f}" for x in v) + " |")
    return "\n".join(lines)


def ablation_table(results: list[dict]) -> str:
    """Direct-transfer accuracy with each effect switched off, and the points it costs
    (accuracy without the effect minus accuracy with every effect on)."""
    lines = ["| switched off | direct transfer (%) | cost of the effect (pp) |",
             "|---|---|---|"]
    base = 100 * np.array([r["direct"] for r in results])
    lines.append(f"| nothing (all effects on) | {base.mean():.1f} ± {base.std():.1f} | – |")
    for name in EFFECTS + ("all",):
        key = f"direct_without_{name}"
        if any(key not in r for r in results):
            return ""
        v = 100 * np.array([r[key] for r in results])
        label = "all five" if name == "all" else name
        lines.append(f"| {label} | {v.mean():.1f} ± {v.std():.1f} | "
                     f"{(v - base).mean():+.1f} ± {(v - base).std():.1f} |")
    return "\n".join(lines)


def checks(results: list[dict], iterations: int) -> list[str]:
    last = f"after_{max(n for n in CHECKPOINTS if n <= iterations)}"
    out = []
    drop = [100 * (r["software"] - r["direct"]) for r in results]
    out.append(f"direct transfer costs {np.mean(drop):.1f} pp on average "
               f"(min {np.min(drop):.1f}; target >= 5 pp): "
               f"{'met' if min(drop) >= 5 else 'NOT met'}")
    gap = [100 * (r["software"] - r[last]) for r in results]
    out.append(f"{last.replace('_', ' ')} iterations: {np.mean(gap):.1f} pp below software on "
               f"average, worst seed {np.max(gap):.1f} pp (target <= 2 pp on every seed): "
               f"{'met' if max(gap) <= 2 else 'NOT met'}")
    rec = [(r[last] - r["direct"]) / max(1e-9, r["software"] - r["direct"]) for r in results]
    out.append(f"recovery ratio (A_N - A_0)/(A_sw - A_0) = {np.mean(rec):.2f} "
               f"(target >= 0.8)")
    sec = np.mean([r["seconds_per_iteration"] for r in results])
    out.append(f"one iteration (batch 256): {sec:.2f} s (target < 3 s)")
    return out


def main(argv=None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    p.add_argument("--iterations", type=int, default=50)
    p.add_argument("--presets", nargs="+", default=["default"],
                   choices=("default", "marocco"), help="setup presets to compare")
    p.add_argument("--ablation", action="store_true",
                   help="also the direct transfer with each effect switched off")
    p.add_argument("--json", default="itl_table.json")
    args = p.parse_args(argv)
    warnings.simplefilter("ignore")
    data = load_digits_dataset()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} seeds {args.seeds}, presets {args.presets}, "
          f"{args.iterations} iterations", flush=True)
    results = []
    t0 = time.perf_counter()
    for preset in args.presets:
        mine = []
        for seed in args.seeds:
            t = time.perf_counter()
            r = one_seed(seed, args.iterations, data, preset=preset, ablation=args.ablation)
            mine.append(r)
            print(f"[{preset}] seed {seed}: direct {100 * r['direct']:.1f} %, final "
                  f"{100 * r[[k for k in r if k.startswith('after_')][-1]]:.1f} %, synapse "
                  f"loss {100 * r['synapse_loss']:.1f} %, {time.perf_counter() - t:.0f} s",
                  flush=True)
        results += mine
        print(f"\n## preset '{preset}'\n")
        print(table(mine))
        print()
        for line in checks(mine, args.iterations):
            print("-", line)
        print(f"\nloss of neuron spikes on the wafer (encoders/mergers): "
              f"{100 * np.mean([r['neuron_spikes_lost'] for r in mine]):.2f} %, of recorded "
              f"spikes (L2 up): {100 * np.mean([r['recorded_spikes_lost'] for r in mine]):.2f}"
              " %")
        if args.ablation:
            print(f"\n### ablation (preset '{preset}'): direct transfer without one effect\n")
            print(ablation_table(mine))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
