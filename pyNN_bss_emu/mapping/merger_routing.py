"""Merger routing: neuron blocks -> DNC mergers through the per-HICANN merger tree (14.4).

Each HICANN has a fixed binary merger tree (Merger0[0..7] -> Merger1[0..3] -> Merger2[0..1] ->
Merger3[0]); DNC merger ``i`` taps one tree node, so it can collect the neuron blocks
``wafer.DNC_MERGER_BLOCKS[i]``.  A block sends through the chain of tree nodes from its
Merger0 up to that node; two DNC mergers cannot share a tree node (the node's output carries
whatever it selected).  Every DNC merger that carries neurons drives one sending repeater
(one L1 bus); the others stay free for external input (input placement).

Strategies:

* ``"minimize"`` (default; marocco's ``minimize_number_of_sending_repeaters``): try DNC
  mergers in marocco's order ``[3 (all 8 blocks or nothing), 5, 3, 6, 3, 5, 3, 1, 3, 0, 1, 2,
  3, 4, 5, 6, 7]``; for each, start at the block with the same index and grow left, then
  right, over adjacent unassigned blocks reachable through unused tree nodes while the total
  number of neurons stays <= 59 (the L1 address pool); empty blocks at either end are dropped
  (they stay free for input).  A block is assigned once.
* ``"one_to_one"``: block b -> DNC merger b (no merging; most L1 buses, highest rate headroom).

marocco's default ``minimize_as_possible`` additionally rejects merges that would exceed the
synapse-driver chain length at the targets; that check needs routing results and is not done
here.
"""
from __future__ import annotations

import numpy as np

from ..hardware import wafer
from .types import BioGraph, MappingError, MergerRouting, NeuronPlacement

STRATEGIES = ("minimize", "one_to_one")
_ALIASES = {"minimize_number_of_sending_repeaters": "minimize"}

#: L1 addresses per DNC merger (bus), the cap on merged neurons
POOL_SIZE = len(wafer.USABLE_ADDRESSES)   # 59
#: marocco's DNC merger order; the leading 3 is the all-blocks-or-nothing special case
MINIMIZE_ORDER = (3, 5, 3, 6, 3, 5, 3, 1, 3, 0, 1, 2, 3, 4, 5, 6, 7)

N_NB = wafer.N_NEURON_BLOCKS
#: tree nodes: Merger0[0..7] = 0..7, Merger1[0..3] = 8..11, Merger2[0..1] = 12..13, Merger3 = 14
N_TREE_NODES = 15
_LEVEL_OFFSET = (0, 8, 12, 14)


def _path_table() -> tuple[np.ndarray, np.ndarray]:
    """REACH[m, b]: DNC merger m can collect block b; PATH[m, b, node]: tree nodes used."""
    reach = np.zeros((wafer.N_DNC_MERGERS, N_NB), dtype=bool)
    path = np.zeros((wafer.N_DNC_MERGERS, N_NB, N_TREE_NODES), dtype=bool)
    for m, blocks in enumerate(wafer.DNC_MERGER_BLOCKS):
        top = int(np.log2(len(blocks)))   # the tapped node's level: 1, 2, 4, 8 blocks -> 0..3
        for b in blocks:
            reach[m, b] = True
            for level in range(top + 1):
                path[m, b, _LEVEL_OFFSET[level] + (b >> level)] = True
    return reach, path


REACH, PATH = _path_table()


def neurons_per_block(placement: NeuronPlacement) -> np.ndarray:
    """Number of placed neurons per (HICANN, neuron block), int64 (384, 8)."""
    placed = placement.hicann >= 0
    idx = placement.hicann[placed] * N_NB + placement.block[placed]
    return np.bincount(idx, minlength=wafer.N_HICANN * N_NB).reshape(wafer.N_HICANN, N_NB)


def used_tree_nodes(block_to_merger: np.ndarray) -> np.ndarray:
    """Tree nodes in use per HICANN, bool (384, 15).

    A merged range of blocks occupies the paths of all its blocks, including empty blocks
    between used ones (their Merger0 forwards into the range's DNC merger).
    """
    used = np.zeros((block_to_merger.shape[0], N_TREE_NODES), dtype=bool)
    cols = np.arange(N_NB)
    for m in range(wafer.N_DNC_MERGERS):
        on = block_to_merger == m
        any_on = on.any(axis=1)
        if not any_on.any():
            continue
        lo = np.where(any_on, np.argmax(on, axis=1), N_NB)
        hi = np.where(any_on, N_NB - 1 - np.argmax(on[:, ::-1], axis=1), -1)
        span = (cols >= lo[:, None]) & (cols <= hi[:, None]) & REACH[m][None, :]
        used |= (span.astype(np.int64) @ PATH[m].astype(np.int64)) > 0
    return used


