"""The backend's records -> the mapper's :class:`~pyNN_bss_emu.mapping.types.BioGraph`."""
from __future__ import annotations

import numpy as np

from ..mapping.stp import stp_keys
from ..mapping.types import BioGraph
from .records import PopulationRecord, ProjectionRecord


def bio_graph(populations: list[PopulationRecord], projections: list[ProjectionRecord],
              n_nodes: int, neuron_node: np.ndarray, stp: list[np.ndarray] | None = None,
              stimulus: np.ndarray | None = None, stimulus_label: list | None = None
              ) -> BioGraph:
    """The mapper's graph: populations split into runs of cells with equal (neuron size,
    manual HICANNs); synapses between cell numbers (the backend's numbering), with their
    receptor, projection and STP key (the driver mode a synapse needs) from ``stp`` (per
    projection, default: the requested parameters).  Current sources (issue 12):
    ``stimulus`` (per cell, -1 none) and ``stimulus_label`` name the current stimulus each
    cell needs (:meth:`.current_sources.CurrentSources.cell_stimuli`); a run holds cells of
    one stimulus only."""
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
        stp_key.append(stp_keys(prj.stp if stp is None else stp[j]))
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64))
    return BioGraph(size=np.array(sizes, dtype=np.int64),
                    is_source=np.array(is_source, dtype=bool),
                    neuron_size=np.array(neuron_size, dtype=np.int64),
                    manual_hicanns=manual, label=labels,
                    rate=np.concatenate(rates) if rates else np.zeros(0),
                    pre=cat(pre), post=cat(post), receptor=cat(receptor),
                    projection=cat(proj_of), projection_label=proj_labels,
                    stp_key=cat(stp_key), stimulus=stimulus,
                    stimulus_label=list(stimulus_label or []))
