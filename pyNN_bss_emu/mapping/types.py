"""Data passed between the mapper's stages (marocco's pipeline), all flat numpy arrays.

Cells are numbered globally: population ``p`` owns cells ``offset[p] .. offset[p]+size[p]-1``
(in population creation order).  Connections are numbered in projection order.  Every stage
is a function of these records; none of them knows PyNN objects.

Stage order and owners (``mapping/``):
  placement.place_neurons        -> NeuronPlacement
  merger_routing.route_mergers   -> MergerRouting (neuron -> DNC merger)
  addresses.assign_addresses     -> neuron L1 addresses
  input_placement.place_inputs   -> SourcePlacement (spike sources -> HICANN, DNC merger, address)
  l1_routing.route_l1            -> L1Routes (bus routes from DNC mergers to target HICANNs)
  synapse_drivers.assign_drivers -> DriverAssignment (drivers/half rows per route and HICANN)
  synapses.allocate_synapses     -> realised flag per connection
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .stp import N_KEYS


class MappingError(RuntimeError):
    """The network cannot be realised on the wafer (message says what is short)."""


class ResourceExhaustedError(MappingError):
    """A resource (denmems, DNC mergers, addresses, input bandwidth, ...) ran out."""


@dataclass
class BioGraph:
    """The network to map.

    Per population ``p``: ``size[p]``, ``is_source[p]``, ``neuron_size[p]`` (denmems per
    logical neuron, even, 2..64; ignored for sources), ``manual_hicanns[p]`` (tuple of HICANN
    enums to place on, in that order, or None), ``label[p]``.
    Per cell ``c``: ``rate[c]`` expected firing rate in Hz (used for spike sources' bandwidth).
    Per connection ``k``: ``pre[k]``, ``post[k]`` (global cells), ``receptor[k]`` (0 exc,
    1 inh), ``projection[k]`` (projection index), ``stp_key[k]`` the synapse-driver STP
    setting it needs (:mod:`.stp`: 0 static, ``1 + cap`` depression, ``9 + cap``
    facilitation, cap = the 3-bit U setting 0..7; default all 0).
    Current stimuli (issue 12): ``stimulus[c]`` the current stimulus cell ``c`` needs (-1:
    none; one id per distinct combination of current sources, named by
    ``stimulus_label[id]``); each stimulated neuron needs an FG block of its own.
    Neuron size ``"auto"`` (issue 14): ``neuron_size[p] == 0``
    (:data:`~pyNN_bss_emu.mapping.options.AUTO_SIZE_SENTINEL`) lets the mapper choose;
    ``max_neuron_size[p]`` (optional) is the largest size at which the population's largest
    incoming weight can still be realised (None: 64 for all).
    Systems of wafers (issue 16): ``virtual[p]`` marks a population of *virtual sources*,
    neurons of another wafer whose spikes enter this one as input (default: none).  What
    the input placement cannot place of them is lost with their synapses
    (``MappingStatistics.synapses_lost_input``); other sources that do not fit are an error.
    """
    size: np.ndarray
    is_source: np.ndarray
    neuron_size: np.ndarray
    manual_hicanns: list
    label: list
    rate: np.ndarray
    pre: np.ndarray
    post: np.ndarray
    receptor: np.ndarray
    projection: np.ndarray
    projection_label: list = field(default_factory=list)
    stp_key: np.ndarray = None
    stimulus: np.ndarray = None
    stimulus_label: list = field(default_factory=list)
    max_neuron_size: np.ndarray = None
    virtual: np.ndarray = None

    def __post_init__(self) -> None:
        if self.virtual is None:
            self.virtual = np.zeros(np.shape(self.size), dtype=bool)
        else:
            self.virtual = np.asarray(self.virtual, dtype=bool)
        if self.max_neuron_size is not None:
            self.max_neuron_size = np.asarray(self.max_neuron_size, dtype=np.int64)
            if self.max_neuron_size.shape != np.shape(self.size):
                raise ValueError(f"max_neuron_size must have one entry per population "
                                 f"({np.size(self.size)}), got shape "
                                 f"{self.max_neuron_size.shape}")
        if self.stimulus is None:
            self.stimulus = np.full(self.n_cells, -1, dtype=np.int64)
        else:
            self.stimulus = np.asarray(self.stimulus, dtype=np.int64)
            if self.stimulus.shape != (self.n_cells,):
                raise ValueError(f"stimulus must have shape ({self.n_cells},), got "
                                 f"{self.stimulus.shape}")
        n = np.asarray(self.pre).size
        if self.stp_key is None:
            self.stp_key = np.zeros(n, dtype=np.int8)     # int8: keys are 0..17
        else:
            key = np.asarray(self.stp_key)
            if key.shape != (n,):
                raise ValueError(f"stp_key must have shape ({n},), got {key.shape}")
            if key.size and (key.min() < 0 or key.max() >= N_KEYS):
                raise ValueError(f"stp_key values must be STP keys 0..{N_KEYS - 1} "
                                 "(mapping.stp)")
            self.stp_key = key.astype(np.int8)

    @property
    def offset(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.size)[:-1]]).astype(np.int64)

    @property
    def n_cells(self) -> int:
        return int(np.sum(self.size))

    @property
    def population_of(self) -> np.ndarray:
        """Population index of every cell."""
        return np.repeat(np.arange(self.size.size), self.size)


@dataclass
class NeuronPlacement:
    """Where each neuron cell sits; -1 for spike-source cells.

    ``hicann[c]`` enum, ``block[c]`` neuron block 0..7, ``x0[c]`` first denmem column (0..255),
    ``width[c]`` columns (= neuron size / 2; the neuron owns columns x0..x0+width-1 in both
    denmem rows).  ``stimulus_denmem[c]``: the denmem (``NeuronOnHICANN`` enum) whose
    current input the neuron's FG current stimulus drives (-1: none; None in mappings saved
    before current stimuli existed).
    """
    hicann: np.ndarray
    block: np.ndarray
    x0: np.ndarray
    width: np.ndarray
    stimulus_denmem: np.ndarray = None


@dataclass
class MergerRouting:
    """``dnc_merger[c]`` of each placed neuron (-1 for sources); ``block_to_merger[h, b]`` the
    DNC merger neuron block b of HICANN h sends to (-1 if unused)."""
    dnc_merger: np.ndarray
    block_to_merger: np.ndarray


@dataclass
class SourcePlacement:
    """Spike-source cells on input DNC mergers (-1 for neuron cells, and for virtual
    sources the input had no room for)."""
    hicann: np.ndarray
    dnc_merger: np.ndarray
    address: np.ndarray


@dataclass
class L1Routes:
    """Routes from sending DNC mergers to target HICANNs.

    One *route source* per used (hicann, dnc_merger) pair: ``source_hicann[r]``,
    ``source_merger[r]``.  One row per (route source, target HICANN) request:
    ``req_source[q]``, ``req_target[q]`` (HICANN enum), ``req_ok[q]`` (routed?),
    ``req_vline[q]`` the V-bus the route ends on (feeding the target's synapse drivers),
    ``req_side[q]`` which driver side of the target it feeds (0 left, 1 right),
    ``req_hops[q]`` number of HICANNs the route passes (for routed delays).
    """
    source_hicann: np.ndarray
    source_merger: np.ndarray
    req_source: np.ndarray
    req_target: np.ndarray
    req_ok: np.ndarray
    req_vline: np.ndarray
    req_side: np.ndarray
    req_hops: np.ndarray
