"""Simulator state of ``pyNN.bss_emu``: the ``State`` singleton PyNN's common code talks to.

It owns the engine network, the lists of populations and projections, and assembles the
synapse arrays of all projections into the engine before a run (again only when a projection
was added; weight changes are pushed without rebuilding).
"""
from __future__ import annotations

import numbers
import os
import sys
import warnings

import numpy as np
from pyNN import common, errors

from .engine import Network

name = "bss_emu"

#: progress bars (tqdm, on stderr) for long mapping and long runs: ``True`` always, ``False``
#: never, ``None`` (default) only when stderr is a terminal, so tests, CI and redirected
#: output stay quiet.  The environment variable ``PYNN_BSS_EMU_PROGRESS`` (``1``/``0``) sets
#: the initial value.
PROGRESS_DEFAULT: bool | None = {"1": True, "0": False}.get(
    os.environ.get("PYNN_BSS_EMU_PROGRESS", ""))
#: the current setting; ``setup(progress=...)`` sets it (None restores the default)
PROGRESS: bool | None = PROGRESS_DEFAULT
#: a run gets a progress bar from this many time steps on (1e6 steps = 100 s at dt = 0.1 ms)
PROGRESS_MIN_STEPS = 1_000_000
#: a mapping gets a progress bar (over its stages) from this many synapses on
PROGRESS_MIN_SYNAPSES = 100_000
#: a run with a progress bar advances the engine in this many chunks (at least
#: ``PROGRESS_MIN_CHUNK_STEPS`` steps each); the chunks give the same spikes as one run
PROGRESS_CHUNKS = 100
PROGRESS_MIN_CHUNK_STEPS = 10_000


def progress_enabled() -> bool:
    """Whether progress bars are shown (see :data:`PROGRESS`)."""
    if PROGRESS is None:
        try:
            return sys.stderr is not None and sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False
    return bool(PROGRESS)


def progress_bar(total: int | None, desc: str, unit: str = "it", unit_scale=False):
    """A tqdm bar on stderr, or None when bars are off (or tqdm is missing)."""
    if not progress_enabled():
        return None
    try:
        from tqdm import tqdm
    except ImportError:   # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, file=sys.stderr,
                leave=False, dynamic_ncols=True)


class ID(int, common.IDMixin):
    """A cell's global identifier (PyNN convention: an int that knows its population)."""

    def __init__(self, n: int) -> None:
        int.__init__(n)
        common.IDMixin.__init__(self)


