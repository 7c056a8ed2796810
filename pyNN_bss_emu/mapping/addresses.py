"""L1 address assignment (14.5): one 6-bit address per neuron from its DNC merger's pool.

Each DNC merger (= one L1 bus) has a fresh pool of the 59 usable addresses
(``wafer.USABLE_ADDRESSES``: 2..63 without 17, 33, 49; 0 is the locking address and
synapse-decoder value 1 disables synapses).  Neurons take addresses in placement order
(HICANN, DNC merger, block, column).  Strategies as marocco's ``L1AddressPool``:
``high_first`` (63, 62, ...; default), ``low_first`` (2, 3, ...), ``alternating``
(2, 63, 3, 62, ...).
"""
from __future__ import annotations

import numpy as np

from ..hardware import wafer
from .types import MergerRouting, NeuronPlacement, ResourceExhaustedError

STRATEGIES = ("high_first", "low_first", "alternating")
POOL_SIZE = len(wafer.USABLE_ADDRESSES)   # 59
_ASCENDING = np.array(sorted(wafer.USABLE_ADDRESSES), dtype=np.int64)


def address_sequence(strategy: str = "high_first") -> np.ndarray:
    """The 59 addresses in the order a fresh pool hands them out (int64)."""
    if strategy == "high_first":
        return _ASCENDING[::-1].copy()
    if strategy == "low_first":
        return _ASCENDING.copy()
    if strategy == "alternating":
        r = np.arange(POOL_SIZE)
        # even ranks from the low end, odd ranks from the high end
        return np.where(r % 2 == 0, _ASCENDING[r // 2], _ASCENDING[::-1][r // 2])
    raise ValueError(f"unknown L1 address assignment strategy {strategy!r}; allowed: "
                     f"{', '.join(STRATEGIES)}")


def rank_in_group(group: np.ndarray, order_keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """0-based position of each element within its group, groups ordered by ``order_keys``
    (np.lexsort convention: last key is primary after ``group``)."""
    order = np.lexsort(order_keys + (group,))
    g = group[order]
    start = np.r_[True, g[1:] != g[:-1]] if g.size else np.zeros(0, bool)
    first = np.maximum.accumulate(np.where(start, np.arange(g.size), 0))
    rank = np.empty(group.size, dtype=np.int64)
    rank[order] = np.arange(g.size) - first
    return rank


def assign_addresses(placement: NeuronPlacement, mergers: MergerRouting,
                     strategy: str = "high_first") -> np.ndarray:
    """L1 address (0..63) of every placed neuron; -1 for spike sources / unplaced cells.

    Raises ResourceExhaustedError if a DNC merger carries more than 59 neurons and ValueError
    for an unknown strategy.
    """
    seq = address_sequence(strategy)
    address = np.full(placement.hicann.shape, -1, dtype=np.int64)
    placed = np.nonzero((placement.hicann >= 0) & (mergers.dnc_merger >= 0))[0]
    if placed.size == 0:
        return address
    group = placement.hicann[placed] * wafer.N_DNC_MERGERS + mergers.dnc_merger[placed]
    counts = np.bincount(group)
    if counts.max() > POOL_SIZE:
        g = int(np.argmax(counts))
        raise ResourceExhaustedError(
            f"DNC merger {g % wafer.N_DNC_MERGERS} of HICANN {g // wafer.N_DNC_MERGERS} "
            f"carries {counts[g]} neurons, but an L1 bus has only {POOL_SIZE} usable addresses")
    rank = rank_in_group(group, (placement.x0[placed], placement.block[placed]))
    address[placed] = seq[rank]
    return address
