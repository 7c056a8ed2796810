"""The wafer backend: the network is mapped onto an emulated BrainScaleS-1 wafer and runs
with what the wafer realises.

At the first run (and again when the structure, the placement requests or an STP driver mode
changed) the network is mapped (:func:`~pyNN_bss_emu.mapping.pipeline.map_network`); then the
neurons, synapses and STP drivers are programmed (:mod:`.programming`), the event paths
configured (:mod:`.experiment`) and the engine gets the realised values.  Which work a change
needs is the rule table :data:`~.invalidation.WAFER_RULES`.
"""
from __future__ import annotations

import ctypes
import os
import warnings

import numpy as np

from ..hardware.parameter_transform import HardwareParameterWarning, ParameterRangeError
from ..hardware.synapse_weights import GMAX_TABLES, neuron_capacitance_pF
from ..mapping.options import AUTO_NEURON_SIZE
from ..mapping.pipeline import MappingResult, load_for_reuse, map_network
from ..mapping.stp import (circuit_violation, driver_parameters, realisable,
                           stp_keys, stp_weight_scale)
from ..mapping.system import SystemMapping, map_system
from . import current_sources, experiment, programming, progress, report
from . import system as wafer_system
from .base import Backend, NotMappedError
from .graph import bio_graph
from .invalidation import WAFER_RULES, Change, Work
from .records import STP_NAMES, PopulationRecord, ProjectionRecord


