"""Neuron placement: logical neurons -> denmem rectangles on neuron blocks (marocco 14.3).

A logical neuron of size ``s`` (denmems; even, 2..64) is a rectangle of ``w = s / 2`` adjacent
denmem columns in both rows (top and bottom), inside one neuron block of 32 columns, with no
defective denmem.  A column is therefore usable only if both of its denmems are usable.

Order of work (as marocco's ``NeuronPlacement``):

1. manual placement (``BioGraph.manual_hicanns``): a population goes only onto the listed
   HICANNs, in the order given (blocks 0..7 within each HICANN);
   Before that, neurons that receive a current stimulus (``BioGraph.stimulus``; issue 12)
   are placed one by one, each where an FG block of its HICANN is still free and reachable
   from one of its denmems (:func:`_place_stimulated`): an FG block plays one current
   stimulus into one denmem, so each stimulated neuron needs a block of its own (4 per
   HICANN); manual populations on their HICANNs, the others from HICANN 0 on;
2. auto placement ``enum_asc`` (marocco's default ``byNeuronBlockEnumAndPopulationIDasc``):
   neuron blocks in increasing wafer enum (HICANN 0 NB 0..7, HICANN 1 NB 0..7, ...) and
   populations in increasing index; each population fills free runs of columns left to right,
   a neuron taking ``w`` columns, and is split wherever a run or a block ends.

The placement front only moves forward (marocco drops a neuron block as soon as the current
request no longer fits into it), so space left behind in a block is not revisited by later
populations.

Strategy ``cluster`` (our version of marocco's ``ClusterByPopulationConnectivity``, reference
14.3): strongly connected populations are placed next to each other, so that their L1 routes
are short and cross few HICANNs.  The populations are ordered greedily: first the one with
the most synapses to and from the others, then always the unplaced one with the most
synapses to those already placed (ties: more synapses in total, then lower index).  Each
population is then placed around the centre of its already placed partners (their mean
HICANN position, weighted by the synapses between them; the wafer's centre for the first
one): the usable HICANNs are walked by increasing distance from that point, a spiral around
it (ties: lower enum), and free runs of columns are filled as above.  Space left free in a
partly filled block is used by later populations (no forward-only front).

Neuron size ``"auto"`` (:func:`auto_sizes`): populations whose ``BioGraph.neuron_size`` is
:data:`~pyNN_bss_emu.mapping.options.AUTO_SIZE_SENTINEL` get a size chosen from their
in-degree, their weights (``BioGraph.max_neuron_size``) and the room on the wafer;
:func:`resolve_auto_sizes` returns the graph with the chosen sizes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..hardware import current_stimulus, wafer
from .options import AUTO_SIZE_SENTINEL, PLACEMENT_STRATEGIES
from .types import BioGraph, MappingError, NeuronPlacement, ResourceExhaustedError

#: placement strategies: wafer enum order of blocks, populations ascending / descending;
#: connectivity clustering
STRATEGIES = PLACEMENT_STRATEGIES
#: marocco's names for the same strategies
_ALIASES = {"byNeuronBlockEnumAndPopulationIDasc": "enum_asc",
            "byNeuronBlockEnumAndPopulationID": "enum_desc",
            "ClusterByPopulationConnectivity": "cluster"}

#: synapse sites one denmem sees: every row of its synapse array (224) has a synapse in its
#: column (reference 3.2: a logical neuron of size s has 224 s synapses)
SITES_PER_DENMEM = wafer.SYNAPSE_ROWS // 2
#: the share of its synapse sites a neuron can be expected to use: rows belong to one L1
#: route and one 2-MSB decoder each (14.8), so most sites of a neuron stay empty.  Measured
#: on the 10 % microcircuit (~387 synapses per neuron): size 8 (1792 sites, 22 % of them
#: requested) lost 11 % for want of drivers, size 10 (18 %) 7 %; :func:`auto_sizes` takes the
#: smallest size whose sites times this share hold the mean in-degree
AUTO_SITE_SHARE = 0.2
#: the share of the usable denmems that ``"auto"`` sizes may take together: larger neurons
#: spread the network over more HICANNs, which needs more and longer L1 routes (measured on
#: the microcircuit with clustered placement: 36 % of the HICANNs lost 2.0 % on L1 routes,
#: 48 % 2.3 %, 59 % 6.0 %)
AUTO_WAFER_SHARE = 0.5

ALLOWED_NEURON_SIZES = tuple(range(2, wafer.MAX_NEURON_SIZE + 1, 2))


# ---------------------------------------------------------------- validation
def validate_neuron_sizes(graph: BioGraph) -> np.ndarray:
    """Neuron size (denmems) of every population as int64; sources get 0.

    Raises ValueError naming the population, the value and the allowed values if a neuron
    population's size is not an even integer in 2..64.
    """
    n_pop = int(np.size(graph.size))
    sizes = np.zeros(n_pop, dtype=np.int64)
    for p in range(n_pop):
        if bool(graph.is_source[p]):
            continue
        value = graph.neuron_size[p]
        ok = False
        try:
            as_int = int(value)
            ok = as_int == value and as_int in ALLOWED_NEURON_SIZES
        except (TypeError, ValueError):
            pass
        if not ok:
            raise ValueError(
                f"population '{_label(graph, p)}': neuron size {value!r} is not allowed; "
                f"allowed are even numbers of denmems 2..{wafer.MAX_NEURON_SIZE} "
                f"({', '.join(map(str, ALLOWED_NEURON_SIZES[:4]))}, ..., "
                f"{wafer.MAX_NEURON_SIZE}): a logical neuron spans both denmem rows and fits in "
                f"one neuron block of {wafer.BLOCK_COLUMNS} columns")
        sizes[p] = as_int
    return sizes


def _label(graph: BioGraph, p: int) -> str:
    try:
        return str(graph.label[p])
    except (IndexError, TypeError):
        return f"population {p}"


def _list_unplaced(graph: BioGraph, unplaced: dict[int, int], of: dict[int, int] | None = None,
                   limit: int = 5) -> str:
    """"'a': 3 of 10 unplaced; ..." for the first ``limit`` populations, then a count
    (populations of one label, such as the runs of a population cut over wafers, are
    summed)."""
    left: dict[str, int] = {}
    total: dict[str, int] = {}
    for p, k in unplaced.items():
        label = _label(graph, p)
        left[label] = left.get(label, 0) + int(k)
        total[label] = total.get(label, 0) + (int(of[p]) if of else 0)
    items = [f"'{label}': {k}" + (f" of {total[label]}" if of else "") + " unplaced"
             for label, k in list(left.items())[:limit]]
    if len(left) > limit:
        items.append(f"and {len(left) - limit} more populations")
    return "; ".join(items)


def _check_manual_hicanns(graph: BioGraph, p: int, hicanns: Sequence, hicann_ok: np.ndarray,
                          what: str = "neurons") -> np.ndarray:
    """Manual HICANN list of population p as int64 (duplicates dropped, order kept).

    MappingError if an entry is not a HICANN enum 0..383 or the HICANN is missing/defective.
    """
    out: list[int] = []
    for h in hicanns:
        try:
            hi = int(h)
            valid = hi == h and 0 <= hi < wafer.N_HICANN
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise MappingError(
                f"population '{_label(graph, p)}': manual placement of {what} names HICANN "
                f"{h!r}, which is not a HICANN enum (0..{wafer.N_HICANN - 1})")
        if not hicann_ok[hi]:
            raise MappingError(
                f"population '{_label(graph, p)}': manual placement of {what} names HICANN "
                f"{hi}, which is not available on this wafer (missing or defective)")
        if hi not in out:
            out.append(hi)
    return np.asarray(out, dtype=np.int64)


# ---------------------------------------------------------------- neuron size "auto"
def _even_up(x: np.ndarray) -> np.ndarray:
    """The smallest even integer >= x, at least 2 and at most 64."""
    s = 2 * np.ceil(np.asarray(x, dtype=float) / 2.0)
    return np.clip(s, 2, wafer.MAX_NEURON_SIZE).astype(np.int64)


def auto_sizes(graph: BioGraph, denmem_ok: np.ndarray, hicann_ok: np.ndarray) -> np.ndarray:
    """Neuron size (denmems) for every population whose size is ``"auto"``
    (:data:`AUTO_SIZE_SENTINEL`); the other entries are returned unchanged.

    1. in-degree: one size for all "auto" populations, the smallest even ``s`` with
       ``k <= AUTO_SITE_SHARE * 224 * s``, ``k`` the mean number of incoming connections per
       neuron of those populations (multapses included).  One size, not one per
       population: the synapse rows of a HICANN are shared by all its neurons and a route's
       half-row demand is the maximum over its target neurons (14.8), so a narrow neuron
       sets the demand for its wider neighbours (measured on the 10 % microcircuit with
       clustered placement: per-population sizes 8..14 lost 12-16 %, size 10 everywhere
       9.4 %);
    2. room: while these sizes need more than ``AUTO_WAFER_SHARE`` of the usable denmems
       (both denmems of a column usable, on a usable HICANN; the other populations' denmems
       deducted), the size is lowered by 2, down to 2;
    3. weights: at most ``graph.max_neuron_size`` of the population (the largest size at
       which its largest incoming weight is still realisable: a larger neuron has more
       capacitance, so the same bio weight needs a larger hardware conductance, section
       4.5), at least 2.  Populations that share a label (runs of one PyNN population) take
       the smallest of their limits.
    """
    sizes = np.asarray(graph.neuron_size, dtype=np.int64).copy()
    is_source = np.asarray(graph.is_source, dtype=bool)
    pop_size = np.asarray(graph.size, dtype=np.int64)
    auto = ~is_source & (sizes == AUTO_SIZE_SENTINEL) & (pop_size > 0)
    if not auto.any():
        return sizes
    n_pop = sizes.size
    incoming = np.bincount(graph.population_of[np.asarray(graph.post, dtype=np.int64)],
                           minlength=n_pop)
    k = float(incoming[auto].sum()) / float(pop_size[auto].sum())
    size = int(_even_up(k / (AUTO_SITE_SHARE * SITES_PER_DENMEM)))
    usable = int((np.asarray(denmem_ok, bool).all(axis=1)
                  & np.asarray(hicann_ok, bool)[:, None]).sum()) * wafer.DENMEM_ROWS
    fixed = int(np.sum(np.where(~is_source & ~auto, sizes * pop_size, 0)))
    n_auto = int(pop_size[auto].sum())
    while size > 2 and size * n_auto > AUTO_WAFER_SHARE * usable - fixed:
        size -= 2
    limit = np.full(n_pop, wafer.MAX_NEURON_SIZE, dtype=np.int64)
    if graph.max_neuron_size is not None:
        limit = np.asarray(graph.max_neuron_size, dtype=np.int64)
        labels = [str(x) for x in graph.label] if len(graph.label) == n_pop else \
            [str(p) for p in range(n_pop)]
        _, group = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
        group_limit = np.full(int(group.max()) + 1, wafer.MAX_NEURON_SIZE, dtype=np.int64)
        np.minimum.at(group_limit, group[auto], limit[auto])
        limit = group_limit[group]
    sizes[auto] = np.maximum(np.minimum(size, limit[auto] - limit[auto] % 2), 2)
    return sizes


def resolve_auto_sizes(graph: BioGraph, denmem_ok: np.ndarray, hicann_ok: np.ndarray
                       ) -> BioGraph:
    """``graph`` itself if no population asks for ``"auto"``, else a copy whose
    ``neuron_size`` holds the sizes :func:`auto_sizes` chose."""
    sizes = auto_sizes(graph, denmem_ok, hicann_ok)
    if np.array_equal(sizes, np.asarray(graph.neuron_size, dtype=np.int64)):
        return graph
    return dataclasses.replace(graph, neuron_size=sizes)


# ---------------------------------------------------------------- strategy "cluster"
@dataclass
class PopulationLinks:
    """Synapses between populations, both directions summed, as a symmetric sparse table
    (CSR over populations): the partners of population ``p`` are
    ``partner[ptr[p]:ptr[p+1]]`` with ``synapses[...]``; ``total[p]`` their sum.  No
    self-connections.  Sparse, so that networks of many small populations stay cheap."""
    ptr: np.ndarray
    partner: np.ndarray
    synapses: np.ndarray
    total: np.ndarray

    @classmethod
    def from_pairs(cls, a: np.ndarray, b: np.ndarray, n_pop: int) -> "PopulationLinks":
        """From one (pre population, post population) pair per connection."""
        a = np.asarray(a, dtype=np.int64)
        b = np.asarray(b, dtype=np.int64)
        keep = a != b
        a, b = np.concatenate([a[keep], b[keep]]), np.concatenate([b[keep], a[keep]])
        key, count = np.unique(a * n_pop + b, return_counts=True)
        src, partner = key // n_pop, key % n_pop
        ptr = np.searchsorted(src, np.arange(n_pop + 1))
        synapses = count.astype(float)
        return cls(ptr, partner, synapses,
                   np.bincount(src, weights=synapses, minlength=n_pop))

    @classmethod
    def from_matrix(cls, w: np.ndarray) -> "PopulationLinks":
        """From a dense symmetric matrix of synapse counts (for small examples)."""
        w = np.asarray(w, dtype=float)
        a, b = np.nonzero(w)
        counts = w[a, b].astype(np.int64)
        # half of the symmetric entries, repeated by their counts
        up = a < b
        return cls.from_pairs(np.repeat(a[up], counts[up]), np.repeat(b[up], counts[up]),
                              w.shape[0])


def _population_links(graph: BioGraph, neuron_pops: list[int]) -> PopulationLinks:
    """:class:`PopulationLinks` among the populations ``neuron_pops`` (spike sources are
    placed later, by input placement)."""
    n_pop = int(np.size(graph.size))
    pop_of = graph.population_of
    a = pop_of[np.asarray(graph.pre, dtype=np.int64)]
    b = pop_of[np.asarray(graph.post, dtype=np.int64)]
    mask = np.zeros(n_pop, dtype=bool)
    mask[neuron_pops] = True
    keep = mask[a] & mask[b]
    return PopulationLinks.from_pairs(a[keep], b[keep], n_pop)


def cluster_order(links: PopulationLinks, pops: list[int]) -> list[int]:
    """Greedy order of ``pops``: first the most connected one, then always the one with the
    most synapses to those already chosen (ties: more synapses in total, then lower
    index)."""
    todo = np.zeros(links.total.size, dtype=bool)
    todo[np.asarray(pops, dtype=np.int64)] = True
    link = np.zeros(links.total.size)
    order = []
    for _ in range(int(todo.sum())):
        best = link[todo].max()
        cand = todo & (link == best)
        best_total = links.total[cand].max()
        nxt = int(np.flatnonzero(cand & (links.total == best_total))[0])
        order.append(nxt)
        todo[nxt] = False
        sl = slice(links.ptr[nxt], links.ptr[nxt + 1])
        link[links.partner[sl]] += links.synapses[sl]
    return order


def _spiral(cx: float, cy: float, hicanns: np.ndarray) -> np.ndarray:
    """``hicanns`` by increasing distance of their grid position from (cx, cy), ties by
    enum: a spiral around that point."""
    d2 = (wafer.HICANN_X[hicanns] - cx) ** 2 + (wafer.HICANN_Y[hicanns] - cy) ** 2
    return hicanns[np.lexsort((hicanns, d2))]


def _place_clustered(graph: BioGraph, auto: list[int], todo_of, sizes: np.ndarray,
                     free: np.ndarray, hicann: np.ndarray, x0: np.ndarray,
                     width: np.ndarray) -> dict[int, int]:
    """Strategy ``cluster`` (module docstring): place the populations ``auto`` (cells
    ``todo_of(p)``) into ``free``; fills ``hicann``/``x0``/``width``; returns the unplaced
    count per population."""
    links = _population_links(graph, auto)
    usable = np.flatnonzero(free.any(axis=1))
    centre = (float(wafer.HICANN_X[usable].mean()), float(wafer.HICANN_Y[usable].mean())) \
        if usable.size else (0.0, 0.0)
    n_pop = links.total.size
    # per population: sum of the grid positions of its placed neurons, and their number
    sum_x, sum_y, count = np.zeros(n_pop), np.zeros(n_pop), np.zeros(n_pop)
    unplaced: dict[int, int] = {}
    for p in cluster_order(links, auto):
        todo = todo_of(p)
        n, w = int(todo.size), int(sizes[p]) // 2
        if n == 0:
            continue
        sl = slice(links.ptr[p], links.ptr[p + 1])
        partner, syn = links.partner[sl], links.synapses[sl]
        placed = count[partner] > 0
        partner, syn = partner[placed], syn[placed]
        if syn.size:     # the partners' mean positions, weighted by the synapses
            cx = float(np.dot(syn, sum_x[partner] / count[partner]) / syn.sum())
            cy = float(np.dot(syn, sum_y[partner] / count[partner]) / syn.sum())
        else:
            cx, cy = centre
        hs = _spiral(cx, cy, np.flatnonzero(free.any(axis=1)))
        row, start, length = _runs(free[hs])
        run, xs, _ = _fill(n, w, start, length)
        k = run.size
        cells = todo[:k]
        hicann[cells] = hs[row[run]]
        x0[cells] = xs
        width[cells] = w
        _claim(free, hs[row[run]], xs, w)
        sum_x[p] += float(wafer.HICANN_X[hicann[cells]].sum())
        sum_y[p] += float(wafer.HICANN_Y[hicann[cells]].sum())
        count[p] += k
        if k < n:
            unplaced[p] = n - k
    return unplaced


# ---------------------------------------------------------------- free runs of columns
def _runs(free: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximal runs of free columns inside neuron blocks.

    ``free`` is bool (n, 256) over n HICANN rows.  Returns (row, start column 0..255, length
    in columns), ordered by row, block, column (i.e. the fill order).
    """
    n = free.shape[0]
    f = free.reshape(n, wafer.N_NEURON_BLOCKS, wafer.BLOCK_COLUMNS).astype(np.int8)
    pad = np.zeros((n, wafer.N_NEURON_BLOCKS, 1), dtype=np.int8)
    edge = np.diff(np.concatenate([pad, f, pad], axis=2), axis=2)
    # nonzero is C-ordered, so the k-th start and the k-th end belong to the same run
    row, blk, c0 = np.nonzero(edge == 1)
    c1 = np.nonzero(edge == -1)[2]
    return row.astype(np.int64), (blk * wafer.BLOCK_COLUMNS + c0).astype(np.int64), \
        (c1 - c0).astype(np.int64)


