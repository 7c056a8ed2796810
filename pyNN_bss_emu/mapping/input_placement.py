"""Input placement (14.6): spike sources -> free DNC mergers, fed from the FPGAs.

External spikes enter a HICANN through its 8 GbitLinks; GbitLink i feeds DNC merger i, which
must then be in input mode (carry no neurons; its own background-generator path free, see
:func:`merger_routing.input_capable_mergers`).  Each such merger takes up to 59 sources (one
L1 address each, ``high_first`` like neuron addresses).  Bandwidth caps (marocco
``InputPlacement``, hardware time): 17.8 MHz per HICANN link and 125 MHz per FPGA (one FPGA
per reticle of 8 HICANNs), both scaled by ``bandwidth_utilization`` (0.8).  A source's load is
its bio rate (Hz) x speed-up.

Order: manually placed source populations first (HICANNs in the order given), then the others
by decreasing number of distinct target HICANNs; each population walks the usable HICANNs by
distance from the mean (x, y) of its target HICANNs, fills free input mergers 7..0 (marocco's
order) and is split wherever addresses or bandwidth run out.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..hardware import wafer
from .addresses import address_sequence
from .merger_routing import input_capable_mergers
from .placement import _check_manual_hicanns, _label, _list_unplaced
from .types import (BioGraph, MergerRouting, NeuronPlacement, ResourceExhaustedError,
                    SourcePlacement)

#: marocco's rate limits in Hz (hardware time)
MAX_RATE_HICANN = 17.8e6
MAX_RATE_FPGA = 125e6
POOL_SIZE = len(wafer.USABLE_ADDRESSES)
#: input mergers are filled from 7 down to 0 (marocco keeps the old NB7-for-input habit)
INPUT_MERGER_ORDER = tuple(range(wafer.N_DNC_MERGERS - 1, -1, -1))


class _InputState:
    """Free addresses per (HICANN, DNC merger) and remaining bandwidth per HICANN / FPGA."""

    def __init__(self, capable: np.ndarray, hicann_ok: np.ndarray, util: float,
                 strategy: str):
        self.pool = np.where(capable & hicann_ok[:, None], POOL_SIZE, 0).astype(np.int64)
        self.hicann_bw = np.where(hicann_ok, MAX_RATE_HICANN * util, 0.0)
        self.fpga_bw = np.full(wafer.N_RETICLES, MAX_RATE_FPGA * util)
        self.seq = address_sequence(strategy)
        self.initial_mergers = int((self.pool > 0).sum())

    def insert(self, cells: np.ndarray, rate_hw: np.ndarray, hicanns: Sequence[int],
               out: SourcePlacement) -> int:
        """Put sources ``cells`` (in order) onto ``hicanns`` (in order); returns how many."""
        n = cells.size
        cum = np.concatenate([[0.0], np.cumsum(rate_hw)])
        i = 0
        for h in hicanns:
            fpga = wafer.FPGA_OF[h]
            for m in INPUT_MERGER_ORDER:
                free = int(self.pool[h, m])
                if free == 0:
                    continue
                avail = min(self.hicann_bw[h], self.fpga_bw[fpga])
                limit = min(free, n - i)
                # leading sources whose summed rate fits (relative slack for float round-off)
                k = int(np.searchsorted(cum[i + 1:i + 1 + limit] - cum[i],
                                        avail * (1 + 1e-12), side="right"))
                if k == 0:      # the next source exceeds this HICANN's remaining bandwidth
                    break
                take = cells[i:i + k]
                out.hicann[take] = h
                out.dnc_merger[take] = m
                out.address[take] = self.seq[POOL_SIZE - free:POOL_SIZE - free + k]
                load = cum[i + k] - cum[i]
                self.hicann_bw[h] -= load
                self.fpga_bw[fpga] -= load
                self.pool[h, m] -= k
                i += k
                if i == n:
                    return n
        return i


def place_inputs(graph: BioGraph, placement: NeuronPlacement, mergers: MergerRouting,
                 hicann_ok: np.ndarray, speedup: float = 1e4,
                 bandwidth_utilization: float = 0.8,
                 manual: Mapping[int, Sequence[int]] | None = None,
                 address_strategy: str = "high_first") -> SourcePlacement:
    """Place the connected spike-source cells on input DNC mergers.

    Parameters
    ----------
    graph : the network; ``rate[c]`` is the expected rate of source cell c in Hz (bio).
    placement, mergers : results of neuron placement and merger routing.
    hicann_ok : bool (384,), usable HICANNs.
    speedup : hardware / bio time ratio (1e4 default); hw rate = bio rate x speedup.
    bandwidth_utilization : fraction of the HICANN (17.8 MHz) and FPGA (125 MHz) caps used.
    manual : {source population index: HICANN enums}; None uses ``graph.manual_hicanns`` of
        the source populations.
    address_strategy : L1 address order within a merger (as :func:`assign_addresses`).

    Returns
    -------
    SourcePlacement (HICANN, DNC merger, L1 address per cell; -1 for neurons and for sources
    without outgoing connections).

    Raises
    ------
    MappingError : a manual placement names an invalid or unavailable HICANN.
    ResourceExhaustedError : sources do not fit (message: how many, rate vs bandwidth, mergers).
    """
    if not speedup > 0:
        raise ValueError(f"speedup must be > 0, got {speedup!r}")
    if not 0 < bandwidth_utilization <= 1:
        raise ValueError(f"bandwidth_utilization must be in (0, 1], got {bandwidth_utilization!r}")
    hicann_ok = np.asarray(hicann_ok, dtype=bool)
    n_cells = graph.n_cells
    out = SourcePlacement(hicann=np.full(n_cells, -1, dtype=np.int64),
                          dnc_merger=np.full(n_cells, -1, dtype=np.int64),
                          address=np.full(n_cells, -1, dtype=np.int64))
    is_source = np.asarray(graph.is_source, dtype=bool)
    if n_cells == 0 or not is_source.any():
        return out

    rate = np.asarray(graph.rate, dtype=float)
    pop_of = graph.population_of
    pre = np.asarray(graph.pre, dtype=np.int64)
    post = np.asarray(graph.post, dtype=np.int64)
    connected = np.zeros(n_cells, dtype=bool)
    connected[pre] = True
    to_place = connected & is_source[pop_of]
    bad = to_place & ~(np.isfinite(rate) & (rate >= 0))
    if bad.any():
        c = int(np.argmax(bad))
        raise ValueError(f"spike source {c} of population '{_label(graph, int(pop_of[c]))}' has "
                         f"rate {rate[c]!r} Hz; rates must be finite and >= 0")
    rate_hw = np.where(to_place, rate, 0.0) * speedup

    state = _InputState(input_capable_mergers(mergers.block_to_merger), hicann_ok,
                        bandwidth_utilization, address_strategy)
    source_pops = [p for p in np.unique(pop_of[to_place])]
    cells_of = {p: np.nonzero(to_place & (pop_of == p))[0] for p in source_pops}

    if manual is None:
        manual = {p: graph.manual_hicanns[p] for p in source_pops
                  if graph.manual_hicanns is not None and p < len(graph.manual_hicanns)
                  and graph.manual_hicanns[p] is not None and len(graph.manual_hicanns[p]) > 0}
    unplaced: dict[int, int] = {}

    # 1. manual placements, in population order
    for p in sorted(int(q) for q in manual if q in cells_of):
        hs = _check_manual_hicanns(graph, p, manual[p], hicann_ok, what="spike sources")
        cells = cells_of[p]
        k = state.insert(cells, rate_hw[cells], hs, out)
        if k < cells.size:
            raise ResourceExhaustedError(
                f"spike-source population '{_label(graph, p)}': manual placement on HICANN(s) "
                f"{', '.join(map(str, hs))} has room for only {k} of {cells.size} sources "
                f"(free input DNC mergers x {POOL_SIZE} addresses, "
                f"{MAX_RATE_HICANN * bandwidth_utilization / 1e6:.4g} MHz per HICANN, "
                f"{MAX_RATE_FPGA * bandwidth_utilization / 1e6:.4g} MHz per FPGA at speedup "
                f"{speedup:g}; requested {rate_hw[cells].sum() / 1e6:.4g} MHz)")

    # 2. automatic: mean position of the distinct target HICANNs, most targets first
    auto = [int(p) for p in source_pops if int(p) not in manual]
    n_targets, mean_x, mean_y = _target_centres(graph, placement, pre, post, pop_of, to_place)
    auto.sort(key=lambda p: (-n_targets[p], p))
    centre = (wafer.HICANN_X.mean(), wafer.HICANN_Y.mean())
    enums = np.arange(wafer.N_HICANN)
    for p in auto:
        cells = cells_of[p]
        cx, cy = (mean_x[p], mean_y[p]) if n_targets[p] > 0 else centre
        # skip HICANNs that cannot take even the slowest remaining source (saves the walk
        # through exhausted parts of the wafer)
        avail = np.minimum(state.hicann_bw, state.fpga_bw[wafer.FPGA_OF])
        slowest = rate_hw[cells].min()
        cand = enums[(state.pool.sum(axis=1) > 0) & (avail * (1 + 1e-12) >= slowest)]
        d2 = (wafer.HICANN_X[cand] - cx) ** 2 + (wafer.HICANN_Y[cand] - cy) ** 2
        walk = cand[np.lexsort((cand, d2))]
        k = state.insert(cells, rate_hw[cells], walk, out)
        if k < cells.size:
            unplaced[p] = cells.size - k

    if unplaced:
        raise ResourceExhaustedError(_shortfall_message(
            graph, state, unplaced, to_place, rate, rate_hw, hicann_ok, speedup,
            bandwidth_utilization))
    return out


def _target_centres(graph: BioGraph, placement: NeuronPlacement, pre: np.ndarray,
                    post: np.ndarray, pop_of: np.ndarray, to_place: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per population: number of distinct target HICANNs and their mean grid x, y."""
    n_pop = int(np.size(graph.size))
    sel = to_place[pre]
    tgt = placement.hicann[post[sel]]
    ok = tgt >= 0
    pair = np.unique(pop_of[pre[sel]][ok] * wafer.N_HICANN + tgt[ok])   # distinct (pop, HICANN)
    p, h = pair // wafer.N_HICANN, pair % wafer.N_HICANN
    n = np.bincount(p, minlength=n_pop)
    sx = np.bincount(p, weights=wafer.HICANN_X[h], minlength=n_pop)
    sy = np.bincount(p, weights=wafer.HICANN_Y[h], minlength=n_pop)
    with np.errstate(invalid="ignore", divide="ignore"):
        return n, sx / n, sy / n


