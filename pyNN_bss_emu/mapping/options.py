"""The mapper's options, one frozen dataclass per stage (PyMarocco's per-stage options:
``neuron_placement``, ``merger_routing``, ``l1_routing``, ``synapse_routing``, ...).

Every default is stated here once; ``setup()``'s keywords (``backend.options``) and
:func:`~pyNN_bss_emu.mapping.pipeline.map_network` read them from these classes.  The values
are checked where they are used (the stage functions name what they accept), except the
neuron size, which :func:`check_neuron_size` checks before a population is built.

Only :mod:`..hardware` and the standard library are imported here, so the surface, the
mapper and the documentation can all read the tree without importing each other.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

from ..hardware import wafer

__all__ = ["check_neuron_size", "check_neuron_size_or_auto", "AUTO_NEURON_SIZE",
           "AUTO_SIZE_SENTINEL", "MULTAPSE_MODES", "PLACEMENT_STRATEGIES",
           "NeuronPlacementOptions", "MergerRoutingOptions",
           "AddressAssignmentOptions", "InputPlacementOptions", "L1RoutingOptions",
           "SynapseRoutingOptions", "MappingOptions"]


def check_neuron_size(size, what: str = "neuron_size") -> int:
    """Validate a logical neuron size (denmems): even, 2..64; returns it as int.

    A logical neuron spans both denmem rows inside one neuron block of
    ``wafer.MAX_NEURON_SIZE`` denmems, hence even and at most 64.  ``what`` names the value in
    the message (``ValueError``).
    """
    # numbers.Integral covers int and numpy integers (numpy registers them) without
    # importing numpy here; bool is an Integral too but never a size
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 2 \
            or size > wafer.MAX_NEURON_SIZE or size % 2:
        raise ValueError(f"{what}={size!r}: a logical neuron needs an even number of denmems "
                         f"from 2 to {wafer.MAX_NEURON_SIZE} (it spans both denmem rows inside "
                         "one neuron block)")
    return int(size)


#: ``neuron_size="auto"``: the mapper chooses the size per population (``placement.auto_sizes``)
AUTO_NEURON_SIZE = "auto"
#: how an "auto" neuron size is stored in the per-cell integer arrays of the backend's
#: records and of ``BioGraph.neuron_size`` (no real size is 0: sizes are even, 2..64)
AUTO_SIZE_SENTINEL = 0


def check_neuron_size_or_auto(size, what: str = "neuron_size") -> int | str:
    """:func:`check_neuron_size`, or the string ``"auto"`` (returned as is)."""
    if isinstance(size, str) and size == AUTO_NEURON_SIZE:
        return AUTO_NEURON_SIZE
    try:
        return check_neuron_size(size, what)
    except ValueError as err:
        raise ValueError(f"{err}; or 'auto' (the mapper chooses)") from None


#: automatic placement strategies (``mapping.placement``): marocco's enum orders and the
#: connectivity clustering (``ClusterByPopulationConnectivity``)
PLACEMENT_STRATEGIES = ("enum_asc", "enum_desc", "cluster")
#: multapse policies of synapse routing: ``"realise"`` gives every connection of a pair its
#: own hardware synapse where a slot is left; ``"per_projection"`` keeps one synapse per
#: (pre, post, receptor, STP) and projection on a route, as marocco's per-projection weight
#: matrix did (a second connection of the same pair in one projection is lost, the same
#: pair in another projection is realised)
MULTAPSE_MODES = ("realise", "per_projection")


@dataclass(frozen=True)
class NeuronPlacementOptions:
    """Neuron placement (marocco ``neuron_placement``).

    * ``default_neuron_size``: denmems per logical neuron (even, 2..64) of a population that
      has no ``set_neuron_size()``, or ``"auto"`` (the mapper chooses per population from
      its in-degree, its largest weight and the wafer's room:
      :func:`~pyNN_bss_emu.mapping.placement.auto_sizes`); marocco's
      ``default_neuron_size`` (4).
    * ``strategy``: order of the automatic placement: ``"cluster"`` (default; marocco's
      ``ClusterByPopulationConnectivity``: strongly connected populations next to each other,
      which shortens the L1 routes), ``"enum_asc"`` (marocco's default
      ``byNeuronBlockEnumAndPopulationIDasc``) or ``"enum_desc"``
      (:data:`~pyNN_bss_emu.mapping.placement.STRATEGIES`).
    """
    default_neuron_size: int | str = 4
    strategy: str = "cluster"


@dataclass(frozen=True)
class MergerRoutingOptions:
    """Merger routing (marocco ``merger_routing``): neuron blocks -> DNC mergers.

    * ``strategy``: ``"auto"`` (map with ``"minimize_as_possible"`` and ``"minimize"``, keep
      the result losing fewer synapses), or one of
      :data:`~pyNN_bss_emu.mapping.merger_routing.STRATEGIES`.
    """
    strategy: str = "auto"


@dataclass(frozen=True)
class AddressAssignmentOptions:
    """L1 address assignment (marocco's ``L1AddressPool`` order).

    * ``strategy``: ``"high_first"`` (63, 62, ...), ``"low_first"`` or ``"alternating"``
      (:data:`~pyNN_bss_emu.mapping.addresses.STRATEGIES`); used for neurons and for the
      spike sources on input mergers.
    """
    strategy: str = "high_first"


@dataclass(frozen=True)
class InputPlacementOptions:
    """Input placement (marocco ``input_placement``): spike sources -> input DNC mergers.

    * ``bandwidth_utilization``: fraction (0, 1] of the event-rate caps per HICANN (17.8 MHz)
      and per FPGA (125 MHz, hardware time) that sources may fill; marocco's
      ``bandwidth_utilization`` (0.8).
    """
    bandwidth_utilization: float = 0.8


@dataclass(frozen=True)
class L1RoutingOptions:
    """L1 routing (marocco ``l1_routing``): DNC mergers -> target HICANNs over the L1 buses.

    * ``algorithm``: ``"backbone+dijkstra"`` (marocco's backbone router, then shortest-path
      growth for the targets it missed), ``"backbone"`` or ``"dijkstra"``
      (:data:`~pyNN_bss_emu.mapping.l1_routing.ALGORITHMS`).
    """
    algorithm: str = "backbone+dijkstra"


@dataclass(frozen=True)
class SynapseRoutingOptions:
    """Synapse routing (marocco ``synapse_routing``): synapse drivers and synapse rows.

    * ``driver_chain_length``: most synapse drivers chained behind one V-bus (1..56, the
      drivers of a quadrant); marocco's ``driver_chain_length`` (3).
    * ``multapses``: ``"realise"`` (every connection of a repeated (pre, post) pair gets a
      synapse of its own while the target neuron has free columns in the route's half rows)
      or ``"per_projection"`` (marocco: one synapse per pair and projection; a repeat within
      a projection is lost, :data:`MULTAPSE_MODES`).
    """
    driver_chain_length: int = wafer.DEFAULT_CHAIN_LENGTH
    multapses: str = "realise"


@dataclass(frozen=True)
class MappingOptions:
    """All options of one mapping: one entry per stage, in marocco's order, plus

    * ``speedup``: hardware / bio time ratio (1e3..1e5); sets the sources' hardware event
      rates (input placement) and the bio <-> hw time scale of the parameter transformation.
    * ``continue_despite_synapse_loss``: return a mapping that lost synapses instead of
      raising :class:`~pyNN_bss_emu.mapping.pipeline.SynapseLossError` (None, the default
      of the tree: as ``setup(strict=...)`` decides; ``map_network`` treats None as False).
    * ``mapping_file``: path of a saved mapping (``.npz``) to reuse for the same network, or
      where to save a new one; None: map afresh and save nothing.
    """
    neuron_placement: NeuronPlacementOptions = field(default_factory=NeuronPlacementOptions)
    merger_routing: MergerRoutingOptions = field(default_factory=MergerRoutingOptions)
    address_assignment: AddressAssignmentOptions = field(
        default_factory=AddressAssignmentOptions)
    input_placement: InputPlacementOptions = field(default_factory=InputPlacementOptions)
    l1_routing: L1RoutingOptions = field(default_factory=L1RoutingOptions)
    synapse_routing: SynapseRoutingOptions = field(default_factory=SynapseRoutingOptions)
    speedup: float = wafer.DEFAULT_SPEEDUP
    continue_despite_synapse_loss: bool | None = None
    mapping_file: str | None = None
