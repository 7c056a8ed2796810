"""Injected currents: time-varying external currents into neurons, evaluated per time step
inside the compiled loop (no Python per step).

An *injection* adds a current (nA) to one neuron.  The current of step ``s`` (it holds during
[s dt, (s + 1) dt), like a NEST current generator's value for that step) is a pure function of
``s`` and the injection's row, so a run split into several ``run()`` calls gives the same
currents as one run, and the recorded current (:meth:`Injections.evaluate`) is exactly what
the neurons got.  Four kinds:

* ``TABLE``: piecewise constant, ``value[j]`` from step ``step[j]`` on (0 before the first
  entry): PyNN's DCSource and StepCurrentSource;
* ``AC``: ``offset + amplitude * sin(omega * (s - start) + phase)`` for start <= s < stop
  (``omega`` in radians per step): ACSource;
* ``NOISE``: ``mean + stdev * z_m`` for start <= s < stop, ``m = (s - start) // n_per``, where
  ``z_m`` is a standard normal of a counter-based stream (SplitMix64 of the injection's key and
  ``m``, Box-Muller; :mod:`.sources`): NoisyCurrentSource, a new value every ``n_per`` steps;
* ``SLOTS``: a pattern of ``n`` values of ``slot`` ms each, repeated from t = 0; the step's
  current is the pattern's exact mean over the step (the wafer's current stimulus, whose slots
  do not fall on the time grid).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .sources import _uniform

KIND_TABLE, KIND_AC, KIND_NOISE, KIND_SLOTS = range(4)
KIND_NAMES = ("table", "ac", "noise", "slots")


@njit(cache=True, inline="always")
def _normal(key, m):
    """Standard normal number ``m`` of the stream ``key`` (Box-Muller on two uniforms)."""
    c = np.uint64(m) * np.uint64(2)
    u1 = _uniform(key, c)
    u2 = _uniform(key, c + np.uint64(1))
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


@njit(cache=True, _nrt=False)
def current_at(k, s, dt, kind, ipar, fpar, key, tab_step, tab_val):
    """Current (nA) of injection ``k`` during step ``s`` (see the module docstring for the
    meaning of ``ipar``, ``fpar``, ``key`` and the tables)."""
    kd = kind[k]
    if kd == KIND_TABLE:
        p0 = ipar[k, 0]
        lo = p0
        hi = ipar[k, 1]
        while lo < hi:                      # last entry with tab_step <= s
            mid = (lo + hi) >> 1
            if tab_step[mid] <= s:
                lo = mid + 1
            else:
                hi = mid
        return tab_val[lo - 1] if lo > p0 else 0.0
    if kd == KIND_AC or kd == KIND_NOISE:
        s0 = ipar[k, 0]
        if s < s0 or s >= ipar[k, 1]:
            return 0.0
        if kd == KIND_AC:
            return fpar[k, 0] + fpar[k, 1] * np.sin(fpar[k, 2] * (s - s0) + fpar[k, 3])
        return fpar[k, 0] + fpar[k, 1] * _normal(key[k], (s - s0) // ipar[k, 2])
    # KIND_SLOTS: exact mean of the periodic pattern over [s dt, (s + 1) dt)
    p0 = ipar[k, 0]
    n = ipar[k, 1] - p0
    slot = fpar[k, 0]
    period = n * slot
    t0 = s * dt
    pos = t0 - np.floor(t0 / period) * period
    j = min(int(pos / slot), n - 1)
    remaining = dt
    acc = 0.0
    for _ in range(int(dt / slot) + n + 3):   # bounded: each pass ends a slot or the step
        if remaining <= 1e-12 * dt:
            break
        end = (j + 1) * slot
        take = min(end - pos, remaining)
        if take > 0.0:
            acc += tab_val[p0 + j] * take
            remaining -= take
        pos = end
        j += 1
        if j == n:
            j = 0
            pos = 0.0
    return acc / dt


@njit(cache=True, _nrt=False)
def inject(s, dt, neuron, kind, ipar, fpar, key, tab_step, tab_val, i_ext):
    """Set ``i_ext`` of every injected neuron to the sum of its injections during step ``s``
    (neurons without injections keep ``i_ext`` = 0)."""
    n = neuron.shape[0]
    for k in range(n):
        i_ext[neuron[k]] = 0.0
    for k in range(n):
        i_ext[neuron[k]] += current_at(k, s, dt, kind, ipar, fpar, key, tab_step, tab_val)


@njit(cache=True)
def _evaluate(rows, steps, dt, kind, ipar, fpar, key, tab_step, tab_val):
    out = np.empty((rows.shape[0], steps.shape[0]))
    for r in range(rows.shape[0]):
        for j in range(steps.shape[0]):
            out[r, j] = current_at(rows[r], steps[j], dt, kind, ipar, fpar, key, tab_step,
                                   tab_val)
    return out


def _rows(n: int, width: int, dtype) -> np.ndarray:
    return np.zeros((n, width), dtype=dtype)


@dataclass
class Injections:
    """A table of injections (one row each): the target ``neuron`` (engine neuron index), the
    ``kind``, integer parameters ``ipar`` (start step, stop step, steps per noise value; for
    ``TABLE`` and ``SLOTS``: the rows' range in ``tab_step``/``tab_val``), float parameters
    ``fpar`` (AC: offset, amplitude, omega per step, phase; NOISE: mean, stdev; SLOTS: slot
    length in ms), the noise stream ``key`` and the tables."""
    neuron: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    kind: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ipar: np.ndarray = field(default_factory=lambda: _rows(0, 3, np.int64))
    fpar: np.ndarray = field(default_factory=lambda: _rows(0, 4, np.float64))
    key: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint64))
    tab_step: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    tab_val: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def size(self) -> int:
        return int(self.neuron.size)

    # ------------------------------------------------------------ one-row constructors
    @classmethod
    def _one(cls, neuron: int, kind: int, ipar=(0, 0, 1), fpar=(0.0, 0.0, 0.0, 0.0),
             key: int = 0, tab_step=(), tab_val=()) -> "Injections":
        return cls(np.array([neuron], np.int64), np.array([kind], np.int64),
                   np.array([ipar], np.int64), np.array([fpar], np.float64),
                   np.array([key], np.uint64), np.asarray(tab_step, np.int64).ravel(),
                   np.asarray(tab_val, np.float64).ravel())

    @classmethod
    def table(cls, neuron: int, steps, values) -> "Injections":
        """Piecewise constant: ``values[j]`` (nA) from step ``steps[j]`` (sorted) on."""
        steps = np.asarray(steps, np.int64).ravel()
        return cls._one(neuron, KIND_TABLE, (0, steps.size, 1), tab_step=steps,
                        tab_val=values)

    @classmethod
    def ac(cls, neuron: int, start: int, stop: int, offset: float, amplitude: float,
           omega: float, phase: float) -> "Injections":
        """A sine (nA) from step ``start`` to ``stop`` (excluded); ``omega`` rad per step,
        ``phase`` rad at ``start``."""
        return cls._one(neuron, KIND_AC, (start, stop, 1), (offset, amplitude, omega, phase))

    @classmethod
    def noise(cls, neuron: int, start: int, stop: int, n_per: int, mean: float,
              stdev: float, key: int) -> "Injections":
        """Gaussian values (nA) from step ``start`` to ``stop``, a new one every ``n_per``
        steps, from the stream ``key``."""
        if n_per < 1:
            raise ValueError(f"noise interval of {n_per} steps: must be >= 1")
        return cls._one(neuron, KIND_NOISE, (start, stop, n_per), (mean, stdev, 0.0, 0.0),
                        key=key)

    @classmethod
    def slots(cls, neuron: int, slot_ms: float, values) -> "Injections":
        """The periodic pattern ``values`` (nA), ``slot_ms`` each, from t = 0."""
        values = np.asarray(values, np.float64).ravel()
        if not slot_ms > 0 or values.size == 0:
            raise ValueError("a slot pattern needs slots > 0 ms and at least one value")
        return cls._one(neuron, KIND_SLOTS, (0, values.size, 1), (slot_ms, 0.0, 0.0, 0.0),
                        tab_step=np.zeros(values.size, np.int64), tab_val=values)

    @classmethod
    def concat(cls, parts: list["Injections"]) -> "Injections":
        """All rows of ``parts`` in order (table ranges shifted)."""
        if not parts:
            return cls()
        offsets = np.cumsum([0] + [p.tab_step.size for p in parts[:-1]])
        ipar = []
        for p, off in zip(parts, offsets):
            q = p.ipar.copy()
            tabular = (p.kind == KIND_TABLE) | (p.kind == KIND_SLOTS)
            q[tabular, :2] += off
            ipar.append(q)
        return cls(np.concatenate([p.neuron for p in parts]),
                   np.concatenate([p.kind for p in parts]), np.concatenate(ipar),
                   np.concatenate([p.fpar for p in parts]),
                   np.concatenate([p.key for p in parts]),
                   np.concatenate([p.tab_step for p in parts]),
                   np.concatenate([p.tab_val for p in parts]))

    # ------------------------------------------------------------ evaluation
    def arrays(self) -> tuple:
        """The kernel's arguments (kind, ipar, fpar, key, tab_step, tab_val)."""
        return (self.kind, self.ipar, self.fpar, self.key, self.tab_step, self.tab_val)

    def evaluate(self, steps, dt: float, rows=None) -> np.ndarray:
        """Currents (nA), shape (rows, steps), of the injections ``rows`` (default: all)
        during the given steps: exactly what the time loop injects."""
        rows = np.arange(self.size) if rows is None else np.asarray(rows, np.int64)
        return _evaluate(np.ascontiguousarray(rows, dtype=np.int64),
                         np.ascontiguousarray(steps, dtype=np.int64), float(dt),
                         *self.arrays())