def _shortfall_message(graph: BioGraph, state: _InputState, unplaced: dict[int, int],
                       to_place: np.ndarray, rate: np.ndarray, rate_hw: np.ndarray,
                       hicann_ok: np.ndarray, speedup: float, util: float) -> str:
    n_total = int(to_place.sum())
    n_left = int(sum(unplaced.values()))
    per_pop = _list_unplaced(graph, unplaced)
    hcap, fcap = MAX_RATE_HICANN * util, MAX_RATE_FPGA * util
    # usable bandwidth: per FPGA the smaller of its cap and the sum of its HICANNs' caps
    per_fpga = np.minimum(np.bincount(wafer.FPGA_OF, weights=np.where(hicann_ok, hcap, 0.0),
                                      minlength=wafer.N_RETICLES), fcap)
    too_fast = int((to_place & (rate_hw > hcap)).sum())
    fast_txt = (f"; {too_fast} sources each exceed the per-HICANN cap on their own"
                if too_fast else "")
    return (f"cannot place {n_left} of {n_total} spike sources ({per_pop}): total input rate "
            f"{rate_hw.sum() / 1e6:.6g} MHz hw ({rate[to_place].sum():.6g} Hz bio x speedup "
            f"{speedup:g}) vs usable bandwidth {per_fpga.sum() / 1e6:.6g} MHz "
            f"({int(hicann_ok.sum())} HICANNs x {hcap / 1e6:.4g} MHz, FPGAs x "
            f"{fcap / 1e6:.4g} MHz; bandwidth_utilization {util:g}){fast_txt}; input DNC "
            f"mergers: {state.initial_mergers} free after neuron placement "
            f"({state.initial_mergers * POOL_SIZE} addresses), "
            f"{int((state.pool == POOL_SIZE).sum())} still unused. Lower the source rates, "
            f"use fewer sources or leave more DNC mergers free (fewer neurons per HICANN).")
