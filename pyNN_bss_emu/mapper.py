"""Between the PyNN surface and the mapper: builds the mapper's :class:`BioGraph` from the
populations and projections, keeps the user's placement requests, runs the mapping at the first
``run()`` (and again only when the network structure changed) and answers placement queries.

Public functions (exported by ``pyNN.bss_emu``): :func:`set_neuron_size`,
:func:`place_on_hicann`, :func:`get_mapping_statistics`, :func:`get_placement`,
:func:`save_mapping`.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
from pyNN import common

from . import simulator
from .hardware import wafer
from .mapping.pipeline import MappingOptions, MappingResult, map_network
from .mapping.stp import (FACILITATION, fg_block_of_driver, share_time_constants,
                          stp_keys)
from .mapping.types import BioGraph, MappingError


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

    def __str__(self) -> str:
        where = f"HICANNOnWafer(Enum({self.hicann}))"
        if self.neuron_block is not None:
            return (f"cell {self.cell}: {where}, NeuronBlockOnHICANN({self.neuron_block}), "
                    f"denmems {self.denmems[0]}..{self.denmems[-1]}, DNCMergerOnHICANN"
                    f"({self.dnc_merger}), L1Address({self.l1_address})")
        return f"cell {self.cell}: {where}, DNCMergerOnHICANN({self.dnc_merger}), " \
               f"L1Address({self.l1_address}) (spike source)"


def _population_and_indices(obj):
    if isinstance(obj, common.PopulationView):
        return obj.grandparent, np.asarray(obj.index_in_grandparent(np.arange(obj.size)))
    if isinstance(obj, common.Population):
        return obj, np.arange(obj.size)
    raise TypeError(f"expected a Population or PopulationView, got {type(obj).__name__}")


def _as_hicann_enum(h) -> int:
    value = getattr(h, "enum", h)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"HICANN {h!r}: expected an enum (int) or a HICANNOnWafer")
    if not 0 <= int(value) < wafer.N_HICANN:
        raise ValueError(f"HICANN enum {value} is out of range 0..{wafer.N_HICANN - 1}")
    return int(value)


def check_neuron_size(size, what: str = "neuron_size") -> int:
    """Validate a logical neuron size (denmems): even, 2..64."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2 \
            or size > wafer.MAX_NEURON_SIZE or size % 2:
        raise ValueError(f"{what}={size!r}: a logical neuron needs an even number of denmems "
                         f"from 2 to {wafer.MAX_NEURON_SIZE} (it spans both denmem rows inside "
                         "one neuron block)")
    return int(size)


def set_neuron_size(cells, size: int) -> None:
    """Build the neurons of a Population or PopulationView from ``size`` denmems (even, 2..64;
    more denmems give more synaptic inputs).  Takes effect at the next mapping."""
    pop, idx = _population_and_indices(cells)
    size = check_neuron_size(size)
    if pop._neuron_index is None:
        raise TypeError(f"population '{pop.label}' holds spike sources, which use no denmems")
    pop._neuron_size[idx] = size
    simulator.state.mapping_dirty = True


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
    for i in idx:
        pop._manual_hicanns[int(i)] = enums
    simulator.state.mapping_dirty = True


#: event rates of the stimulus path (brainscales1.md 7.2) and the PLL of the priority encoders
#: (6.2/6.3; an encoder serves one event per 2 clock cycles)
FPGA_EVENT_RATE_HZ = 125e6
HICANN_LINK_EVENT_RATE_HZ = 17.8e6
PLL_HZ = 125e6
ENCODER_CYCLES = 2
#: a DNC merger driving a sending repeater runs in slow mode: 125 MHz (ESS merger model, 6.2)
MERGER_SLOW_RATE_HZ = 125e6
#: resolution of the FPGA/DNC spike timestamps (250 MHz DNC clock, brainscales1.md 7.1)
TIMESTAMP_S = 4e-9

#: trial-independent spread of a route's delay around the distance formula (ms), from the 2023
#: delay calibration on wafer 30 (brainscales1.md section 8)
DELAY_JITTER_MS = 0.1