class State(common.control.BaseState):
    """Global simulator state; times in ms."""

    def __init__(self) -> None:
        super().__init__()
        self.mpi_rank = 0
        self.num_processes = 1
        self.dt = 0.1
        self.min_delay: float | str = "auto"
        self.max_delay: float | str = "auto"
        self.options: dict = {}
        self.ended = False
        self.warnings_given: set[str] = set()
        self.clear()

    # ------------------------------------------------------------------ structure
    def clear(self) -> None:
        """Forget the network (called by ``setup()``)."""
        self.recorders = set()
        self.write_on_end = []
        self.populations: list = []
        self.projections: list = []
        self.id_counter = 0
        self.population_counter = 0
        self.segment_counter = -1
        self.network = Network(self.dt)
        self._synapses_dirty = True
        self.mapper = None
        self.mapping_dirty = True
        self.weights_dirty = False
        self.neurons_dirty = False
        self.reset()

    def new_network(self, dt: float) -> None:
        self.dt = dt
        self.network = Network(dt)

    @property
    def t(self) -> float:
        """Current time in ms."""
        return self.network.step * self.dt

    def warn_once(self, key: str, message: str, category=UserWarning, stacklevel: int = 3
                  ) -> None:
        """Issue ``message`` once per ``setup()`` for ``key`` (notices about hardware
        differences that every run would otherwise repeat)."""
        if key in self.warnings_given:
            return
        self.warnings_given.add(key)
        warnings.warn(message, category, stacklevel=stacklevel + 1)

    def check_usable(self) -> None:
        if self.ended:
            raise RuntimeError("the simulator has been ended with end(); call setup() again "
                               "to start a new simulation")

    def add_projection(self, projection) -> None:
        self.projections.append(projection)
        self._synapses_dirty = True
        self.mapping_dirty = True

    def _ensure_mapped(self) -> None:
        """Map the network onto the wafer if it has not been mapped since it last changed."""
        if self.mapper is None or not self.mapping_dirty:
            return
        if self.mapper.result is not None:
            from .mapper import remap_warning
            remap_warning()
        result = self.mapper.map(self.populations, self.projections)
        try:
            self.mapper.realise_neurons(self.populations, self.network)
        except Exception:
            self.mapper.result = None   # not mapped: the next run maps again, no warning
            raise
        self.neurons_dirty = False
        self.mapper.configure_event_paths(self.populations, self.network)
        self.mapper.realise_weights(self.projections, self.network)
        self.weights_dirty = False
        delays = self.mapper.routed_delays(self.dt)
        start = 0
        for p in self.projections:
            n = len(p)
            p._realized = result.realized[start:start + n].copy()
            p._routed_delay = delays[start:start + n].copy()
            start += n
        self.mapper.realise_stp(self.projections)
        if len(result.realized):
            from .mapper import routed_delay_warning
            routed_delay_warning()
        self.mapping_dirty = False
        self._synapses_dirty = True

    def ensure_weights_realised(self) -> None:
        """After Projection.set(weight=...) in wafer mode: quantise again (no remapping) and
        give the engine the realised weights."""
        if self.mapper is None or not self.weights_dirty or self.mapping_dirty:
            return
        self.mapper.realise_weights(self.projections, self.network)
        self.weights_dirty = False
        if not self._synapses_dirty:
            for p in self.projections:
                p._push_weights()

    def _sync_synapses(self) -> None:
        """Give the engine the synapses of all projections (COO, in projection order)."""
        if not self._synapses_dirty:
            return
        # lost synapses (mapping) never reach the engine
        parts = [tuple(a[p._realized] for a in p._engine_arrays()) for p in self.projections]
        offset = 0
        for p, arrays in zip(self.projections, parts):
            n = arrays[0].size
            p._engine_slice = slice(offset, offset + n)
            offset += n
        if parts:
            pre, post, weight, delay, receptor, stp = (np.concatenate(a) for a in zip(*parts))
        else:
            pre = post = receptor = np.zeros(0, dtype=np.int64)
            weight = delay = np.zeros(0)
            stp = np.zeros((0, 3))
        self.network.set_synapses(pre, post, weight, delay, receptor, stp)
        self._synapses_dirty = False

    # ------------------------------------------------------------------ running
    def run(self, simtime: float) -> None:
        self.run_until(self.t + simtime)

    def run_until(self, tstop: float) -> None:
        self.check_usable()
        n_steps = int(round((tstop - self.t) / self.dt))
        if n_steps < 0:
            raise ValueError(f"run_until({tstop}): time {tstop} ms is in the past "
                             f"(current time {self.t} ms)")
        self._ensure_mapped()
        if self.mapper is not None:
            if self.neurons_dirty:   # Population.set() after mapping: program them again
                self.mapper.realise_neurons(self.populations, self.network)
                self.neurons_dirty = False
            self.mapper.check_analog_outputs(self.populations)
        self.ensure_weights_realised()
        self._sync_synapses()
        self.running = True
        if n_steps == 0:
            return
        # a long run gets a progress bar and advances the engine in chunks: split runs give
        # the same spikes (test_plots_cli: test_chunked_run_is_bit_identical, and on the
        # wafer, where FIFO-delayed stimulus carries over, test_wafer_run_split_invariance)
        bar = progress_bar(n_steps, "bss_emu run", unit="ms", unit_scale=self.dt) \
            if n_steps >= PROGRESS_MIN_STEPS else None
        chunk = n_steps if bar is None else \
            max(PROGRESS_MIN_CHUNK_STEPS, -(-n_steps // PROGRESS_CHUNKS))
        try:
            done = 0
            while done < n_steps:
                k = min(chunk, n_steps - done)
                times, nodes = self.network.run(k)
                self._distribute_spikes(times, nodes)
                done += k
                if bar is not None:
                    bar.update(k)
        finally:
            if bar is not None:
                bar.close()

    def _distribute_spikes(self, times: np.ndarray, nodes: np.ndarray) -> None:
        if times.size == 0:
            return
        starts = np.array([p._node0 for p in self.populations])
        order = np.argsort(starts)
        owner = order[np.searchsorted(starts[order], nodes, side="right") - 1]
        for k in np.unique(owner):
            sel = owner == k
            pop = self.populations[k]
            pop.recorder._store_spikes(nodes[sel] - pop._node0, times[sel])

    def reset(self) -> None:
        """Back to t = 0 with the initial state; a new neo Segment starts."""
        self.network.reset()
        for recorder in self.recorders:
            recorder._clear_simulator()
        self.running = False
        self.t_start = 0
        self.segment_counter += 1


state = State()


def check_positive_duration(name: str, value: float) -> float:
    """Validate a duration in ms (a finite real number >= 0) and return it as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise errors.InvalidParameterValueError(
            f"{name}={value!r}: expected a number of milliseconds, not "
            f"{type(value).__name__}")
    v = float(value)
    if not np.isfinite(v) or v < 0:
        raise ValueError(f"{name}={value!r} ms: must be a finite duration >= 0 ms")
    return v
