"""What the backend knows of the network: arrays per population and per projection.

The surface (PyNN's Population and Projection) hands these over; the backend never sees a PyNN
object.  A record holds the *request* (what the user asked for, the input of mapping and
parameter programming) and, for projections, the *realised* values the backend computed
(4-bit weights, routed delays, driver STP, which synapses the mapping realised).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

#: receptor codes of the engine
RECEPTORS = {"excitatory": 0, "inhibitory": 1}
#: names of the STDP columns of ``ProjectionRecord.stdp``
STDP_NAMES = ("tau_plus", "tau_minus", "A_plus", "A_minus", "w_min", "w_max", "mu_plus",
              "mu_minus")
#: names of the Tsodyks-Markram columns of ``ProjectionRecord.stp``
STP_NAMES = ("U", "tau_rec", "tau_facil")


@dataclass(eq=False)
class PopulationRecord:
    """One population: its engine indices and what the wafer needs to place and program it.

    * ``key``: creation number within this ``setup()`` (seeds per-population noise streams);
    * ``nodes``: engine node per cell (presynaptic identity); ``neuron_index``: engine neuron
      row per cell (None for spike sources); ``source_index``: row in the engine's Poisson or
      spike-array sources (None for neurons);
    * ``model``: the PyNN cell type's name; ``cell_type``: the hardware model that realises it ('IF_cond_exp' also for the
      emulated IF_curr_exp, 'EIF_cond_exp_isfa_ista'), ``request``: its bio parameters in
      that model's names and units (arrays per cell);
    * ``neuron_size`` (denmems per cell) and ``manual_hicanns`` (cell -> HICANN enums):
      placement requests; ``expected_rate`` (Hz per cell): spike sources' input bandwidth;
    * ``cell_offset``: number of the first cell in the backend's cell numbering (all
      populations in creation order).
    """
    key: int
    label: str
    size: int
    kind: str                      # "neurons", "poisson" or "array"
    nodes: np.ndarray
    neuron_index: np.ndarray | None
    source_index: np.ndarray | None
    cell_offset: int
    neuron_size: np.ndarray
    model: str = ""
    cell_type: str | None = None
    request: dict | None = None
    manual_hicanns: dict = field(default_factory=dict)
    expected_rate: np.ndarray | None = None

    @property
    def is_source(self) -> bool:
        return self.neuron_index is None

    @property
    def cells(self) -> np.ndarray:
        """The backend's cell numbers of this population."""
        return self.cell_offset + np.arange(self.size)


@dataclass(eq=False)
class ProjectionRecord:
    """One projection's connections (creation order) as requested and as realised.

    Requested: ``weight`` (the user's unit: µS, or nA for an emulated current-based target),
    ``delay`` (ms, on the time grid), ``stp`` ((n, 3) U, tau_rec, tau_facil; NaN rows for
    static synapses).  ``to_conductance`` turns requested weights into engine conductances
    (µS) and ``to_user`` back (None: the weights are conductances already).

    Realised (set by the backend): ``realized`` (the mapping found the synapse),
    ``weight_uS`` (4-bit weights in µS, NaN for lost synapses), ``routed_delay`` (ms),
    ``stp_realised`` and ``engine_slice`` (this projection's part of the engine's table).

    STDP (issue 15): ``stdp`` ((n, 8) ``STDP_NAMES`` in the user's weight unit; None for
    synapses without STDP), ``dendritic_delay_fraction``; learned: ``learned_uS`` (engine
    weights after the last run, NaN where the request holds: not yet run, or set since) and,
    on the wafer, ``digital`` (4-bit weights) and ``levels_uS`` ((n, 16) each level's weight).
    """
    key: int
    label: str
    pre_nodes: np.ndarray
    post_neurons: np.ndarray
    receptor: int
    weight: np.ndarray
    delay: np.ndarray
    stp: np.ndarray
    tsodyks_markram: bool
    to_conductance: Callable[[np.ndarray], np.ndarray] | None = None
    to_user: Callable[[np.ndarray], np.ndarray] | None = None
    realized: np.ndarray | None = None
    weight_uS: np.ndarray | None = None
    routed_delay: np.ndarray | None = None
    stp_realised: np.ndarray | None = None
    engine_slice: slice = field(default_factory=lambda: slice(0, 0))
    stdp: np.ndarray | None = None
    dendritic_delay_fraction: float = 1.0
    learned_uS: np.ndarray | None = None
    digital: np.ndarray | None = None
    levels_uS: np.ndarray | None = None
    #: wafer: programmed weight / requested weight of the synapse driver's STP (U; 1 else)
    weight_scale: np.ndarray | None = None

    @property
    def plastic(self) -> bool:
        """Whether the projection's weights follow an STDP rule."""
        return self.stdp is not None

    def stdp_column(self, name: str) -> np.ndarray:
        """One STDP parameter per connection (weights in the user's unit)."""
        return self.stdp[:, STDP_NAMES.index(name)]

    def stdp_conductance(self, name: str) -> np.ndarray:
        """``w_min``/``w_max`` as engine conductances (µS)."""
        v = self.stdp_column(name)
        return v if self.to_conductance is None else self.to_conductance(v)

    def __post_init__(self) -> None:
        if self.realized is None:
            self.realized = np.ones(self.size, dtype=bool)

    @property
    def size(self) -> int:
        return int(self.pre_nodes.size)

    def requested_conductance(self) -> np.ndarray:
        """Requested weights as engine conductances (µS)."""
        if self.to_conductance is None:
            return self.weight
        return self.to_conductance(self.weight)
