"""The interface between the PyNN surface and what runs the network.

A :class:`Backend` is chosen once in ``setup()`` (:class:`~.ideal.IdealBackend` or
:class:`~.wafer.WaferBackend`) and owns the truth, like NEST's kernel: the engine, the
requested and the realised values of every population and projection, and the pending work
(:mod:`.invalidation`).  Populations, projections and recorders call its methods; none of
them asks which backend it is.  Times in ms, weights in µS (or the user's nA for an emulated
current-based target), rates in Hz.
"""
from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
from pyNN import errors

from ..engine import Network
from ..engine.distributed import owned_cells
from ..engine.sources import stream_keys
from ..mapping.options import AUTO_NEURON_SIZE, AUTO_SIZE_SENTINEL
from . import progress
from .current_sources import CurrentSourceRecord, CurrentSources
from .invalidation import Change, Invalidation, Rules, Work
from .options import SetupOptions
from .records import STDP_NAMES, STP_NAMES, PopulationRecord, ProjectionRecord


def _size_code(size: int | str) -> int:
    """A neuron size as stored per cell: denmems, or the sentinel of ``"auto"``."""
    return AUTO_SIZE_SENTINEL if size == AUTO_NEURON_SIZE else int(size)


class NotMappedError(RuntimeError):
    """A wafer query (placement, mapping statistics) before there is a current mapping."""


