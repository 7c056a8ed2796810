"""Merger routing: neuron blocks -> DNC mergers through the per-HICANN merger tree (14.4).

Each HICANN has a fixed binary merger tree (Merger0[0..7] -> Merger1[0..3] -> Merger2[0..1] ->
Merger3[0]); DNC merger ``i`` taps one tree node, so it can collect the neuron blocks
``wafer.DNC_MERGER_BLOCKS[i]``.  A block sends through the chain of tree nodes from its
Merger0 up to that node; two DNC mergers cannot share a tree node (the node's output carries
whatever it selected).  Every DNC merger that carries neurons drives one sending repeater
(one L1 bus); the others stay free for external input (input placement).

Strategies:

* ``"minimize_as_possible"`` (default, marocco's default with ``ConstrainMergers``): like
  ``"minimize"``, but a block is merged into a DNC merger only if, after a simulated L1
  address assignment (a fresh 59-address pool per merger, handed out in placement order
  (block, first column) with the address strategy, ``high_first`` by default, exactly as
  :func:`addresses.assign_addresses` will do it), the synapse-driver requirement
  (:func:`synapse_drivers.driver_requirements`, 14.8) of the merged source on every target
  HICANN stays <= ``chain_length``.  The requirement counts the connections from the merged
  neurons to their targets per target neuron, receptor and 2-MSB decoder (multapses
  counted as the synapse stage realises them: ``multapses`` of :func:`route_mergers`).
  Growth in a direction stops at the first block that would break the chain length or
  the address pool.  A block on its own is never refused
  (it has to be routed somewhere); for the all-into-3 special case the whole merged set is
  checked once.
* ``"minimize"`` (marocco's ``minimize_number_of_sending_repeaters``): try DNC
  mergers in marocco's order ``[3 (all 8 blocks or nothing), 5, 3, 6, 3, 5, 3, 1, 3, 0, 1, 2,
  3, 4, 5, 6, 7]``; for each, start at the block with the same index and grow left, then
  right, over adjacent unassigned blocks reachable through unused tree nodes while the total
  number of neurons stays <= 59 (the L1 address pool); empty blocks at either end are dropped
  (they stay free for input).  A block is assigned once.
* ``"one_to_one"``: block b -> DNC merger b (no merging; most L1 buses, highest rate headroom).

:class:`DriverDemand` (also used by input placement) evaluates the driver requirement of
many candidate L1 sources in one vectorised call.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..hardware import wafer
from .addresses import address_sequence
from .options import MULTAPSE_MODES
from .stp import stp_classes
from .synapse_drivers import driver_requirements
from .types import BioGraph, MappingError, MergerRouting, NeuronPlacement

STRATEGIES = ("minimize_as_possible", "minimize", "one_to_one")
DEFAULT_STRATEGY = "minimize_as_possible"
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


def _sorted_unique(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct values of an int64 array, their counts and the inverse index (plain
    sort; numpy's hash-based ``np.unique`` is several times slower on large int arrays)."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    first = np.ones(s.size, dtype=bool)
    first[1:] = s[1:] != s[:-1]
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, s.size))
    inverse = np.empty(a.size, dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return s[starts], counts, inverse


class DriverDemand:
    """Synapse-driver requirement of candidate L1 sources (14.8), vectorised.

    Holds the connections whose target neuron is placed, sorted by pre cell (CSR ``ptr``),
    with multapses counted as the synapse stage will realise them (``multapses``, see
    :data:`~pyNN_bss_emu.mapping.options.MULTAPSE_MODES`): ``"realise"`` every connection,
    ``"per_projection"`` one per (pre, post, row class) and projection (marocco).
    :meth:`max_drivers` takes any number of candidate sources at once: a
    candidate is a set of source cells with their 6-bit L1 addresses that would share one
    L1 bus; its requirement on target HICANN t is ``driver_requirements`` of the synapses
    from those cells to neurons on t, grouped per (target neuron, receptor, 2-MSB decoder
    ``address >> 4``); the method returns the maximum over target HICANNs.
    """

    def __init__(self, graph: BioGraph, placement: NeuronPlacement,
                 multapses: str = "realise") -> None:
        if multapses not in MULTAPSE_MODES:
            raise ValueError(f"multapses={multapses!r}: expected one of {MULTAPSE_MODES}")
        n = max(int(graph.n_cells), 1)
        pre = np.asarray(graph.pre, dtype=np.int64)
        post = np.asarray(graph.post, dtype=np.int64)
        rec = np.asarray(graph.receptor, dtype=np.int64)
        hicann = np.asarray(placement.hicann, dtype=np.int64)
        keep = hicann[post] >= 0 if post.size else np.zeros(0, dtype=bool)
        # row class = STP class * 2 + receptor (a driver carries one STP setting, 14.8)
        class_key, stp_cls = stp_classes(np.asarray(graph.stp_key, dtype=np.int64)[keep])
        self.n_stp = class_key.size
        nc = 2 * self.n_stp
        key = (pre[keep] * n + post[keep]) * nc + stp_cls * 2 + rec[keep]
        if multapses == "realise":
            key = np.sort(key)
        elif key.size:
            # one synapse per pair and projection, as the synapse stage keeps it
            proj = np.asarray(graph.projection, dtype=np.int64)[keep]
            order = np.lexsort((proj, key))
            key, proj = key[order], proj[order]
            key = key[np.r_[True, (key[1:] != key[:-1]) | (proj[1:] != proj[:-1])]]
        self.n_cells = n
        self.n_classes = nc
        self.pre = key // (nc * n)
        self.post = (key // nc) % n
        self.receptor = key % nc          # row class
        self.ptr = np.searchsorted(self.pre, np.arange(n + 1))
        # per cell: where the target neurons sit
        self.cell_hicann = hicann
        self.cell_x0 = np.asarray(placement.x0, dtype=np.int64)
        self.cell_width = np.asarray(placement.width, dtype=np.int64)

    def out_degree(self, cells: np.ndarray) -> np.ndarray:
        cells = np.asarray(cells, dtype=np.int64)
        return self.ptr[cells + 1] - self.ptr[cells]

    def max_drivers(self, cells, address, candidate, n_candidates: int) -> np.ndarray:
        """Drivers needed per candidate (int64, ``n_candidates``): the maximum over target
        HICANNs.  Entry e says: cell ``cells[e]`` with L1 address ``address[e]`` belongs to
        candidate ``candidate[e]`` (a cell may appear in several candidates)."""
        out = np.zeros(n_candidates, dtype=np.int64)
        cells = np.asarray(cells, dtype=np.int64)
        if cells.size == 0:
            return out
        start = self.ptr[cells]
        cnt = self.ptr[cells + 1] - start
        total = int(cnt.sum())
        if total == 0:
            return out
        rep = np.repeat(np.arange(cells.size), cnt)
        conn = np.repeat(start - (np.cumsum(cnt) - cnt), cnt) + np.arange(total)
        n = self.n_cells
        cand = np.asarray(candidate, dtype=np.int64)[rep]
        dec = np.asarray(address, dtype=np.int64)[rep] >> 4
        post = self.post[conn]
        nc = self.n_classes
        gkey = ((cand * n + post) * nc + self.receptor[conn]) * 4 + dec
        gkey, counts, _ = _sorted_unique(gkey)
        g_dec = gkey % 4
        g_cls = (gkey // 4) % nc
        g_post = (gkey // (4 * nc)) % n
        g_cand = gkey // (4 * nc * n)
        rkey = g_cand * wafer.N_HICANN + self.cell_hicann[g_post]
        rk, _, g_req = _sorted_unique(rkey)
        req = driver_requirements(g_req, self.cell_x0[g_post], self.cell_width[g_post],
                                  g_cls % 2, g_dec, counts, rk.size, group_stp=g_cls // 2,
                                  n_stp=self.n_stp)
        np.maximum.at(out, rk // wafer.N_HICANN, req.drivers)
        return out


def route_mergers(graph: BioGraph, placement: NeuronPlacement,
                  strategy: str = DEFAULT_STRATEGY, chain_length: int | None = 3,
                  address_strategy: str = "high_first",
                  multapses: str = "realise") -> MergerRouting:
    """Assign every used neuron block to a DNC merger.

    .. rubric:: Parameters

    graph : BioGraph
        The network (its connections are used by ``"minimize_as_possible"``).
    placement : NeuronPlacement
        Result of :func:`place_neurons`.
    strategy : str
        ``"minimize_as_possible"`` (default), ``"minimize"`` or ``"one_to_one"``.
    chain_length : int or None
        Maximum synapse-driver chain length; ``"minimize_as_possible"`` merges a block only
        if the merged source needs at most this many drivers on every target HICANN (None:
        no limit, i.e. ``"minimize"``).
    address_strategy : str
        The L1 address order the simulated address assignment uses (must be the one
        :func:`addresses.assign_addresses` is called with).
    multapses : str
        How the synapse stage treats repeated pairs (``"realise"`` or ``"per_projection"``);
        the driver requirement of ``"minimize_as_possible"`` counts them the same way.

    .. rubric:: Returns

    MergerRouting
        ``dnc_merger[c]`` per cell (-1 for sources), ``block_to_merger`` (384, 8) with -1
        for blocks that carry no neurons.
    """
    strategy = _ALIASES.get(strategy, strategy)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown merger routing strategy {strategy!r}; allowed: "
                         f"{', '.join(STRATEGIES + tuple(_ALIASES))}")
    if strategy == "minimize_as_possible" and chain_length is not None:
        if isinstance(chain_length, bool) or int(chain_length) != chain_length \
                or chain_length < 1:
            raise ValueError(f"driver chain length must be an integer >= 1, got "
                             f"{chain_length!r}")
    seq = address_sequence(address_strategy)
    counts = neurons_per_block(placement)
    if strategy == "one_to_one":
        block_to_merger = np.where(counts > 0, np.arange(N_NB)[None, :], -1)
    elif strategy == "minimize_as_possible" and chain_length is not None:
        block_to_merger = _minimize(counts, _chain_check(graph, placement, int(chain_length),
                                                         seq, multapses))
    else:
        block_to_merger = _minimize(counts)

    dnc = np.full(placement.hicann.shape, -1, dtype=np.int64)
    placed = placement.hicann >= 0
    dnc[placed] = block_to_merger[placement.hicann[placed], placement.block[placed]]
    return MergerRouting(dnc_merger=dnc, block_to_merger=block_to_merger.astype(np.int64))


def _chain_check(graph: BioGraph, placement: NeuronPlacement, chain_length: int,
                 seq: np.ndarray, multapses: str = "realise") -> Callable | None:
    """``accept(rows, lo, hi)``: for HICANNs ``rows`` (int array), does the source made of
    neuron blocks ``lo[i]..hi[i]`` of HICANN ``rows[i]`` (on one DNC merger, addresses from a
    fresh pool in placement order) need <= ``chain_length`` drivers on every target?"""
    if np.size(graph.pre) == 0:
        return None
    demand = DriverDemand(graph, placement, multapses)
    placed = np.flatnonzero(placement.hicann >= 0)
    # placed neurons in placement order (HICANN, block, first column): the order in which
    # assign_addresses pops addresses; the neurons of a block range are contiguous
    order = placed[np.lexsort((placement.x0[placed], placement.block[placed],
                               placement.hicann[placed]))]
    slot = placement.hicann[order] * N_NB + placement.block[order]
    ptr = np.searchsorted(slot, np.arange(wafer.N_HICANN * N_NB + 1))
    # neurons without outgoing connections cannot break a chain: skip the check when a
    # candidate's neurons have none at all
    has_out = np.concatenate([[0], np.cumsum(demand.out_degree(order) > 0)])

    def accept(rows: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        s = ptr[rows * N_NB + lo]
        e = ptr[rows * N_NB + hi + 1]
        ok = np.ones(rows.size, dtype=bool)
        live = np.flatnonzero(has_out[e] > has_out[s])
        if live.size == 0:
            return ok
        s, e = s[live], e[live]
        cnt = e - s
        rep = np.repeat(np.arange(live.size), cnt)
        rank = np.arange(int(cnt.sum())) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        idx = s[rep] + rank
        drivers = demand.max_drivers(order[idx], seq[rank], rep, live.size)
        ok[live] = drivers <= chain_length
        return ok

    return accept


def _minimize(counts: np.ndarray, accept: Callable | None = None) -> np.ndarray:
    """marocco's merger tree router, vectorised over HICANNs (loop over 17 steps x 8 blocks).

    ``accept(rows, lo, hi)`` (optional) vets a merged block range per HICANN (the chain
    length check of ``minimize_as_possible``); growth stops at the first refused block."""
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
        lo = np.full(n_h, m)
        hi = np.full(n_h, m)
        for direction in (range(m - 1, -1, -1), range(m + 1, N_NB)):   # left, then right
            grow = active.copy()
            for pos in direction:
                grow &= ok[:, pos] & (total + counts[:, pos] <= POOL_SIZE)
                if accept is not None and step > 0:
                    # a merge that adds neurons to a non-empty range must keep the chain
                    rows = np.flatnonzero(grow & (counts[:, pos] > 0) & (total > 0))
                    if rows.size:
                        new_lo = np.minimum(lo[rows], pos)
                        new_hi = np.maximum(hi[rows], pos)
                        grow[rows] &= accept(rows, new_lo, new_hi)
                sel[:, pos] = grow
                total = total + np.where(grow, counts[:, pos], 0)
                lo = np.where(grow, np.minimum(lo, pos), lo)
                hi = np.where(grow, np.maximum(hi, pos), hi)
        if step == 0:   # special case: everything onto DNC merger 3, or nothing
            sel &= sel.all(axis=1)[:, None]
            if accept is not None:
                rows = np.flatnonzero(sel[:, 0] & ((counts > 0).sum(axis=1) > 1))
                if rows.size:
                    sel[rows] &= accept(rows, np.zeros(rows.size, np.int64),
                                        np.full(rows.size, N_NB - 1))[:, None]
        # drop empty blocks at both ends; keep the empty ones in between (contiguity)
        full = sel & (counts > 0)
        has = full.any(axis=1)
        first = np.argmax(full, axis=1)
        last = N_NB - 1 - np.argmax(full[:, ::-1], axis=1)
        keep = sel & has[:, None] & (cols >= first[:, None]) & (cols <= last[:, None])
        assigned[keep] = m
        used |= (keep.astype(np.int64) @ PATH[m].astype(np.int64)) > 0
        merger_used[:, m] |= has

    left = pending & (assigned < 0)
    if left.any():   # cannot happen with an intact tree; guard against future tree defects
        h, b = np.argwhere(left)[0]
        raise MappingError(f"neuron block {b} of HICANN {h} cannot be routed to any DNC merger")
    # blocks without neurons are reported unused, even if they sit inside a merged range
    return np.where(pending, assigned, -1)
