"""The engine's view of a network: flat arrays only, no PyNN objects.

Neurons have neuron indices (rows of the state arrays) and, like spike sources, node indices
(presynaptic identities in the synapse table); nodes are numbered in creation order, so
populations and sources can be added at any time without renumbering.
Synapses are given in creation (COO) order and kept in a CSR layout sorted by presynaptic node
for delivery; ``set_weights`` rewrites weights in COO order without rebuilding the structure
(the in-the-loop trainer depends on that).  Hooks for the hardware layers:

* ``set_weights`` / ``set_delays``: realised per-synapse weights (µS) and routed delays (ms);
* ``node_loss``: probability that an event of a presynaptic node is lost (per-event loss);
* ``set_neuron_parameters``: per-neuron effective parameters (on the wafer: compound neurons
  combined over their denmems by the hardware layer);
* ``set_injections``: injected currents (:mod:`.currents`; current sources, on the wafer the
  FG current stimuli).

Synaptic input in flight waits in two dense ring buffers (excitatory, inhibitory; one row per
arrival step, one column per neuron) spanning the delays up to a horizon, and beyond it in a
far-event queue (see ``kernels``): memory and ``reset()`` scale with the horizon and the
number of events in flight, not with the longest delay, and the results do not depend on the
horizon (bit for bit).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import kernels
from . import plasticity
from .currents import Injections
from .distributed import Partition
from .kernels import PARAM_COLUMNS, N_PARAMS
from .plasticity import HardwareSTDP, PairSTDP
from .sources import ArraySources, PoissonSources

STATE_VARIABLES = ("v", "w", "gsyn_exc", "gsyn_inh")

#: Memory budget (bytes) of the two dense ring buffers together.  Each spans
#: ``horizon x n_neurons`` float64 cells, so 32 MiB holds 2097 steps (210 ms at dt = 0.1 ms)
#: for 1000 neurons and 209 715 steps for 10: far more than the wafer's routed delays
#: (~0.7-2 ms) or the few ms of typical models, while delays of seconds to minutes cost one
#: far-queue row (40 B) per event in flight instead of gigabytes of mostly empty rows (3e5 ms
#: onto 1000 neurons: 48 GB).  Zeroing it on reset() takes a few ms.
RING_BYTES_MAX = 32 * 2 ** 20
#: ... but the horizon is never cut below this many steps (12.8 ms at dt = 0.1 ms), so that
#: very large networks (over ~16 000 neurons) keep ordinary delays out of the slower far queue;
#: the ring is still never longer than the longest delay + 1 rows, its size before the queue.
MIN_HORIZON_STEPS = 128
#: Recording (issue 13): every record request keeps its samples in blocks allocated once per
#: run at that run's exact size, so a recording costs its own size and no more.  With one
#: request the kernel writes into its block directly; with several, it writes into a scratch
#: buffer of at most this many bytes (a window of steps), which is moved into the blocks after
#: each window (one copy; windows give the same results bit for bit, like split runs).
RECORD_SCRATCH_BYTES = 16 * 2 ** 20
#: ... and a window is never shorter than this many steps (kernel calls stay few).
RECORD_MIN_WINDOW_STEPS = 256
#: copying samples out (:meth:`Network.copy_samples`) through a column selection makes
#: temporaries of at most about this many bytes
COPY_BLOCK_BYTES = 8 * 2 ** 20
_VAR_CODE = {"v": kernels.VAR_V, "gsyn_exc": kernels.VAR_GE, "gsyn_inh": kernels.VAR_GI,
             "w": kernels.VAR_W}


def _grown(rows: np.ndarray, weights: np.ndarray, keep: int, need: int
           ) -> tuple[np.ndarray, np.ndarray]:
    """A queue's (n, 4) integer rows and its weights with room for ``need`` rows (at least
    doubled, so a long run reallocates a few times only), the first ``keep`` copied."""
    cap = max(need, 2 * rows.shape[0], 64)
    new_rows = np.empty((cap, 4), dtype=np.int64)
    new_weights = np.empty(cap)
    new_rows[:keep] = rows[:keep]
    new_weights[:keep] = weights[:keep]
    return new_rows, new_weights


def _aligned_zeros(shape: tuple, align: int = 64) -> np.ndarray:
    """Zeros whose data start on an ``align``-byte boundary: a wafer-rule synapse's state
    (8 doubles) is then one cache line, not two, when a postsynaptic spike reaches it."""
    n = int(np.prod(shape))
    buf = np.zeros(n + align // 8)
    offset = (-buf.ctypes.data % align) // 8
    return buf[offset:offset + n].reshape(shape)


@dataclass
class RecordRequest:
    """Sample ``variable`` of ``neurons`` (global indices) every ``every`` steps.

    ``samples`` holds the samples taken so far as blocks of shape (n, n_neurons) in time
    order: one block per run (allocated once, at the run's exact number of samples) and the
    single sample at the start of a recording; they are joined only into the caller's output
    (:meth:`Network.copy_samples`), never into a second copy here."""
    variable: str
    neurons: np.ndarray
    every: int
    samples: list = field(default_factory=list)   # blocks of shape (n_samples, n_neurons)
    last_step: int = -1                            # step of the last sample taken

    @property
    def n_samples(self) -> int:
        return sum(block.shape[0] for block in self.samples)


class Network:
    """Arrays and state of one emulated network; ``run`` advances it in compiled code."""

    def __init__(self, dt: float) -> None:
        if not dt > 0:
            raise ValueError(f"time step dt={dt} ms must be > 0")
        self.dt = float(dt)
        self.n_neurons = 0
        self.P = np.zeros((0, N_PARAMS))
        self.tau_refrac = np.zeros(0)
        self.initial = {name: np.zeros(0) for name in STATE_VARIABLES}
        self.v = np.zeros(0)
        self.w = np.zeros(0)
        self.ge = np.zeros(0)
        self.gi = np.zeros(0)
        self.refrac = np.zeros(0, dtype=np.int64)
        self.i_ext = np.zeros(0)
        #: injected currents (current sources), evaluated per step in the time loop
        self.injections = Injections()
        #: distributed emulation (MPI): this rank's neurons and the spike exchange; None:
        #: one process, every neuron (:mod:`.distributed`)
        self.partition: Partition | None = None
        self.spike_flag = np.zeros(0, dtype=np.bool_)
        self.poisson = PoissonSources()
        self.arrays = ArraySources()
        self.n_nodes = 0
        self.neuron_node = np.zeros(0, dtype=np.int64)
        self.source_flag = np.zeros(0, dtype=np.bool_)   # per node: record this source's spikes
        self.node_loss = np.zeros(0)
        # synapses, COO (creation) order
        self.syn_pre = np.zeros(0, dtype=np.int64)
        self.syn_post = np.zeros(0, dtype=np.int64)
        self.syn_weight = np.zeros(0)
        self.syn_delay = np.zeros(0)
        self.syn_receptor = np.zeros(0, dtype=np.int8)
        #: short-term plasticity per synapse (COO): U, tau_rec, tau_fac (ms); NaN U = static
        self.syn_stp = np.zeros((0, 3))
        self.syn_stp_driver = np.zeros((0, 2))
        #: STDP tables (set_plasticity) and the pair rule's tau_minus per neuron (ms)
        self.pair_stdp: PairSTDP | None = None
        self.hardware_stdp: HardwareSTDP | None = None
        self.tau_minus: np.ndarray | None = None
        self._structure_dirty = True
        self._weights_dirty = True
        self.ring_e = np.zeros((2, 0))
        self.ring_i = np.zeros((2, 0))
        #: cap on the ring buffers' length in steps (None: from RING_BYTES_MAX and
        #: MIN_HORIZON_STEPS; >= 2); longer delays go through the far queue.  For tests.
        self.max_ring_steps: int | None = None
        # far queue (kernels.far_push): a heap of (arrival step, sequence, neuron, receptor)
        # rows and weights (µS), with its count and next sequence number
        self._far_i = np.zeros((0, 4), dtype=np.int64)
        self._far_w = np.zeros(0)
        self._far_meta = np.zeros(2, dtype=np.int64)
        # relay queue (kernels.rq_push): buckets per arrival step (a power of two of them),
        # rows of (arrival, neuron, receptor, next) and weights, its counters
        self._rq_head = np.full(1, -1, dtype=np.int64)
        self._rq_tail = np.full(1, -1, dtype=np.int64)
        self._rq_i = np.zeros((0, 4), dtype=np.int64)
        self._rq_w = np.zeros(0)
        self._rq_meta = np.array([0, -1, 0, 0], dtype=np.int64)
        self.step = 0
        self.records: dict[int, RecordRequest] = {}
        # event-path limits (wafer mode): stimulus playback and priority encoders
        self.input_bandwidth = None          # an event_loss.InputBandwidth (stimulus down)
        self.recording_bandwidth = None      # the same FIFO model for recorded spikes (up)
        #: nodes of the recorded spikes the upward bandwidth dropped (chunks, since reset)
        self.recording_lost_nodes: list[np.ndarray] = []
        self.encoder_service = 0.0           # ms per event and neuron block (0 = unlimited)
        self.neuron_block = np.zeros(0, dtype=np.int64)   # per neuron: global block, -1 none
        self.block_busy = np.zeros(0)
        self.encoder_lost = np.zeros(1, dtype=np.int64)
        self.encoder_sent = np.zeros(1, dtype=np.int64)
        self.merger_service = 0.0
        self.neuron_merger = np.zeros(0, dtype=np.int64)
        self.merger_busy = np.zeros(0)
        self.merger_lost = np.zeros(1, dtype=np.int64)
        #: wafer mode: spike times are timestamps of this resolution (ms; 0 = exact)
        self.time_quantum = 0.0
        self._pending = None                 # FIFO-delayed events of the next window
        self._next_record_id = 0
        # off-wafer relays and replayed sources of a multi-wafer system (set_relays,
        # set_replicas): none
        self.set_relays(np.zeros(0, np.int64), np.zeros(0, np.int64),
                        np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64), np.zeros(0))
        self.set_replicas(np.zeros(0, np.int64), np.zeros(0, np.int64))

    # ----------------------------------------------------------------- construction
    def add_neurons(self, params: dict[str, np.ndarray], size: int) -> tuple[np.ndarray, np.ndarray]:
        """Append ``size`` neurons; ``params`` maps PARAM_COLUMNS names (plus ``tau_refrac``)
        to arrays; returns (neuron indices, node indices)."""
        idx = np.arange(self.n_neurons, self.n_neurons + size)
        nodes = self._new_nodes(size)
        self.neuron_node = np.concatenate([self.neuron_node, nodes])
        self.n_neurons += size
        self.P = np.vstack([self.P, np.zeros((size, N_PARAMS))])
        self.tau_refrac = np.concatenate([self.tau_refrac, np.zeros(size)])
        for name in STATE_VARIABLES:
            self.initial[name] = np.concatenate([self.initial[name], np.zeros(size)])
        self.v = np.concatenate([self.v, np.zeros(size)])
        self.w = np.concatenate([self.w, np.zeros(size)])
        self.ge = np.concatenate([self.ge, np.zeros(size)])
        self.gi = np.concatenate([self.gi, np.zeros(size)])
        self.refrac = np.concatenate([self.refrac, np.zeros(size, dtype=np.int64)])
        self.i_ext = np.concatenate([self.i_ext, np.zeros(size)])
        self.spike_flag = np.concatenate([self.spike_flag, np.zeros(size, dtype=np.bool_)])
        self.neuron_block = np.concatenate([self.neuron_block, np.full(size, -1, np.int64)])
        self.neuron_merger = np.concatenate([self.neuron_merger, np.full(size, -1, np.int64)])
        if self.partition is not None:
            self.partition.add_population(size)
        self.set_neuron_parameters(idx, params)
        return idx, nodes

    def set_partition(self, exchange) -> None:
        """Run distributed: this process updates and delivers to its own neurons only and
        exchanges spikes through ``exchange`` (:mod:`.distributed`).  Before any neuron."""
        if self.n_neurons:
            raise RuntimeError("set_partition() must come before the first neurons")
        self.partition = Partition(exchange)

    def _new_nodes(self, size: int) -> np.ndarray:
        nodes = np.arange(self.n_nodes, self.n_nodes + size)
        self.n_nodes += size
        self.source_flag = np.concatenate([self.source_flag, np.zeros(size, dtype=np.bool_)])
        self.node_loss = np.concatenate([self.node_loss, np.zeros(size)])
        self._structure_dirty = True
        return nodes

    def add_relay_nodes(self, size: int) -> np.ndarray:
        """Append ``size`` nodes without events of their own: they carry the synapses of
        relayed neurons and replayed sources (:meth:`set_relays`, :meth:`set_replicas`)."""
        return self._new_nodes(size)

    def add_poisson_sources(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Append Poisson sources with the given stream keys; returns (nodes, source indices)."""
        nodes = self._new_nodes(keys.size)
        sl = self.poisson.add(nodes, keys)
        return nodes, np.arange(sl.start, sl.stop)

    def add_array_sources(self, size: int) -> tuple[np.ndarray, np.ndarray]:
        """Append spike-array sources; returns (nodes, source indices)."""
        nodes = self._new_nodes(size)
        sl = self.arrays.add(nodes)
        return nodes, np.arange(sl.start, sl.stop)

    def set_neuron_parameters(self, idx: np.ndarray, params: dict[str, np.ndarray]) -> None:
        """Write per-neuron parameters (PARAM_COLUMNS names, ``tau_refrac``) for ``idx``."""
        for name, value in params.items():
            if name == "tau_refrac":
                self.tau_refrac[idx] = value
            else:
                self.P[idx, PARAM_COLUMNS.index(name)] = value

    def set_injections(self, injections: Injections) -> None:
        """Replace all injected currents (:class:`~.currents.Injections`, engine neuron
        indices); they act from the next step on."""
        if injections.size and (injections.neuron.min() < 0
                                or injections.neuron.max() >= self.n_neurons):
            raise ValueError("injected currents name neurons that do not exist")
        self.injections = injections
        self.i_ext[:] = 0.0      # neurons that lost their injections get none

    def set_initial(self, idx: np.ndarray, variable: str, value: np.ndarray,
                    apply_now: bool) -> None:
        """Initial value of a state variable; ``apply_now`` also sets the current state."""
        self.initial[variable][idx] = value
        if apply_now:
            self._state_array(variable)[idx] = value

    def _state_array(self, variable: str) -> np.ndarray:
        return {"v": self.v, "w": self.w, "gsyn_exc": self.ge, "gsyn_inh": self.gi}[variable]

    def set_synapses(self, pre: np.ndarray, post: np.ndarray, weight: np.ndarray,
                     delay: np.ndarray, receptor: np.ndarray, stp: np.ndarray | None = None,
                     stp_driver: np.ndarray | None = None) -> None:
        """Replace all synapses (COO order): presynaptic node, postsynaptic neuron, weight (µS,
        ≥ 0), delay (ms, ≥ dt), receptor (0 excitatory, 1 inhibitory) and optionally
        Tsodyks-Markram parameters per synapse (columns U, tau_rec, tau_fac in ms; a row of
        NaN = static synapse).  ``stp_driver`` (n, 2): (lambda, N) per synapse where the
        synapse driver's equations replace Tsodyks-Markram's (NaN rows: Tsodyks-Markram);
        the driver then uses U and the one time constant that is > 0 (tau_rec for
        depression, tau_fac for facilitation).  Plasticity (``set_plasticity``) is
        dropped: the synapse table it indexed is gone."""
        self.syn_pre = np.asarray(pre, dtype=np.int64)
        self.syn_post = np.asarray(post, dtype=np.int64)
        self.syn_weight = np.array(weight, dtype=float)
        self.syn_delay = np.asarray(delay, dtype=float)
        self.syn_receptor = np.asarray(receptor, dtype=np.int8)
        n = self.syn_pre.size
        self.syn_stp = np.full((n, 3), np.nan) if stp is None \
            else np.asarray(stp, dtype=float).reshape(-1, 3)
        self.syn_stp_driver = np.full((n, 2), np.nan) if stp_driver is None \
            else np.asarray(stp_driver, dtype=float).reshape(-1, 2)
        self.pair_stdp = self.hardware_stdp = None
        self._structure_dirty = True

    def set_plasticity(self, pair: PairSTDP | None = None,
                       hardware: HardwareSTDP | None = None,
                       tau_minus: np.ndarray | None = None) -> None:
        """STDP on synapses of the current table (:mod:`.plasticity`): NEST's pair rule on
        ``pair.synapses``, the wafer rule on ``hardware.synapses``; ``tau_minus`` (ms, per
        neuron) is the postsynaptic trace's time constant of the pair rule (a neuron's
        property, as in NEST; default 20 ms).  Learned weights are written into the synapse
        table (``syn_weight``) after every run; the wafer rule's 4-bit weights are in
        ``hardware_stdp.digital``."""
        n_syn = self.syn_pre.size
        for table in (pair, hardware):
            if table is not None:
                syn = np.asarray(table.synapses, dtype=np.int64)
                if syn.size and (syn.min() < 0 or syn.max() >= n_syn):
                    raise ValueError("plastic synapse index out of range of the synapse table")
        if hardware is not None:
            hardware.check(n_syn)
            hardware.digital = np.array(hardware.digital, dtype=np.int64)
            self.syn_weight[hardware.synapses] = np.asarray(hardware.levels_uS)[
                np.arange(hardware.digital.size), hardware.digital]
        if pair is not None:
            p = pair.parameters()
            if np.any(p[:, plasticity.PP_TAU_PLUS] <= 0) or np.any(
                    p[:, plasticity.PP_W_MAX] <= 0):
                raise ValueError("pair STDP: tau_plus and w_max must be > 0")
        self.pair_stdp, self.hardware_stdp = pair, hardware
        self.tau_minus = np.full(self.n_neurons, 20.0) if tau_minus is None \
            else np.broadcast_to(np.asarray(tau_minus, dtype=float), (self.n_neurons,)).copy()
        self._structure_dirty = True

    def set_weights(self, sl: slice, weight: np.ndarray) -> None:
        """Rewrite weights (µS) of the COO slice ``sl`` without touching the structure."""
        self.syn_weight[sl] = weight
        self._weights_dirty = True

    def set_delays(self, sl: slice, delay: np.ndarray) -> None:
        """Rewrite delays (ms) of the COO slice ``sl`` (e.g. routed delays)."""
        self.syn_delay[sl] = delay
        self._structure_dirty = True

    def _build(self) -> None:
        """(Re)build the CSR delivery structure; keeps neuron state and pending events."""
        n_keys = max(self.n_nodes, int(self.syn_pre.max(initial=-1)) + 1)
        order, counts = kernels.counting_order(
            np.ascontiguousarray(self.syn_pre, dtype=np.int64), max(n_keys, 1))
        counts = counts[:n_keys]
        self._perm = order
        self._ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._post = self.syn_post[order]
        self._receptor = self.syn_receptor[order]
        delay_steps = np.rint(self.syn_delay / self.dt).astype(np.int64)
        if delay_steps.size and delay_steps.min() < 1:
            raise ValueError(f"synaptic delays must be >= the time step {self.dt} ms")
        self._delay = delay_steps[order]
        # the shortest delay (steps) of a relayed (off-wafer) synapse; 0: none.  Relayed
        # input waits in the relay queue, so the ring spans the direct delays only
        self._relay_delay_min = 0
        direct = delay_steps
        if self._rl["node"].size and delay_steps.size:
            relayed = np.isin(self.syn_pre, self._rl["node"])
            if relayed.any():
                self._relay_delay_min = int(delay_steps[relayed].min())
                self._rq_calendar(int(delay_steps[relayed].max()))
                direct = delay_steps[~relayed]
        L = self._ring_length(int(direct.max()) if direct.size else 1)
        if self.ring_e.shape != (L, self.n_neurons):
            self._reslot_ring(L)
        # per node: synapses beyond the ring's horizon (far-queue rows one event can take)
        self._far_out = np.bincount(self.syn_pre[delay_steps >= L],
                                    minlength=self.n_nodes).astype(np.int64)
        r = self._rl
        if r["ptr"].size and r["ptr"].size < self.n_neurons + 1:
            # neurons added after the relays were set: they relay nothing
            extra = self.n_neurons + 1 - r["ptr"].size
            r["ptr"] = np.concatenate([r["ptr"], np.full(extra, r["ptr"][-1])])
            r["up"] = np.vstack([r["up"], np.full((extra, 2), -1, dtype=np.int64)])
        # every relay passed and counted by this process (_build_local narrows them)
        r["mine"] = np.ones(r["node"].size, dtype=np.bool_)
        r["need"] = np.ones(self.n_neurons, dtype=np.bool_)
        # per neuron: its relayed synapses (relay-queue rows one spike can take)
        self._relay_syn = self._relay_synapses()
        self._neuron_far_out = int(self._far_out[self.neuron_node].sum())
        self._rq_meta[kernels.RQ_STEP_MAX] = int(self._relay_syn.sum())
        # short-term plasticity: parameters and state of the plastic synapses, in CSR order
        # (gathered for the plastic synapses only: usually none of millions)
        plastic = ~np.isnan(self.syn_stp[:, 0])[order]
        self._stp_index = np.where(plastic, np.cumsum(plastic) - 1, -1).astype(np.int64)
        rows = order[plastic]
        tau_col = np.where(self._receptor[plastic] == 0, kernels.P_TAUE, kernels.P_TAUI)
        tau_psc = self.P[self._post[plastic], tau_col]
        driver = self.syn_stp_driver[rows]
        on = ~np.isnan(driver[:, 0])
        p = self.syn_stp[rows]
        par = np.column_stack([p, tau_psc, np.zeros(p.shape[0])]).reshape(-1, 5)
        # the driver's equations: (U, tau, lambda, N, model)
        facil = p[:, 2] > 0
        par[on, 1] = np.where(facil[on], p[on, 2], p[on, 1])
        par[on, 2] = driver[on, 0]
        par[on, 3] = driver[on, 1]
        par[on, kernels.STP_MODEL] = np.where(facil[on], kernels.STP_DRIVER_FACILITATION,
                                              kernels.STP_DRIVER_DEPRESSION)
        self._stp_par = np.ascontiguousarray(par)
        self._stp_state = np.zeros((int(plastic.sum()), 4))
        self._reset_stp()
        self._build_plasticity(order)
        if self.partition is not None:
            self._build_local()
        self._structure_dirty = False
        self._weights_dirty = True

    def _build_plasticity(self, order: np.ndarray) -> None:
        """Kernel tables of the STDP rules in CSR order (empty arrays without STDP)."""
        n_syn = order.size
        inv = np.empty(n_syn, dtype=np.int64)
        inv[order] = np.arange(n_syn)
        plast = np.full(n_syn, -1, dtype=np.int64)
        pair, hw = self.pair_stdp, self.hardware_stdp
        self._pp_par = np.zeros((0, plasticity.N_PP))
        self._pp_set = np.zeros(0, dtype=np.int64)
        self._hp_par = np.zeros((0, plasticity.N_HP))
        self._hw_csr = self._hw_order = np.zeros(0, dtype=np.int64)
        self._hw_levels = np.zeros((0, plasticity.N_LEVELS))
        self._hw_digital = np.zeros(0, dtype=np.int64)
        self._ctl = None
        learning_post = np.zeros(self.n_neurons, dtype=bool)
        if self.tau_minus is None or self.tau_minus.size != self.n_neurons:
            self.tau_minus = np.full(self.n_neurons, 20.0)
        pp_post = np.zeros(0, dtype=np.int64)
        self._pp_delay = np.zeros(0)
        if pair is not None and np.asarray(pair.synapses).size:
            syn = np.asarray(pair.synapses, dtype=np.int64)
            # numbered in delivery (CSR) order: a spike's synapses read consecutive state
            o = np.argsort(inv[syn], kind="stable")
            syn = syn[o]
            plast[inv[syn]] = np.arange(syn.size)
            # parameters per distinct set (a projection has one or a few): a small table
            # stays in cache while the synapses' updates read it
            sets, set_of = plasticity.unique_rows(pair.parameters()[o])
            self._pp_par = np.ascontiguousarray(sets)
            self._pp_set = set_of
            learning_post[self.syn_post[syn]] = True
            pp_post = self.syn_post[syn]
            self._pp_delay = np.rint(self.syn_delay[syn] / self.dt) * self.dt
        if hw is not None and np.asarray(hw.synapses).size:
            syn = np.asarray(hw.synapses, dtype=np.int64)
            # numbered in delivery (CSR) order, like the pair rule's; the table's order is
            # restored when the learned 4-bit weights are handed back
            o = np.argsort(inv[syn], kind="stable")
            self._hw_order = o
            syn = syn[o]
            plast[inv[syn]] = -2 - np.arange(syn.size)
            self._hp_par = np.ascontiguousarray(hw.parameters()[o])
            self._hw_csr = inv[syn]
            self._hw_levels = np.ascontiguousarray(np.asarray(hw.levels_uS, dtype=float)[o])
            self._hw_digital = np.ascontiguousarray(hw.digital[o])
            ctl_row_ptr, row_syn_ptr, row_syn = hw.row_table()
            internal = np.empty(o.size, dtype=np.int64)
            internal[o] = np.arange(o.size)
            row_syn = internal[row_syn]
            self._ctl = dict(
                t_row=np.ascontiguousarray(hw.t_row, dtype=float),
                phase=np.ascontiguousarray(hw.phase, dtype=float),
                row_ptr=ctl_row_ptr, row_syn_ptr=row_syn_ptr, row_syn=row_syn,
                lut=np.ascontiguousarray(hw.lut, dtype=np.int64),
                cfg=np.ascontiguousarray(hw.configbit, dtype=np.int64),
                reset=np.ascontiguousarray(hw.reset, dtype=np.int64))
        self._plast = plast if np.any(plast != -1) else np.zeros(0, dtype=np.int64)
        self._plastic_csr = np.flatnonzero(plast != -1)
        rows = np.flatnonzero(learning_post)
        self._hist_row = np.full(self.n_neurons, -1, dtype=np.int64)
        self._hist_row[rows] = np.arange(rows.size)
        # a neuron's header (horizon, 1/tau_minus) and each entry's (time, K-) side by side:
        # an update reads few cache lines of a ring (the kernels get strided views)
        header = np.zeros((rows.size, 2))
        self._hist_need, self._hist_tau_inv = header[:, 0], header[:, 1]
        self._hist_tau_inv[:] = 1.0 / self.tau_minus[rows] if rows.size else 0.0
        self._set_rings(np.zeros((rows.size, plasticity.HISTORY_START if rows.size else 0, 2)))
        self._hist_n = np.zeros(rows.size, dtype=np.int64)
        self._hist_need[:] = np.inf
        self._pp_post_row = self._hist_row[pp_post]
        # the wafer rule: each neuron's incoming plastic synapses (its spikes reach their
        # sensors at once) and its last spike time
        self._hw_in_ptr = self._hw_in = np.zeros(0, dtype=np.int64)
        self._post_last = np.zeros(0)
        if self._hw_csr.size:
            hw_post = self.syn_post[np.asarray(hw.synapses)[self._hw_order]]
            self._hw_in = np.argsort(hw_post, kind="stable").astype(np.int64)
            self._hw_in_ptr = np.concatenate([[0], np.cumsum(np.bincount(
                hw_post, minlength=self.n_neurons))]).astype(np.int64)
            self._post_last = np.full(self.n_neurons, plasticity.NONE)
        # per synapse (CSR) the postsynaptic ring of a plastic one: read in delivery order
        self._plast_row = np.where(self._plast != -1, self._hist_row[self._post], -1) \
            if self._plast.size else np.zeros(0, dtype=np.int64)
        self._reset_plasticity()

    def _reset_plasticity(self) -> None:
        """Traces, accumulators and postsynaptic histories as before any spike (NEST: last
        presynaptic spike at t = 0); learned weights stay."""
        self._pp_state = np.zeros((self._pp_set.shape[0], 2))
        self._hs = _aligned_zeros((self._hp_par.shape[0], plasticity.N_HS))
        self._hs[:, plasticity.HS_TA_PREV] = plasticity.NONE
        self._hs[:, plasticity.HS_TA_PEND] = plasticity.NONE
        self._hs[:, plasticity.HS_LPB] = plasticity.NONE
        self._hs[:, plasticity.HS_TAU_PLUS] = self._hp_par[:, plasticity.HP_TAU_PLUS]
        self._hs[:, plasticity.HS_TAU_MINUS] = self._hp_par[:, plasticity.HP_TAU_MINUS]
        if getattr(self, "_post_last", None) is not None:
            self._post_last[:] = plasticity.NONE
        self._hist_block = np.zeros(1, dtype=np.int64)
        if hasattr(self, "_hist_n"):
            self._hist_n[:] = 0
            self._hist_need[:] = np.inf
        c = self._ctl
        n_c = 0 if c is None else c["t_row"].size
        self._ctl_next_t = np.zeros(n_c) if c is None else c["phase"] + c["t_row"]
        self._ctl_next_row = np.zeros(n_c, dtype=np.int64)
        self.stdp_counters = np.zeros(3, dtype=np.int64)

    def _history_full(self) -> None:
        """The kernel stopped: a postsynaptic ring is full and its oldest entry may still be
        needed.  Recompute the exact horizon per neuron (the kernel keeps a lower bound);
        grow the rings only if one is still blocked."""
        P = plasticity
        need = np.empty(self._hist_n.size)
        P.history_need(self._pp_state, self._pp_delay, self._pp_post_row, self._hist_t,
                       self._hist_n, need)
        self._hist_need[:] = need
        if P.history_blocked(need, self._hist_t, self._hist_n):
            self._grow_history()
        self._hist_block[0] = 0

    def _grow_history(self) -> None:
        """Twice the ring length, entries kept in order."""
        R, H = self._hist_t.shape
        rings = np.zeros((R, 2 * H, 2))
        n = self._hist_n
        for q in range(H):           # the q-th oldest kept entry, vectorised over rows
            absq = n - H + q
            rows = np.flatnonzero(absq >= 0)
            rings[rows, absq[rows] % (2 * H)] = self._rings[rows, absq[rows] % H]
        self._set_rings(rings)

    def _set_rings(self, rings: np.ndarray) -> None:
        """The postsynaptic rings (rows, entries, (time ms, K-)) and their two views."""
        self._rings = rings
        self._hist_t, self._hist_k = rings[:, :, 0], rings[:, :, 1]

    def _ring_length(self, max_delay_steps: int) -> int:
        """Rows of the ring buffers: the longest delay + 1 (as a ring spanning all delays),
        capped by the memory budget ``RING_BYTES_MAX`` (or ``max_ring_steps``); at least 2
        (one row being read, one for the shortest delay)."""
        if self.max_ring_steps is not None:
            cap = int(self.max_ring_steps)
        else:
            cap = max(MIN_HORIZON_STEPS, RING_BYTES_MAX // (2 * 8 * max(self.n_neurons, 1)))
        return max(min(max_delay_steps + 1, cap), 2)

    def _reslot_ring(self, L: int) -> None:
        """New ring buffers of ``L`` rows for ``n_neurons``, keeping the pending input.

        The old rows hold the arrivals step + 1 .. step + L_old - 1 (step's row was read);
        those within the new horizon move to their new rows, the others into the far queue
        as one event per nonzero cell.  Each cell is the complete input of its arrival so
        far (far events arrive later than every ring row), so later input adds to it in
        the same order as before."""
        old_e, old_i = self.ring_e, self.ring_i
        L_old, n_old = old_e.shape
        self.ring_e = np.zeros((L, self.n_neurons))
        self.ring_i = np.zeros((L, self.n_neurons))
        ahead = np.arange(1, L_old, dtype=np.int64)          # steps until arrival
        src = (self.step + ahead) % L_old
        near = ahead < L
        dst = (self.step + ahead[near]) % L
        self.ring_e[dst, :n_old] = old_e[src[near]]
        self.ring_i[dst, :n_old] = old_i[src[near]]
        far_rows = src[~near]
        if far_rows.size and n_old:
            parts = []
            for receptor, old in ((0, old_e), (1, old_i)):
                rows, post = np.nonzero(old[far_rows])
                parts.append((self.step + ahead[~near][rows], post,
                              np.full(rows.size, receptor, dtype=np.int64),
                              old[far_rows[rows], post]))
            arrival, post, receptor, weight = (np.concatenate(x) for x in zip(*parts))
            self._far_reserve(arrival.size)
            kernels.far_push_many(self._far_i, self._far_w, self._far_meta, arrival, post,
                                  receptor, weight)

    def _far_reserve(self, n_more: int) -> None:
        """Room for ``n_more`` events in the far queue beyond those queued (at least doubling
        when it grows, so a long run reallocates it a few times only)."""
        n = int(self._far_meta[kernels.FAR_COUNT])
        if n + n_more > self._far_i.shape[0]:
            self._far_i, self._far_w = _grown(self._far_i, self._far_w, n, n + n_more)

    def _rq_reserve(self, n_more: int) -> None:
        """Room for ``n_more`` events in the relay queue beyond those queued (free rows
        first: the queue's rows are reused once taken)."""
        meta = self._rq_meta
        used = int(meta[kernels.RQ_USED])
        need = used + max(0, n_more - (used - int(meta[kernels.RQ_COUNT])))
        if need > self._rq_i.shape[0]:
            self._rq_i, self._rq_w = _grown(self._rq_i, self._rq_w, used, need)

    def _rq_calendar(self, max_relay_delay: int) -> None:
        """Enough buckets for every relayed event: its arrival lies at most the longest
        relayed delay plus the longest wait in the four FIFOs of the relay path after the
        current step (it is queued at or after its emission); kept when long enough."""
        r = self._rl
        wait = int(np.ceil(4 * (r["depth"] + 1) * float(self.relay_spacing.max(initial=0.0))
                           / self.dt)) + 1
        span = max_relay_delay + wait + 2
        n = 1 << int(np.ceil(np.log2(max(span, 2))))
        if n > self._rq_head.size:
            head = np.empty(n, dtype=np.int64)
            tail = np.empty(n, dtype=np.int64)
            kernels.rq_rebucket(self._rq_head, self._rq_i, head, tail)
            self._rq_head, self._rq_tail = head, tail

    def _reset_stp(self) -> None:
        """Full resources, nothing active, u = 0, last spike long ago (the driver's model:
        no inactive fraction)."""
        if hasattr(self, "_stp_state"):
            self._stp_state[:, 0] = np.where(
                self._stp_par[:, kernels.STP_MODEL] == kernels.STP_TSODYKS, 1.0, 0.0)
            self._stp_state[:, 1] = 0.0
            self._stp_state[:, 2] = 0.0
            self._stp_state[:, 3] = -1e12

    def _csr_weights(self) -> np.ndarray:
        if self._weights_dirty:
            self._weight = np.ascontiguousarray(self.syn_weight[self._perm])
            self._weights_dirty = False
        return self._weight

    # ----------------------------------------------------------------- state
    def reset(self) -> None:
        """Back to t = 0: initial state, no pending input, sources rewound."""
        self.step = 0
        self._pending = None
        self.v[:] = self.initial["v"]
        self.w[:] = self.initial["w"]
        self.ge[:] = self.initial["gsyn_exc"]
        self.gi[:] = self.initial["gsyn_inh"]
        self.refrac[:] = 0
        self._reset_stp()
        if hasattr(self, "_pp_par"):
            self._reset_plasticity()
        self.ring_e[:] = 0.0
        self.ring_i[:] = 0.0
        self._far_meta[:] = 0          # the queue's arrays are kept for the next run
        self._rq_head[:] = -1
        self._rq_tail[:] = -1
        self._rq_meta[:kernels.RQ_STEP_MAX] = (0, -1, 0)
        self.poisson.rewind()
        self.arrays.rewind()
        self.recording_lost_nodes = []
        for limit in (self.input_bandwidth, self.recording_bandwidth):
            if limit is not None:
                limit.rewind()
                limit.sent = limit.dropped = 0
        self.block_busy[:] = -np.inf
        self.merger_busy[:] = -np.inf
        self.encoder_sent[:] = 0
        self.encoder_lost[:] = 0
        self.merger_lost[:] = 0
        self._rl["last"][:] = -np.inf
        self.relay_counts[:] = 0
        for rec in self.records.values():
            rec.samples = []
            rec.last_step = -1

    def add_record(self, variable: str, neurons: np.ndarray, every: int) -> int:
        """Start sampling ``variable`` of ``neurons`` every ``every`` steps; returns a handle."""
        if variable not in _VAR_CODE:
            raise ValueError(f"cannot record '{variable}'; recordable: {sorted(_VAR_CODE)}")
        if every < 1:
            raise ValueError(f"sampling every {every} steps: must be >= 1")
        rid = self._next_record_id
        self._next_record_id += 1
        self.records[rid] = RecordRequest(variable, np.asarray(neurons, dtype=np.int64), every)
        return rid

    def remove_record(self, rid: int) -> None:
        self.records.pop(rid, None)

    def take_samples(self, rid: int, clear: bool = False) -> np.ndarray:
        """All samples of a record request so far, shape (n_samples, n_neurons), as a new
        array.  ``clear`` drops them, except the sample at the current time, which starts the
        next block."""
        rec = self.records[rid]
        data = np.empty((rec.n_samples, rec.neurons.size))
        self.copy_samples(rid, data)
        if clear:
            self.clear_samples(rid)
        return data

    def sample_count(self, rid: int) -> int:
        """Number of samples a record request holds."""
        return self.records[rid].n_samples

    def copy_samples(self, rid: int, out: np.ndarray, columns: slice | np.ndarray = slice(None)
                     ) -> None:
        """Write the samples of a record request into ``out`` (shape (n_samples,
        n_columns); may be a view of a larger array): sample ``i`` of its neuron
        ``columns[j]`` (positions in the request's ``neurons``) into ``out[i, j]``.  Blocks are
        copied straight into ``out``; a column selection that is not a slice goes through
        temporaries of at most ``COPY_BLOCK_BYTES``."""
        rec = self.records[rid]
        if out.shape[0] != rec.n_samples:
            raise ValueError(f"copy_samples: out has {out.shape[0]} rows, the request holds "
                             f"{rec.n_samples} samples")
        row = 0
        for block in rec.samples:
            k = block.shape[0]
            if isinstance(columns, slice):
                out[row:row + k] = block[:, columns]
            else:
                # fancy indexing copies: row slabs bound the temporary
                step = max(1, COPY_BLOCK_BYTES // (8 * max(len(columns), 1)))
                for r in range(0, k, step):
                    out[row + r:row + min(r + step, k)] = block[r:r + step][:, columns]
            row += k

    def clear_samples(self, rid: int) -> None:
        """Drop the samples of a record request, except the sample at the current time,
        which starts the next block (as a recording continues after ``get_data(clear=True)``)."""
        rec = self.records[rid]
        last = rec.samples[-1][-1:].copy() if rec.samples and rec.last_step == self.step \
            else None
        rec.samples = [] if last is None else [last]

    # ----------------------------------------------------------------- running
    def run(self, n_steps: int) -> tuple[np.ndarray, np.ndarray]:
        """Advance by ``n_steps`` time steps.  Returns the recorded spikes of this window as
        (times in ms, node indices), neurons with ``spike_flag`` and sources with
        ``source_flag``."""
        if self._structure_dirty:
            self._build()
        weight = self._csr_weights()
        dt = self.dt
        step0 = self.step
        t_end = (step0 + n_steps) * dt
        # external events of this window, sorted by emission step
        p_step, p_node, p_time = self.poisson.window(t_end, dt)
        a_step, a_node, a_time = self.arrays.window(t_end, dt)
        ev_step = np.concatenate([p_step, a_step])
        ev_node = np.concatenate([p_node, a_node])
        ev_time = np.concatenate([p_time, a_time])
        # a source played into several wafers: one event per wafer, each through its FIFOs
        ev_step, ev_node, ev_time = self._with_replicas(ev_step, ev_node, ev_time)
        if (self.time_quantum > 0 or self.input_bandwidth is not None) and ev_time.size:
            # stimulus is played back at the FPGA's timestamp resolution, through its FIFOs
            ev_time = self._timestamps(ev_time)
            if self.input_bandwidth is not None:
                keep, release = self.input_bandwidth.apply(ev_time, ev_node)
                ev_node, ev_time = ev_node[keep], self._timestamps(release[keep])
            ev_step = np.ceil(ev_time / dt - 1e-9).astype(np.int64)
        if np.any(self.node_loss > 0) and ev_node.size:
            keep = self._loss_rng().random(ev_node.size) >= self.node_loss[ev_node]
            ev_step, ev_node, ev_time = ev_step[keep], ev_node[keep], ev_time[keep]
        # events the FIFOs released after the end of the previous window arrive now; those
        # released after the end of this one wait for the next (a split run == one run)
        if self._pending is not None:
            ev_step, ev_node, ev_time = (np.concatenate([a, b]) for a, b in
                                         zip(self._pending, (ev_step, ev_node, ev_time)))
            self._pending = None
        late = ev_step > step0 + n_steps
        if np.any(late):
            self._pending = (ev_step[late], ev_node[late], ev_time[late])
            ev_step, ev_node, ev_time = ev_step[~late], ev_node[~late], ev_time[~late]
        order = np.argsort(ev_step, kind="stable")
        ev_step, ev_node, ev_time = ev_step[order], ev_node[order], ev_time[order]
        ev_step = np.maximum(ev_step, step0)  # a spike at t = 0 is emitted at step 0
        # recording: each request gets this run's block at once, exactly sized
        grp_every, grp_ptr, ch_neuron, ch_var, rids = self._record_groups(step0)
        n_ch = np.diff(grp_ptr)
        n_samples = [(step0 + n_steps) // e - step0 // e for e in grp_every]
        blocks = [np.empty((int(k), int(c))) for k, c in zip(n_samples, n_ch)]
        filled = [0] * len(rids)
        grp_nsamp = np.zeros(len(rids), dtype=np.int64)
        window = self._record_window(grp_every, n_ch)
        if window is None:
            # one request (or none): the kernel writes into its block
            out = blocks[0].reshape(-1) if blocks else np.empty(0)
            grp_out_offset = np.zeros(len(rids), dtype=np.int64)
        else:
            # several: a scratch buffer per window of steps, moved into the blocks
            per_window = (window // grp_every + 1) * n_ch
            grp_out_offset = np.concatenate([[0], np.cumsum(per_window)]).astype(np.int64)
            out = np.empty(int(grp_out_offset[-1]))
        PT = np.ascontiguousarray(self.P.T)
        D = kernels.decay_factors(PT, dt)
        is_lif = ((PT[kernels.P_DELTAT] == 0.0) & (PT[kernels.P_A] == 0.0)
                  & (PT[kernels.P_B] == 0.0))
        lif, adex = np.flatnonzero(is_lif), np.flatnonzero(~is_lif)
        # event-path counters at the start (ranks with whole wafers count their own)
        counters0 = [a.copy() for a in (self.encoder_sent, self.encoder_lost, self.merger_lost,
                                        self.relay_counts)]
        # one process updates every neuron: one index range (all LIF), or all listed
        all_lif = adex.size == 0
        all_ranges = np.array([[0, self.n_neurons]], dtype=np.int64)
        all_local = np.arange(self.n_neurons, dtype=np.int64)
        ref_steps = self._ref_steps()
        # spike buffer: grows if needed (the kernel stops early when full); reused by every
        # kernel call, the spikes are copied out of it
        spk_steps, spk_nodes = [], []
        done = 0
        cap = max(1024, int(self.n_neurons * 4 + 0.02 * self.n_neurons
                            * (n_steps if window is None else min(window, n_steps))))
        spk_step = np.empty(cap, dtype=np.int64)
        spk_node = np.empty(cap, dtype=np.int64)
        spk_count = np.zeros(1, dtype=np.int64)
        while done < n_steps:
            if spk_step.size < cap:
                spk_step = np.empty(cap, dtype=np.int64)
                spk_node = np.empty(cap, dtype=np.int64)
            spk_count[0] = 0
            first = np.searchsorted(ev_step, self.step, side="right") if done else 0
            if window is None:
                steps, last = n_steps - done, ev_step.size
            else:
                # the window's events only: each call costs its window, not the whole run
                steps = min(window, n_steps - done)
                last = np.searchsorted(ev_step, self.step + steps, side="right")
                grp_nsamp[:] = 0
            # the kernel stops before a step that could overflow the far queue: room for
            # one spike of every neuron and all remaining external events (usually 0)
            self._far_reserve(self._neuron_far_out
                              + int(self._far_out[ev_node[first:last]].sum()))
            # and the relay queue before a step that could overflow it (one spike of every
            # relayed neuron)
            self._rq_reserve(int(self._rq_meta[kernels.RQ_STEP_MAX]))
            if self.partition is not None:
                st, nd = self._advance_partitioned(
                    steps, ev_step[first:last], ev_node[first:last], PT, D, lif, adex,
                    ref_steps, weight,
                    (grp_every, grp_ptr, grp_out_offset, grp_nsamp, ch_neuron, ch_var, out))
                spk_steps.append(st)
                spk_nodes.append(nd)
                spk_count[0] = 0
                k = steps
            else:
                k = kernels.run_steps(
                    self.step, steps, dt, PT, D, all_lif, all_ranges, lif, adex, all_local,
                    ref_steps,
                    self.v, self.w, self.ge, self.gi, self.refrac, self.i_ext,
                    self.injections.neuron, *self.injections.arrays(),
                    self.neuron_node, self._ptr, self._post, weight, self._delay, self._receptor,
                    self.ring_e, self.ring_i, self._far_i, self._far_w, self._far_meta,
                    self._far_out, self._neuron_far_out, self._stp_index, self._stp_par, self._stp_state,
                    *self._plasticity_args(),
                    ev_step[first:last], ev_node[first:last], self.spike_flag,
                    spk_step, spk_node, spk_count,
                    *self._encoder_args(),
                    *self._relay_args(),
                    grp_every, grp_ptr, grp_out_offset, grp_nsamp, ch_neuron, ch_var, out,
                    False)
                spk_steps.append(spk_step[:spk_count[0]].copy())
                spk_nodes.append(spk_node[:spk_count[0]].copy())
            if window is not None:
                for g in range(len(rids)):
                    m, c = int(grp_nsamp[g]), int(n_ch[g])
                    off = int(grp_out_offset[g])
                    blocks[g][filled[g]:filled[g] + m] = out[off:off + m * c].reshape(m, c)
                    filled[g] += m
            done += k
            self.step += k
            if self._hist_block[0]:
                self._history_full()      # a postsynaptic ring was full: make room, go on
            elif k == 0 or spk_count[0] > cap // 2:   # (k == 0: spike buffer too small)
                cap *= 2
        if self._plastic_csr.size:
            # learned weights back into the synapse table (creation order)
            self.syn_weight[self._perm[self._plastic_csr]] = weight[self._plastic_csr]
        if self._hw_order.size:
            self.hardware_stdp.digital[self._hw_order] = self._hw_digital
        if window is None:
            filled = [int(x) for x in grp_nsamp]
        if self._whole_wafer_ranks():
            self._merge_rank_results(blocks, filled, grp_ptr, ch_neuron, counters0)
        for g, rid in enumerate(rids):
            if filled[g]:
                rec = self.records[rid]
                rec.samples.append(blocks[g] if filled[g] == blocks[g].shape[0]
                                   else blocks[g][:filled[g]].copy())
                rec.last_step = (self.step // rec.every) * rec.every
        n_times = self._timestamps(np.concatenate(spk_steps) * dt)   # the FPGA's timestamps
        n_nodes_all = self.neuron_node[np.concatenate(spk_nodes)]
        if self.recording_bandwidth is not None and n_times.size:
            # recorded spikes travel up the HICANN link and the FPGA: what does not fit is
            # missing from the recording (it still reached its targets on the wafer)
            keep, _ = self.recording_bandwidth.apply(n_times, n_nodes_all)
            # which neurons' recorded spikes are missing (the wafer's report names them)
            self.recording_lost_nodes.append(n_nodes_all[~keep])
            n_times, n_nodes_all = n_times[keep], n_nodes_all[keep]
        src_sel = self.source_flag[ev_node]
        times = np.concatenate([n_times, ev_time[src_sel]])
        nodes = np.concatenate([n_nodes_all, ev_node[src_sel]])
        return times, nodes

    # ----------------------------------------------------------------- distributed
    def _build_local(self) -> None:
        """This rank's share of the CSR: the synapses onto its own neurons, in the same
        order (so each ring cell still sums its inputs in the serial order)."""
        if self._plast.size or self._hw_order.size or self._hist_n.size:
            raise NotImplementedError(
                "STDP is not available in distributed runs yet (MPI with more than one "
                "rank); run this network in one process")
        part = self.partition
        L = self.ring_e.shape[0]
        pre_all = np.repeat(np.arange(self.n_nodes), np.diff(self._ptr)[:self.n_nodes])
        self._group_window = 0
        if part.group_local is not None:
            self._group_window = self._whole_wafer_window(pre_all)
        if self._group_window > 0 and self._rl["node"].size:
            # a rank relays to its own wafers only, for the spikes of the wafers that send it
            # any (a wafer's uplinks serve its own neurons only, so the others' spikes cannot
            # change their FIFOs).  A relay is this rank's when its synapses are; one whose
            # synapses were all lost in the mapping still queues in its target wafer's down
            # FIFOs: it is the rank's that uses them, or rank 0's when no rank does (so that
            # the counts add up)
            r = self._rl
            n_syn = np.diff(self._ptr)[r["node"]]
            has = n_syn > 0
            mine = np.zeros(r["node"].size, dtype=np.bool_)
            mine[has] = part.owned[self._post[self._ptr[r["node"][has]]]]
            n_ch = self.relay_spacing.size
            ch_mine = np.zeros(n_ch + 1, dtype=np.bool_)     # the last one: "no FIFO"
            down = np.where(r["down"] >= 0, r["down"], n_ch)
            ch_mine[down[mine].ravel()] = True
            ch_mine[n_ch] = False
            used = part.exchange.allreduce_sum(ch_mine.astype(np.int64)) > 0
            orphan = ~has
            mine[orphan] = ch_mine[down[orphan]].any(axis=1) | (
                ~used[down[orphan]].any(axis=1) & (part.rank == 0))
            r["mine"] = mine
            senders = np.unique(part.group[r["neuron"][r["mine"]]])
            r["need"] = np.ones(self.n_neurons, dtype=np.bool_)
            r["need"][:part.group.size] = np.isin(part.group, senders)
        sel = np.flatnonzero(part.owned[self._post])
        pre_of = pre_all[sel]
        counts = np.bincount(pre_of, minlength=self.n_nodes)
        delay = self._delay[sel]
        self._local = {
            "sel": sel,
            "ptr": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            "post": self._post[sel], "delay": delay, "receptor": self._receptor[sel],
            "stp_index": self._stp_index[sel],
            "far_out": np.bincount(pre_of[delay >= L], minlength=self.n_nodes).astype(np.int64),
        }
        # the communication window: the smallest delay of the whole network (every rank
        # computes the same), so that nothing emitted in a window arrives within it
        self._window_steps = int(self._delay.min()) if self._delay.size else 1 << 30

    def _whole_wafer_ranks(self) -> bool:
        return self.partition is not None and self.partition.group_local is not None \
            and getattr(self, "_group_window", 0) > 0

    def _merge_rank_results(self, blocks: list, filled: list, grp_ptr: np.ndarray,
                            ch_neuron: np.ndarray, counters0: list) -> None:
        """After a run with whole wafers per rank: every rank gets the recorded samples of
        all neurons (each rank sampled its own; x + 0 is exact, so a sum over ranks with
        the others' channels zeroed is a gather) and the event-path counts of all wafers."""
        ex, owned = self.partition.exchange, self.partition.owned
        for g, block in enumerate(blocks):
            part = block[:filled[g]]
            if not part.size:
                continue
            mine = owned[ch_neuron[grp_ptr[g]:grp_ptr[g + 1]]]
            part[:, ~mine] = 0.0
            part[...] = ex.allreduce_sum(part)
        for now, before in zip((self.encoder_sent, self.encoder_lost, self.merger_lost,
                                self.relay_counts), counters0):
            now[...] = before + ex.allreduce_sum(now - before)

    def set_rank_groups(self, group: np.ndarray) -> None:
        """Distributed runs of a multi-wafer system: ``group[i]`` the wafer of neuron i.  With
        at least as many wafers as ranks each rank runs whole wafers (:mod:`.distributed`)."""
        if self.partition is None:
            return
        if self.partition.set_groups(group):
            self._structure_dirty = True

    def _whole_wafer_window(self, pre_all: np.ndarray) -> int:
        """The communication window (steps) of whole-wafer ranks, or 0 (falling back to the
        per-population chunks) when the network does not allow it: every synapse between
        neurons of different ranks must be an off-wafer relay, and a relayed spike must be
        queued before the step it arrives at is computed: W <= the shortest relayed delay.
        Every rank decides the same."""
        part = self.partition
        node_neuron = np.full(self.n_nodes, -1, dtype=np.int64)
        node_neuron[self.neuron_node] = np.arange(self.n_neurons)
        pre_neuron = node_neuron[pre_all]
        crossing = (pre_neuron >= 0) & (part.group_local[self._post]
                                        != part.group_local[np.maximum(pre_neuron, 0)])
        window = self._relay_delay_min or 1 << 30
        ok = not crossing.any() and window > self._delay.min(initial=1 << 30)
        if part.exchange.allreduce_sum(np.array([0 if ok else 1], dtype=np.int64))[0]:
            part.group_local = None
            return 0
        return window

    def _advance_partitioned(self, steps: int, ev_step: np.ndarray, ev_node: np.ndarray,
                             PT: np.ndarray, D: np.ndarray, lif: np.ndarray, adex: np.ndarray,
                             ref_steps: np.ndarray, weight: np.ndarray, rec: tuple
                             ) -> tuple[np.ndarray, np.ndarray]:
        """``steps`` steps in communication windows (see :mod:`.distributed`); returns the
        recorded spikes (steps, neuron indices) of all ranks, in the serial engine's order."""
        part, loc = self.partition, self._local
        # an external event is delivered by the ranks holding its targets only: the others
        # would walk an empty synapse range for it (the FIFO model already ran on all
        # events, in Network.run, so every rank keeps the same events)
        mine = (np.diff(loc["ptr"]) > 0)[ev_node]
        ev_step, ev_node = ev_step[mine], ev_node[mine]
        if self._whole_wafer_ranks():
            return self._advance_whole_wafers(steps, ev_step, ev_node, PT, D, lif, adex,
                                              ref_steps, weight, rec)
        L = self.ring_e.shape[0]
        W = max(1, min(self._window_steps, L - 1))
        local = np.flatnonzero(part.owned)
        ranges = part.ranges()
        all_lif = adex.size == 0
        lif_l, adex_l = lif[part.owned[lif]], adex[part.owned[adex]]
        w_loc = weight[loc["sel"]]
        empty = np.zeros(0, dtype=np.int64)
        spk_step = np.empty(max(64, 4 * self.n_neurons), dtype=np.int64)
        spk_node = np.empty_like(spk_step)
        spk_count = np.zeros(1, dtype=np.int64)
        buf_step = np.empty(W * max(local.size, 1), dtype=np.int64)
        buf_node = np.empty_like(buf_step)
        out_steps, out_nodes = [], []

        # far-queue rows the external events can take, cumulated (a window reserves for its
        # own events only: summing over all remaining events would cost O(events) per window)
        ev_far = np.concatenate([[0], np.cumsum(loc["far_out"][ev_node])])

        # far-queue rows one spike of each neuron can take (relays use the relay queue)
        far_per_spike = loc["far_out"][self.neuron_node]

        def deliver(step0, n, g_step, g_node, ev_i):
            ev_end = int(np.searchsorted(ev_step, step0 + n, side="right"))
            need = int(far_per_spike[g_node].sum()) \
                + int(ev_far[max(ev_end, ev_i)] - ev_far[ev_i])
            self._far_reserve(need)
            self._rq_reserve(int(self._relay_syn[g_node].sum()))
            spk_count[0] = 0
            ev_i = kernels.deliver_window(
                step0, n, self.dt, g_step, g_node, ev_step, ev_node, ev_i, self.neuron_node,
                loc["ptr"], loc["post"], w_loc, loc["delay"], loc["receptor"],
                self.ring_e, self.ring_i, self._far_i, self._far_w, self._far_meta,
                loc["stp_index"], self._stp_par, self._stp_state,
                # STDP's tables (empty: distributed runs refuse STDP, _build_local)
                self._plast, self._plast_row, self._pp_set, self._pp_par, self._pp_state,
                self._hist_t, self._hist_k, self._hist_n, self._hist_tau_inv,
                self._hist_need, self._hist_block, self._hp_par, self._hs,
                self._post_last, self.spike_flag,
                spk_step, spk_node, spk_count,
                *self._encoder_args(),
                *self._relay_args())
            out_steps.append(spk_step[:spk_count[0]].copy())
            out_nodes.append(spk_node[:spk_count[0]].copy())
            return ev_i

        ev_i = deliver(self.step, 0, empty, empty, 0)      # pending events of the past
        done = 0
        grp_every, grp_ptr, grp_out_offset, grp_nsamp, ch_neuron, ch_var, out = rec
        while done < steps:
            n = min(W, steps - done)
            step0 = self.step + done
            c = kernels.update_window(
                step0, n, self.dt, PT, D, all_lif, ranges, lif_l, adex_l, local, ref_steps,
                self.v, self.w, self.ge, self.gi, self.refrac, self.i_ext,
                self.injections.neuron, *self.injections.arrays(), self.ring_e, self.ring_i,
                self._rq_head, self._rq_tail, self._rq_i, self._rq_w, self._rq_meta,
                buf_step, buf_node, grp_every, grp_ptr, grp_out_offset, grp_nsamp,
                ch_neuron, ch_var, out)
            g_step, g_node = part.exchange.allgather(buf_step[:c], buf_node[:c])
            if part.size > 1:
                order = np.lexsort((g_node, g_step))
                g_step = np.ascontiguousarray(g_step[order])
                g_node = np.ascontiguousarray(g_node[order])
            if spk_step.size < g_step.size:
                spk_step = np.empty(2 * g_step.size, dtype=np.int64)
                spk_node = np.empty_like(spk_step)
            ev_i = deliver(step0, n, g_step, g_node, ev_i)
            part.windows += 1
            part.spikes_exchanged += int(g_step.size)
            done += n
        return np.concatenate(out_steps), np.concatenate(out_nodes)

    def _advance_whole_wafers(self, steps: int, ev_step: np.ndarray, ev_node: np.ndarray,
                              PT: np.ndarray, D: np.ndarray, lif: np.ndarray,
                              adex: np.ndarray, ref_steps: np.ndarray, weight: np.ndarray,
                              rec: tuple) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`_advance_partitioned` for ranks that hold whole wafers (``ev_step/ev_node``:
        the external events of this rank's synapses): the serial kernel on this rank's wafers
        for a window, relays deferred; then the spikes of relayed and recorded neurons of all
        ranks are gathered and relayed in the serial order (:func:`.kernels.relay_spikes`)."""
        part, loc = self.partition, self._local
        W = self._group_window
        owned = part.owned
        local = np.flatnonzero(owned)
        ranges = part.ranges()
        all_lif = adex.size == 0
        lif_l, adex_l = lif[owned[lif]], adex[owned[adex]]
        w_loc = weight[loc["sel"]]
        own_far = int(loc["far_out"][self.neuron_node[local]].sum())
        relay_syn = self._relay_syn
        cap = max(1024, 4 * self.n_neurons)
        spk_step = np.empty(cap, dtype=np.int64)
        spk_node = np.empty(cap, dtype=np.int64)
        spk_count = np.zeros(1, dtype=np.int64)
        out_steps, out_nodes = [], []
        # the kernel's arguments that stay the same for the whole run (the far and relay
        # queues may be reallocated between calls: taken per call)
        neurons = (self.dt, PT, D, all_lif, ranges, lif_l, adex_l, local, ref_steps, self.v,
                   self.w, self.ge, self.gi, self.refrac, self.i_ext, self.injections.neuron,
                   *self.injections.arrays(), self.neuron_node, loc["ptr"], loc["post"], w_loc,
                   loc["delay"], loc["receptor"], self.ring_e, self.ring_i)
        tables = (loc["far_out"], own_far, loc["stp_index"], self._stp_par, self._stp_state,
                  *self._plasticity_args())
        encoders = self._encoder_args()
        relay_tables = (loc["ptr"], loc["post"], w_loc, loc["delay"], loc["receptor"],
                        loc["stp_index"], self._stp_par, self._stp_state)
        # far-queue rows the external events can take, cumulated
        ev_far = np.concatenate([[0], np.cumsum(loc["far_out"][ev_node])])
        n_all = max(self.n_neurons, 1)
        step, end = self.step, self.step + steps
        while step < end:
            w_end = min(step + W, end)
            got_s, got_n = [], []
            while step < w_end:
                first = int(np.searchsorted(ev_step, step, side="right")) \
                    if step > self.step else 0
                last = int(np.searchsorted(ev_step, w_end, side="right"))
                self._far_reserve(own_far + int(ev_far[last] - ev_far[first]))
                spk_count[0] = 0
                k = kernels.run_steps(
                    step, w_end - step, *neurons, self._far_i, self._far_w, self._far_meta,
                    *tables, ev_step[first:last], ev_node[first:last], self.spike_flag,
                    spk_step, spk_node, spk_count, *encoders, *self._relay_args(), *rec, True)
                got_s.append(spk_step[:spk_count[0]].copy())
                got_n.append(spk_node[:spk_count[0]].copy())
                step += k
                if k == 0 or spk_count[0] > cap // 2:
                    cap *= 2
                    spk_step = np.empty(cap, dtype=np.int64)
                    spk_node = np.empty(cap, dtype=np.int64)
            g_step, g_node = part.exchange.allgather(
                got_s[0] if len(got_s) == 1 else np.concatenate(got_s),
                got_n[0] if len(got_n) == 1 else np.concatenate(got_n))
            if part.size > 1:
                # by step, then neuron (the pairs are unique): one sort of a combined key
                key = np.sort(g_step * n_all + g_node)
                g_step, g_node = key // n_all, key % n_all
            self._rq_reserve(int(relay_syn[g_node].sum()))
            rec_step = np.empty(g_step.size, dtype=np.int64)
            rec_node = np.empty(g_step.size, dtype=np.int64)
            c = kernels.relay_spikes(
                g_step, g_node, self.dt, self.spike_flag, *self._relay_args(), *relay_tables,
                rec_step, rec_node)
            out_steps.append(rec_step[:c])
            out_nodes.append(rec_node[:c])
            part.windows += 1
            part.spikes_exchanged += int(g_step.size)
        return np.concatenate(out_steps), np.concatenate(out_nodes)

    def _plasticity_args(self) -> tuple:
        """The STDP tables and state in the kernel's argument order."""
        c = self._ctl
        if c is None:
            e_f, e_i = np.zeros(0), np.zeros(0, dtype=np.int64)
            ctl = (e_f, e_i, e_f, np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64),
                   e_i, np.zeros((0, 3, 16), dtype=np.int64),
                   np.zeros((0, 2, 4), dtype=np.int64), np.zeros((0, 6), dtype=np.int64))
        else:
            ctl = (self._ctl_next_t, self._ctl_next_row, c["t_row"], c["row_ptr"],
                   c["row_syn_ptr"], c["row_syn"], c["lut"], c["cfg"], c["reset"])
        return (self._plast, self._plast_row, self._pp_set, self._pp_par, self._pp_state, self._hist_row,
                self._hist_t, self._hist_k, self._hist_n, self._hist_tau_inv, self._hist_need,
                self._hist_block, self._hp_par,
                self._hs, self._hw_digital, self._hw_levels, self._hw_csr,
                self._hw_in_ptr, self._hw_in, self._post_last,
                *ctl, self.stdp_counters)

    def _timestamps(self, times: np.ndarray) -> np.ndarray:
        """Spike times (ms) at the hardware's timestamp resolution (unchanged when exact)."""
        if self.time_quantum > 0:
            return np.round(times / self.time_quantum) * self.time_quantum
        return times

    def set_encoders(self, neuron_block: np.ndarray, service_ms: float,
                     neuron_merger: np.ndarray | None = None, merger_service_ms: float = 0.0
                     ) -> None:
        """Event-path limits of neuron spikes: ``neuron_block[i]`` global neuron-block id of
        neuron i (-1: unlimited), one event per ``service_ms`` per block's priority encoder;
        then ``neuron_merger[i]`` global DNC-merger id, one event per ``merger_service_ms``;
        each stage with one waiting register."""
        self.neuron_block = np.asarray(neuron_block, dtype=np.int64)
        self.block_busy = np.full(int(max(self.neuron_block.max(initial=-1) + 1, 1)), -np.inf)
        self.encoder_service = float(service_ms)
        if neuron_merger is not None:
            self.neuron_merger = np.asarray(neuron_merger, dtype=np.int64)
            self.merger_busy = np.full(int(max(self.neuron_merger.max(initial=-1) + 1, 1)),
                                       -np.inf)
            self.merger_service = float(merger_service_ms)

    def set_relays(self, neuron: np.ndarray, node: np.ndarray, up: np.ndarray,
                   down: np.ndarray, spacing: np.ndarray, depth: int = 16) -> None:
        """Off-wafer relays (multi-wafer systems, :func:`.kernels._relay`): relay ``r``
        carries the spikes of neuron ``neuron[r]`` to the synapses of node ``node[r]`` (a
        node without events of its own, whose synapses are the neuron's on another wafer)
        through the FIFO channels ``up[r]`` (the neuron's HICANN link and FPGA; the same
        for all relays of a neuron) and ``down[r]`` (the target wafer's FPGA and HICANN
        link); ``spacing[c]`` ms per event of channel c, ``depth`` entries per FIFO; -1:
        no channel.  Replaces the previous relays."""
        neuron = np.asarray(neuron, dtype=np.int64)
        order = np.argsort(neuron, kind="stable")
        counts = np.bincount(neuron, minlength=self.n_neurons) if neuron.size else \
            np.zeros(self.n_neurons, dtype=np.int64)
        up = np.asarray(up, dtype=np.int64).reshape(-1, 2)
        rl_up = np.full((self.n_neurons, 2), -1, dtype=np.int64)
        rl_up[neuron] = up
        self.relay_spacing = np.asarray(spacing, dtype=float)
        self._rl = {
            "ptr": (np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
                    if neuron.size else np.zeros(0, dtype=np.int64)),
            "neuron": neuron[order],
            "node": np.asarray(node, dtype=np.int64)[order],
            "up": rl_up,
            "down": np.ascontiguousarray(np.asarray(down, dtype=np.int64).reshape(-1, 2)[order]),
            "last": np.full(self.relay_spacing.size, -np.inf),
            "depth": int(depth)}
        #: relayed events: [delivered, lost going up, lost going down]
        self.relay_counts = np.zeros(3, dtype=np.int64)
        self._structure_dirty = True

    def set_replicas(self, original: np.ndarray, replica: np.ndarray) -> None:
        """Spike sources played into several wafers: every event of node ``original[k]`` is
        also an event of node ``replica[k]`` (which has its own input FIFOs and synapses)."""
        original = np.asarray(original, dtype=np.int64)
        order = np.argsort(original, kind="stable")
        self._rep_original = original[order]
        self._rep_node = np.asarray(replica, dtype=np.int64)[order]

    def _with_replicas(self, step, node, time):
        """The window's external events plus their copies for the replica nodes."""
        if not self._rep_node.size or not node.size:
            return step, node, time
        lo = np.searchsorted(self._rep_original, node, side="left")
        hi = np.searchsorted(self._rep_original, node, side="right")
        n = hi - lo
        if not n.any():
            return step, node, time
        ev = np.repeat(np.arange(node.size), n)
        within = np.arange(ev.size) - np.repeat(np.cumsum(n) - n, n)
        copies = self._rep_node[lo[ev] + within]
        return (np.concatenate([step, step[ev]]), np.concatenate([node, copies]),
                np.concatenate([time, time[ev]]))

    def _encoder_args(self) -> tuple:
        """The priority encoders and DNC mergers (:meth:`set_encoders`) in the kernels'
        argument order."""
        return (self.neuron_block, self.block_busy, self.encoder_service, self.encoder_sent,
                self.encoder_lost, self.neuron_merger, self.merger_busy, self.merger_service,
                self.merger_lost)

    def _relay_args(self) -> tuple:
        r = self._rl
        return (r["ptr"], r["node"], r["up"], r["down"], r["mine"], r["need"],
                self.relay_spacing, r["last"], r["depth"], self.relay_counts, self._rq_head,
                self._rq_tail, self._rq_i, self._rq_w, self._rq_meta)

    def _relay_synapses(self) -> np.ndarray:
        """Per neuron: the synapses of its relays (relay-queue rows one spike can take)."""
        r = self._rl
        out = np.zeros(self.n_neurons, dtype=np.int64)
        if not r["neuron"].size:
            return out
        np.add.at(out, r["neuron"], np.diff(self._ptr)[r["node"]])
        return out

    def _ref_steps(self) -> np.ndarray:
        # NEST: Time(ms=t_ref).get_steps() rounds to the nearest step
        return np.rint(self.tau_refrac / self.dt).astype(np.int64)

    def _loss_rng(self) -> np.random.Generator:
        if not hasattr(self, "_rng_loss"):
            self._rng_loss = np.random.default_rng(0)
        return self._rng_loss

    def _record_window(self, every: np.ndarray, n_channels: np.ndarray) -> int | None:
        """Steps per kernel call while several record requests share its scratch buffer
        (``RECORD_SCRATCH_BYTES``, at least ``RECORD_MIN_WINDOW_STEPS``); None with at most
        one request, which the kernel writes directly."""
        if len(every) <= 1:
            return None
        bytes_per_step = float(np.sum(8.0 * n_channels / every))
        return max(RECORD_MIN_WINDOW_STEPS, int(RECORD_SCRATCH_BYTES // max(bytes_per_step, 1.0)))

    def _record_groups(self, step0: int):
        """Pack record requests into kernel arrays; takes the sample at the current time for
        requests that have not sampled it yet (first run after ``record()``/``reset()``)."""
        rids = sorted(self.records)
        grp_every, grp_ptr, ch_neuron, ch_var = [], [0], [], []
        for rid in rids:
            rec = self.records[rid]
            if step0 % rec.every == 0 and rec.last_step < step0:
                rec.samples.append(self._state_array(rec.variable)[rec.neurons][None, :].copy())
                rec.last_step = step0
            grp_every.append(rec.every)
            ch_neuron.append(rec.neurons)
            ch_var.append(np.full(rec.neurons.size, _VAR_CODE[rec.variable], dtype=np.int64))
            grp_ptr.append(grp_ptr[-1] + rec.neurons.size)
        cat = (lambda xs, dt_: np.concatenate(xs).astype(dt_) if xs else np.zeros(0, dt_))
        return (np.array(grp_every, dtype=np.int64), np.array(grp_ptr, dtype=np.int64),
                cat(ch_neuron, np.int64), cat(ch_var, np.int64), rids)