def _fill(n: int, w: int, start: np.ndarray, length: np.ndarray, first: int = 0
          ) -> tuple[np.ndarray, np.ndarray, int]:
    """Place up to n neurons of width w (columns) into runs ``first..`` in order.

    Returns (run index, first column x0) per placed neuron and the index of the run in which
    the last neuron landed (the new front).  ``start``/``length`` of that run are advanced
    in place; runs before it count as used up (marocco never goes back to them).
    """
    caps = length[first:] // w
    cum = np.cumsum(caps)
    k = int(min(n, cum[-1])) if cum.size else 0
    if k == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), start.size
    i = np.arange(k)
    j = np.searchsorted(cum, i, side="right")          # run holding neuron i
    local = i - (cum[j] - caps[j])                     # its slot inside the run
    run = first + j
    x0 = start[run] + local * w
    last = int(run[-1])
    used = int(local[-1] + 1) * w
    start[last] += used
    length[last] -= used
    front = last if k == n else start.size             # a population that did not fit ends it
    return run, x0, front


def _claim(free: np.ndarray, hicann: np.ndarray, x0: np.ndarray, w: int) -> None:
    """Mark the w columns of each neuron as taken."""
    cols = (x0[:, None] + np.arange(w)[None, :]).ravel()
    free[np.repeat(hicann, w), cols] = False


