"""Runs the mapper's stages in marocco's order and accounts for synapse loss.

``map_network(graph, options, defects)`` -> :class:`MappingResult`.  Every stage's wall time is
recorded; realised + lost == requested is checked before returning.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, asdict

import numpy as np

from ..hardware import wafer
from . import addresses, input_placement, l1_routing, merger_routing, placement, synapses
from . import stp as _stp
# the options live with the other stage options; re-exported so that
# ``from pyNN_bss_emu.mapping.pipeline import MappingOptions`` keeps working
from .options import MappingOptions
from .types import BioGraph, L1Routes, MappingError, MergerRouting, NeuronPlacement, \
    SourcePlacement

#: routed delay model (brainscales1.md section 8): d = slope * HICANNs on the route + offset
DELAY_PER_HOP_MS = 0.0397
DELAY_OFFSET_MS = 0.6444


class SynapseLossError(MappingError):
    """Synapses could not be realised and ``continue_despite_synapse_loss`` is False."""

    def __init__(self, message: str, statistics: "MappingStatistics") -> None:
        super().__init__(message)
        self.statistics = statistics


@dataclass
class ProjectionLoss:
    label: str
    requested: int
    realized: int
    lost: int

    @property
    def loss(self) -> float:
        return self.lost / self.requested if self.requested else 0.0


@dataclass
class MappingStatistics:
    """Summary of a mapping (like marocco's ``MappingStats``); times in seconds."""
    synapses_requested: int
    synapses_realized: int
    synapses_lost: int
    synapses_lost_l1: int
    synapses_lost_drivers: int
    synapses_lost_synapse_array: int
    synapses_lost_multapse: int
    neurons_placed: int
    sources_placed: int
    hicanns_used: int
    l1_routes: int
    l1_routes_failed: int
    per_projection: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    #: 4-bit weight realisation (updated whenever weights are written): counts of synapses
    #: ``disabled`` (weight 0), ``clipped`` (above the row's largest level), ``rounded_to_zero``
    #: (digital 0, which still conducts g(0)), ``below_min`` (requested below g(0))
    weights: dict = field(default_factory=dict)
    #: synapse drivers in use per STP mode: ``{"static": n, "depression": n,
    #: "facilitation": n}`` (a driver carries one STP setting)
    stp_drivers: dict = field(default_factory=dict)

    @property
    def synapse_loss(self) -> float:
        """Fraction of requested synapses that could not be realised."""
        return self.synapses_lost / self.synapses_requested if self.synapses_requested else 0.0

    def __str__(self) -> str:
        lines = [f"MappingStatistics: synapse loss {self.synapses_lost} of "
                 f"{self.synapses_requested} ({100 * self.synapse_loss:.2f} %; "
                 f"{self.synapses_lost_l1} after L1 routing, {self.synapses_lost_drivers} for "
                 f"want of synapse drivers, {self.synapses_lost_synapse_array} for want of "
                 f"synapse slots, {self.synapses_lost_multapse} multapses)",
                 f"  neurons placed {self.neurons_placed}, spike sources placed "
                 f"{self.sources_placed}, HICANNs used {self.hicanns_used}, L1 routes "
                 f"{self.l1_routes} ({self.l1_routes_failed} failed)"]
        if self.stp_drivers:
            lines.append("  synapse drivers: " + ", ".join(f"{k} {v}" for k, v in
                                                         self.stp_drivers.items()))
        for p in self.per_projection:
            lines.append(f"  projection {p.label}: {p.lost} of {p.requested} lost "
                         f"({100 * p.loss:.2f} %)")
        lines.append("  timings (s): " + ", ".join(f"{k} {v:.3f}" for k, v in
                                                  self.timings.items()))
        if self.weights:
            lines.append("  4-bit weights: " + ", ".join(f"{k} {v}" for k, v in
                                                       self.weights.items()))
        return "\n".join(lines)


@dataclass
class MappingResult:
    """Everything the surface needs from a mapping, as arrays indexed by mapper cell or by
    connection (in ``BioGraph`` numbering)."""
    placement: NeuronPlacement
    mergers: MergerRouting
    neuron_address: np.ndarray
    sources: SourcePlacement
    routes: L1Routes
    realized: np.ndarray          # per connection
    delay_ms: np.ndarray          # per connection: routed delay (NaN where not realised)
    statistics: MappingStatistics
    fingerprint: str
    syn_hicann: np.ndarray = None  # per connection: hardware synapse (-1 where lost)
    syn_row: np.ndarray = None     # synapse row 0..447
    syn_column: np.ndarray = None  # synapse column 0..255
    #: per HICANN and driver: the STP key the driver is configured for (-1 unused; mapping.stp)
    driver_stp: np.ndarray = None

    def cell_hicann(self) -> np.ndarray:
        """HICANN of every cell (neurons from placement, sources from input placement)."""
        return np.where(self.placement.hicann >= 0, self.placement.hicann, self.sources.hicann)

    def cell_address(self) -> np.ndarray:
        return np.where(self.neuron_address >= 0, self.neuron_address, self.sources.address)

    def cell_merger(self) -> np.ndarray:
        return np.where(self.mergers.dnc_merger >= 0, self.mergers.dnc_merger,
                        self.sources.dnc_merger)

    # ------------------------------------------------------------ persistence
    def save(self, path: str) -> None:
        """Write the mapping as compressed numpy archive (``.npz``)."""
        arrays = {}
        for prefix, rec in (("placement", self.placement), ("mergers", self.mergers),
                            ("sources", self.sources), ("routes", self.routes)):
            for name, value in asdict(rec).items():
                if value is not None:      # optional fields of older mappings
                    arrays[f"{prefix}.{name}"] = np.asarray(value)
        arrays["neuron_address"] = self.neuron_address
        arrays["realized"] = self.realized
        arrays["delay_ms"] = self.delay_ms
        arrays["syn_hicann"] = self.syn_hicann
        arrays["syn_row"] = self.syn_row
        arrays["syn_column"] = self.syn_column
        if self.driver_stp is not None:
            arrays["driver_stp"] = self.driver_stp
        stats = asdict(self.statistics)
        arrays["statistics"] = np.array(json.dumps(stats))
        arrays["fingerprint"] = np.array(self.fingerprint)
        np.savez_compressed(path, **arrays)

    @classmethod
    def load(cls, path: str) -> "MappingResult":
        with np.load(path, allow_pickle=False) as f:
            data = {k: f[k] for k in f.files}

        def rec(kind, prefix):
            names = [k.split(".", 1)[1] for k in data if k.startswith(prefix + ".")]
            return kind(**{n: data[f"{prefix}.{n}"] for n in names})
        stats = json.loads(str(data["statistics"]))
        stats["per_projection"] = [ProjectionLoss(**p) for p in stats["per_projection"]]
        return cls(placement=rec(NeuronPlacement, "placement"),
                   mergers=rec(MergerRouting, "mergers"),
                   neuron_address=data["neuron_address"],
                   sources=rec(SourcePlacement, "sources"),
                   routes=rec(L1Routes, "routes"),
                   realized=data["realized"], delay_ms=data["delay_ms"],
                   statistics=MappingStatistics(**stats),
                   fingerprint=str(data["fingerprint"]),
                   syn_hicann=data["syn_hicann"], syn_row=data["syn_row"],
                   syn_column=data["syn_column"],
                   driver_stp=data.get("driver_stp"))   # absent in older files


def fingerprint(graph: BioGraph) -> str:
    """A hash of the network structure (sizes, kinds, neuron sizes, connections and their
    STP keys, stimulated neurons); a saved mapping may only be reused for a network with the
    same fingerprint.  (The STP keys and the current stimuli enter only when there are any,
    so other networks keep the fingerprint of older versions.)"""
    import hashlib
    h = hashlib.sha256()
    for arr in (graph.size, graph.is_source, graph.neuron_size, graph.pre, graph.post,
                graph.receptor, graph.projection):
        a = np.ascontiguousarray(np.asarray(arr, dtype=np.int64))
        h.update(a.tobytes())
        h.update(b"|")
    if np.any(graph.stp_key):
        h.update(b"stp")
        h.update(np.ascontiguousarray(np.asarray(graph.stp_key, dtype=np.int64)).tobytes())
        h.update(b"|")
    if np.any(graph.stimulus >= 0):      # current stimuli (issue 12) take FG blocks
        h.update(b"stimulus")
        h.update(np.ascontiguousarray(np.asarray(graph.stimulus, dtype=np.int64)).tobytes())
        h.update(b"|")
    h.update(repr(graph.manual_hicanns).encode())
    return h.hexdigest()[:32]


def _route_requests(graph: BioGraph, src_hicann: np.ndarray, src_merger: np.ndarray,
                    post_hicann: np.ndarray):
    """Group connections into L1 route sources (hicann, merger of the presynaptic cell) and
    target HICANNs.  Returns (source hicann, source merger, targets per source, per-connection
    route source index)."""
    key = src_hicann * wafer.N_DNC_MERGERS + src_merger
    uniq, conn_source = np.unique(key, return_inverse=True)
    order = np.lexsort((post_hicann, conn_source))
    pairs = np.stack([conn_source[order], post_hicann[order]], axis=1)
    if pairs.size:
        first = np.r_[True, np.any(pairs[1:] != pairs[:-1], axis=1)]
        pairs = pairs[first]
    bounds = np.searchsorted(pairs[:, 0], np.arange(uniq.size + 1)) if pairs.size else \
        np.zeros(uniq.size + 1, dtype=np.int64)
    targets = [pairs[bounds[r]:bounds[r + 1], 1] for r in range(uniq.size)]
    return uniq // wafer.N_DNC_MERGERS, uniq % wafer.N_DNC_MERGERS, targets, conn_source


def _request_index(routes: L1Routes, conn_source: np.ndarray, post_hicann: np.ndarray) \
        -> np.ndarray:
    """Index of the L1 request (route source, target HICANN) of every connection, -1 if the
    route failed."""
    n_h = wafer.N_HICANN
    req_key = routes.req_source.astype(np.int64) * n_h + routes.req_target
    order = np.argsort(req_key, kind="stable")
    conn_key = conn_source.astype(np.int64) * n_h + post_hicann
    pos = np.searchsorted(req_key[order], conn_key)
    pos = np.minimum(pos, max(req_key.size - 1, 0))
    q = order[pos] if req_key.size else np.full(conn_key.size, -1)
    found = (req_key[q] == conn_key) if req_key.size else np.zeros(conn_key.size, bool)
    ok = found & routes.req_ok[q] if req_key.size else found
    return np.where(ok, q, -1)


AUTO_MERGER_STRATEGIES = ("minimize_as_possible", "minimize")


def _route_and_allocate(graph, place, options: MappingOptions, strategy, defects, timed):
    """The stages after neuron placement for one merger strategy."""
    chain_length = options.synapse_routing.driver_chain_length
    address_strategy = options.address_assignment.strategy
    mergers = timed("merger_routing", merger_routing.route_mergers, graph, place,
                    strategy=strategy, chain_length=chain_length,
                    address_strategy=address_strategy)
    neuron_addr = timed("address_assignment", addresses.assign_addresses, place, mergers,
                        strategy=address_strategy)
    sources = timed("input_placement", input_placement.place_inputs, graph, place, mergers,
                    defects.hicann_ok, speedup=options.speedup,
                    bandwidth_utilization=options.input_placement.bandwidth_utilization,
                    chain_length=chain_length, address_strategy=address_strategy)
    cell_hicann = np.where(place.hicann >= 0, place.hicann, sources.hicann)
    cell_merger = np.where(mergers.dnc_merger >= 0, mergers.dnc_merger, sources.dnc_merger)
    cell_address = np.where(neuron_addr >= 0, neuron_addr, sources.address)
    pre, post = graph.pre, graph.post
    post_hicann = place.hicann[post]
    src_h, src_m, targets, conn_source = _route_requests(graph, cell_hicann[pre],
                                                         cell_merger[pre], post_hicann)
    routes = timed("l1_routing", l1_routing.route_l1, src_h, src_m, targets,
                   hicann_ok=defects.hicann_ok, hline_ok=defects.hline_ok,
                   vline_ok=defects.vline_ok, algorithm=options.l1_routing.algorithm)
    conn_request = _request_index(routes, conn_source, post_hicann)
    alloc = timed("synapse_routing", synapses.allocate_synapses,
                  conn_request, cell_address[pre], post_hicann, place.x0[post],
                  place.width[post], graph.receptor, routes.req_target, routes.req_vline,
                  routes.req_side, routes.req_ok, driver_ok=defects.driver_ok,
                  chain_length=chain_length, conn_stp=graph.stp_key)
    return mergers, neuron_addr, sources, routes, conn_request, alloc


def map_network(graph: BioGraph, options: MappingOptions, defects,
                progress=None) -> MappingResult:
    """Map ``graph`` on a wafer with the given defects (a ``DefectMap``).

    ``progress``: optional callback ``progress(stage, done, total)`` called after every stage
    (``done`` of ``total`` stages finished; used for a progress bar).

    Raises ``ResourceExhaustedError`` when neurons, addresses or input bandwidth run out and
    ``SynapseLossError`` when synapses are lost and the options do not allow it.
    """
    timings: dict[str, float] = {}
    strategies = AUTO_MERGER_STRATEGIES if options.merger_routing.strategy == "auto" \
        else (options.merger_routing.strategy,)
    n_stages = 1 + 5 * len(strategies)    # placement, then 5 stages per merger strategy
    stages_done = [0]

    def timed(name, func, *args, **kwargs):
        t0 = time.perf_counter()
        out = func(*args, **kwargs)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - t0
        if progress is not None:
            stages_done[0] += 1
            progress(name, stages_done[0], n_stages)
        return out

    t_start = time.perf_counter()
    place = timed("neuron_placement", placement.place_neurons, graph, defects.denmem_ok,
                  defects.hicann_ok, strategy=options.neuron_placement.strategy)
    best = None
    for strategy in strategies:
        trial = _route_and_allocate(graph, place, options, strategy, defects, timed)
        # keep the merger strategy that realises most synapses (first wins a tie)
        if best is None or trial[-1].realized.sum() > best[-1].realized.sum():
            best = trial
    mergers, neuron_addr, sources, routes, conn_request, alloc = best
    realized = np.asarray(alloc.realized, dtype=bool)
    hops = np.where(conn_request >= 0, routes.req_hops[np.maximum(conn_request, 0)], 0)
    delay = np.where(realized, DELAY_PER_HOP_MS * hops + DELAY_OFFSET_MS, np.nan)
    timings["total"] = time.perf_counter() - t_start

    n_req = int(graph.pre.size)
    n_real = int(realized.sum())
    per_proj = []
    n_proj = len(graph.projection_label) or (int(graph.projection.max()) + 1 if n_req else 0)
    req_per = np.bincount(graph.projection, minlength=n_proj)
    real_per = np.bincount(graph.projection, weights=realized, minlength=n_proj).astype(int)
    for j in range(n_proj):
        label = graph.projection_label[j] if j < len(graph.projection_label) else str(j)
        per_proj.append(ProjectionLoss(label, int(req_per[j]), int(real_per[j]),
                                       int(req_per[j] - real_per[j])))
    used = np.unique(np.concatenate([place.hicann[place.hicann >= 0],
                                     sources.hicann[sources.hicann >= 0]]))
    stats = MappingStatistics(
        synapses_requested=n_req, synapses_realized=n_real, synapses_lost=n_req - n_real,
        synapses_lost_l1=int(alloc.lost_l1),
        synapses_lost_drivers=int(alloc.lost_drivers),
        synapses_lost_synapse_array=int(alloc.lost_synapse_array),
        synapses_lost_multapse=int(alloc.lost_multapse),
        neurons_placed=int(np.sum(place.hicann >= 0)),
        sources_placed=int(np.sum(sources.hicann >= 0)),
        hicanns_used=int(used.size), l1_routes=int(routes.req_ok.size),
        l1_routes_failed=int(np.sum(~routes.req_ok)), per_projection=per_proj,
        timings=timings, stp_drivers=_stp.driver_mode_counts(alloc.driver_stp))
    lost_parts = (stats.synapses_lost_l1 + stats.synapses_lost_drivers
                  + stats.synapses_lost_synapse_array + stats.synapses_lost_multapse)
    if stats.synapses_realized + stats.synapses_lost != stats.synapses_requested \
            or lost_parts != stats.synapses_lost:
        raise AssertionError(f"synapse accounting does not add up: {stats}")
    result = MappingResult(place, mergers, neuron_addr, sources, routes, realized, delay, stats,
                           fingerprint(graph), syn_hicann=np.asarray(alloc.hicann),
                           syn_row=np.asarray(alloc.row), syn_column=np.asarray(alloc.column),
                           driver_stp=np.asarray(alloc.driver_stp))
    if stats.synapses_lost and not options.continue_despite_synapse_loss:
        raise SynapseLossError(
            f"the mapping lost {stats.synapses_lost} of {stats.synapses_requested} synapses "
            f"({100 * stats.synapse_loss:.2f} %): {stats.synapses_lost_l1} on failed L1 routes, "
            f"{stats.synapses_lost_drivers} for want of synapse drivers, "
            f"{stats.synapses_lost_synapse_array} for want of synapse slots, "
            f"{stats.synapses_lost_multapse} multapses (one synapse per neuron pair and "
            "route). "
            "Use setup(continue_despite_synapse_loss=True) to run anyway (lost synapses "
            "transmit nothing), a larger neuron_size, a longer driver_chain_length, or fewer "
            "connections.\n" + str(stats), stats)
    return result
