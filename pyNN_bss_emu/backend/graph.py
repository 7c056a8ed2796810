"""The backend's records -> the mapper's :class:`~pyNN_bss_emu.mapping.types.BioGraph`."""
from __future__ import annotations

import numpy as np

from ..hardware import synapse_weights, wafer
from ..mapping.stp import PLASTIC, stp_keys
from ..mapping.types import BioGraph
from .records import PopulationRecord, ProjectionRecord


def bio_graph(populations: list[PopulationRecord], projections: list[ProjectionRecord],
              n_nodes: int, neuron_node: np.ndarray, stp: list[np.ndarray] | None = None,
              stimulus: np.ndarray | None = None, stimulus_label: list | None = None,
              denmem_pF: float | None = None, speedup: float = wafer.DEFAULT_SPEEDUP
              ) -> BioGraph:
    """The mapper's graph: populations split into runs of cells with equal (neuron size,
    manual HICANNs); synapses between cell numbers (the backend's numbering), with their
    receptor, projection and STP key (the driver mode a synapse needs) from ``stp`` (per
    projection, default: the requested parameters).  Current sources (issue 12):
    ``stimulus`` (per cell, -1 none) and ``stimulus_label`` name the current stimulus each
    cell needs (:meth:`.current_sources.CurrentSources.cell_stimuli`); a run holds cells of
    one stimulus only.  ``denmem_pF`` (the capacitance of one denmem, pF) and ``speedup``
    give ``max_neuron_size`` for ``neuron_size="auto"`` (:func:`max_neuron_sizes`; None:
    not bounded)."""
    sizes, is_source, neuron_size, manual, labels, rates = [], [], [], [], [], []
    node_to_cell = np.full(n_nodes, -1, dtype=np.int64)
    for pop in populations:
        node_to_cell[pop.nodes] = pop.cells
        stim = stimulus[pop.cells] if stimulus is not None else np.full(pop.size, -1)
        keys = [(int(pop.neuron_size[i]), pop.manual_hicanns.get(i), int(stim[i]))
                for i in range(pop.size)]
        start = 0
        for i in range(1, pop.size + 1):
            if i == pop.size or keys[i] != keys[start]:
                sizes.append(i - start)
                is_source.append(pop.is_source)
                neuron_size.append(keys[start][0])
                manual.append(keys[start][1])
                labels.append(pop.label)
                start = i
        rates.append(pop.expected_rate.copy())
    pre, post, receptor, proj_of, proj_labels, stp_key = [], [], [], [], [], []
    for j, prj in enumerate(projections):
        pre.append(node_to_cell[prj.pre_nodes])
        post.append(node_to_cell[neuron_node[prj.post_neurons]])
        receptor.append(np.full(prj.size, prj.receptor, dtype=np.int64))
        proj_of.append(np.full(prj.size, j, dtype=np.int64))
        proj_labels.append(prj.label)
        # STDP synapses get rows of their own (a row's gmax must span their w_max, not a
        # static neighbour's weight): the "plastic" key keeps them off static drivers
        stp_key.append(np.full(prj.size, PLASTIC, dtype=np.int64) if prj.plastic
                       else stp_keys(prj.stp if stp is None else stp[j]))
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64))
    limit = None
    if denmem_pF is not None:
        post_cell = cat(post)
        ratio = np.zeros(post_cell.size)
        if post_cell.size:
            cm = _cm_of_cells(populations, int(sum(p.size for p in populations)))
            w = np.concatenate([np.abs(prj.requested_conductance()) for prj in projections])
            ratio = w / cm[post_cell]
        limit = max_neuron_sizes(ratio, np.repeat(np.arange(len(sizes)), sizes)[post_cell]
                                 if post_cell.size else post_cell, len(sizes), denmem_pF,
                                 speedup)
    return BioGraph(size=np.array(sizes, dtype=np.int64),
                    is_source=np.array(is_source, dtype=bool),
                    neuron_size=np.array(neuron_size, dtype=np.int64),
                    manual_hicanns=manual, label=labels,
                    rate=np.concatenate(rates) if rates else np.zeros(0),
                    pre=cat(pre), post=cat(post), receptor=cat(receptor),
                    projection=cat(proj_of), projection_label=proj_labels,
                    stp_key=cat(stp_key), stimulus=stimulus,
                    stimulus_label=list(stimulus_label or []), max_neuron_size=limit)


def _cm_of_cells(populations: list[PopulationRecord], n_cells: int) -> np.ndarray:
    """Requested membrane capacitance (nF) of every cell (NaN for spike sources)."""
    cm = np.full(n_cells, np.nan)
    for pop in populations:
        if not pop.is_source and pop.request is not None and "cm" in pop.request:
            cm[pop.cells] = np.broadcast_to(np.asarray(pop.request["cm"], float), (pop.size,))
    return cm


def max_neuron_sizes(weight_per_cm: np.ndarray, target_pop: np.ndarray, n_pop: int,
                     denmem_pF: float, speedup: float) -> np.ndarray:
    """Per mapper population: the largest neuron size (even, 2..64) at which every incoming
    weight is realisable, from ``weight_per_cm`` (µS/nF, per connection) and the
    population of each connection's target.

    A weight ``w`` [µS] onto a neuron of bio capacitance ``cm`` [nF] and ``s`` denmems needs
    ``w * speedup * s * C_denmem / cm`` nS in hardware (marocco's ``scale``, reference 4.5),
    at most the largest analog weight of the synapse array,
    ``synapse_weights.HARDWARE_GMAX`` (10.7 µS: V_gmax 1023, gmax_div 2, digital 15); so
    ``s <= g_max * cm / (w * speedup * C_denmem)``.  Populations without incoming weights
    (or only zero weights) get 64; at least 2 (the smallest neuron; its weights clip)."""
    g_max = float(synapse_weights.HARDWARE_GMAX.max_nS.max())
    worst = np.zeros(n_pop)
    ok = np.isfinite(weight_per_cm) & (weight_per_cm > 0)
    np.maximum.at(worst, np.asarray(target_pop, dtype=np.int64)[ok], weight_per_cm[ok])
    with np.errstate(divide="ignore"):
        limit = np.where(worst > 0, g_max / (worst * speedup * denmem_pF), np.inf)
    limit = np.floor(np.minimum(limit, wafer.MAX_NEURON_SIZE))
    return np.maximum(limit - limit % 2, 2).astype(np.int64)