def input_capable_mergers(block_to_merger: np.ndarray) -> np.ndarray:
    """DNC mergers free for external input, bool (384, 8).

    A DNC merger in input mode carries no neurons, and (as in marocco) its own one-to-one path
    from background generator b = its index must be free, because that generator supplies the
    address-0 locking events on the bus.
    """
    output = np.zeros(block_to_merger.shape, dtype=bool)
    rows, cols = np.nonzero(block_to_merger >= 0)
    output[rows, block_to_merger[rows, cols]] = True
    used = used_tree_nodes(block_to_merger).astype(np.int64)
    own_path = PATH[np.arange(N_NB), np.arange(N_NB)].astype(np.int64)   # (8 mergers, 15)
    path_busy = (used @ own_path.T) > 0
    return ~output & ~path_busy


def route_mergers(graph: BioGraph, placement: NeuronPlacement,
                  strategy: str = "minimize") -> MergerRouting:
    """Assign every used neuron block to a DNC merger.

    Parameters
    ----------
    graph : the network (only its size is used; kept for the common stage signature).
    placement : result of :func:`place_neurons`.
    strategy : ``"minimize"`` (default) or ``"one_to_one"``.

    Returns
    -------
    MergerRouting: ``dnc_merger[c]`` per cell (-1 for sources), ``block_to_merger`` (384, 8)
    with -1 for blocks that carry no neurons.
    """
    strategy = _ALIASES.get(strategy, strategy)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown merger routing strategy {strategy!r}; allowed: "
                         f"{', '.join(STRATEGIES + tuple(_ALIASES))}")
    counts = neurons_per_block(placement)
    if strategy == "one_to_one":
        block_to_merger = np.where(counts > 0, np.arange(N_NB)[None, :], -1)
    else:
        block_to_merger = _minimize(counts)

    dnc = np.full(placement.hicann.shape, -1, dtype=np.int64)
    placed = placement.hicann >= 0
    dnc[placed] = block_to_merger[placement.hicann[placed], placement.block[placed]]
    return MergerRouting(dnc_merger=dnc, block_to_merger=block_to_merger.astype(np.int64))


def _minimize(counts: np.ndarray) -> np.ndarray:
    """marocco's merger tree router, vectorised over HICANNs (loop over 17 steps x 8 blocks)."""
    n_h = counts.shape[0]
    cols = np.arange(N_NB)
    assigned = np.full((n_h, N_NB), -1, dtype=np.int64)
    used = np.zeros((n_h, N_TREE_NODES), dtype=np.int64)
    merger_used = np.zeros((n_h, wafer.N_DNC_MERGERS), dtype=bool)
    pending = counts > 0
    for step, m in enumerate(MINIMIZE_ORDER):
        if not (pending & (assigned < 0)).any():
            break
        blocked = (used @ PATH[m].T.astype(np.int64)) > 0           # path crosses a used node
        ok = REACH[m][None, :] & ~blocked & (assigned < 0)
        active = ~merger_used[:, m] & ok[:, m]
        sel = np.zeros((n_h, N_NB), dtype=bool)
        sel[:, m] = active
        total = np.where(active, counts[:, m], 0)
        for direction in (range(m - 1, -1, -1), range(m + 1, N_NB)):   # left, then right
            grow = active.copy()
            for pos in direction:
                grow &= ok[:, pos] & (total + counts[:, pos] <= POOL_SIZE)
                sel[:, pos] = grow
                total = total + np.where(grow, counts[:, pos], 0)
        if step == 0:   # special case: everything onto DNC merger 3, or nothing
            sel &= sel.all(axis=1)[:, None]
        # drop empty blocks at both ends; keep the empty ones in between (contiguity)
        full = sel & (counts > 0)
        has = full.any(axis=1)
        lo = np.argmax(full, axis=1)
        hi = N_NB - 1 - np.argmax(full[:, ::-1], axis=1)
        keep = sel & has[:, None] & (cols >= lo[:, None]) & (cols <= hi[:, None])
        assigned[keep] = m
        used |= (keep.astype(np.int64) @ PATH[m].astype(np.int64)) > 0
        merger_used[:, m] |= has

    left = pending & (assigned < 0)
    if left.any():   # cannot happen with an intact tree; guard against future tree defects
        h, b = np.argwhere(left)[0]
        raise MappingError(f"neuron block {b} of HICANN {h} cannot be routed to any DNC merger")
    # blocks without neurons are reported unused, even if they sit inside a merged range
    return np.where(pending, assigned, -1)
