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
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..hardware import current_stimulus, wafer
from .types import BioGraph, MappingError, NeuronPlacement, ResourceExhaustedError

#: placement strategies: wafer enum order of blocks, populations ascending / descending
STRATEGIES = ("enum_asc", "enum_desc")
#: marocco's names for the same strategies
_ALIASES = {"byNeuronBlockEnumAndPopulationIDasc": "enum_asc",
            "byNeuronBlockEnumAndPopulationID": "enum_desc"}

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
    """"'a': 3 of 10 unplaced; ..." for the first ``limit`` populations, then a count."""
    items = [f"'{_label(graph, p)}': {k}" + (f" of {of[p]}" if of else "") + " unplaced"
             for p, k in list(unplaced.items())[:limit]]
    if len(unplaced) > limit:
        items.append(f"and {len(unplaced) - limit} more populations")
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
                  strategy: str = "enum_asc") -> NeuronPlacement:
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
        ``"enum_asc"`` (default, marocco's ``byNeuronBlockEnumAndPopulationIDasc``) or
        ``"enum_desc"`` (same blocks, populations in decreasing index).

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

    # 2. auto placement over all neuron blocks in wafer enum order, with a forward-only front
    row, start, length = _runs(free)
    front = 0
    unplaced: dict[int, int] = {}
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
