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

Driver chain length (marocco: "sources are also split if the target-side driver requirement
would exceed the chain length"): with ``chain_length`` set, a merger takes only as many of
the next sources as keep the synapse-driver requirement (14.8,
:class:`merger_routing.DriverDemand`) of *all* sources on that merger (earlier populations
included, with their L1 addresses) <= ``chain_length`` on every target HICANN; the rest goes
to the next merger.  The largest such prefix is found by a k-ary search over prefix lengths
(each round one vectorised requirement evaluation).  A source that alone exceeds the chain
length still goes onto an empty merger (a guard: one source never needs more than one
driver, so this does not happen with the current requirement rule).  If the sources of a
population cannot all be placed under this rule, the remaining ones are placed as before,
without it (they then lose synapses for want of drivers instead of failing the mapping).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from ..hardware import wafer
from .addresses import address_sequence
from .merger_routing import DriverDemand, input_capable_mergers
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
    """Free addresses per (HICANN, DNC merger) and remaining bandwidth per HICANN / FPGA;
    with a chain length, the sources already on each merger (for the driver check)."""

    def __init__(self, capable: np.ndarray, hicann_ok: np.ndarray, util: float,
                 strategy: str, chain_length: int | None = None,
                 demand: DriverDemand | None = None):
        self.pool = np.where(capable & hicann_ok[:, None], POOL_SIZE, 0).astype(np.int64)
        self.hicann_bw = np.where(hicann_ok, MAX_RATE_HICANN * util, 0.0)
        self.fpga_bw = np.full(wafer.N_RETICLES, MAX_RATE_FPGA * util)
        self.seq = address_sequence(strategy)
        self.initial_mergers = int((self.pool > 0).sum())
        self.chain_length = chain_length
        self.demand = demand
        #: (hicann, merger) -> ([cell arrays], [address arrays]) of the sources placed there
        self.members: dict[tuple[int, int], tuple[list, list]] = {}

    def _driver_fit(self, h: int, m: int, cand: np.ndarray, addr: np.ndarray) -> int:
        """Largest k such that the sources on merger (h, m) plus ``cand[:k]`` (addresses
        ``addr[:k]``) need <= chain_length drivers on every target HICANN."""
        old_cells, old_addr = self.members.get((h, m), ([], []))
        all_cells = np.concatenate(old_cells + [cand]).astype(np.int64)
        all_addr = np.concatenate(old_addr + [addr]).astype(np.int64)
        n_old = all_cells.size - cand.size
        if self.demand.out_degree(cand).sum() == 0:
            return cand.size

        def fits(ks) -> np.ndarray:
            """Requirement check of the prefixes ``ks`` (the old sources plus ``cand[:k]``),
            all in one call."""
            sizes = n_old + np.asarray(ks, dtype=np.int64)
            rep = np.repeat(np.arange(sizes.size), sizes)
            pos = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            drivers = self.demand.max_drivers(all_cells[pos], all_addr[pos], rep, sizes.size)
            return drivers <= self.chain_length

        n = cand.size
        if fits([n])[0]:
            return n
        lo, hi = 0, n          # prefix lo fits (or is the empty prefix), prefix hi does not
        while hi - lo > 1:
            pts = np.unique(np.linspace(lo, hi, 9)[1:-1].round().astype(np.int64))
            pts = pts[(pts > lo) & (pts < hi)]
            ok = fits(pts)
            bad = pts[~ok]
            if bad.size:
                hi = int(bad[0])
            good = pts[ok & (pts < hi)]
            if good.size:
                lo = int(good[-1])
        return lo

    def insert(self, cells: np.ndarray, rate_hw: np.ndarray, hicanns: Sequence[int],
               out: SourcePlacement, constrained: bool = True) -> int:
        """Put sources ``cells`` (in order) onto ``hicanns`` (in order); returns how many.
        ``constrained``: apply the driver chain-length rule (if a chain length is set)."""
        n = cells.size
        cum = np.concatenate([[0.0], np.cumsum(rate_hw)])
        check = constrained and self.chain_length is not None and self.demand is not None
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
                addr = self.seq[POOL_SIZE - free:POOL_SIZE - free + k]
                if check:
                    k = self._driver_fit(int(h), int(m), cells[i:i + k], addr)
                    if k == 0:
                        if free < POOL_SIZE:
                            continue    # the merger's sources leave no room: next merger
                        k = 1           # a lone source that alone exceeds the chain length
                    addr = addr[:k]
                take = cells[i:i + k]
                out.hicann[take] = h
                out.dnc_merger[take] = m
                out.address[take] = addr
                load = cum[i + k] - cum[i]
                self.hicann_bw[h] -= load
                self.fpga_bw[fpga] -= load
                self.pool[h, m] -= k
                if self.demand is not None:
                    mem = self.members.setdefault((int(h), int(m)), ([], []))
                    mem[0].append(take)
                    mem[1].append(addr)
                i += k
                if i == n:
                    return n
        return i

    def insert_all(self, cells: np.ndarray, rate_hw: np.ndarray, hicanns: Sequence[int],
                   out: SourcePlacement) -> int:
        """:meth:`insert` under the chain-length rule; what does not fit that way is placed
        without it."""
        k = self.insert(cells, rate_hw, hicanns, out)
        if k < cells.size and self.chain_length is not None:
            k += self.insert(cells[k:], rate_hw[k:], hicanns, out, constrained=False)
        return k


def place_inputs(graph: BioGraph, placement: NeuronPlacement, mergers: MergerRouting,
                 hicann_ok: np.ndarray, speedup: float = wafer.DEFAULT_SPEEDUP,
                 bandwidth_utilization: float = 0.8,
                 manual: Mapping[int, Sequence[int]] | None = None,
                 address_strategy: str = "high_first",
                 chain_length: int | None = 3,
                 multapses: str = "realise",
                 hline_ok: np.ndarray | None = None) -> SourcePlacement:
    """Place the connected spike-source cells on input DNC mergers.

    .. rubric:: Parameters

    graph : BioGraph
        The network; ``rate[c]`` is the expected rate of source cell c in Hz (bio).
    placement, mergers : NeuronPlacement, MergerRouting
        Results of neuron placement and merger routing.
    hicann_ok : bool array (384,)
        Usable HICANNs.
    speedup : float
        Hardware / bio time ratio (1e4 default); hw rate = bio rate x speedup.
    bandwidth_utilization : float
        Fraction of the HICANN (17.8 MHz) and FPGA (125 MHz) caps used.
    manual : mapping or None
        {source population index: HICANN enums}; None uses ``graph.manual_hicanns`` of the
        source populations.
    address_strategy : str
        L1 address order within a merger (as :func:`assign_addresses`).
    chain_length : int or None
        Maximum synapse-driver chain length; a merger takes sources only while their driver
        requirement on every target HICANN stays within it (see module doc).  None: no such
        limit (only addresses and bandwidth split populations).
    multapses : str
        How the synapse stage treats repeated pairs (``"realise"`` or ``"per_projection"``);
        the driver check counts them the same way.
    hline_ok : bool array (384, 64) or None
        Usable H-buses: a DNC merger whose sending H-bus is defective (or driven from a
        missing neighbour, 6.4) cannot send, so it takes no sources (None: all usable).

    .. rubric:: Returns

    SourcePlacement
        HICANN, DNC merger, L1 address per cell; -1 for neurons and for sources without
        outgoing connections.

    .. rubric:: Raises

    MappingError
        A manual placement names an invalid or unavailable HICANN.
    ResourceExhaustedError
        Sources do not fit (message: how many, rate vs bandwidth, mergers).
    """
    if not speedup > 0:
        raise ValueError(f"speedup must be > 0, got {speedup!r}")
    if not 0 < bandwidth_utilization <= 1:
        raise ValueError(f"bandwidth_utilization must be in (0, 1], got {bandwidth_utilization!r}")
    if chain_length is not None and (isinstance(chain_length, bool)
                                     or int(chain_length) != chain_length or chain_length < 1):
        raise ValueError(f"driver chain length must be an integer >= 1, got {chain_length!r}")
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

    demand = DriverDemand(graph, placement, multapses) if chain_length is not None else None
    capable = input_capable_mergers(mergers.block_to_merger)
    if hline_ok is not None:
        sending = wafer.sending_hline(np.arange(wafer.N_DNC_MERGERS))
        capable &= np.asarray(hline_ok, dtype=bool)[:, sending]
    state = _InputState(capable, hicann_ok,
                        bandwidth_utilization, address_strategy,
                        None if chain_length is None else int(chain_length), demand)
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
        k = state.insert_all(cells, rate_hw[cells], hs, out)
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
        k = state.insert_all(cells, rate_hw[cells], walk, out)
        if k < cells.size:
            unplaced[p] = cells.size - k

    # virtual sources (the neurons of other wafers) that found no room stay unplaced: their
    # synapses are lost on this wafer, counted and reported (the loss policy decides);
    # the user's own sources that do not fit are an error, as in marocco
    virtual = np.asarray(graph.virtual, dtype=bool)
    own = {p: k for p, k in unplaced.items() if not virtual[p]}
    if own:
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
