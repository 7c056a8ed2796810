"""Mapping onto a system of several wafer modules (issue 16).

BrainScaleS-1 was built as up to 20 wafer modules (brainscales1.md 1.1).  A network larger
than one wafer is spread over several; each wafer is then mapped by the single-wafer
pipeline (:func:`.pipeline.map_network`), and the connections between wafers travel off the
wafer: up through the source neuron's HICANN link and FPGA, over the FPGAs' network to the
target wafer, and down into it through its input placement, as any external input does.

Steps (:func:`map_system`):

1. **Wafer assignment** (:func:`assign_wafers`): whole PyNN populations ("groups": the
   backend's populations, each possibly several mapper populations) go to wafers.  The
   groups are taken in the placement's cluster order (:func:`.placement.cluster_order`: the
   most connected first, then always the one with most synapses to those already taken) and
   each goes to the wafer with room that holds most of its partners' synapses, the lowest
   wafer on a tie, so a network that fits on one wafer stays on one and strongly connected
   populations share a wafer.  Room is counted in neuron slots (:func:`neuron_slots`: runs
   of usable columns within a neuron block, defects excluded), as a share of the wafer.  Populations placed by hand
   (``place_on_hicann``) go to wafer 0.  A spike-source population goes to the wafer that
   holds most of its targets.  When whole populations do not fit at a fill share, the
   populations larger than half of it are cut into runs of consecutive cells
   (:func:`split_populations`), each assigned like a population (the runs of one
   population attract each other, as their synapses count), before a fuller share is
   tried.
2. **Splitting** (:func:`split_graph`): wafer k's graph holds its own populations in the
   global order, then one *virtual source* population per (other population, wafer k) with
   the cells that have targets on k: a neuron of another wafer (its spikes are relayed) or a
   spike source of another wafer (its stimulus is played back into wafer k as well).  The
   virtual sources are placed by wafer k's input placement like any spike source, with
   their rate (a neuron's: :data:`~pyNN_bss_emu.hardware.event_paths.RELAYED_NEURON_RATE_HZ`)
   counted against the input bandwidth.  Every connection belongs to the wafer of its
   target neuron.
3. **Mapping** every wafer that has cells, with its own defect map.

The result (:class:`SystemMapping`) keeps every wafer's :class:`.pipeline.MappingResult` in
its own numbering, the maps between global and per-wafer cells and connections, and the
statistics per wafer and in total.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from ..hardware import wafer as hw
from ..hardware.event_paths import RELAYED_NEURON_RATE_HZ
from .options import AUTO_SIZE_SENTINEL, MappingOptions
from .pipeline import MappingResult, MappingStatistics, ProjectionLoss, map_network
from .placement import PopulationLinks, cluster_order
from .types import BioGraph, MappingError, ResourceExhaustedError


def usable_denmems(defects) -> int:
    """Denmems a placement can use on a wafer: both denmems of a column usable, on a usable
    HICANN."""
    return int((defects.denmem_ok.all(axis=1) & defects.hicann_ok[:, None]).sum()) \
        * hw.DENMEM_ROWS


def neuron_slots(defects, width: int) -> int:
    """How many neurons of ``width`` columns (neuron size / 2) fit on a wafer: a neuron
    takes consecutive usable columns within one neuron block (32 columns), as placement
    puts them, so defects and block boundaries fragment the room."""
    ok = defects.denmem_ok.all(axis=1) & defects.hicann_ok[:, None]
    blocks = ok.reshape(-1, hw.BLOCK_COLUMNS)
    padded = np.zeros((blocks.shape[0], hw.BLOCK_COLUMNS + 2), dtype=np.int8)
    padded[:, 1:-1] = blocks
    edge = np.diff(padded, axis=1)
    starts = np.nonzero(edge == 1)
    ends = np.nonzero(edge == -1)
    runs = ends[1] - starts[1]          # row-major order pairs every start with its end
    return int((runs // max(int(width), 1)).sum())


def group_load(graph: BioGraph, group: np.ndarray, n_groups: int, defects: list
               ) -> np.ndarray:
    """(groups, wafers): the share of each wafer's neuron slots that each group's neurons
    take (sources: 0; neuron size 'auto' counts as 2, the smallest it can become)."""
    size = np.where(graph.neuron_size == AUTO_SIZE_SENTINEL, 2,
                    np.maximum(graph.neuron_size, 2))
    width = size // 2
    load = np.zeros((n_groups, len(defects)))
    for w in np.unique(width[~graph.is_source]):
        slots = np.array([neuron_slots(d, int(w)) for d in defects], dtype=float)
        sel = (width == w) & ~graph.is_source
        n = np.bincount(group[sel], weights=graph.size[sel], minlength=n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            load += np.where(slots > 0, n[:, None] / slots[None, :],
                             np.where(n[:, None] > 0, np.inf, 0.0))
    return load


#: share of a wafer's neuron slots the wafer assignment fills first [E]: a wafer full of
#: neurons has few DNC mergers and L1 addresses left for the input from other wafers (a
#: full wafer of the microcircuit could not place a tenth of its virtual sources); when the
#: network does not fit this way, the wafers are filled completely
SYSTEM_FILL = 0.85


def assign_wafers(graph: BioGraph, group: np.ndarray, n_groups: int, defects: list,
                  group_labels: list[str] | None = None, fill: float = 1.0) -> np.ndarray:
    """The wafer of every group (see the module docstring); ``group[p]`` is the group of
    mapper population ``p``, ``defects[k]`` wafer k's defect map, ``fill`` the share of a
    wafer's neuron slots to use.  Raises :class:`ResourceExhaustedError` naming the group
    that fits on no wafer."""
    group = np.asarray(group, dtype=np.int64)
    n_wafers = len(defects)
    labels = group_labels or [str(g) for g in range(n_groups)]
    load = group_load(graph, group, n_groups, defects)
    pop_of = graph.population_of
    ga = group[pop_of[np.asarray(graph.pre, dtype=np.int64)]]
    gb = group[pop_of[np.asarray(graph.post, dtype=np.int64)]]
    is_source = np.zeros(n_groups, dtype=bool)
    is_source[group[graph.is_source]] = True
    pinned = np.zeros(n_groups, dtype=bool)
    for p, manual in enumerate(graph.manual_hicanns):
        if manual is not None:
            pinned[group[p]] = True
    out = np.full(n_groups, -1, dtype=np.int64)
    used = np.zeros(n_wafers)
    neurons = np.flatnonzero(~is_source)
    links = PopulationLinks.from_pairs(ga, gb, n_groups)
    # the hand-placed populations first (wafer 0), then the others in cluster order
    order = [int(g) for g in neurons if pinned[g]] + \
        [g for g in cluster_order(links, [int(g) for g in neurons]) if not pinned[g]]
    for g in order:
        if pinned[g]:
            fits = np.zeros(n_wafers, dtype=bool)
            fits[0] = True
        else:
            fits = used + load[g] <= fill + 1e-12
        if not fits.any():
            room = ", ".join(f"{100 * max(fill - u, 0):.0f} %" for u in used)
            raise ResourceExhaustedError(
                f"population '{labels[g]}' needs {100 * load[g].min():.0f} % of a wafer's "
                f"neuron slots, but no wafer of the system has that much room left (free "
                f"per wafer: {room}). Use more wafers (setup(wafers=...)) or a smaller neuron "
                f"size")
        score = np.zeros(n_wafers)
        sl = slice(links.ptr[g], links.ptr[g + 1])
        placed = out[links.partner[sl]]
        ok = placed >= 0
        np.add.at(score, placed[ok], links.synapses[sl][ok])
        score[~fits] = -1.0
        k = int(np.flatnonzero(score == score.max())[0])
        out[g] = k
        used[k] += load[g, k]
    # spike sources: the wafer of most of their targets (none: wafer 0)
    for g in np.flatnonzero(is_source):
        sel = ga == g
        counts = np.bincount(out[gb[sel]], minlength=n_wafers) if sel.any() \
            else np.zeros(n_wafers)
        out[g] = int(np.argmax(counts))
    return out


def split_populations(graph: BioGraph, group: np.ndarray, n_groups: int, load: np.ndarray,
                      chunk: float, group_labels: list[str] | None = None
                      ) -> tuple[BioGraph, np.ndarray, list[str]]:
    """Cut every neuron group whose share of a wafer (``load[g]``, its largest over the
    wafers) exceeds ``chunk`` into equal runs of consecutive cells of at most ``chunk``,
    each a unit of its own for :func:`assign_wafers`.

    Cells and connections keep their numbers: only the mapper populations that a cut
    crosses become several (with the same label, neuron size and limits).  Returns the new
    graph, the unit of each of its populations (groups that are not cut keep their number,
    the runs are numbered from ``n_groups`` on) and the units' labels.  Sources and
    populations placed by hand are never cut."""
    group = np.asarray(group, dtype=np.int64)
    labels = list(group_labels or [str(g) for g in range(n_groups)])
    pinned = np.zeros(n_groups, dtype=bool)
    source = np.zeros(n_groups, dtype=bool)
    for p, manual in enumerate(graph.manual_hicanns):
        pinned[group[p]] |= manual is not None
    source[group[graph.is_source]] = True
    sizes = np.asarray(graph.size, dtype=np.int64)
    offset = graph.offset
    cut_sizes: list[list[int]] = [[int(n)] for n in sizes]
    unit_of_piece: list[list[int]] = [[int(group[p])] for p in range(sizes.size)]
    next_unit = n_groups
    for g in range(n_groups):
        worst = float(np.max(load[g])) if load.shape[1] else 0.0
        if source[g] or pinned[g] or not worst > chunk:
            continue
        pops = np.flatnonzero(group == g)
        first, n = int(offset[pops[0]]), int(sizes[pops].sum())
        m = int(np.ceil(worst / chunk - 1e-9))
        bounds = first + (np.arange(m + 1) * n) // m        # cell cuts of the m runs
        for j in range(m):
            labels.append(f"{labels[g]} (part {j + 1} of {m})")
        for p in pops:
            lo, hi = int(offset[p]), int(offset[p] + sizes[p])
            edges = np.unique(np.clip(bounds, lo, hi))
            cut_sizes[p] = [int(b - a) for a, b in zip(edges[:-1], edges[1:]) if b > a]
            starts = [int(a) for a, b in zip(edges[:-1], edges[1:]) if b > a]
            # the run of a piece: the last cut at or before its first cell
            unit_of_piece[p] = [next_unit + int(np.searchsorted(bounds, a, side="right")) - 1
                                for a in starts]
        next_unit += m
    counts = np.array([len(c) for c in cut_sizes], dtype=np.int64)
    if counts.sum() == sizes.size:
        return graph, group, labels[:n_groups]
    origin = np.repeat(np.arange(sizes.size), counts)
    limit = None if graph.max_neuron_size is None else graph.max_neuron_size[origin]
    new = dataclasses.replace(
        graph, size=np.concatenate([np.asarray(c, dtype=np.int64) for c in cut_sizes]),
        is_source=np.asarray(graph.is_source)[origin],
        neuron_size=np.asarray(graph.neuron_size)[origin],
        manual_hicanns=[graph.manual_hicanns[p] for p in origin],
        label=[graph.label[p] for p in origin], max_neuron_size=limit,
        virtual=np.asarray(graph.virtual)[origin])
    unit = np.concatenate([np.asarray(u, dtype=np.int64) for u in unit_of_piece])
    return new, unit, labels


@dataclass
class WaferPart:
    """Wafer k's share of the network: its graph and how it maps to the global numbering.

    ``cells[j]``: the global cell of local cell j (its own cells first, in global order,
    then the virtual sources); ``n_own``: how many are its own; ``connections``: the global
    connections of the graph, in its (= global) order.  Once :func:`map_system` has mapped
    the wafer, ``graph`` keeps its populations and cells but no connections (to save
    memory: ``connections`` indexes them in the global graph).
    """
    graph: BioGraph
    cells: np.ndarray
    n_own: int
    connections: np.ndarray

    @property
    def virtual(self) -> np.ndarray:
        """Global cells that enter this wafer from outside (relayed neurons, replayed
        sources), in local order after the own cells."""
        return self.cells[self.n_own:]


def split_graph(graph: BioGraph, pop_wafer: np.ndarray, n_wafers: int,
                relay_rate_hz: float = RELAYED_NEURON_RATE_HZ) -> list[WaferPart]:
    """Every wafer's :class:`WaferPart` (see the module docstring); ``pop_wafer[p]`` is the
    wafer of mapper population ``p``."""
    pop_of = graph.population_of
    cell_wafer = np.asarray(pop_wafer, dtype=np.int64)[pop_of]
    pre = np.asarray(graph.pre, dtype=np.int64)
    post = np.asarray(graph.post, dtype=np.int64)
    conn_wafer = cell_wafer[post]
    offset = graph.offset
    parts = []
    for k in range(n_wafers):
        own_pops = np.flatnonzero(pop_wafer == k)
        conn = np.flatnonzero(conn_wafer == k)
        # cells of other wafers with targets here, by population, in global order
        foreign = np.unique(pre[conn][cell_wafer[pre[conn]] != k])
        f_pop = pop_of[foreign]
        v_pops, v_start = np.unique(f_pop, return_index=True)
        v_size = np.diff(np.append(v_start, foreign.size))
        own_cells = np.concatenate([offset[p] + np.arange(graph.size[p]) for p in own_pops]) \
            if own_pops.size else np.zeros(0, dtype=np.int64)
        cells = np.concatenate([own_cells, foreign]).astype(np.int64)
        local = np.full(graph.n_cells, -1, dtype=np.int64)
        local[cells] = np.arange(cells.size)
        pops = np.concatenate([own_pops, v_pops]).astype(np.int64)
        sizes = np.concatenate([graph.size[own_pops], v_size]).astype(np.int64)
        rate = np.asarray(graph.rate, dtype=float)[cells].copy()
        neuron_cell = ~graph.is_source[pop_of[foreign]]
        rate[own_cells.size:][neuron_cell] = relay_rate_hz
        labels = [str(graph.label[p]) for p in own_pops] + \
            [f"{graph.label[p]} (from wafer {int(pop_wafer[p])})" for p in v_pops]
        limit = None
        if graph.max_neuron_size is not None:
            limit = np.concatenate([graph.max_neuron_size[own_pops],
                                    np.full(v_pops.size, hw.MAX_NEURON_SIZE)]).astype(np.int64)
        stim = np.asarray(graph.stimulus)[cells].copy()
        stim[own_cells.size:] = -1
        sub = BioGraph(
            size=sizes, is_source=np.concatenate([graph.is_source[own_pops],
                                                  np.ones(v_pops.size, dtype=bool)]),
            neuron_size=graph.neuron_size[pops].astype(np.int64),
            manual_hicanns=[graph.manual_hicanns[p] for p in own_pops] + [None] * v_pops.size,
            label=labels, rate=rate, pre=local[pre[conn]], post=local[post[conn]],
            receptor=np.asarray(graph.receptor)[conn],
            projection=np.asarray(graph.projection)[conn],
            projection_label=list(graph.projection_label), stp_key=graph.stp_key[conn],
            stimulus=stim, stimulus_label=list(graph.stimulus_label), max_neuron_size=limit,
            virtual=np.concatenate([np.zeros(own_pops.size, dtype=bool),
                                    ~graph.is_source[v_pops]]))
        parts.append(WaferPart(sub, cells, int(own_cells.size), conn))
    return parts


def _without_connections(graph: BioGraph) -> BioGraph:
    """``graph`` with its populations and cells but no connections."""
    none = np.zeros(0, dtype=np.int64)
    return dataclasses.replace(graph, pre=none, post=none, receptor=none, projection=none,
                               stp_key=np.zeros(0, dtype=np.int8))


@dataclass
class SystemMapping:
    """A network mapped onto several wafers (:func:`map_system`).

    * ``wafers[k]``: wafer k's :class:`~.pipeline.MappingResult` in its own numbering (None:
      nothing on that wafer); ``parts[k]``: its :class:`WaferPart`;
    * ``pop_wafer``: wafer of every mapper population; ``cell_wafer``/``cell_local``: every
      global cell's wafer and its number there; ``conn_wafer``/``conn_local`` the same for
      connections (a connection belongs to its target's wafer);
    * ``realized``, ``delay_ms``: per global connection, as in a ``MappingResult`` (the
      routed delay on the target wafer; the off-wafer latency is added by the backend);
    * ``offwafer[c]``: the connection crosses wafers;
    * ``statistics``: the totals (``per_wafer`` holds every wafer's own statistics).
    """
    wafers: list
    parts: list
    pop_wafer: np.ndarray
    cell_wafer: np.ndarray
    cell_local: np.ndarray
    conn_wafer: np.ndarray
    conn_local: np.ndarray
    realized: np.ndarray
    delay_ms: np.ndarray
    offwafer: np.ndarray
    statistics: "SystemStatistics"

    @property
    def n_wafers(self) -> int:
        return len(self.wafers)

    def locate(self, cell: int) -> tuple[int, MappingResult, int]:
        """(wafer, that wafer's mapping, the cell's number there) of a global cell."""
        k = int(self.cell_wafer[cell])
        return k, self.wafers[k], int(self.cell_local[cell])

    def save(self, path) -> None:
        raise MappingError("saving the mapping of a multi-wafer system is not supported yet "
                           "(save_mapping works for setup(wafers=1))")


@dataclass
class SystemStatistics(MappingStatistics):
    """:class:`~.pipeline.MappingStatistics` summed over the wafers, plus ``per_wafer`` (each
    wafer's own; None for an empty wafer), ``wafers_used`` and the connections and neurons
    that cross wafers (``offwafer_synapses`` requested between wafers, ``relayed_neurons``
    whose spikes leave their wafer, ``replayed_sources`` spike sources played into more
    than one wafer)."""
    per_wafer: list = field(default_factory=list)
    wafers_used: int = 0
    offwafer_synapses: int = 0
    relayed_neurons: int = 0
    replayed_sources: int = 0

    def __str__(self) -> str:
        lines = [super().__str__(),
                 f"  system: {self.wafers_used} of {len(self.per_wafer)} wafers used, "
                 f"{self.offwafer_synapses} synapses between wafers, {self.relayed_neurons} "
                 f"neurons relayed, {self.replayed_sources} spike sources on several wafers"]
        for k, s in enumerate(self.per_wafer):
            if s is None:
                lines.append(f"  wafer {k}: unused")
            else:
                lines.append(f"  wafer {k}: {s.neurons_placed} neurons, {s.sources_placed} "
                             f"sources, {s.hicanns_used} HICANNs, synapse loss "
                             f"{s.synapses_lost} of {s.synapses_requested}")
        return "\n".join(lines)


_SUMMED = ("synapses_requested", "synapses_realized", "synapses_lost", "synapses_lost_l1",
           "synapses_lost_drivers", "synapses_lost_synapse_array", "synapses_lost_multapse",
           "synapses_lost_input",
           "neurons_placed", "sources_placed", "hicanns_used", "l1_routes",
           "l1_routes_failed")


def total_statistics(per_wafer: list, projection_label: list[str],
                     requested_per_projection: np.ndarray, realized_per_projection: np.ndarray,
                     timings: dict) -> SystemStatistics:
    """The system's statistics from every wafer's (None: unused wafer)."""
    used = [s for s in per_wafer if s is not None]
    values = {name: sum(int(getattr(s, name)) for s in used) for name in _SUMMED}
    per_proj = [ProjectionLoss(label, int(r), int(q), int(r - q)) for label, r, q in
                zip(projection_label, requested_per_projection, realized_per_projection)]
    sizes: dict = {}
    drivers: dict = {}
    for s in used:
        sizes.update(s.neuron_sizes)
        for key, n in s.stp_drivers.items():
            drivers[key] = drivers.get(key, 0) + n
    return SystemStatistics(**values, per_projection=per_proj, timings=timings,
                            stp_drivers=drivers, neuron_sizes=sizes,
                            per_wafer=list(per_wafer), wafers_used=len(used))


def map_system(graph: BioGraph, group: np.ndarray, options: MappingOptions, defects: list,
               group_labels: list[str] | None = None,
               relay_rate_hz: float = RELAYED_NEURON_RATE_HZ,
               fill: float = SYSTEM_FILL) -> SystemMapping:
    """Map ``graph`` onto ``len(defects)`` wafers (one ``DefectMap`` each); ``group[p]``
    is the backend population of mapper population ``p`` (a population stays on one
    wafer unless it must be cut, see the module docstring); ``fill``: the share of a wafer's neuron slots the assignment fills first.  A wafer's ``ResourceExhaustedError`` or ``SynapseLossError`` names the wafer."""
    t0 = time.perf_counter()
    group = np.asarray(group, dtype=np.int64)
    n_groups = int(group.max()) + 1 if group.size else 0
    n_wafers = len(defects)
    # leave room for the input from other wafers where the network allows it: the asked
    # share first, then fuller wafers step by step (a full wafer has no inputs left)
    fills = [fill] + [f for f in (0.85, 0.92, 1.0) if f > fill] if n_wafers > 1 else [1.0]
    load = group_load(graph, group, n_groups, defects) if n_wafers > 1 else None
    last_error = None
    for f in fills:
        try:
            g_wafer = assign_wafers(graph, group, n_groups, defects, group_labels, fill=f)
            break
        except ResourceExhaustedError as err:
            last_error = err
        if n_wafers == 1:
            continue
        # whole populations do not fit at this fill: cut the large ones into runs of at
        # most half a wafer's share (each run goes to a wafer of its own choosing; the
        # neurons of one run stay together) before a fuller fill is tried
        cut, unit, unit_labels = split_populations(graph, group, n_groups, load, f / 2,
                                                   group_labels)
        if cut is graph:
            continue
        try:
            u_wafer = assign_wafers(cut, unit, len(unit_labels), defects, unit_labels, fill=f)
        except ResourceExhaustedError:
            continue
        graph, group, g_wafer = cut, unit, u_wafer
        break
    else:
        extra = " (also with the large populations split over the wafers)" \
            if n_wafers > 1 else ""
        raise ResourceExhaustedError(f"{last_error}{extra}") from None
    pop_wafer = g_wafer[group] if group.size else np.zeros(0, dtype=np.int64)
    parts = split_graph(graph, pop_wafer, n_wafers, relay_rate_hz)
    t_split = time.perf_counter() - t0
    results: list = []
    for k, (part, d) in enumerate(zip(parts, defects)):
        if part.cells.size == 0:
            results.append(None)
            continue
        try:
            results.append(map_network(part.graph, options, d))
        except MappingError as err:
            where = f"wafer {k} of the {n_wafers}-wafer system: {err}"
            if hasattr(err, "statistics"):      # SynapseLossError keeps its statistics
                raise type(err)(where, err.statistics) from None
            raise type(err)(where) from None
        # mapped: the wafer's copy of its connections (pre, post, receptor, projection, STP
        # key: 33 bytes per synapse, also broadcast to every MPI rank) is not needed again;
        # they are the global graph's ``part.connections``
        part.graph = _without_connections(part.graph)
    n_cells, n_conn = graph.n_cells, int(np.size(graph.pre))
    cell_wafer = pop_wafer[graph.population_of] if n_cells else np.zeros(0, dtype=np.int64)
    cell_local = np.full(n_cells, -1, dtype=np.int64)
    conn_wafer = np.full(n_conn, -1, dtype=np.int64)
    conn_local = np.full(n_conn, -1, dtype=np.int64)
    realized = np.zeros(n_conn, dtype=bool)
    delay = np.full(n_conn, np.nan)
    for k, (part, res) in enumerate(zip(parts, results)):
        cell_local[part.cells[:part.n_own]] = np.arange(part.n_own)
        conn_wafer[part.connections] = k
        conn_local[part.connections] = np.arange(part.connections.size)
        if res is not None:
            realized[part.connections] = np.asarray(res.realized, dtype=bool)
            delay[part.connections] = res.delay_ms
    pre = np.asarray(graph.pre, dtype=np.int64)
    offwafer = cell_wafer[pre] != conn_wafer if n_conn else np.zeros(0, dtype=bool)
    n_proj = len(graph.projection_label)
    proj = np.asarray(graph.projection, dtype=np.int64)
    timings = {"wafer_assignment": t_split}
    for res in results:
        if res is not None:
            for key, v in res.statistics.timings.items():
                timings[key] = timings.get(key, 0.0) + v
    timings["total"] = time.perf_counter() - t0
    stats = total_statistics(
        [None if r is None else r.statistics for r in results], list(graph.projection_label),
        np.bincount(proj, minlength=n_proj), np.bincount(proj, weights=realized,
                                                         minlength=n_proj).astype(np.int64),
        timings)
    virtual = [p.virtual for p in parts]
    relayed = np.unique(np.concatenate(virtual)) if virtual else np.zeros(0, dtype=np.int64)
    src = graph.is_source[graph.population_of[relayed]]
    stats.offwafer_synapses = int(offwafer.sum())
    stats.relayed_neurons = int((~src).sum())
    stats.replayed_sources = int(src.sum())
    return SystemMapping(results, parts, pop_wafer, cell_wafer, cell_local, conn_wafer,
                         conn_local, realized, delay, offwafer, stats)
