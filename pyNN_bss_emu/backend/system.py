"""The wafer backend's view of a system of wafer modules (issue 16).

One wafer is the special case of one view.  Every programming step (neurons, weights, STP
time constants, membrane readout) works per wafer with that wafer's mapping and seed
(:class:`WaferView`); the event paths use *system* numbers, so that FIFOs, encoders and
mergers of different wafers never share state: HICANN ``k * 384 + h``, FPGA
``k * 48 + fpga``.  Connections between wafers are relayed (:func:`relay_tables`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..hardware import wafer
from ..hardware.event_paths import FPGA_EVENT_RATE_HZ, HICANN_LINK_EVENT_RATE_HZ
from ..mapping.pipeline import MappingResult
from ..mapping.system import SystemMapping
from ..mapping.types import BioGraph
from .records import PopulationRecord


@dataclass
class WaferView:
    """Wafer ``k``'s share of the network: its mapping (``result``, own numbering), its
    ``seed`` (defects and fixed pattern), the global connections in its order (``conn``)
    and where the populations on it lie (``runs``: key -> (start, stop, local offset) of
    every run of the population's cells on this wafer; one run covering the population
    unless the mapping cut it over wafers)."""
    k: int
    result: MappingResult
    seed: int
    conn: np.ndarray
    runs: dict

    def holds(self, pop: PopulationRecord) -> bool:
        return pop.key in self.runs

    def pieces(self, pop: PopulationRecord) -> list[tuple[int, PopulationRecord]]:
        """(first cell within ``pop``, the record of those cells numbered as on this wafer)
        of every run of ``pop`` on this wafer; the population itself when it lies here
        whole in its own numbering."""
        out = []
        for a, b, offset in self.runs.get(pop.key, ()):
            if a == 0 and b == pop.size:
                out.append((0, pop if offset == pop.cell_offset
                            else dataclasses.replace(pop, cell_offset=offset)))
            else:
                out.append((a, cell_slice(pop, a, b, offset)))
        return out

    def cells_of(self, pop: PopulationRecord, idx: np.ndarray
                 ) -> list[tuple[int, PopulationRecord, np.ndarray]]:
        """The cells ``idx`` (indices within ``pop``) that lie on this wafer, by run: (first
        cell of the run within ``pop``, the run's record, a mask of ``idx`` selecting its
        cells); runs without any of them are left out."""
        out = []
        for a, piece in self.pieces(pop):
            mine = (idx >= a) & (idx < a + piece.size)
            if mine.any():
                out.append((a, piece, mine))
        return out


def cell_slice(pop: PopulationRecord, a: int, b: int, offset: int) -> PopulationRecord:
    """Cells ``a..b-1`` of ``pop`` as a record of their own whose first cell is number
    ``offset`` (same key, label and model: seeds and messages stay the population's)."""
    def cut(x):
        return x[a:b] if isinstance(x, np.ndarray) and x.shape[:1] == (pop.size,) else x
    return dataclasses.replace(
        pop, size=b - a, nodes=pop.nodes[a:b], neuron_index=cut(pop.neuron_index),
        source_index=cut(pop.source_index), cell_offset=offset,
        neuron_size=cut(pop.neuron_size),
        request=None if pop.request is None else {k: cut(np.asarray(v)) if np.ndim(v)
                                                  else v for k, v in pop.request.items()},
        manual_hicanns={c - a: h for c, h in pop.manual_hicanns.items() if a <= c < b},
        expected_rate=cut(pop.expected_rate))


def _runs(local: np.ndarray, mask: np.ndarray) -> list[tuple[int, int, int]]:
    """(start, stop, local offset) of the runs of cells ``mask`` (a mask over a
    population) whose local numbers ``local`` (one per selected cell) are consecutive."""
    idx = np.flatnonzero(mask)
    if not idx.size:
        return []
    brk = np.flatnonzero((np.diff(idx) != 1) | (np.diff(local) != 1)) + 1
    starts = np.concatenate([[0], brk])
    stops = np.concatenate([brk, [idx.size]])
    return [(int(idx[i]), int(idx[j - 1]) + 1, int(local[i])) for i, j in zip(starts, stops)]


def views(result, populations: list[PopulationRecord], n_conn: int,
          seeds: tuple[int, ...]) -> list[WaferView]:
    """The :class:`WaferView` of every wafer with cells; ``result`` is a ``MappingResult``
    (one wafer) or a :class:`~..mapping.system.SystemMapping`."""
    if not isinstance(result, SystemMapping):
        return [WaferView(0, result, seeds[0], np.arange(n_conn),
                          {p.key: [(0, p.size, p.cell_offset)] for p in populations})]
    out = []
    for k, (res, part) in enumerate(zip(result.wafers, result.parts)):
        if res is None:
            continue
        runs = {}
        for p in populations:
            if not p.size:
                continue
            on_k = result.cell_wafer[p.cells] == k
            if on_k.any():
                runs[p.key] = _runs(result.cell_local[p.cells[on_k]], on_k)
        out.append(WaferView(k, res, seeds[k], part.connections, runs))
    return out


def population_groups(graph: BioGraph, populations: list[PopulationRecord]) -> np.ndarray:
    """The backend population (its index in ``populations``) of every mapper population
    (a population may be several runs of cells in the graph)."""
    starts = np.array([p.cell_offset for p in populations], dtype=np.int64)
    return np.searchsorted(starts, graph.offset, side="right") - 1


def cell_placement(wafer_views: list[WaferView], populations: list[PopulationRecord],
                   n_cells: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per global cell: system HICANN (``k * 384 + h``; -1 unplaced), neuron block and
    DNC merger of neurons (-1 for sources)."""
    hicann = np.full(n_cells, -1, dtype=np.int64)
    block = np.full(n_cells, -1, dtype=np.int64)
    merger = np.full(n_cells, -1, dtype=np.int64)
    for v in wafer_views:
        cell_h = v.result.cell_hicann()
        for pop in populations:
            for a, piece in v.pieces(pop):
                local = piece.cells
                cells = pop.cells[a:a + piece.size]
                h = cell_h[local]
                hicann[cells] = np.where(h >= 0, v.k * wafer.N_HICANN + h, -1)
                if not pop.is_source:
                    block[cells] = v.result.placement.block[local]
                    merger[cells] = v.result.mergers.dnc_merger[local]
    return hicann, block, merger


def system_fpga(hicann: np.ndarray) -> np.ndarray:
    """System FPGA (``k * 48 + fpga``) of system HICANNs (-1 stays -1)."""
    k, h = np.divmod(np.maximum(hicann, 0), wafer.N_HICANN)
    return np.where(hicann >= 0, k * wafer.N_RETICLES + wafer.FPGA_OF[h], -1)


@dataclass
class Relays:
    """What :meth:`~..engine.Network.set_relays` and ``set_replicas`` need, and the engine
    node of every connection whose source is on another wafer."""
    neuron: np.ndarray          # relayed neuron (engine index) per relay
    node: np.ndarray            # the relay's engine node (the neuron's synapses on k)
    up: np.ndarray              # (n, 2) up channels: HICANN link, FPGA of the neuron
    down: np.ndarray            # (n, 2) down channels: FPGA, HICANN link on the target
    spacing: np.ndarray         # ms per event of every channel
    replica_of: np.ndarray      # replayed source: original node
    replica: np.ndarray         # ... and the node that plays it into another wafer
    replica_hicann: np.ndarray  # system HICANN of each replica's input placement
    conn_pre_node: np.ndarray   # per global connection: engine pre node (-1: its own)


def relay_tables(system: SystemMapping, graph: BioGraph, populations: list[PopulationRecord],
                 cell_hicann: np.ndarray, nodes: np.ndarray, speedup: float,
                 event_loss: bool) -> Relays:
    """Relays of the neurons and replicas of the spike sources that have targets on other
    wafers; ``nodes`` are free engine nodes for them (at least as many as virtual cells),
    ``cell_hicann`` the system HICANN of every global cell."""
    n_cells = graph.n_cells
    cell_node = np.full(n_cells, -1, dtype=np.int64)
    cell_neuron = np.full(n_cells, -1, dtype=np.int64)
    for pop in populations:
        cell_node[pop.cells] = pop.nodes
        if not pop.is_source:
            cell_neuron[pop.cells] = pop.neuron_index
    n_w = system.n_wafers
    links, fpgas = n_w * wafer.N_HICANN, n_w * wafer.N_RETICLES
    # channels: up links, up FPGAs, down FPGAs, down links (the directions are separate
    # FIFOs, as for stimulus and recording)
    to_bio_ms = speedup * 1e3
    spacing = np.concatenate([np.full(links, to_bio_ms / HICANN_LINK_EVENT_RATE_HZ),
                              np.full(2 * fpgas, to_bio_ms / FPGA_EVENT_RATE_HZ),
                              np.full(links, to_bio_ms / HICANN_LINK_EVENT_RATE_HZ)])
    pre = np.asarray(graph.pre, dtype=np.int64)
    conn_pre_node = np.full(pre.size, -1, dtype=np.int64)
    parts = {"neuron": [], "node": [], "up": [], "down": [], "rep_of": [], "rep": [],
             "rep_h": []}
    used = 0
    for k, (part, res) in enumerate(zip(system.parts, system.wafers)):
        virtual = part.virtual
        if res is None or not virtual.size:
            continue
        v_nodes = nodes[used:used + virtual.size]
        used += virtual.size
        # the connections of wafer k from other wafers get the virtual cell's node
        conn = part.connections[system.offwafer[part.connections]]
        conn_pre_node[conn] = v_nodes[np.searchsorted(virtual, pre[conn])]
        h_local = res.sources.hicann[part.n_own:]
        h_sys = np.where(h_local >= 0, k * wafer.N_HICANN + h_local, -1)
        is_neuron = cell_neuron[virtual] >= 0
        # neurons: relayed from their own wafer, if wafer k's input placement found room for
        # them (the synapses of the others are lost: nothing to relay to)
        relayed = is_neuron & (h_sys >= 0)
        src_h = cell_hicann[virtual[relayed]]
        up = np.column_stack([src_h, np.where(src_h >= 0, links + system_fpga(src_h), -1)])
        tgt_h = h_sys[relayed]
        down = np.column_stack([links + fpgas + system_fpga(tgt_h), links + 2 * fpgas + tgt_h])
        parts["neuron"].append(cell_neuron[virtual[relayed]])
        parts["node"].append(v_nodes[relayed])
        parts["up"].append(up)
        parts["down"].append(down)
        # sources: the same stimulus played into wafer k through its own input
        parts["rep_of"].append(cell_node[virtual[~is_neuron]])
        parts["rep"].append(v_nodes[~is_neuron])
        parts["rep_h"].append(h_sys[~is_neuron])

    def cat(key, shape=(0,)):
        return np.concatenate(parts[key]) if parts[key] else np.zeros(shape, dtype=np.int64)

    up, down = cat("up", (0, 2)), cat("down", (0, 2))
    if not event_loss:      # the ablation: unlimited paths (the latency stays)
        up[:], down[:] = -1, -1
    return Relays(cat("neuron"), cat("node"), up, down, spacing, cat("rep_of"), cat("rep"),
                  cat("rep_h"), conn_pre_node)


def virtual_cells(system) -> int:
    """How many engine nodes the relays and replicas need."""
    if not isinstance(system, SystemMapping):
        return 0
    return int(sum(p.virtual.size for p, r in zip(system.parts, system.wafers)
                   if r is not None))