def _return_free_memory() -> None:
    """Give the heap memory freed by the mapping and programming back to the system.

    Their temporaries (hundreds of bytes per synapse) are freed, but glibc keeps much of it
    in the process's heap (its mmap threshold grows after large frees, so later large
    arrays come from the heap, which is only trimmed from its top); ``malloc_trim(0)``
    releases the free pages.  No effect on any value; nothing where the C library has no
    ``malloc_trim`` (not glibc)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


class WaferBackend(Backend):
    """Runs the network as the emulated wafer realises it (see the module docstring)."""
    name = "wafer"
    description = "wafer"
    rules = WAFER_RULES

    def __init__(self, options, dt: float, defects) -> None:
        super().__init__(options, dt)
        #: one DefectMap per wafer of the system (``setup(wafers=...)``); ``defects`` is
        #: wafer 0's
        self.wafer_defects = list(defects) if isinstance(defects, (list, tuple)) \
            else [defects]
        self.defects = self.wafer_defects[0]
        self.seeds = options.system.wafer_seeds(options.substrate.wafer_seed)
        #: the mapping: a MappingResult (one wafer) or a SystemMapping (several)
        self.result: MappingResult | SystemMapping | None = None
        #: engine nodes of relayed neurons and replayed sources (multi-wafer), reused
        #: when the network is mapped again
        self._relay_pool = np.zeros(0, dtype=np.int64)
        self._conn_pre_node: np.ndarray | None = None
        self.graph = None
        self._recorded_membranes: dict[int, tuple[PopulationRecord, np.ndarray]] = {}
        self._pending_report: list[report.ReportLine] | None = None
        #: the wafer's report: ``reporter.latest`` has the last "mapping" lines (synapse
        #: loss, 4-bit weights) and "run" lines (losses of the last run)
        self.reporter = report.Reporter()

    # ================================================================ capacity (issue 13)
    def check_new_neurons(self, label: str, size: int) -> None:
        """Refuse a neuron population that cannot fit on the wafer, at creation: the
        denmems of all neuron populations so far (their neuron sizes) plus ``size`` neurons
        of the default neuron size against the usable denmems (both denmems of a column
        usable, on a usable HICANN; what placement can use at most).  Fragmentation can
        still make the mapping fail at run()."""
        from ..hardware import wafer as hw
        from ..mapping.types import ResourceExhaustedError
        s = self.options.mapping.neuron_placement.default_neuron_size
        s = 2 if s == AUTO_NEURON_SIZE else int(s)    # "auto" goes down to 2 if it must
        usable = sum(int((d.denmem_ok.all(axis=1) & d.hicann_ok[:, None]).sum())
                     * hw.DENMEM_ROWS for d in self.wafer_defects)
        n_w = len(self.wafer_defects)
        where = "the wafer has" if n_w == 1 else f"the {n_w} wafers have"
        n_hicann = sum(int(d.hicann_ok.sum()) for d in self.wafer_defects)
        used = sum(int(np.maximum(p.neuron_size, 2).sum()) for p in self.populations
                   if not p.is_source)
        if used + size * s <= usable:
            return
        room = max(usable - used, 0) // s
        smaller = f"a smaller neuron size (setup(neuron_size=2): 2 denmems per neuron, " \
            f"{usable // 2:,} neurons on {'this wafer' if n_w == 1 else 'these wafers'}), " \
            if s > 2 else ""
        more = "more wafers (setup(wafers=N), up to 20), " if n_w < 20 else ""
        raise ResourceExhaustedError(
            f"population '{label}': {size:,} neurons of neuron size {s} need {size * s:,} "
            f"denmems, but {where} {usable:,} usable denmems ({n_hicann} "
            f"HICANNs x {hw.DENMEMS_PER_HICANN} denmems, defects excluded), of which the "
            f"neuron populations created before take {used:,}: room for {room:,} more neurons "
            f"of size {s}. Use fewer neurons, {smaller}{more}or setup(ideal=True), which runs any "
            "number of neurons without the wafer's limits")

    # ================================================================ synapse requests
    def check_stp(self, U, tau_rec, tau_facil, label: str = "") -> None:
        problem = circuit_violation(U, tau_rec, tau_facil)
        if problem is None:
            return
        if self.options.strict:
            raise self.invalid_stp(problem)
        self.warn_once(
            f"stp {label} {problem}",
            f"TsodyksMarkramSynapse in projection '{label}' on BrainScaleS-1: {problem}; the "
            "synapse drivers realise the nearest parameters (U clamped to 0.25..0.40 on 8 "
            "levels, time constants to 6..5900 ms, depression where both were asked for); "
            "Projection.get shows them, setup(strict=True) makes this an error",
            HardwareParameterWarning, stacklevel=6)

    def _stp_requests(self) -> list[np.ndarray]:
        """Per projection, the nearest STP parameters the drivers can realise."""
        return [realisable(p.stp) for p in self.projections]

    def set_delays(self, prj: ProjectionRecord, index, values) -> None:
        super().set_delays(prj, index, values)
        if prj.routed_delay is not None:
            warnings.warn("delays cannot be programmed on the wafer: the routed delays stay in "
                          "effect (setup(ideal=True) uses PyNN delays)", UserWarning,
                          stacklevel=5)

    def set_stp(self, prj: ProjectionRecord, stp: np.ndarray) -> None:
        old, prj.stp = prj.stp, stp
        # the STP mode and the 3-bit U are a driver's configuration: a mapping decision;
        # a time constant is a shared FG voltage: realised again without remapping
        if np.any(stp_keys(realisable(stp)) != stp_keys(realisable(old))):
            self.invalidation.changed(Change.STP_MODE)
        else:
            self.invalidation.changed(Change.STP_TIME_CONSTANTS)

    # ================================================================ realised values
    def realised_values_known(self) -> bool:
        return self.result is not None and not self.invalidation.is_pending(Work.MAP)

    def realised(self, prj: ProjectionRecord, name: str) -> np.ndarray:
        if not self.realised_values_known():
            return self._before_mapping(prj, name)
        # values set since the last run are realised again (no remapping) before answering
        self.prepare(until=Work.SHARE_STP)
        lost = ~prj.realized
        if name == "weight":
            w = self._user_weight_uS(prj)
            w = w if prj.to_user is None else prj.to_user(w)
            return np.where(lost, np.nan, w)
        if name == "delay":
            return np.rint(prj.routed_delay / self.dt) * self.dt
        if prj.plastic:
            # the rule's parameters as asked (their circuit translation is in the warning)
            return self.requested(prj, name)
        values = (prj.stp_realised if prj.stp_realised is not None else prj.stp)[
            :, STP_NAMES.index(name)]
        return values

    @staticmethod
    def _user_weight_uS(prj: ProjectionRecord) -> np.ndarray:
        """Realised weights (µS) in the user's terms: a synapse driver with STP programs
        U x w (its factor starts at 1), the user asked for w."""
        if prj.weight_scale is None:
            return prj.weight_uS
        return prj.weight_uS / prj.weight_scale

    def _before_mapping(self, prj: ProjectionRecord, name: str) -> np.ndarray:
        """Before the (re)mapping the wafer has realised nothing yet: the request."""
        return self.requested(prj, name)

    def _engine_weight(self, prj: ProjectionRecord) -> np.ndarray:
        return prj.weight_uS

    def _engine_delay(self, prj: ProjectionRecord) -> np.ndarray:
        return prj.routed_delay

    def _engine_stp(self, prj: ProjectionRecord) -> np.ndarray:
        if prj.stp_realised is not None:
            return prj.stp_realised
        return prj.stp

    # ================================================================ the work
    def _map(self) -> None:
        if self.result is not None:
            warnings.warn("the network changed after it was mapped: the whole network is "
                          "mapped again at this run(), so placement and realised synapses may "
                          "change", RuntimeWarning, stacklevel=7)
        self.result = None
        pt = self.options.parameter_transform
        graph = bio_graph(self.populations, self.projections, self.network.n_nodes,
                          self.network.neuron_node, self._stp_requests(),
                          *self.currents.cell_stimuli(self._n_cells),   # issue 12
                          # bounds neuron_size="auto" by the weights (issue 14)
                          denmem_pF=neuron_capacitance_pF(1, pt.big_capacitors),
                          speedup=self.options.mapping.speedup)
        compute = (lambda: self._map_system(graph)) if len(self.seeds) > 1 \
            else (lambda: self._map_wafer(graph))
        part = self.network.partition
        # distributed: mapped once, on rank 0 (which alone reads or writes a mapping file),
        # and sent to the other ranks
        result = compute() if part is None else part.exchange.at_root(compute)
        self.graph, self.result = graph, result
        delays = self._routed_delays(result)
        start = 0
        for prj in self.projections:
            n = prj.size
            prj.realized = np.asarray(result.realized[start:start + n], dtype=bool).copy()
            prj.routed_delay = delays[start:start + n].copy()
            start += n
        if len(result.realized):
            self.warn_once(
                "routed delays", "BrainScaleS-1 has no programmable delays: the PyNN delays "
                "are replaced by the routed delays of the L1 network (0.0397 ms per HICANN on "
                "the route + 0.644 ms, spread 0.1 ms); Projection.get('delay') shows them",
                stacklevel=7)

    def _map_wafer(self, graph) -> MappingResult:
        """One wafer: map (or reuse the mapping file)."""
        opts = self.options.mapping
        path = opts.mapping_file
        if path is not None and os.path.lexists(path):
            # the path exactly as given (no suffix added, as MappingResult.save writes it);
            # the file must fit this network, defect map and mapping options, and its
            # synapse loss is checked against this setup's loss policy; a mismatch raises
            # (MappingFileError) instead of remapping over a file the user kept
            return load_for_reuse(path, graph, opts, self.defects)
        bar = progress.progress_bar(None, "bss_emu mapping", unit="stage") \
            if graph.pre.size >= progress.PROGRESS_MIN_SYNAPSES else None
        try:
            result = map_network(graph, opts, self.defects,
                                 progress=None if bar is None
                                 else progress.stage_callback(bar))
        finally:
            if bar is not None:
                bar.close()
        if path is not None:
            result.save(path)     # atomic; refuses to replace a file that is no mapping
        return result

    def _map_system(self, graph) -> SystemMapping:
        """Several wafers (:func:`~pyNN_bss_emu.mapping.system.map_system`).  What does not
        cross wafers yet is refused here, before any work."""
        n = len(self.seeds)
        if self.options.mapping.mapping_file is not None:
            raise NotImplementedError(
                f"setup(mapping_file=...) with {n} wafers: saving and reusing the mapping of "
                "a multi-wafer system is not supported yet (use wafers=1, or no mapping file)")
        plastic = [p.label for p in self.projections if p.plastic]
        if plastic:
            raise NotImplementedError(
                f"STDP (projection '{plastic[0]}') on a system of {n} wafers is not supported "
                "yet: the wafer's STDP controllers are emulated per wafer; use wafers=1 or "
                "setup(ideal=True)")
        if np.any(graph.stimulus >= 0):
            raise NotImplementedError(
                f"current sources on a system of {n} wafers are not supported yet (the FG "
                "current stimuli are programmed per wafer); use wafers=1 or setup(ideal=True)")
        group = wafer_system.population_groups(graph, self.populations)
        result = map_system(graph, group, self.options.mapping, self.wafer_defects,
                            [p.label for p in self.populations],
                            fill=self.options.system.fill)
        self.warn_once(
            f"system {n}", f"the network was spread over {result.statistics.wafers_used} of "
            f"{n} wafers: {result.statistics.offwafer_synapses:,} synapses cross wafers; their "
            f"spikes leave through the FPGAs and enter the target wafer as external input "
            f"({self.options.system.offwafer_latency_us:g} µs of hardware latency added to "
            "their delays, FIFO losses counted in get_pulse_statistics()['l2_relay_lost']); "
            "get_mapping_statistics().per_wafer has each wafer's statistics", stacklevel=8)
        return result

    def _views(self) -> list:
        """Every used wafer's :class:`~.system.WaferView` (one for a single wafer)."""
        return wafer_system.views(self.result, self.populations,
                                  sum(p.size for p in self.projections), self.seeds)

    def _routed_delays(self, result) -> np.ndarray:
        """Per connection: the routed delay on its (target's) wafer, plus the off-wafer
        latency where it crosses wafers."""
        n = sum(p.size for p in self.projections)
        delays = np.full(n, np.nan)
        for v in self._views():
            delays[v.conn] = programming.routed_delays(v.result, self.dt, v.seed)
        if isinstance(result, SystemMapping):
            latency_ms = self.options.system.offwafer_latency_us * 1e-6 \
                * self.options.mapping.speedup * 1e3
            delays[result.offwafer] += latency_ms
        return delays

    def _program_neurons(self) -> None:
        sub = self.options.substrate
        settings = self.options.parameter_transform.settings(self.options.mapping.speedup)
        for view, pop, piece in self._neuron_populations():
            try:
                params, clipped, dac_clipped = programming.program_neurons(
                    piece, view.result, settings, wafer_seed=view.seed,
                    trial_seed=sub.trial_seed, calibration=sub.calibration,
                    clip=self.options.parameter_transform.clip,
                    mismatch=sub.effects.mismatch, trial_noise=sub.effects.trial_noise,
                    v_reset_sharing=self.options.parameter_transform.v_reset_sharing,
                    i_offset=self.options.parameter_transform.i_offset)
            except ParameterRangeError as err:
                raise ParameterRangeError(f"population '{pop.label}' ({pop.model}): {err}") \
                    from None
            self.network.set_neuron_parameters(piece.neuron_index, params)
            if dac_clipped:
                # once per population and cell set (not per realisation): a few denmems whose
                # mismatch puts the calibrated value past the end of the FG range
                cells = ", ".join(f"{k} {v}" for k, v in sorted(dac_clipped.items()))
                self.warn_once(
                    f"dac clipped {pop.label} {sorted(dac_clipped)}",
                    f"population '{pop.label}': on some denmems the calibrated floating-gate "
                    f"value lies outside the 10-bit range and was clipped (denmems per cell: "
                    f"{cells}); these denmems miss their targets by more than the residual "
                    f"mismatch (requests near the end of a parameter's range, docs/substrate.md)",
                    HardwareParameterWarning, stacklevel=7)
            for c in clipped:
                self.warn_once(
                    f"clipped {pop.label} {pop.model} {c.name} {c.requested}",
                    f"population '{pop.label}' ({pop.model}): parameter {c.describe()}; "
                    "setup(strict=True) makes this an error", HardwareParameterWarning,
                    stacklevel=7)

    def _neuron_populations(self):
        """(wafer view, population, piece) of every neuron population, in creation order:
        the piece is the population's record in the wafer's numbering, or one of them for
        a population cut over wafers (:meth:`~.system.WaferView.pieces`)."""
        views = self._views()
        for pop in self.populations:
            if not pop.is_source:
                for v in views:
                    for _, piece in v.pieces(pop):
                        yield v, pop, piece

    def _program_currents(self) -> None:
        """Issue 12: the FG current stimuli of the stimulated neurons
        (:func:`.current_sources.program_stimuli`)."""
        from ..engine.kernels import P_CM
        pt, sub = self.options.parameter_transform, self.options.substrate
        prog = current_sources.program_stimuli(
            self.currents, self.populations, self.result, self.network.P[:, P_CM],
            speedup=self.options.mapping.speedup, alpha=pt.alpha,
            big_capacitors=pt.big_capacitors, wafer_seed=sub.wafer_seed,
            calibration=sub.calibration)
        for key, message in prog.warnings:
            self.warn_once(key, message, HardwareParameterWarning, stacklevel=7)
        self.currents.stimuli = prog.stimuli
        self.network.set_injections(prog.injections)
        self.currents.log(self.network.step, prog.first)

    def _configure_event_paths(self) -> None:
        views = self._views()
        hicann, block, merger = wafer_system.cell_placement(views, self.populations,
                                                            self._n_cells)
        relays = None
        self._conn_pre_node = None
        if isinstance(self.result, SystemMapping):
            need = wafer_system.virtual_cells(self.result)
            if need > self._relay_pool.size:
                self._relay_pool = np.concatenate([
                    self._relay_pool, self.network.add_relay_nodes(need - self._relay_pool.size)])
            relays = wafer_system.relay_tables(
                self.result, self.graph, self.populations, hicann, self._relay_pool,
                self.options.mapping.speedup, self.options.substrate.effects.event_loss)
            self._conn_pre_node = relays.conn_pre_node
            # under MPI with at least as many wafers as ranks, each rank runs whole wafers
            wafer_of = np.full(self.network.n_neurons, -1, dtype=np.int64)
            for v, _, piece in self._neuron_populations():
                wafer_of[piece.neuron_index] = v.k
            self.network.set_rank_groups(wafer_of)
        experiment.configure_event_paths(
            self.network, self.populations, hicann, block, merger,
            self.options.mapping.speedup,
            event_loss=self.options.substrate.effects.event_loss, relays=relays)

    def _engine_pre_nodes(self, prj: ProjectionRecord) -> np.ndarray:
        """A connection from another wafer starts at the relay (or replica) node of its
        source on the target's wafer."""
        if self._conn_pre_node is None:
            return prj.pre_nodes
        own = self._conn_pre_node[self._mapping_offset(prj):][:prj.size]
        return np.where(own >= 0, own, prj.pre_nodes)

    def _program_weights(self) -> None:
        from ..engine.kernels import P_CM
        prjs = self.projections
        if not prjs:
            return
        requested = np.concatenate([p.requested_conductance() for p in prjs])
        # STDP: the row's gmax must cover w_max (the learned weight lives on its levels)
        plastic = np.concatenate([np.full(p.size, p.plastic) for p in prjs])
        if np.any(plastic):
            requested[plastic] = np.concatenate(
                [np.maximum(p.stdp_conductance("w_max"), p.stdp_conductance("w_min"))
                 for p in prjs if p.plastic])
        # STP with the driver's equations: the first spike carries the programmed weight,
        # Tsodyks-Markram's carries U w: the driver's synapses are programmed with U w
        for p in prjs:
            p.weight_scale = stp_weight_scale(p.stp) if p.tsodyks_markram else None
        scale = np.concatenate([np.ones(p.size) if p.weight_scale is None else p.weight_scale
                                for p in prjs])
        requested = requested * scale
        post = np.concatenate([p.post_neurons for p in prjs])
        neuron_size = np.zeros(self.network.n_neurons, dtype=np.int64)
        for view, _, piece in self._neuron_populations():   # as placed ("auto": chosen there)
            neuron_size[piece.neuron_index] = 2 * view.result.placement.width[piece.cells]
        sub = self.options.substrate
        cm = self.network.P[post, P_CM]
        parts = []
        for view in self._views():      # every wafer with its own rows and fixed pattern
            c = view.conn
            parts.append((c, programming.program_weights(
                requested[c], cm[c], neuron_size[post[c]], view.result,
                speedup=self.options.mapping.speedup,
                big_capacitors=self.options.parameter_transform.big_capacitors,
                rounding=sub.weight_rounding, wafer_seed=view.seed,
                gmax=GMAX_TABLES[sub.gmax_table], floor=sub.effects.weight_floor,
                quantise=sub.effects.weight_quantisation, mismatch=sub.effects.mismatch,
                levels_for=plastic[c] if np.any(plastic) else None)))
            if parts[-1][1].statistics:
                view.result.statistics.weights = parts[-1][1].statistics
        realised = parts[0][1] if len(parts) == 1 else programming.gather_weights(
            parts, requested.size)
        if isinstance(self.result, SystemMapping):
            self.result.statistics.weights = realised.statistics
        start = 0
        flags = []
        level_rows = np.cumsum(plastic & np.asarray(self.result.realized, bool)) - 1
        for prj in prjs:
            sl = slice(start, start + prj.size)
            prj.weight_uS = realised.weight_uS[sl]
            if prj.plastic:
                self._start_learning(prj, realised.levels_uS, level_rows[sl])
            flags.append((realised.clipped[sl], realised.rounded_to_zero[sl],
                          realised.below_floor[sl], realised.floor_uS[sl]))
            start += prj.size
            self._weights_changed.add(prj.key)   # rows are shared: any weight may change
        summaries = self._weight_summaries(flags)
        error = report.floor_error(summaries) if self.options.strict else None
        if error is not None:        # weights below the synaptic input's floor (issue 14)
            raise ParameterRangeError(error)
        self._pending_report = report.mapping_lines(self.result.statistics, summaries)

    def _start_learning(self, prj: ProjectionRecord, levels_uS: np.ndarray,
                        level_row: np.ndarray) -> None:
        """A plastic projection's level table and 4-bit weights: the level nearest to the
        learned weight (or, before learning, to the requested one)."""
        real = prj.realized
        prj.levels_uS = np.full((prj.size, 16), np.nan)
        prj.levels_uS[real] = levels_uS[level_row[real]]
        target = prj.requested_conductance()
        if prj.learned_uS is not None:
            target = np.where(np.isnan(prj.learned_uS), target, prj.learned_uS)
        prj.digital = np.full(prj.size, -1, dtype=np.int64)
        prj.digital[real] = np.argmin(np.abs(prj.levels_uS[real] - target[real, None]), axis=1)
        prj.weight_uS = prj.weight_uS.copy()
        prj.weight_uS[real] = prj.levels_uS[real, prj.digital[real]]

    def check_stdp_request(self, prj: ProjectionRecord) -> None:
        """On the wafer every delay is axonal and the circuit has its own pairing: said
        (once) when the rule is programmed, with the parameters' translation."""

    def _program_plasticity(self) -> None:
        """The synapse arrays' STDP circuits (:func:`.programming.program_stdp`)."""
        plastic = [p for p in self.projections if p.plastic]
        if not plastic:
            return
        cols = ("tau_plus", "tau_minus", "A_plus", "A_minus")
        parts, syn_idx = [], []
        for k, prj in enumerate(plastic):
            syn, conn = self._plastic_synapses(prj)
            gidx = self._mapping_offset(prj) + conn
            params = np.column_stack([prj.stdp_column(c)[conn] for c in cols] + [
                prj.stdp_conductance("w_min")[conn], prj.stdp_column("mu_plus")[conn],
                prj.stdp_column("mu_minus")[conn]])
            parts.append((params, np.full(conn.size, k), self.result.syn_hicann[gidx],
                          self.result.syn_row[gidx], self.result.syn_column[gidx],
                          prj.digital[conn], prj.levels_uS[conn]))
            syn_idx.append(syn)
        params, proj_of, h, row, col, digital, levels = (np.concatenate(x) for x in
                                                         zip(*parts))
        sub = self.options.substrate
        prog = programming.program_stdp(
            params.reshape(-1, 7), proj_of, [p.label for p in plastic], h, row, col, digital,
            levels.reshape(-1, 16), speedup=self.options.mapping.speedup,
            wafer_seed=sub.wafer_seed, mismatch=sub.effects.mismatch)
        if prog.adaptations and self.options.strict:
            label, notes = next(iter(prog.adaptations.items()))
            raise ParameterRangeError(
                f"STDPMechanism in projection '{label}' cannot be realised by the wafer's STDP "
                f"circuit: {'; '.join(notes)} (setup(strict=False) adapts it)")
        for label, notes in prog.adaptations.items():
            self.warn_once(f"stdp adapt {label}", f"STDPMechanism in projection '{label}' on "
                           f"BrainScaleS-1: {'; '.join(notes)}; Projection.get('weight') shows "
                           "the learned 4-bit weights, setup(strict=True) makes this an error",
                           HardwareParameterWarning, stacklevel=8)
        for message in prog.sharing:
            self.warn_once("stdp share " + message, message, HardwareParameterWarning,
                           stacklevel=8)
        self.warn_once(
            "stdp circuit", "STDP runs on the wafer's circuit: reduced nearest-neighbour "
            "pairing (NEST's stdp_facetshw_synapse_hom) instead of all-to-all, the "
            "presynaptic spike paired at its arrival (all delay axonal), 4-bit weights "
            f"updated row by row ({prog.table.t_row[0]:.1f} ms per synapse row; a row is "
            "evaluated again after its controller has swept all its rows); setup(ideal=True) "
            "runs NEST's stdp_synapse (docs/plasticity.md)", stacklevel=8)
        prog.table.synapses = np.concatenate(syn_idx)
        self.network.set_plasticity(hardware=prog.table)

    def _push_weights(self) -> None:
        """Changed weights to the engine; a plastic projection's new 4-bit weights also
        become the controllers' starting point."""
        plastic_changed = any(p.plastic and p.key in self._weights_changed
                              for p in self.projections)
        super()._push_weights()
        if plastic_changed:
            self._program_plasticity()

    def _mapping_offset(self, prj: ProjectionRecord) -> int:
        """Position of a projection's first connection in the mapping's order."""
        return int(sum(p.size for p in self.projections[:prj.key]))

    def _collect_learned(self) -> None:
        """After a run: the learned 4-bit weights and their µS values."""
        table = self.network.hardware_stdp
        if table is None:
            return
        start = 0
        for prj in self.projections:
            if not prj.plastic:
                continue
            _, conn = self._plastic_synapses(prj)
            d = table.digital[start:start + conn.size]
            start += conn.size
            prj.digital[conn] = d
            prj.weight_uS[conn] = prj.levels_uS[conn, d]
            if prj.learned_uS is None:
                prj.learned_uS = np.full(prj.size, np.nan)
            prj.learned_uS[conn] = prj.weight_uS[conn]

    def _engine_stp_driver(self) -> np.ndarray | None:
        """(lambda, N) of the synapse drivers' STP per engine synapse (issue 15: the ESS
        equations replace Tsodyks-Markram's on the wafer)."""
        if not any(p.tsodyks_markram for p in self.projections):
            return None
        parts = []
        for prj in self.projections:
            keep = prj.realized
            if prj.tsodyks_markram:
                parts.append(driver_parameters(self._engine_stp(prj)[keep]))
            else:
                parts.append(np.full((int(keep.sum()), 2), np.nan))
        return np.concatenate(parts)

    def _share_stp(self) -> None:
        prjs = self.projections
        plastic = [p.tsodyks_markram for p in prjs]
        if not any(plastic):
            for p in prjs:
                p.stp_realised = None
            return
        lengths = np.array([p.size for p in prjs], dtype=np.int64)
        stp = np.concatenate(self._stp_requests()).reshape(-1, 3)
        proj_of = np.repeat(np.arange(len(prjs)), lengths)
        shared = stp.copy()
        for view in self._views():      # the FG blocks are per wafer
            c = view.conn
            realised = programming.program_stp(stp[c], view.result, [p.label for p in prjs],
                                               proj_of[c])
            shared[c] = realised.stp
            if realised.conflict is not None:
                message = realised.conflict if len(self.seeds) == 1 \
                    else f"wafer {view.k}: {realised.conflict}"
                self.warn_once("stp time constants: " + message, message,
                               HardwareParameterWarning, stacklevel=7)
        start = 0
        for p, n in zip(prjs, lengths):
            p.stp_realised = shared[start:start + n].copy() if p.tsodyks_markram else None
            start += n

    def _weight_summaries(self, flags) -> list[report.WeightSummary]:
        """Per projection: realised, clipped and rounded weights (user units)."""
        prjs = self.projections
        real = [self._user_weight_uS(p) if p.to_user is None
                else p.to_user(self._user_weight_uS(p)) for p in prjs]
        units = ["µS" if p.to_user is None else "nA" for p in prjs]
        floors = [f[3] if p.to_user is None else p.to_user(f[3]) for p, f in zip(prjs, flags)]
        return report.weight_summaries([p.label for p in prjs], units,
                                       [p.realized for p in prjs], [p.weight for p in prjs],
                                       real, [f[0] for f in flags], [f[1] for f in flags],
                                       [f[2] for f in flags], floors)

    def run(self, n_steps: int):
        before = self._pulse_counts()
        times, nodes = super().run(n_steps)
        if n_steps:
            self._report_run(before)
        return times, nodes

    def _pulse_counts(self) -> dict:
        return self.pulse_statistics() if self.realised_values_known() else {}

    def _report_run(self, before: dict) -> None:
        """The run part of the report: this run's losses on the wafer."""
        after = self._pulse_counts()
        pulses = {k: v - before.get(k, 0) for k, v in after.items()}
        lost_nodes = self.network.recording_lost_nodes
        self.network.recording_lost_nodes = []
        missing: dict[str, int] = {}
        if lost_nodes:
            nodes = np.concatenate(lost_nodes)
            for pop in self.populations:
                n = int(np.isin(nodes, pop.nodes).sum())
                if n:
                    missing[pop.label] = n
        lines = report.run_lines(pulses, missing, pulses.get("l2_up_sent", 0))
        self.reporter.report("run", lines, f"run up to t = {self.t:g} ms", stacklevel=6)

    def _before_run(self) -> None:
        lines, self._pending_report = self._pending_report, None
        if lines is not None:
            self.reporter.report("mapping", lines, "mapping and 4-bit weights", stacklevel=7)
        if self.options.substrate.analog_recording_limit and self._recorded_membranes:
            views = self._views()
            for view in views:        # the analog outputs of every wafer's reticles
                recorded = [(piece, idx[mine] - a)
                            for pop, idx in self._recorded_membranes.values()
                            for a, piece, mine in view.cells_of(pop, idx)]
                if recorded:
                    experiment.check_recorded_membranes(recorded, view.result)

    def prepare(self, until: Work | None = None) -> None:
        mapping = self.invalidation.is_pending(Work.MAP)
        try:
            super().prepare(until)
            if mapping:
                _return_free_memory()
        except Exception:
            if self.invalidation.is_pending(Work.PROGRAM_NEURONS) and \
                    not self.invalidation.is_pending(Work.MAP):
                # mapped, but the parameters cannot be programmed: nothing ran on this
                # mapping, so the next run maps again without a "changed" warning
                self.result = None
                self.invalidation.changed(Change.STRUCTURE)
            raise

    # ================================================================ recording
    def add_record(self, pop: PopulationRecord, variable: str, idx: np.ndarray,
                   every: int) -> int:
        rid = super().add_record(pop, variable, idx, every)
        if variable == "v":
            self._recorded_membranes[rid] = (pop, np.asarray(idx))
        return rid

    def remove_record(self, rid: int) -> None:
        super().remove_record(rid)
        self._recorded_membranes.pop(rid, None)

    def read_signals(self, pop, variable, idx, values, segment, readout) -> np.ndarray:
        if variable != "v" or self.result is None or not values.size:
            return values
        sub = self.options.substrate
        pt = self.options.parameter_transform
        idx = np.asarray(idx)
        runs = [(view, a, piece, mine) for view in self._views()
                for a, piece, mine in view.cells_of(pop, idx)]

        def read(view, a, piece, cols, vals):
            return experiment.read_membranes(
                piece, cols - a, vals, view.result, wafer_seed=view.seed,
                trial_seed=sub.trial_seed, segment=segment, readout=readout, alpha=pt.alpha,
                shift_V=pt.shift, first=a)

        if len(runs) == 1:      # all on one run: no copy of the samples
            view, a, piece, _ = runs[0]
            return read(view, a, piece, idx, values)
        out = np.array(values, dtype=float)
        for view, a, piece, mine in runs:    # a population cut over wafers: each run alone
            out[:, mine] = read(view, a, piece, idx[mine], values[:, mine])
        return out

    # ================================================================ queries
    def mapping(self) -> MappingResult:
        if self.result is None or self.invalidation.is_pending(Work.MAP):
            raise NotMappedError("the network has not been mapped yet: the mapping happens at "
                                 "the first run() (or call sim.run(0))")
        return self.result

    def pulse_statistics(self) -> dict:
        self.mapping()
        net = self.network
        down, up = net.input_bandwidth, net.recording_bandwidth
        down_sent = down.sent if down is not None else 0
        down_dropped = down.dropped if down is not None else 0
        return {"l2_down_before_sim": down_sent + down_dropped,
                "l2_down_dropped_before_sim": down_dropped,
                "l2_down_sent": down_sent,
                "l1_neuron_sent": int(net.encoder_sent[0]),
                "l1_neuron_lost": int(net.encoder_lost[0] + net.merger_lost[0]),
                "l1_encoder_lost": int(net.encoder_lost[0]),
                "l1_merger_lost": int(net.merger_lost[0]),
                "l2_up_sent": up.sent if up is not None else 0,
                "l2_up_lost": up.dropped if up is not None else 0,
                # multi-wafer systems: neuron spikes relayed to other wafers (per target
                # wafer), and those the FIFOs dropped on the way up or down
                "l2_relay_sent": int(net.relay_counts[0]),
                "l2_relay_lost": int(net.relay_counts[1] + net.relay_counts[2])}

    def synapse_loss_per_hicann(self) -> tuple[np.ndarray, np.ndarray]:
        """(requested, lost) synapse counts per HICANN of the postsynaptic neuron; on a
        system of wafers per system HICANN ``k * 384 + h``."""
        from ..hardware import wafer
        result = self.mapping()
        n = wafer.N_HICANN * len(self.seeds)
        requested = np.zeros(n, dtype=np.int64)
        lost = np.zeros(n, dtype=np.int64)
        post = self.graph.post if self.graph is not None else np.zeros(0, dtype=np.int64)
        if post.size == 0 or post.size != np.asarray(result.realized).size:
            return requested, lost
        hicann, _, _ = wafer_system.cell_placement(self._views(), self.populations,
                                                   self._n_cells)
        h = hicann[post]
        ok = h >= 0
        realized = np.asarray(result.realized, dtype=bool)
        requested += np.bincount(h[ok], minlength=n)
        lost += np.bincount(h[ok & ~realized], minlength=n)
        return requested, lost