class Backend:
    """Shared part of both backends (see the module docstring).

    Subclasses set :attr:`name`, :attr:`description` and :attr:`rules` and override the hooks
    marked "hook" (what the engine gets, what is realised, the wafer's work)."""

    #: short name ('ideal' or 'wafer') and what the network runs on, for messages and titles
    name = "abstract"
    description = "abstract backend"
    rules: Rules = {}
    #: the wafer's defect map (None without a wafer)
    defects = None

    def __init__(self, options: SetupOptions, dt: float) -> None:
        self.options = options
        self.dt = float(dt)
        self.network = Network(self.dt)
        self.populations: list[PopulationRecord] = []
        self.projections: list[ProjectionRecord] = []
        self.invalidation = Invalidation(self.rules)
        self._weights_changed: set[int] = set()
        self._warnings_given: set[str] = set()
        self._n_cells = 0
        #: current sources and what the engine injects (issue 12)
        self.currents = CurrentSources(self.dt, options.engine.stimulus_seed)

    # ================================================================ notices
    def warn_once(self, key: str, message: str, category=UserWarning, stacklevel: int = 3
                  ) -> None:
        """Issue ``message`` once per ``setup()`` for ``key`` (notices about hardware
        differences that every run would otherwise repeat)."""
        if key in self._warnings_given:
            return
        self._warnings_given.add(key)
        warnings.warn(message, category, stacklevel=stacklevel + 1)

    # ================================================================ cells
    def _add_population(self, label: str, size: int, kind: str, nodes: np.ndarray,
                        neuron_index, source_index) -> PopulationRecord:
        rec = PopulationRecord(
            key=len(self.populations), label=label, size=size, kind=kind, nodes=nodes,
            neuron_index=neuron_index, source_index=source_index, cell_offset=self._n_cells,
            neuron_size=np.full(size, _size_code(
                self.options.mapping.neuron_placement.default_neuron_size)
                if kind == "neurons" else 0, dtype=np.int64),
            expected_rate=np.zeros(size))
        self.populations.append(rec)
        self._n_cells += size
        self.invalidation.changed(Change.STRUCTURE)
        return rec

    def check_new_neurons(self, label: str, size: int) -> None:
        """Hook (issue 13): refuse ``size`` more neurons of population ``label`` that this
        backend cannot hold, before anything is allocated.  The ideal engine holds any
        number."""

    def local_cells(self, size: int) -> np.ndarray:
        """Which cells of a new population of ``size`` this process owns (PyNN's
        ``_mask_local``): all of them in one process; under MPI a contiguous chunk per rank
        (the engine updates and records exactly these)."""
        part = self.network.partition
        if part is None:
            return np.ones(size, dtype=bool)
        return owned_cells(size, part.rank, part.size)

    def create_neurons(self, label: str, size: int, model: str, engine_parameters: dict,
                       cell_type: str, request: dict) -> PopulationRecord:
        """``size`` neurons of the PyNN cell type ``model`` with the engine's parameters
        (ideal values) and the bio request the wafer programs (``cell_type``: the hardware
        model, ``request``: its parameters)."""
        neuron_index, nodes = self.network.add_neurons(engine_parameters, size)
        rec = self._add_population(label, size, "neurons", nodes, neuron_index, None)
        rec.model, rec.cell_type, rec.request = model, cell_type, request
        return rec

    def create_poisson_sources(self, label: str, size: int) -> PopulationRecord:
        """``size`` Poisson sources; their streams are seeded by ``stimulus_seed`` and the
        population's creation number."""
        key = len(self.populations)
        keys = stream_keys(self.options.engine.stimulus_seed, key, size)
        nodes, source_index = self.network.add_poisson_sources(keys)
        return self._add_population(label, size, "poisson", nodes, None, source_index)

    def create_array_sources(self, label: str, size: int) -> PopulationRecord:
        nodes, source_index = self.network.add_array_sources(size)
        return self._add_population(label, size, "array", nodes, None, source_index)

    def set_neuron_parameters(self, pop: PopulationRecord, idx: np.ndarray,
                              engine_parameters: dict, request: dict) -> None:
        """New parameters of neurons ``idx``: the engine's ideal values at once, the bio
        ``request`` (all cells) for programming the wafer."""
        self.network.set_neuron_parameters(pop.neuron_index[idx], engine_parameters)
        pop.request = request
        self.invalidation.changed(Change.NEURON_PARAMETERS)

    def set_poisson_parameters(self, pop: PopulationRecord, idx: np.ndarray, rate, start,
                               duration, now: float) -> None:
        """Rate (Hz), start and duration (ms) of Poisson sources ``idx`` from time ``now``."""
        self.network.poisson.set_parameters(pop.source_index[idx], rate, start, duration, now)
        pop.expected_rate[idx] = rate

    def set_spike_times(self, pop: PopulationRecord, idx: np.ndarray, trains: list,
                        now: float) -> None:
        """Spike trains (ms, sorted arrays) of spike-array sources ``idx``; their expected
        rate for the input bandwidth is the spike count over the span (at least 1 s)."""
        self.network.arrays.set_times(pop.source_index[idx], trains, now)
        pop.expected_rate[idx] = [t.size / max(t.max() if t.size else 0.0, 1000.0) * 1000.0
                                  for t in trains]

    def set_initial(self, pop: PopulationRecord, idx: np.ndarray, variable: str,
                    values: np.ndarray) -> None:
        self.network.set_initial(pop.neuron_index[idx], variable, values, apply_now=True)

    def set_neuron_size(self, pop: PopulationRecord, idx: np.ndarray, size: int | str
                        ) -> None:
        pop.neuron_size[idx] = _size_code(size)
        self.invalidation.changed(Change.PLACEMENT)

    def place_on_hicann(self, pop: PopulationRecord, idx: np.ndarray, hicanns: tuple) -> None:
        for i in idx:
            pop.manual_hicanns[int(i)] = hicanns
        self.invalidation.changed(Change.PLACEMENT)

    # ================================================================ synapses
    def check_stp(self, U: np.ndarray, tau_rec: np.ndarray, tau_facil: np.ndarray,
                  label: str = "") -> None:
        """Hook: Tsodyks-Markram parameters of projection ``label`` this backend cannot
        realise (after the generic checks of the synapse type): an error in strict mode, else
        a warning (the backend realises the nearest parameters)."""

    def connect(self, label: str, pre_nodes: np.ndarray, post_neurons: np.ndarray,
                receptor: int, weight: np.ndarray, delay: np.ndarray, stp: np.ndarray,
                tsodyks_markram: bool,
                to_conductance: Callable[[np.ndarray], np.ndarray] | None = None,
                to_user: Callable[[np.ndarray], np.ndarray] | None = None,
                stdp: np.ndarray | None = None, dendritic_delay_fraction: float = 1.0
                ) -> ProjectionRecord:
        """A projection's connections (validated by the surface) in creation order; ``stdp``
        (n, 8) the STDP parameters (``STDP_NAMES``) of a plastic projection."""
        rec = ProjectionRecord(key=len(self.projections), label=label, pre_nodes=pre_nodes,
                               post_neurons=post_neurons, receptor=receptor, weight=weight,
                               delay=delay, stp=stp, tsodyks_markram=tsodyks_markram,
                               to_conductance=to_conductance, to_user=to_user, stdp=stdp,
                               dendritic_delay_fraction=dendritic_delay_fraction)
        if stdp is not None:
            self.check_stdp_request(rec)
        self.projections.append(rec)
        self.invalidation.changed(Change.STRUCTURE)
        return rec

    def set_weights(self, prj: ProjectionRecord, index: np.ndarray, values: np.ndarray
                    ) -> None:
        """Requested weights (user units) of connections ``index`` (a plastic synapse
        starts learning again from the new value)."""
        prj.weight[index] = values
        if prj.learned_uS is not None:
            prj.learned_uS[index] = np.nan
        self._weights_changed.add(prj.key)
        self.invalidation.changed(Change.WEIGHTS)

    def set_delays(self, prj: ProjectionRecord, index: np.ndarray, values: np.ndarray
                   ) -> None:
        """Requested delays (ms, on the time grid) of connections ``index``."""
        prj.delay[index] = values
        self.invalidation.changed(Change.DELAYS)

    def set_stp(self, prj: ProjectionRecord, stp: np.ndarray) -> None:
        """New requested (n, 3) Tsodyks-Markram parameters of a projection (checked)."""
        prj.stp = stp
        self.invalidation.changed(Change.STP_TIME_CONSTANTS)

    def set_stdp(self, prj: ProjectionRecord, stdp: np.ndarray) -> None:
        """New requested (n, 8) STDP parameters of a plastic projection (checked)."""
        prj.stdp = stdp
        self.check_stdp_request(prj)
        self.invalidation.changed(Change.STDP_PARAMETERS)

    def check_stdp_request(self, prj: ProjectionRecord) -> None:
        """Hook: what this backend cannot do of a plastic projection's request: the ideal
        engine follows NEST, where the whole delay is dendritic."""
        if prj.dendritic_delay_fraction != 1.0:
            message = (f"STDPMechanism in projection '{prj.label}': dendritic_delay_fraction="
                       f"{prj.dendritic_delay_fraction:g}, but setup(ideal=True) follows NEST's "
                       "stdp_synapse, where the whole delay is dendritic (1.0)")
            if self.options.strict:
                raise errors.InvalidParameterValueError(message)
            self.warn_once(f"ddf {prj.label}", message + "; it uses 1.0 "
                           "(setup(strict=True) makes this an error)", stacklevel=5)

    def requested(self, prj: ProjectionRecord, name: str) -> np.ndarray:
        """What was asked for: 'weight' (user units), 'delay' (ms), an STP or STDP
        parameter."""
        if name == "weight":
            return prj.weight
        if name == "delay":
            return prj.delay
        if name in STDP_NAMES and prj.plastic:
            return prj.stdp_column(name)
        return prj.stp[:, STP_NAMES.index(name)]

    def realised(self, prj: ProjectionRecord, name: str) -> np.ndarray:
        """Hook: what the network runs with, in the request's units; NaN for synapses the
        mapping lost.  A plastic projection's weights are the learned ones."""
        if name == "weight" and prj.learned_uS is not None:
            learned = ~np.isnan(prj.learned_uS)
            if np.any(learned):
                w = prj.learned_uS if prj.to_user is None else prj.to_user(prj.learned_uS)
                return np.where(learned, w, prj.weight)
        return self.requested(prj, name)

    def delay_range(self) -> tuple[float, float] | None:
        """Smallest and largest delay (ms) of the realised synapses, None without any."""
        delays = [self.realised(p, "delay") for p in self.projections if p.size]
        delays = [d[~np.isnan(d)] for d in delays]
        delays = [d for d in delays if d.size]
        if not delays:
            return None
        return float(min(d.min() for d in delays)), float(max(d.max() for d in delays))

    def realised_values_known(self) -> bool:
        """Hook: whether :meth:`realised` reports realised values (on the wafer: only after
        the current network has been mapped)."""
        return True

    # ---------------------------------------------------------------- engine's table
    def _engine_weight(self, prj: ProjectionRecord) -> np.ndarray:
        """Hook: the engine's weights (µS) of every connection of ``prj`` (learned ones where
        a plastic synapse has learned)."""
        w = prj.requested_conductance()
        if prj.learned_uS is not None:
            w = np.where(np.isnan(prj.learned_uS), w, prj.learned_uS)
        return w

    def _engine_delay(self, prj: ProjectionRecord) -> np.ndarray:
        """Hook: the engine's delays (ms)."""
        return prj.delay

    def _engine_stp(self, prj: ProjectionRecord) -> np.ndarray:
        """Hook: the engine's (n, 3) STP parameters."""
        return prj.stp

    def _engine_pre_nodes(self, prj: ProjectionRecord) -> np.ndarray:
        """Hook: the engine's presynaptic node per connection (the wafer relays
        connections between wafers through nodes of their own)."""
        return prj.pre_nodes

    def _build_synapses(self) -> None:
        """Give the engine the synapses of all projections (COO, in projection order); lost
        synapses never reach it."""
        parts = []
        offset = 0
        for prj in self.projections:
            keep = prj.realized
            arrays = (self._engine_pre_nodes(prj)[keep], prj.post_neurons[keep],
                      self._engine_weight(prj)[keep], self._engine_delay(prj)[keep],
                      np.full(int(keep.sum()), prj.receptor, dtype=np.int8),
                      self._engine_stp(prj)[keep])
            prj.engine_slice = slice(offset, offset + arrays[0].size)
            offset += arrays[0].size
            parts.append(arrays)
        if parts:
            pre, post, weight, delay, receptor, stp = (np.concatenate(a) for a in zip(*parts))
        else:
            pre = post = receptor = np.zeros(0, dtype=np.int64)
            weight = delay = np.zeros(0)
            stp = np.zeros((0, 3))
        self.network.set_synapses(pre, post, weight, delay, receptor, stp,
                                  self._engine_stp_driver())
        self._program_plasticity()
        # the table holds the current weights
        self._weights_changed.clear()
        self.invalidation.done(Work.PUSH_WEIGHTS)

    def _engine_stp_driver(self) -> np.ndarray | None:
        """Hook: (n, 2) (lambda, N) of synapses that follow the synapse driver's STP
        equations, in the engine's order (None: all Tsodyks-Markram)."""
        return None

    def _plastic_synapses(self, prj: ProjectionRecord) -> tuple[np.ndarray, np.ndarray]:
        """(engine synapse indices, connection indices) of a projection's realised synapses."""
        conn = np.flatnonzero(prj.realized)
        return prj.engine_slice.start + np.arange(conn.size), conn

    def _program_plasticity(self) -> None:
        """Hook: the engine's STDP tables.  Ideal: NEST's ``stdp_synapse`` (tau_minus per
        postsynaptic neuron, the value of the last plastic projection onto it, as in NEST)."""
        from ..engine.plasticity import PairSTDP
        plastic = [p for p in self.projections if p.plastic]
        if not plastic:
            return
        tau_minus = np.full(self.network.n_neurons, 20.0)
        owner = np.zeros(self.network.n_neurons, dtype=bool)   # set by a plastic projection
        parts = []
        for prj in plastic:
            syn, conn = self._plastic_synapses(prj)
            tm = prj.stdp_column("tau_minus")[conn]
            post = prj.post_neurons[conn]
            first = np.full(self.network.n_neurons, np.nan)
            first[post[::-1]] = tm[::-1]                      # one value per neuron
            if np.any(owner[post] & (tau_minus[post] != tm)) or np.any(first[post] != tm):
                self.warn_once(
                    f"tau_minus {prj.label}",
                    f"STDPMechanism in projection '{prj.label}': tau_minus is a property of "
                    "the postsynaptic neuron (as in NEST): a neuron that receives plastic "
                    "synapses with different tau_minus uses the value of the last one "
                    "created", stacklevel=7)
            tau_minus[post] = tm
            owner[post] = True
            wlo, whi = (np.sort(np.column_stack([prj.stdp_conductance("w_min"),
                                                 prj.stdp_conductance("w_max")]), axis=1)
                        [conn].T)
            parts.append((syn, prj.stdp_column("tau_plus")[conn],
                          prj.stdp_column("A_plus")[conn], prj.stdp_column("A_minus")[conn],
                          prj.stdp_column("mu_plus")[conn], prj.stdp_column("mu_minus")[conn],
                          wlo, whi))
        cols = [np.concatenate(c) for c in zip(*parts)]
        self.network.set_plasticity(pair=PairSTDP(*cols), tau_minus=tau_minus)

    def _collect_learned(self) -> None:
        """Hook: after a run, the learned weights of plastic projections (engine order)."""
        for prj in self.projections:
            if prj.plastic:
                syn, conn = self._plastic_synapses(prj)
                if prj.learned_uS is None:
                    prj.learned_uS = np.full(prj.size, np.nan)
                prj.learned_uS[conn] = self.network.syn_weight[syn]

    def _push_weights(self) -> None:
        """Give the engine the changed weights without rebuilding its table."""
        for prj in self.projections:
            if prj.key in self._weights_changed:
                self.network.set_weights(prj.engine_slice,
                                         self._engine_weight(prj)[prj.realized])
        self._weights_changed.clear()

    # ================================================================ current sources (issue 12)
    def create_current_source(self, model: str) -> CurrentSourceRecord:
        """A new current source of the PyNN model ``model`` (no parameters, no targets)."""
        return self.currents.create(model)

    def set_current_source_parameters(self, src: CurrentSourceRecord, parameters: dict
                                      ) -> None:
        """All native parameters of ``src`` (nA, ms, Hz, deg), in effect from now on."""
        self.currents.set_parameters(src, parameters)
        self.invalidation.changed(Change.CURRENT_SOURCE_PARAMETERS)

    def inject_current(self, src: CurrentSourceRecord, pop: PopulationRecord,
                       idx: np.ndarray) -> None:
        """Inject ``src`` into the neurons ``idx`` of ``pop`` (checked: not spike sources)."""
        self.currents.inject(src, pop.neuron_index[idx], pop.cells[idx])
        self.invalidation.changed(Change.CURRENT_SOURCE_TARGETS)

    def current_trace(self, src: CurrentSourceRecord) -> tuple[np.ndarray, np.ndarray]:
        """(times in ms, nA) of the current ``src``'s first target received since the last
        reset, sampled every step up to now."""
        return self.currents.trace(src, self.network.step)

    def _program_currents(self) -> None:
        """Hook: give the engine the injected currents (here: exact, as PyNN defines the
        sources)."""
        injections, first = self.currents.ideal()
        self.network.set_injections(injections)
        self.currents.log(self.network.step, first)

    # ================================================================ recording
    def record_spikes(self, pop: PopulationRecord, idx: np.ndarray, on: bool) -> None:
        if pop.is_source:
            self.network.source_flag[pop.nodes[idx]] = on
        else:
            self.network.spike_flag[pop.neuron_index[idx]] = on

    def add_record(self, pop: PopulationRecord, variable: str, idx: np.ndarray,
                   every: int) -> int:
        """Sample ``variable`` of neurons ``idx`` every ``every`` steps; returns a handle."""
        return self.network.add_record(variable, pop.neuron_index[idx], every)

    def remove_record(self, rid: int) -> None:
        self.network.remove_record(rid)

    def take_samples(self, rid: int, clear: bool = False) -> np.ndarray:
        """Samples (n_samples, n_neurons) of a record request, as the engine computed them
        (a new array)."""
        return self.network.take_samples(rid, clear=clear)

    # issue 13: the recorder fills its output in place, block by block
    def sample_count(self, rid: int) -> int:
        """Number of samples a record request holds."""
        return self.network.sample_count(rid)

    def copy_samples(self, rid: int, out: np.ndarray, columns=slice(None)) -> None:
        """Write the samples of a record request, its neurons ``columns`` (positions in the
        request), into ``out`` (n_samples, n_columns), without another copy of them all."""
        self.network.copy_samples(rid, out, columns)

    def clear_samples(self, rid: int) -> None:
        """Drop the samples of a record request (the one at the current time stays, to start
        the next block)."""
        self.network.clear_samples(rid)

    def read_signals(self, pop: PopulationRecord, variable: str, idx: np.ndarray,
                     values: np.ndarray, segment: int, readout: int) -> np.ndarray:
        """Hook: recorded samples (n_samples, len(idx)) as the user receives them (on the
        wafer, membranes through the ADC).  May return ``values`` itself, changed or not, or
        a new array; each column's result depends on that column only (the recorder converts
        large recordings in blocks of columns)."""
        return values

    # ================================================================ running
    @property
    def t(self) -> float:
        """Current time (ms)."""
        return self.network.step * self.dt

    def prepare(self, until: Work | None = None) -> None:
        """Do the pending work (:mod:`.invalidation`) before a run, or only the work up to
        and including ``until`` (then without the per-run checks); work that raised stays
        pending and is done again at the next run."""
        for work in self.invalidation.todo():
            if self.invalidation.is_pending(work):    # earlier work may have done it
                getattr(self, "_" + work.name.lower())()
                self.invalidation.done(work)
            if work is until:
                return
        if until is None:
            self._before_run()

    def _before_run(self) -> None:
        """Hook: checks at every run (the wafer's analog outputs)."""

    def run(self, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Advance by ``n_steps`` steps; returns the recorded spikes (times in ms, nodes).  A
        run expected to take ``progress.PROGRESS_MIN_SECONDS`` or more (issue 13: from
        neurons x steps, then from the speed of its first chunk) gets a progress bar and
        advances in chunks: split runs give the same spikes (test_plots_cli:
        test_chunked_run_is_bit_identical, test_wafer_run_split_invariance)."""
        self.prepare()
        if n_steps == 0:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        # issue 13: the bar is chosen by the expected wall time, not by the number of steps
        forced = progress.PROGRESS_MIN_STEPS is not None and \
            n_steps >= progress.PROGRESS_MIN_STEPS
        bar = progress.TimedProgress(
            n_steps, "bss_emu run", unit="ms", unit_scale=self.dt, force=forced,
            seconds_per_unit=self.network.n_neurons * progress.RUN_SECONDS_PER_NEURON_STEP)
        chunk = progress.run_chunk(n_steps)
        if self.network.partition is not None:
            # every rank must run the same windows (they exchange spikes in each): no
            # chunks chosen from each rank's own wall time
            chunk = n_steps
        times, nodes = [], []
        with bar:
            done = 0
            while done < n_steps:
                k = min(chunk, n_steps - done) if bar.chunked() else n_steps - done
                t, n = self.network.run(k)
                times.append(t)
                nodes.append(n)
                done += k
                bar.update(k)
        if any(p.plastic for p in self.projections):
            self._collect_learned()
        return np.concatenate(times), np.concatenate(nodes)

    def reset(self) -> None:
        """Back to t = 0 with the initial state."""
        self.network.reset()
        if self.currents.reset():     # noise sources draw anew in every trial
            self.invalidation.changed(Change.CURRENT_SOURCE_PARAMETERS)

    # ================================================================ queries
    def realised_neuron_parameters(self, pop: PopulationRecord) -> dict[str, np.ndarray]:
        """Per neuron of ``pop``, the parameters the engine runs with (engine names: e_l,
        v_thresh, cm in nF, g_l in µS, ..., tau_refrac in ms); on the wafer as programmed at
        the last run."""
        from ..engine.kernels import PARAM_COLUMNS
        rows = self.network.P[pop.neuron_index]
        out = {name: rows[:, k].copy() for k, name in enumerate(PARAM_COLUMNS)}
        out["tau_refrac"] = self.network.tau_refrac[pop.neuron_index].copy()
        return out

    def mapping(self):
        """Hook: the current :class:`~pyNN_bss_emu.mapping.pipeline.MappingResult`."""
        raise NotMappedError("setup(ideal=True) maps nothing: the network runs on an ideal "
                             "engine without wafer constraints")

    def pulse_statistics(self) -> dict:
        """Hook: event counts of the current segment (see ``sim.get_pulse_statistics``)."""
        self.mapping()
        return {}

    def synapse_loss_per_hicann(self) -> tuple[np.ndarray, np.ndarray]:
        """Hook: (requested, lost) synapse counts per HICANN of the postsynaptic neuron."""
        self.mapping()
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)

    def check_placement_request(self, pop: PopulationRecord) -> None:
        """Placement requests are for neurons only."""
        if pop.is_source:
            raise TypeError(f"population '{pop.label}' holds spike sources, which use no "
                            "denmems")

    @staticmethod
    def invalid_stp(message: str) -> errors.InvalidParameterValueError:
        return errors.InvalidParameterValueError(
            f"TsodyksMarkramSynapse on BrainScaleS-1: {message}")
