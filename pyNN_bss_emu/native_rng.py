"""``sim.NativeRNG``: pyNN.bss_emu's own random streams behind PyNN's NativeRNG interface.

A NativeRNG draws from numpy's counter-based Philox generator keyed by its seed (the
engine's Poisson sources use counter-based streams too), so a seed gives the same numbers on
every machine and process.  It takes every distribution of :class:`pyNN.random.NumpyRNG`
(same parameter names) and works wherever PyNN accepts an RNG: connectors (also through our
vectorised paths) and RandomDistribution parameters.  Its numbers differ from a NumpyRNG
with the same seed: as in PyNN, a native RNG trades cross-simulator repeatability for the
backend's own generator.
"""
from __future__ import annotations

import copy

import numpy as np
from pyNN import random as _random

from . import simulator


class NativeRNG(_random.NativeRNG, _random.NumpyRNG):
    """Counter-based (Philox) random numbers of pyNN.bss_emu; ``seed`` (int >= 0) keys the
    stream, None takes ``setup(stimulus_seed=...)``."""

    def __init__(self, seed: int | None = None, parallel_safe: bool = True) -> None:
        if seed is None:
            seed = int(simulator.state.options.engine.stimulus_seed)
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ValueError(f"NativeRNG(seed={seed!r}): expected an integer >= 0")
        _random.WrappedRNG.__init__(self, int(seed), parallel_safe)
        # RandomState gives NumpyRNG's distribution methods; Philox is the counter-based core
        self.rng = np.random.RandomState(np.random.Philox(key=int(seed)))

    def __deepcopy__(self, memo):
        obj = NativeRNG.__new__(NativeRNG)
        _random.WrappedRNG.__init__(obj, seed=self.seed, parallel_safe=self.parallel_safe)
        obj.rng = copy.deepcopy(self.rng, memo)
        return obj

    def __str__(self) -> str:
        return f"NativeRNG(seed={self.seed}) (pyNN.bss_emu, Philox)"
