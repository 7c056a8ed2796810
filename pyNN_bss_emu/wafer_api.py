"""The wafer-specific part of the user API (exported by ``pyNN.bss_emu``): placement requests
before the mapping (:func:`set_neuron_size`, :func:`place_on_hicann`) and queries after it
(:func:`get_mapping_statistics`, :func:`get_placement`, :func:`get_pulse_statistics`,
:func:`get_mapping`, :func:`get_synapse_loss_per_hicann`, :func:`get_defects`,
:func:`get_wafer_report`,
:func:`save_mapping`).  They ask the backend; with ``setup(ideal=True)`` the queries raise
(nothing is mapped) and the requests are kept but have no effect.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyNN import common

from . import simulator
from .hardware import wafer
from .mapping.options import check_neuron_size_or_auto
from .populations import check_current


@dataclass(frozen=True)
class CellPlacement:
    """Where one cell sits on the wafer.  Neurons: HICANN, neuron block, the denmems (column,
    row) of the logical neuron, DNC merger and 6-bit L1 address; spike sources: HICANN, DNC
    merger and address (the FPGA input they are injected through)."""
    cell: int
    hicann: int
    neuron_block: int | None
    denmems: tuple
    dnc_merger: int
    l1_address: int
    #: the wafer of a multi-wafer system (``setup(wafers=...)``); 0 on one wafer
    wafer: int = 0

    def __str__(self) -> str:
        where = f"HICANNOnWafer(Enum({self.hicann}))"
        if self.wafer:
            where = f"Wafer({self.wafer}), " + where
        if self.neuron_block is not None:
            return (f"cell {self.cell}: {where}, NeuronBlockOnHICANN({self.neuron_block}), "
                    f"denmems {self.denmems[0]}..{self.denmems[-1]}, DNCMergerOnHICANN"
                    f"({self.dnc_merger}), L1Address({self.l1_address})")
        return f"cell {self.cell}: {where}, DNCMergerOnHICANN({self.dnc_merger}), " \
               f"L1Address({self.l1_address}) (spike source)"


def _population_and_indices(obj):
    if isinstance(obj, common.PopulationView):
        pop, idx = obj.grandparent, np.asarray(obj.index_in_grandparent(np.arange(obj.size)))
    elif isinstance(obj, common.Population):
        pop, idx = obj, np.arange(obj.size)
    else:
        raise TypeError(f"expected a Population or PopulationView, got {type(obj).__name__}")
    check_current(pop)
    return pop, idx


def _as_hicann_enum(h) -> int:
    value = getattr(h, "enum", h)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"HICANN {h!r}: expected an enum (int) or a HICANNOnWafer")
    if not 0 <= int(value) < wafer.N_HICANN:
        raise ValueError(f"HICANN enum {value} is out of range 0..{wafer.N_HICANN - 1}")
    return int(value)


def set_neuron_size(cells, size: int | str) -> None:
    """Build the neurons of a Population or PopulationView from ``size`` denmems (even, 2..64;
    more denmems give more synaptic inputs, but a larger capacitance that needs larger
    hardware conductances for the same weight), or ``"auto"``: the mapper chooses from the
    in-degree, the weights and the wafer's room (the choice:
    ``get_mapping_statistics().neuron_sizes``).  Takes effect at the next mapping."""
    pop, idx = _population_and_indices(cells)
    size = check_neuron_size_or_auto(size)
    backend = simulator.state.backend
    backend.check_placement_request(pop._record)
    backend.set_neuron_size(pop._record, idx, size)


def place_on_hicann(cells, hicanns) -> None:
    """Place a Population or PopulationView on the given HICANN(s) (enums or
    ``HICANNOnWafer``), filled in the order given, like marocco's
    ``manual_placement.on_hicann``.  Takes effect at the next mapping."""
    pop, idx = _population_and_indices(cells)
    if isinstance(hicanns, (int, np.integer)) or hasattr(hicanns, "enum"):
        hicanns = [hicanns]
    enums = tuple(_as_hicann_enum(h) for h in hicanns)
    if not enums:
        raise ValueError("place_on_hicann needs at least one HICANN")
    simulator.state.backend.place_on_hicann(pop._record, idx, enums)


def get_mapping():
    """The current mapping (:class:`~pyNN_bss_emu.mapping.pipeline.MappingResult`: placement,
    mergers, L1 routes, synapses per connection, statistics); after the first ``run()``
    (``run(0)`` maps)."""
    return simulator.state.backend.mapping()


def get_mapping_statistics():
    """Statistics of the current mapping (:class:`MappingStatistics`): ``synapse_loss``
    (fraction), ``synapses_realized``, ``synapses_lost``, ``neurons_placed``, ``hicanns_used``,
    ``per_projection`` losses and per-stage ``timings`` in seconds."""
    return get_mapping().statistics


def get_synapse_loss_per_hicann() -> tuple[np.ndarray, np.ndarray]:
    """(requested, lost) synapse counts per HICANN (index: HICANN enum) of the postsynaptic
    neuron, for the current mapping."""
    return simulator.state.backend.synapse_loss_per_hicann()


def get_defects(wafer: int = 0):
    """The defect map of the emulated wafer (:class:`~pyNN_bss_emu.hardware.defects.DefectMap`)
    chosen by ``setup(defects=..., wafer_seed=...)``; on a system of wafers
    (``setup(wafers=...)``) that of wafer ``wafer``."""
    get_mapping()     # the same error as the other queries in ideal mode
    maps = simulator.state.backend.wafer_defects
    if isinstance(wafer, bool) or not isinstance(wafer, (int, np.integer)) \
            or not 0 <= wafer < len(maps):
        raise ValueError(f"get_defects(wafer={wafer!r}): the system has {len(maps)} "
                         f"wafer(s), 0..{len(maps) - 1}")
    return maps[int(wafer)]


def get_wafer_report() -> dict[str, list[str]]:
    """The last report of how the wafer changed the experiment materially (also issued as a
    ``WaferReportWarning``): ``"mapping"`` lines (synapses lost, 4-bit weights clipped or
    rounded to the lowest level) and ``"run"`` lines (recorded spikes missing, spikes lost at
    encoders and mergers, stimulus dropped) of the last run; empty lists: nothing material."""
    get_mapping()
    return {k: list(v) for k, v in simulator.state.backend.reporter.latest.items()}


def get_placement(cells) -> list:
    """Placement of every cell of a Population, PopulationView or single ID, as
    :class:`CellPlacement` records."""
    result = get_mapping()
    if isinstance(cells, (int, np.integer)) and hasattr(cells, "parent"):
        pop, idx = cells.parent, np.array([cells.parent.id_to_index(cells)])
        check_current(pop)
    else:
        pop, idx = _population_and_indices(cells)
    base = pop._record.cell_offset
    out = []
    tables: dict = {}
    for i in idx:
        c = base + int(i)
        # on a system of wafers: the wafer's own mapping and the cell's number there
        k, res, local = result.locate(c)
        if k not in tables:
            tables[k] = (res.cell_hicann(), res.cell_address(), res.cell_merger())
        hic, addr, merger = tables[k]
        if pop._neuron_index is not None:
            x0, w = int(res.placement.x0[local]), int(res.placement.width[local])
            denmems = tuple((x, y) for x in range(x0, x0 + w) for y in (0, 1))
            block = int(res.placement.block[local])
        else:
            denmems, block = (), None
        out.append(CellPlacement(c, int(hic[local]), block, denmems, int(merger[local]),
                                 int(addr[local]), k))
    return out


def get_pulse_statistics() -> dict:
    """Event counts of the current segment (since setup() or the last reset()), named like the
    ESS's pulse statistics: ``l2_down_sent`` / ``l2_down_dropped_before_sim`` stimulus events
    sent to / dropped before the wafer for want of FPGA or HICANN-link bandwidth;
    ``l1_neuron_sent`` / ``l1_neuron_lost`` neuron spikes that reached / did not reach their
    L1 bus (lost at a neuron block's priority encoder, ``l1_encoder_lost``, or at a DNC merger
    collecting several blocks, ``l1_merger_lost``; a lost spike reaches no target and is not
    recorded); ``l2_up_sent`` / ``l2_up_lost`` recorded neuron spikes that fit / did not fit
    through the HICANN link and FPGA on the way to the host (lost ones still reached their
    targets on the wafer); on a system of wafers (``setup(wafers=...)``), ``l2_relay_sent``
    / ``l2_relay_lost`` spikes delivered to / lost on the way to another wafer (one event
    per target wafer; lost in a full FIFO of the HICANN links or FPGAs on the way)."""
    return simulator.state.backend.pulse_statistics()


def save_mapping(path: str) -> None:
    """Write the current mapping to ``path``, used exactly as given (no suffix is added), as
    an ``.npz`` archive written atomically; an existing file is replaced only if it is one of
    our mappings.  ``setup(mapping_file=path)`` reuses it for the same network, options and
    defect map without mapping again (anything else is a ``MappingFileError`` naming what
    differs)."""
    get_mapping().save(path)
