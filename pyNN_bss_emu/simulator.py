"""Simulator state of ``pyNN.bss_emu``: the ``State`` singleton PyNN's common code talks to.

It holds the backend chosen in ``setup()`` (:mod:`pyNN_bss_emu.backend`: the ideal engine or
the emulated wafer), which owns the network and everything realised, and the PyNN objects
of the current simulation (populations, projections, recorders) for PyNN's bookkeeping.
"""
from __future__ import annotations

import numbers

import numpy as np
from pyNN import common, errors

from .backend import Backend, SetupOptions, initial_backend

name = "bss_emu"


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
        self.options = SetupOptions()
        self.ended = False
        self.backend: Backend = initial_backend(self.dt)
        self.clear()

    # ------------------------------------------------------------------ structure
    def clear(self) -> None:
        """Forget the PyNN objects of the previous simulation (called by ``setup()``)."""
        self.recorders = set()
        self.write_on_end = []
        self.populations: list = []
        self.projections: list = []
        self.id_counter = 0
        self.segment_counter = -1
        self.reset()

    def start(self, backend: Backend, options: SetupOptions, dt: float) -> None:
        """A new simulation on ``backend`` (``setup()``)."""
        self.options = options
        self.dt = dt
        self.ended = False
        self.backend = backend
        self.clear()

    @property
    def network(self):
        """The engine network of the current backend (for inspection)."""
        return self.backend.network

    @property
    def t(self) -> float:
        """Current time in ms."""
        return self.backend.t

    def warn_once(self, key: str, message: str, category=UserWarning, stacklevel: int = 3
                  ) -> None:
        """Issue ``message`` once per ``setup()`` for ``key``."""
        self.backend.warn_once(key, message, category, stacklevel + 1)

    def check_usable(self) -> None:
        if self.ended:
            raise RuntimeError("the simulator has been ended with end(); call setup() again "
                               "to start a new simulation")

    def check_current(self, obj, what: str) -> None:
        """Refuse a PyNN object made before the last ``setup()``: its cells and connections
        belong to a network that no longer exists (and its engine indices would now name
        other cells)."""
        if getattr(obj, "_backend", None) is not self.backend:
            raise RuntimeError(
                f"{what} was created before the last setup(), which discarded its network; "
                "create it again after setup()")

    # ------------------------------------------------------------------ running
    def run(self, simtime: float) -> None:
        self.run_until(self.t + simtime)

    def run_until(self, tstop: float) -> None:
        self.check_usable()
        n_steps = int(round((tstop - self.t) / self.dt))
        if n_steps < 0:
            raise ValueError(f"run_until({tstop}): time {tstop} ms is in the past "
                             f"(current time {self.t} ms)")
        times, nodes = self.backend.run(n_steps)
        self.running = True
        self._distribute_spikes(times, nodes)

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
        self.backend.reset()
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