# ---------------------------------------------------------------- current stimuli
def _stimulated_slot(free_row: np.ndarray, used: np.ndarray, w: int) -> tuple[int, int]:
    """First position (column x0) of a neuron of ``w`` columns in the free columns
    ``free_row`` (256,) of one HICANN, inside one neuron block, from whose denmems a free FG
    block (``used`` (4,) False) is reachable; and the lowest such block.  (-1, -1): none."""
    n = wafer.DENMEM_COLUMNS - w + 1
    if n <= 0:
        return -1, -1
    c = np.concatenate([[0], np.cumsum(free_row.astype(np.int64))])
    x = np.arange(n)
    fits = (c[x + w] - c[x] == w) & (x // wafer.BLOCK_COLUMNS == (x + w - 1)
                                      // wafer.BLOCK_COLUMNS)
    reach = current_stimulus.reachable_blocks(x, np.full(n, w)) & ~used[None, :]
    ok = np.flatnonzero(fits & reach.any(axis=1))
    if ok.size == 0:
        return -1, -1
    x0 = int(ok[0])
    return x0, int(np.flatnonzero(reach[x0])[0])


def _place_stimulated(cells: np.ndarray, w: int, hicanns: np.ndarray, free: np.ndarray,
                      fg_owner: np.ndarray, out: dict) -> int:
    """Place the stimulated ``cells`` (all of width ``w``) on ``hicanns`` in order, each at
    the first free position that reaches a free FG block, which it then owns
    (``fg_owner[h, b]`` = cell, -1 free).  Fills ``out`` (hicann, x0, width, denmem per
    cell) and ``free``; returns how many cells were placed."""
    i = 0
    for h in hicanns:
        while i < cells.size and np.any(fg_owner[h] < 0):
            x0, b = _stimulated_slot(free[h], fg_owner[h] >= 0, w)
            if x0 < 0:
                break
            c = cells[i]
            out["hicann"][c], out["x0"][c], out["width"][c] = h, x0, w
            out["denmem"][c] = int(current_stimulus.stimulus_denmem(x0, w, b))
            fg_owner[h, b] = c
            free[h, x0:x0 + w] = False
            i += 1
        if i == cells.size:
            break
    return i


def _stimulus_names(graph: BioGraph, cells: np.ndarray) -> str:
    ids = np.unique(graph.stimulus[cells])
    labels = [str(graph.stimulus_label[k]) if k < len(graph.stimulus_label) else
              f"stimulus {k}" for k in ids]
    return ", ".join(labels[:5]) + (f" and {len(labels) - 5} more" if len(labels) > 5 else "")


def _occupants(graph: BioGraph, fg_owner: np.ndarray, hs: np.ndarray) -> str:
    """Who holds the FG blocks of HICANNs ``hs``: "HICANN 5: block 0 'pop' (DCSource #0),
    ..."."""
    pop_of = graph.population_of
    parts = []
    for h in hs[:3]:
        held = [f"block {b} '{_label(graph, pop_of[c])}' ({_stimulus_names(graph, [c])})"
                for b, c in enumerate(fg_owner[h]) if c >= 0]
        parts.append(f"HICANN {h}: " + (", ".join(held) if held else "no block taken"))
    return "; ".join(parts) + ("; ..." if hs.size > 3 else "")


_ONE_PER_BLOCK = ("each of the 4 FG blocks of a HICANN plays one current stimulus into one "
                  "denmem (a second denmem on the stimulus line would short the two "
                  "membranes), so every neuron that receives a current needs a block of its "
                  "own, reachable from one of its denmems (a neuron of 2 denmems reaches 2 "
                  "of the 4)")


def _place_all_stimulated(graph: BioGraph, sizes: np.ndarray, manual: list[int],
                          auto: list[int], free: np.ndarray, hicann_ok: np.ndarray,
                          out: dict) -> None:
    """Place every stimulated cell before the others (see the module docstring); raises
    ResourceExhaustedError naming the stimuli and what holds the blocks."""
    offset = graph.offset
    stimulated = graph.stimulus >= 0
    fg_owner = np.full((wafer.N_HICANN, current_stimulus.STIMULI_PER_HICANN), -1,
                       dtype=np.int64)
    for p in manual:
        cells = offset[p] + np.flatnonzero(stimulated[offset[p]:offset[p] + graph.size[p]])
        if cells.size == 0:
            continue
        hs = _check_manual_hicanns(graph, p, graph.manual_hicanns[p], hicann_ok)
        k = _place_stimulated(cells, int(sizes[p]) // 2, hs, free, fg_owner, out)
        if k < cells.size:
            raise ResourceExhaustedError(
                f"population '{_label(graph, p)}': {cells.size} neurons receive current "
                f"({_stimulus_names(graph, cells)}), but the manual placement on HICANN(s) "
                f"{', '.join(map(str, hs))} has a free FG block for only {k} of them: "
                f"{_ONE_PER_BLOCK}. Taken: {_occupants(graph, fg_owner, hs)}. Place the "
                "population on more HICANNs, or inject into fewer neurons")
    all_h = np.flatnonzero(hicann_ok)
    for p in auto:
        cells = offset[p] + np.flatnonzero(stimulated[offset[p]:offset[p] + graph.size[p]])
        if cells.size == 0:
            continue
        k = _place_stimulated(cells, int(sizes[p]) // 2, all_h, free, fg_owner, out)
        if k < cells.size:
            n_all = int(stimulated.sum())
            raise ResourceExhaustedError(
                f"cannot place {n_all} neurons that receive current: {_ONE_PER_BLOCK}; the "
                f"wafer has {current_stimulus.STIMULI_PER_HICANN * int(hicann_ok.sum())} FG "
                f"blocks on {int(hicann_ok.sum())} usable HICANNs (fewer where defects or "
                f"manual placements take the columns); population '{_label(graph, p)}' "
                f"({_stimulus_names(graph, cells)}): {cells.size - k} of {cells.size} "
                "unplaced")


# ---------------------------------------------------------------- main entry
def place_neurons(graph: BioGraph, denmem_ok: np.ndarray, hicann_ok: np.ndarray,
                  strategy: str = "cluster") -> NeuronPlacement:
    """Place every neuron cell of ``graph`` on the wafer.

    .. rubric:: Parameters

    graph : BioGraph
        The network (only population sizes, ``is_source``, ``neuron_size`` in denmems,
        ``manual_hicanns`` and labels are used).
    denmem_ok : bool array (384, 2, 256)
        Usable denmems per HICANN [row (0 top, 1 bottom), column].
    hicann_ok : bool array (384,)
        HICANN present and usable.
    strategy : str
        ``"enum_asc"`` (default, marocco's ``byNeuronBlockEnumAndPopulationIDasc``),
        ``"enum_desc"`` (same blocks, populations in decreasing index) or ``"cluster"``
        (connected populations next to each other; module docstring).

    .. rubric:: Returns

    NeuronPlacement
        Per-cell HICANN enum, neuron block (0..7), first denmem column x0 (0..255) and width
        (columns); -1 everywhere for spike-source cells.

    .. rubric:: Raises

    ValueError
        Bad neuron size or unknown strategy.
    MappingError
        A manual placement names an invalid or unavailable HICANN.
    ResourceExhaustedError
        Manual HICANNs too small, or the network does not fit (message gives the shortfall
        in neurons and denmems).
    """
    strategy = _ALIASES.get(strategy, strategy)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown neuron placement strategy {strategy!r}; allowed: "
                         f"{', '.join(STRATEGIES + tuple(_ALIASES))}")
    denmem_ok = np.asarray(denmem_ok, dtype=bool)
    hicann_ok = np.asarray(hicann_ok, dtype=bool)
    if denmem_ok.shape != (wafer.N_HICANN, wafer.DENMEM_ROWS, wafer.DENMEM_COLUMNS):
        raise ValueError(f"denmem_ok must have shape (384, 2, 256), got {denmem_ok.shape}")
    if hicann_ok.shape != (wafer.N_HICANN,):
        raise ValueError(f"hicann_ok must have shape (384,), got {hicann_ok.shape}")

    graph = resolve_auto_sizes(graph, denmem_ok, hicann_ok)
    sizes = validate_neuron_sizes(graph)
    pop_size = np.asarray(graph.size, dtype=np.int64)
    is_source = np.asarray(graph.is_source, dtype=bool)
    offset = graph.offset
    n_cells = graph.n_cells

    hicann = np.full(n_cells, -1, dtype=np.int64)
    x0 = np.full(n_cells, -1, dtype=np.int64)
    width = np.full(n_cells, -1, dtype=np.int64)
    stim_denmem = np.full(n_cells, -1, dtype=np.int64)

    # a column is usable only if both its denmems are (neurons span both rows)
    free = denmem_ok.all(axis=1) & hicann_ok[:, None]
    usable_denmems = int(free.sum()) * wafer.DENMEM_ROWS

    neuron_pops = [p for p in range(pop_size.size) if not is_source[p] and pop_size[p] > 0]
    manual = [p for p in neuron_pops
              if graph.manual_hicanns is not None and p < len(graph.manual_hicanns)
              and graph.manual_hicanns[p] is not None and len(graph.manual_hicanns[p]) > 0]

    manual_set = set(manual)
    auto = [p for p in neuron_pops if p not in manual_set]
    if strategy == "enum_desc":
        auto = auto[::-1]
    # 0. neurons with a current stimulus: one FG block each (issue 12)
    stimulated = np.asarray(graph.stimulus) >= 0
    if np.any(stimulated):
        _place_all_stimulated(graph, sizes, manual, auto, free, hicann_ok,
                              {"hicann": hicann, "x0": x0, "width": width,
                               "denmem": stim_denmem})

    def unstimulated(p: int) -> np.ndarray:
        cells = offset[p] + np.arange(int(pop_size[p]))
        return cells[~stimulated[cells]]

    # 1. manual placement, populations in index order, HICANNs in the order given
    for p in manual:
        hs = _check_manual_hicanns(graph, p, graph.manual_hicanns[p], hicann_ok)
        cells = unstimulated(p)
        n, w = int(cells.size), int(sizes[p]) // 2
        if n == 0:
            continue
        row, start, length = _runs(free[hs])
        run, xs, _ = _fill(n, w, start, length)
        if run.size < n:
            raise ResourceExhaustedError(
                f"population '{_label(graph, p)}': manual placement on HICANN(s) "
                f"{', '.join(map(str, hs))} has room for only {run.size} of {n} neurons of "
                f"size {2 * w} (free contiguous columns, defects excluded)")
        hicann[cells] = hs[row[run]]
        x0[cells] = xs
        width[cells] = w
        _claim(free, hs[row[run]], xs, w)

    # 2. auto placement: clustered, or over all neuron blocks in wafer enum order with a
    #    forward-only front
    if strategy == "cluster":
        unplaced = _place_clustered(graph, auto, unstimulated, sizes, free, hicann, x0, width)
        auto = []
    else:
        row, start, length = _runs(free)
        front = 0
        unplaced = {}
    for p in auto:
        todo = unstimulated(p)
        n, w = int(todo.size), int(sizes[p]) // 2
        if n == 0:
            continue
        run, xs, front = _fill(n, w, start, length, front)
        k = run.size
        cells = todo[:k]
        hicann[cells] = row[run]
        x0[cells] = xs
        width[cells] = w
        if k < n:
            unplaced[p] = n - k

    if unplaced:
        raise ResourceExhaustedError(_shortfall_message(graph, sizes, neuron_pops, unplaced,
                                                        usable_denmems, hicann_ok))

    block = np.where(x0 >= 0, x0 // wafer.BLOCK_COLUMNS, -1)
    return NeuronPlacement(hicann=hicann, block=block, x0=x0, width=width,
                           stimulus_denmem=stim_denmem)


def _shortfall_message(graph: BioGraph, sizes: np.ndarray, neuron_pops: list[int],
                       unplaced: dict[int, int], usable_denmems: int,
                       hicann_ok: np.ndarray) -> str:
    pop_size = np.asarray(graph.size, dtype=np.int64)
    total = int(sum(pop_size[p] for p in neuron_pops))
    needed = int(sum(pop_size[p] * sizes[p] for p in neuron_pops))
    short = int(sum(unplaced.values()))
    used_sizes = sorted({int(sizes[p]) for p in neuron_pops})
    size_txt = (f"size {used_sizes[0]}" if len(used_sizes) == 1
                else "sizes " + ", ".join(map(str, used_sizes)))
    per_pop = _list_unplaced(graph, unplaced, {p: int(pop_size[p]) for p in unplaced})
    deficit = needed - usable_denmems
    denmem_txt = (f"{deficit} denmems too few" if deficit > 0 else
                  "enough denmems in total, but blocks are fragmented (defects, block "
                  "boundaries or neuron sizes that do not divide 32 columns)")
    return (f"cannot place {total} neurons of {size_txt}: {needed} denmems needed, only "
            f"{usable_denmems} usable ({int(hicann_ok.sum())} HICANNs available); short by "
            f"{short} neurons ({denmem_txt}; {per_pop}). Use fewer or smaller neurons.")
