"""Wall time of one in-the-loop iteration (batch 256 digits, 64-64-32-10, 500 ms per digit:
141 s of biological time) on the emulated wafer, on bss_emu's ideal engine and on NEST,
measured in one run; prints our time / NEST's.

    python benchmarks/itl_iteration.py               # 3 iterations each after one warm-up
    python benchmarks/itl_iteration.py --repeat 5 --simulators bss_emu nest
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import warnings

import numpy as np

from pyNN_bss_emu.training import (InTheLoopTrainer, ReLUNetwork, SpikingNetwork,
                                   load_digits_dataset, normalise_weights, train_ann)

SIZES = (64, 64, 32, 10)


def measure(name: str, weights, data, repeat: int) -> dict:
    if name == "nest":
        import pyNN.nest as sim
        sim.setup(timestep=0.1, min_delay=1.0)
    else:
        import pyNN.bss_emu as sim
        sim.setup(timestep=0.1, ideal=(name == "bss_emu_ideal"), neuron_size=8,
                  driver_chain_length=20, continue_despite_synapse_loss=True, wafer_seed=2)
    t0 = time.perf_counter()
    net = SpikingNetwork(sim, SIZES)
    trainer = InTheLoopTrainer(net, weights, data)
    build = time.perf_counter() - t0
    trainer.step()                     # warm-up: mapping, compilation, first write
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        trainer.step()
        times.append(time.perf_counter() - t)
    sim.end()
    return {"build": build, "iteration": float(np.median(times))}


def worker(name: str, repeat: int) -> None:
    warnings.simplefilter("ignore")
    data = load_digits_dataset()
    ann = ReLUNetwork.initialise(SIZES, seed=0)
    train_ann(ann, data.x_train, data.y_train, epochs=150, seed=0)
    weights, _ = normalise_weights(ann, data.x_train)
    print("ITL_RESULT " + json.dumps(measure(name, weights, data, repeat)), flush=True)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--simulators", nargs="+", default=["bss_emu", "bss_emu_ideal", "nest"],
                   choices=["bss_emu", "bss_emu_ideal", "nest"])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.repeat)
        return {}
    res = {}
    for name in args.simulators:        # one process per simulator (benchmarks/README.md)
        out = subprocess.run([sys.executable, __file__, "--worker", name, "--repeat",
                              str(args.repeat)], capture_output=True, text=True, check=True)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("ITL_RESULT ")][-1]
        res[name] = json.loads(line.split(" ", 1)[1])
        print(f"{name:14s} one iteration (batch 256): {res[name]['iteration']:.2f} s "
              f"(median of {args.repeat})", flush=True)
    if "nest" in res:
        for name in res:
            if name != "nest":
                print(f"{name} / nest: {res[name]['iteration'] / res['nest']['iteration']:.3f}")
    return res


if __name__ == "__main__":
    main()
