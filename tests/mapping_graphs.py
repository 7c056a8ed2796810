"""Small mapper inputs shared by the mapping tests (not a test module): a BioGraph built from
population sizes, a defect-free wafer, and a placement from per-block neuron counts."""
from __future__ import annotations

import numpy as np

from pyNN_bss_emu.hardware import wafer
from pyNN_bss_emu.mapping.types import BioGraph, NeuronPlacement

N_H = wafer.N_HICANN


def graph(sizes, neuron_size=4, source=None, manual=None, rate=None, pre=(), post=(),
          labels=None) -> BioGraph:
    """A BioGraph of populations ``sizes`` (``source`` marks spike-source populations) with
    excitatory connections ``pre`` -> ``post`` of one projection."""
    sizes = np.asarray(sizes, dtype=np.int64)
    n_pop = sizes.size
    ns = np.broadcast_to(np.asarray(neuron_size), (n_pop,)).copy()
    src = np.zeros(n_pop, bool) if source is None else np.asarray(source, bool)
    pre = np.asarray(pre, dtype=np.int64)
    return BioGraph(size=sizes, is_source=src, neuron_size=ns,
                    manual_hicanns=list(manual) if manual is not None else [None] * n_pop,
                    label=labels or [f"pop{i}" for i in range(n_pop)],
                    rate=np.zeros(int(sizes.sum())) if rate is None else np.asarray(rate, float),
                    pre=pre, post=np.asarray(post, dtype=np.int64),
                    receptor=np.zeros(pre.size, np.int64), projection=np.zeros(pre.size, np.int64))


def all_ok():
    """(denmem_ok, hicann_ok) of a wafer without defects."""
    return (np.ones((N_H, wafer.DENMEM_ROWS, wafer.DENMEM_COLUMNS), bool), np.ones(N_H, bool))


def placement_from_counts(counts: np.ndarray) -> tuple[BioGraph, NeuronPlacement]:
    """Neurons of size 2 (1 column) with counts[h, b] neurons in block b of HICANN h."""
    h, b = np.nonzero(counts)
    k = counts[h, b]
    hh, bb = np.repeat(h, k), np.repeat(b, k)
    local = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    g = graph([hh.size], 2)
    pl = NeuronPlacement(hicann=hh, block=bb, x0=bb * 32 + local, width=np.ones_like(hh))
    return g, pl