class WaferMapper:
    """Mapping state of the simulator (one per ``setup()``)."""

    def __init__(self, options: dict, defects) -> None:
        self.options = MappingOptions(
            merger_strategy=options["merger_routing"],
            l1_algorithm=options["l1_routing"],
            driver_chain_length=options["driver_chain_length"],
            speedup=float(options["speedup"]),
            continue_despite_synapse_loss=options["continue_despite_synapse_loss"])
        self.defects = defects
        self.mapping_file = options.get("mapping_file")
        self.wafer_seed = int(options.get("wafer_seed", 0))
        self.weight_rounding = options.get("weight_rounding", "nearest")
        self.trial_seed = int(options.get("trial_seed", 0))
        self.calibration = options.get("calibration", "calibrated")
        self.voltage_alpha = float(options.get("voltage_alpha", 10.0))
        self.voltage_shift = float(options.get("voltage_shift", 1.2))
        self.big_capacitors = bool(options.get("big_capacitors", True))
        self.leak_mode = options.get("leak_mode", "normal")
        self.clip_parameters = bool(options.get("clip_parameters", False))
        self.analog_recording_limit = bool(options.get("analog_recording_limit", False))
        self.neuron_size_of = np.zeros(0, dtype=np.int64)   # per engine neuron, set at map()
        self.result: MappingResult | None = None
        self.cell_offset: dict[int, int] = {}

    # ------------------------------------------------------------ bio graph
    def bio_graph(self, populations, projections) -> BioGraph:
        sizes, is_source, neuron_size, manual, labels, rates = [], [], [], [], [], []
        offset = 0
        net = simulator.state.network
        node_to_cell = np.full(net.n_nodes, -1, dtype=np.int64)
        for pop in populations:
            self.cell_offset[id(pop)] = offset
            node_to_cell[pop._nodes] = offset + np.arange(pop.size)
            src = pop._neuron_index is None
            if src:
                keys = [(0, pop._manual_hicanns.get(i)) for i in range(pop.size)]
            else:
                keys = [(int(pop._neuron_size[i]), pop._manual_hicanns.get(i))
                        for i in range(pop.size)]
            # split the population into runs of equal (neuron size, manual HICANNs)
            start = 0
            for i in range(1, pop.size + 1):
                if i == pop.size or keys[i] != keys[start]:
                    sizes.append(i - start)
                    is_source.append(src)
                    neuron_size.append(keys[start][0])
                    manual.append(keys[start][1])
                    labels.append(pop.label)
                    start = i
            rates.append(pop._expected_rates())
            offset += pop.size
        pre, post, receptor, proj_of, proj_labels, stp_key = [], [], [], [], [], []
        for j, prj in enumerate(projections):
            nodes, neurons, _, _, rec, _ = prj._engine_arrays()
            pre.append(node_to_cell[nodes])
            post.append(node_to_cell[net.neuron_node[neurons]])
            receptor.append(rec.astype(np.int64))
            proj_of.append(np.full(nodes.size, j, dtype=np.int64))
            proj_labels.append(prj.label)
            stp_key.append(stp_keys(prj._stp))   # the requested STP (not a realised one)
        cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64))
        return BioGraph(size=np.array(sizes, dtype=np.int64),
                        is_source=np.array(is_source, dtype=bool),
                        neuron_size=np.array(neuron_size, dtype=np.int64),
                        manual_hicanns=manual, label=labels,
                        rate=np.concatenate(rates) if rates else np.zeros(0),
                        pre=cat(pre), post=cat(post), receptor=cat(receptor),
                        projection=cat(proj_of), projection_label=proj_labels,
                        stp_key=cat(stp_key))

    def routed_delays(self, dt: float) -> np.ndarray:
        """Delay (ms) of every connection as the wafer realises it: the routed delay of its L1
        route (0.0397 ms per HICANN passed + 0.644 ms) plus a fixed Gaussian spread per
        connection (sigma 0.1 ms, drawn from the wafer seed), at least one time step; NaN for
        lost synapses."""
        d = self.result.delay_ms
        rng = np.random.default_rng([self.wafer_seed, 0x0DE1A7])
        jitter = rng.normal(0.0, DELAY_JITTER_MS, size=d.size)
        return np.where(np.isnan(d), np.nan, np.maximum(d + jitter, dt))

    def realise_weights(self, projections, network) -> None:
        """Quantise every realised synapse's weight onto the 4-bit array (row gmax chosen from
        the row's largest weight, nearest or stochastic rounding, fixed-pattern factors of this
        wafer) and store the result per projection as ``_weight_realised`` (µS; NaN for lost
        synapses).  Rows are shared between projections, so all weights are realised together."""
        from .engine.kernels import P_CM
        from .hardware.synapse_weights import (FixedPattern, neuron_capacitance_pF,
                                               realise_weights, row_key)
        res = self.result
        weights = np.concatenate([p._conductances(p._weight) for p in projections]) \
            if projections else np.zeros(0)
        post = np.concatenate([p._post_neurons[p._post_idx] for p in projections]) \
            if projections else np.zeros(0, dtype=np.int64)
        real = res.realized
        out = np.full(weights.size, np.nan)
        if np.any(real):
            h, row, col = res.syn_hicann[real], res.syn_row[real], res.syn_column[real]
            size = self.neuron_size_of[post[real]]
            rw = realise_weights(weights[real], row_key(h, row), network.P[post[real], P_CM],
                                 neuron_capacitance_pF(size, self.big_capacitors),
                                 speedup=self.options.speedup,
                                 rounding=self.weight_rounding,
                                 rng=np.random.default_rng([self.wafer_seed, 0x3E1647]),
                                 fixed_pattern=FixedPattern(self.wafer_seed),
                                 coordinates=(h, row, col))
            out[real] = rw.weight_bio_uS
            res.statistics.weights = {"disabled": int(rw.n_disabled),
                                      "clipped": int(rw.n_clipped),
                                      "rounded_to_zero": int(rw.n_rounded_to_zero),
                                      "below_min": int(rw.n_below_min)}
        start = 0
        for p in projections:
            p._weight_realised = out[start:start + len(p)]
            start += len(p)

    def realise_stp(self, projections) -> None:
        """Give every Tsodyks-Markram projection the STP parameters its drivers realise, as
        ``_stp_realised`` ((n, 3): U, tau_rec, tau_facil): U on the 3-bit cap, and one time
        constant per floating-gate block (V_dtc, shared by the drivers of one quadrant for
        depression and facilitation; :mod:`.mapping.stp`): where the realised STP synapses
        of a block request different values, all get the value most of them request and a
        ``HardwareParameterWarning`` names the blocks and projections."""
        from .hardware.parameter_transform import HardwareParameterWarning
        from .standardmodels.synapses import TsodyksMarkramSynapse
        res = self.result
        plastic_prj = [isinstance(p.synapse_type, TsodyksMarkramSynapse) for p in projections]
        if res is None or not any(plastic_prj):
            for p in projections:
                p._stp_realised = None
            return
        lengths = np.array([len(p) for p in projections], dtype=np.int64)
        if lengths.sum() != np.asarray(res.realized).size:
            return          # the network changed since the mapping: done again at remapping
        stp = np.concatenate([p._stp for p in projections]).reshape(-1, 3).copy()
        plastic = ~np.isnan(stp[:, 0])
        stp[plastic, 0] = TsodyksMarkramSynapse.realised_U(stp[plastic, 0])
        fac = stp_keys(stp) >= FACILITATION
        tau = np.where(fac, stp[:, 2], stp[:, 1])
        row = np.asarray(res.syn_row)
        block = fg_block_of_driver(res.syn_hicann, np.where(row >= 0, row // 2, -1))
        shared = share_time_constants(tau, block, plastic & np.asarray(res.realized, bool))
        stp[plastic & ~fac, 1] = shared.tau[plastic & ~fac]
        stp[plastic & fac, 2] = shared.tau[plastic & fac]
        if shared.conflict_blocks.size:
            proj_of = np.repeat(np.arange(len(projections)), lengths)
            changed = np.concatenate(shared.conflict_members)
            labels = sorted({str(projections[j].label) for j in np.unique(proj_of[changed])})
            b = int(shared.conflict_blocks[0])
            req = ", ".join(f"{v:g} ms ({c} synapses)" for v, c in
                            zip(shared.conflict_values[0], shared.conflict_counts[0]))
            message = (
                "the STP time constant (V_dtc) is a floating-gate voltage shared by all synapse "
                "drivers of one quadrant of a HICANN (tau_rec of depressing and tau_facil of "
                f"facilitating synapses alike): {shared.conflict_blocks.size} block(s) hold STP "
                f"synapses with different time constants (e.g. HICANN {b // 4} block {b % 4}: "
                f"requested {req}; using {shared.conflict_chosen[0]:g} ms, the value most of "
                f"them request); {changed.size} synapses changed, in projections "
                f"{', '.join(repr(x) for x in labels[:10])}"
                f"{' ...' if len(labels) > 10 else ''}; Projection.get shows the realised "
                "values")
            simulator.state.warn_once("stp time constants: " + message, message,
                                      HardwareParameterWarning, stacklevel=4)
        start = 0
        for p, is_tm, n in zip(projections, plastic_prj, lengths):
            p._stp_realised = stp[start:start + n].copy() if is_tm else None
            start += n

    def transform_settings(self):
        """The bio <-> hardware scaling chosen in setup() (marocco's ParamTrafo)."""
        from .hardware.parameter_transform import TransformSettings
        return TransformSettings(speedup=self.options.speedup, alpha=self.voltage_alpha,
                                 shift=self.voltage_shift, bigcap=self.big_capacitors,
                                 leak_mode=self.leak_mode)

    def realise_neurons(self, populations, network) -> None:
        """Program every placed neuron through the wafer's parameter transformation and
        calibration and give the engine what its denmems then realise: FG quantisation,
        hardware ranges (error, or clipping with ``clip_parameters``), the shared V_reset of
        each FG block, the residual mismatch of this wafer (``wafer_seed``) and the FG
        programming noise of this trial (``trial_seed``); compound neurons combine their
        denmems, the firing denmem supplies threshold, reset and refractory time."""
        from .hardware.calibration import DenmemLayout, realise_neuron_parameters
        from .hardware.parameter_transform import ParameterRangeError
        res = self.result
        settings = self.transform_settings()
        for pop in populations:
            if pop._neuron_index is None:
                continue
            cells = self.cell_offset[id(pop)] + np.arange(pop.size)
            layout = DenmemLayout.from_placement(res.placement.hicann[cells],
                                                 res.placement.x0[cells],
                                                 res.placement.width[cells])
            params = {k: np.asarray(v, dtype=float) for k, v in pop._parameters.items()}
            cell_type = type(pop.celltype).__name__
            if hasattr(pop.celltype, "conductance_parameters"):   # emulated IF_curr_exp
                params, cell_type = pop.celltype.conductance_parameters(params), "IF_cond_exp"
            try:
                rel = realise_neuron_parameters(
                    params, layout, settings=settings, cell_type=cell_type,
                    wafer_seed=self.wafer_seed, mode=self.calibration,
                    trial_seed=self.trial_seed, clip=self.clip_parameters,
                    neuron_labels=[pop.label] * pop.size)
            except ParameterRangeError as err:
                raise ParameterRangeError(
                    f"population '{pop.label}' ({type(pop.celltype).__name__}): "
                    f"{str(err).replace('or pass clip=True', 'or setup(clip_parameters=True)')}"
                ) from None
            network.set_neuron_parameters(pop._neuron_index, rel.neuron_parameters())

    def read_membranes(self, pop, indices: np.ndarray, values: np.ndarray, readout: int):
        """Recorded membrane samples of cells ``indices`` of ``pop`` as the ADC delivers them:
        readout offset of the neuron's firing denmem (wafer seed) and readout noise (trial seed,
        segment and readout number, so the same data come back on every get_data call)."""
        from .hardware.readout import read_membrane, readout_offsets_mV_hw
        res = self.result
        if res is None:
            return values
        cells = self.cell_offset[id(pop)] + np.asarray(indices)
        key = res.placement.hicann[cells] * wafer.DENMEMS_PER_HICANN + res.placement.x0[cells]
        state = simulator.state
        rng = np.random.default_rng([self.trial_seed, 0xADC, pop._population_key,
                                     state.segment_counter, readout])
        return read_membrane(values, readout_offsets_mV_hw(self.wafer_seed, key)[None, :], rng,
                             alpha=self.voltage_alpha, shift_V=self.voltage_shift)

    def check_analog_outputs(self, populations) -> None:
        """With ``analog_recording_limit``: at most 2 recorded membranes per reticle."""
        if not self.analog_recording_limit or self.result is None:
            return
        from .hardware.readout import check_analog_outputs
        reticles = []
        for pop in populations:
            for variable, reqs in pop.recorder._requests.items():
                if variable != "v":
                    continue
                for _, idx in reqs:
                    cells = self.cell_offset[id(pop)] + idx
                    reticles.append(wafer.RETICLE_OF[self.result.placement.hicann[cells]])
        if reticles:
            check_analog_outputs(np.concatenate(reticles))

    def configure_event_paths(self, populations, network) -> None:
        """Give the engine the limits of the mapped event paths: stimulus playback per FPGA
        (125 MHz) and HICANN link (17.8 MHz), the priority encoder of each neuron block (2 PLL
        cycles at 125 MHz per event) and the 4 ns timestamp resolution of played-back and
        recorded spikes; hardware times scaled by the speed-up."""
        from .engine.event_loss import InputBandwidth
        to_bio_ms = self.options.speedup * 1e3          # 1 s of hardware time in bio ms
        res = self.result
        # every node's HICANN link and FPGA: spike sources' for playback (down), neurons' for
        # recording (up); the two directions are separate FIFOs over the same tables
        node_link = np.full(network.n_nodes, -1, dtype=np.int64)
        neuron_block = np.full(network.n_neurons, -1, dtype=np.int64)
        neuron_merger = np.full(network.n_neurons, -1, dtype=np.int64)
        hicann = res.cell_hicann()
        for pop in populations:
            cells = self.cell_offset[id(pop)] + np.arange(pop.size)
            h = hicann[cells]
            node_link[pop._nodes] = h
            if pop._neuron_index is not None:
                neuron_block[pop._neuron_index] = np.where(
                    h >= 0, h * wafer.N_NEURON_BLOCKS + res.placement.block[cells], -1)
                neuron_merger[pop._neuron_index] = np.where(
                    h >= 0, h * wafer.N_DNC_MERGERS + res.mergers.dnc_merger[cells], -1)
        node_fpga = np.where(node_link >= 0, wafer.FPGA_OF[np.maximum(node_link, 0)], -1)
        for direction in ("input_bandwidth", "recording_bandwidth"):
            setattr(network, direction, InputBandwidth(
                node_fpga, node_link, fpga_spacing=to_bio_ms / FPGA_EVENT_RATE_HZ,
                link_spacing=to_bio_ms / HICANN_LINK_EVENT_RATE_HZ))
        network.set_encoders(neuron_block, ENCODER_CYCLES / PLL_HZ * to_bio_ms,
                             neuron_merger, 1.0 / MERGER_SLOW_RATE_HZ * to_bio_ms)
        network.time_quantum = TIMESTAMP_S * to_bio_ms

    # ------------------------------------------------------------ mapping
    def map(self, populations, projections) -> MappingResult:
        graph = self.bio_graph(populations, projections)
        n_neurons = simulator.state.network.n_neurons
        self.neuron_size_of = np.zeros(n_neurons, dtype=np.int64)
        for pop in populations:
            if pop._neuron_index is not None:
                self.neuron_size_of[pop._neuron_index] = pop._neuron_size
        if self.mapping_file and os.path.exists(self.mapping_file):
            from .mapping.pipeline import fingerprint
            result = MappingResult.load(self.mapping_file)
            if result.fingerprint != fingerprint(graph):
                raise MappingError(
                    f"mapping file '{self.mapping_file}' was made for a different network "
                    "(populations, neuron sizes, placement requests or connections differ); "
                    "delete it or drop mapping_file to map anew")
        else:
            bar = simulator.progress_bar(None, "bss_emu mapping", unit="stage") \
                if graph.pre.size >= simulator.PROGRESS_MIN_SYNAPSES else None
            try:
                result = map_network(graph, self.options, self.defects,
                                     progress=None if bar is None else _bar_callback(bar))
            finally:
                if bar is not None:
                    bar.close()
            if self.mapping_file:
                result.save(self.mapping_file)
        self.result = result
        return result


def _bar_callback(bar):
    """A ``map_network`` progress callback that advances the tqdm ``bar`` by stages."""
    def progress(stage: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(f"{stage} done", refresh=False)
        bar.update(done - bar.n)
        bar.refresh()        # stages are few and slow: show each one
    return progress


# ---------------------------------------------------------------- user queries
def _require_mapping() -> MappingResult:
    state = simulator.state
    if state.options.get("ideal"):
        raise RuntimeError("setup(ideal=True) maps nothing: the network runs on an ideal "
                           "engine without wafer constraints")
    if state.mapper is None or state.mapper.result is None or state.mapping_dirty:
        raise RuntimeError("the network has not been mapped yet: the mapping happens at the "
                           "first run() (or call sim.run(0))")
    return state.mapper.result


def get_mapping_statistics():
    """Statistics of the current mapping (:class:`MappingStatistics`): ``synapse_loss``
    (fraction), ``synapses_realized``, ``synapses_lost``, ``neurons_placed``, ``hicanns_used``,
    ``per_projection`` losses and per-stage ``timings`` in seconds."""
    return _require_mapping().statistics


def get_placement(cells) -> list:
    """Placement of every cell of a Population, PopulationView or single ID, as
    :class:`CellPlacement` records."""
    result = _require_mapping()
    state = simulator.state
    if isinstance(cells, (int, np.integer)) and hasattr(cells, "parent"):
        pop, idx = cells.parent, np.array([cells.parent.id_to_index(cells)])
    else:
        pop, idx = _population_and_indices(cells)
    base = state.mapper.cell_offset[id(pop)]
    hic, addr, merger = result.cell_hicann(), result.cell_address(), result.cell_merger()
    out = []
    for i in idx:
        c = base + int(i)
        if pop._neuron_index is not None:
            x0, w = int(result.placement.x0[c]), int(result.placement.width[c])
            denmems = tuple((x, y) for x in range(x0, x0 + w) for y in (0, 1))
            block = int(result.placement.block[c])
        else:
            denmems, block = (), None
        out.append(CellPlacement(c, int(hic[c]), block, denmems, int(merger[c]), int(addr[c])))
    return out


def get_pulse_statistics() -> dict:
    """Event counts of the current segment (since setup() or the last reset()), named like the
    ESS's pulse statistics: ``l2_down_sent`` / ``l2_down_dropped_before_sim`` stimulus events
    sent to / dropped before the wafer for want of FPGA or HICANN-link bandwidth;
    ``l1_neuron_sent`` / ``l1_neuron_lost`` neuron spikes that reached / did not reach their
    L1 bus (lost at a neuron block's priority encoder, ``l1_encoder_lost``, or at a DNC merger
    collecting several blocks, ``l1_merger_lost``; a lost spike reaches no target and is not
    recorded); ``l2_up_sent`` /
    ``l2_up_lost`` recorded neuron spikes that fit / did not fit through the HICANN link and
    FPGA on the way to the host (lost ones still reached their targets on the wafer)."""
    _require_mapping()
    net = simulator.state.network
    bw = net.input_bandwidth
    up = net.recording_bandwidth
    down_sent = bw.sent if bw is not None else 0
    down_dropped = bw.dropped if bw is not None else 0
    return {"l2_down_before_sim": down_sent + down_dropped,
            "l2_down_dropped_before_sim": down_dropped,
            "l2_down_sent": down_sent,
            "l1_neuron_sent": int(net.encoder_sent[0]),
            "l1_neuron_lost": int(net.encoder_lost[0] + net.merger_lost[0]),
            "l1_encoder_lost": int(net.encoder_lost[0]),
            "l1_merger_lost": int(net.merger_lost[0]),
            "l2_up_sent": up.sent if up is not None else 0,
            "l2_up_lost": up.dropped if up is not None else 0}


def save_mapping(path: str) -> None:
    """Write the current mapping to ``path`` (``.npz``); ``setup(mapping_file=path)`` reuses
    it for the same network without mapping again."""
    _require_mapping().save(path)


def routed_delay_warning() -> None:
    """Once per setup(): PyNN delays do not exist on the wafer."""
    simulator.state.warn_once(
        "routed delays", "BrainScaleS-1 has no programmable delays: the PyNN delays are "
        "replaced by the routed delays of the L1 network (0.0397 ms per HICANN on the route + "
        "0.644 ms, spread 0.1 ms); Projection.get('delay') shows them", stacklevel=7)


def remap_warning() -> None:
    warnings.warn("the network changed after it was mapped: the whole network is mapped "
                  "again at this run(), so placement and realised synapses may change",
                  RuntimeWarning, stacklevel=4)
