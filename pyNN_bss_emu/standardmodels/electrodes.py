"""PyNN's current sources on ``pyNN.bss_emu``: DCSource, StepCurrentSource, ACSource and
NoisyCurrentSource, with PyNN's parameters and units (nA, ms, Hz, degrees).

The sources behave as in ``pyNN.nest``: ``inject_into(cells)`` (a Population, PopulationView,
Assembly or list of IDs; ``Population.inject(source)`` and ``ID.inject(source)`` call it),
parameters changed between runs (``source.amplitude = 0.5``,
``source.set_parameters(...)``) act from the current time on, ``source.record()`` and
``source.get_data()`` (a neo AnalogSignal in nA, one sample per time step from t = 0: the
current that flows during [t, t + dt)).  Times are rounded to the time grid; a current change
at t acts on the membrane from t + dt on (NEST's convention).

In ideal mode the engine injects the sources exactly; on the wafer each stimulated neuron gets
an FG current stimulus of its own (:mod:`pyNN_bss_emu.backend.current_sources`,
:mod:`pyNN_bss_emu.hardware.current_stimulus`): 129 slots of 10 bits played periodically.
"""
from __future__ import annotations

import numbers

import numpy as np
from pyNN import common, errors
from pyNN.parameters import ParameterSpace, Sequence
from pyNN.standardmodels import StandardCurrentSource, build_translations, electrodes

from .. import simulator

__all__ = ["DCSource", "StepCurrentSource", "ACSource", "NoisyCurrentSource",
           "CURRENT_SOURCE_TYPES"]


def _identity(default_parameters: dict):
    return build_translations(*[(name, name) for name in default_parameters])


def _targets(cells) -> list[tuple[common.Population, np.ndarray]]:
    """(population, indices) of the cells of a Population, PopulationView, Assembly, one ID
    or an iterable of IDs."""
    if isinstance(cells, common.Assembly):
        return [t for p in cells.populations for t in _targets(p)]
    if isinstance(cells, common.PopulationView):
        idx = np.asarray(cells.index_in_grandparent(np.arange(cells.size)), dtype=np.int64)
        return [(cells.grandparent, idx)]
    if isinstance(cells, common.Population):
        return [(cells, np.arange(cells.size))]
    ids = [cells] if isinstance(cells, numbers.Integral) else list(cells)
    groups: dict[int, tuple[common.Population, list[int]]] = {}
    for cell in ids:
        parent = getattr(cell, "parent", None)
        if parent is None:
            raise TypeError(f"inject_into: {cell!r} is not a cell (an ID of a Population); "
                            "give a Population, PopulationView, Assembly or a list of IDs")
        if isinstance(parent, common.PopulationView):
            parent = parent.grandparent
        groups.setdefault(id(parent), (parent, []))[1].append(int(parent.id_to_index(cell)))
    return [(pop, np.asarray(idx, dtype=np.int64)) for pop, idx in groups.values()]


def _number(model: str, name: str, value, lo: float | None = None,
            lo_open: bool = False, allow_inf: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise errors.InvalidParameterValueError(
            f"{model}: parameter '{name}' = {value!r} is not a number")
    v = float(value)
    if np.isnan(v) or (np.isinf(v) and not (allow_inf and v > 0)):
        raise errors.InvalidParameterValueError(
            f"{model}: parameter '{name}' = {value!r} must be finite")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        raise errors.InvalidParameterValueError(
            f"{model}: parameter '{name}' = {value!r} must be {'>' if lo_open else '>='} "
            f"{lo:g}")
    return v


class _CurrentSource(StandardCurrentSource):
    """Shared part: parameters kept here in PyNN units (identity translations) and handed to
    the backend as a whole, which owns the targets and what is injected."""

    def __init__(self, **parameters) -> None:
        state = simulator.state
        state.check_usable()
        super().__init__(**parameters)
        object.__setattr__(self, "_native", {})
        object.__setattr__(self, "_backend", state.backend)
        object.__setattr__(self, "_record", None)
        ps = ParameterSpace(self.default_parameters, self.get_schema(), shape=(1,))
        ps.update(**parameters)
        native = self._checked(self._plain(self.translate(ps)))   # before the backend
        object.__setattr__(self, "_record",
                           state.backend.create_current_source(type(self).__name__))
        self._store(native)

    # ------------------------------------------------------------ parameters
    @staticmethod
    def _plain(parameters: ParameterSpace) -> dict:
        parameters.evaluate(simplify=True)
        out = {}
        for name, value in parameters.items():
            if isinstance(value, Sequence):
                value = value.value
            elif isinstance(value, np.ndarray) and value.dtype == object and value.size == 1:
                value = value.item()
                value = value.value if isinstance(value, Sequence) else value
            elif isinstance(value, np.ndarray) and value.size == 1:
                value = value.item()
            out[name] = value
        return out

    def _checked(self, native: dict) -> dict:
        """Validated native parameters (complete): hook per model."""
        raise NotImplementedError

    def _store(self, native: dict) -> None:
        object.__setattr__(self, "_native", native)
        self._backend.set_current_source_parameters(self._record, dict(native))

    def set_native_parameters(self, parameters: ParameterSpace) -> None:
        simulator.state.check_current(self, f"{type(self).__name__}")
        new = dict(self._native)
        new.update(self._plain(parameters))
        self._store(self._checked(new))

    def get_native_parameters(self) -> ParameterSpace:
        # arrays as plain arrays (as pyNN.nest gives them): ``source.times[0]`` works
        return ParameterSpace({k: v.copy() if isinstance(v, np.ndarray) else v
                               for k, v in self._native.items()})

    # ------------------------------------------------------------ targets and recording
    def inject_into(self, cells) -> None:
        """Inject this source's current into ``cells`` (a Population, PopulationView,
        Assembly or list of IDs); it adds to other sources injected into the same cells."""
        state = simulator.state
        state.check_current(self, f"{type(self).__name__}")
        targets = _targets(cells)
        for pop, _ in targets:
            state.check_current(pop, f"population '{pop.label}'")
            if not pop.celltype.injectable or pop._record.is_source:
                raise TypeError("Can't inject current into a spike source.")
        for pop, idx in targets:
            if idx.size:
                self._backend.inject_current(self._record, pop._record, idx)

    def record(self) -> None:
        """Record the current (``get_data()``): the current of the first cell the source was
        injected into, as the engine injected it (on the wafer: its FG current stimulus)."""
        simulator.state.check_current(self, f"{type(self).__name__}")
        self._record.recording = True

    def _get_data(self) -> tuple[np.ndarray, np.ndarray]:
        simulator.state.check_current(self, f"{type(self).__name__}")
        if not self._record.recording:
            raise RuntimeError(f"{type(self).__name__}: call record() before get_data()")
        return self._backend.current_trace(self._record)

    def _check_times(self, native: dict) -> None:
        model = type(self).__name__
        native["start"] = _number(model, "start", native["start"], 0.0)
        native["stop"] = _number(model, "stop", native["stop"], 0.0, allow_inf=True)


class DCSource(_CurrentSource, electrodes.DCSource):
    __doc__ = electrodes.DCSource.__doc__
    translations = _identity(electrodes.DCSource.default_parameters)

    def _checked(self, native: dict) -> dict:
        self._check_times(native)
        native["amplitude"] = _number("DCSource", "amplitude", native["amplitude"])
        return native


class ACSource(_CurrentSource, electrodes.ACSource):
    __doc__ = electrodes.ACSource.__doc__
    translations = _identity(electrodes.ACSource.default_parameters)

    def _checked(self, native: dict) -> dict:
        self._check_times(native)
        for name in ("amplitude", "offset", "phase"):
            native[name] = _number("ACSource", name, native[name])
        native["frequency"] = _number("ACSource", "frequency", native["frequency"], 0.0)
        return native


class NoisyCurrentSource(_CurrentSource, electrodes.NoisyCurrentSource):
    __doc__ = (electrodes.NoisyCurrentSource.__doc__ or "") + """
    On ``pyNN.bss_emu`` every target cell gets its own sequence (as in NEST), a new value
    every ``dt`` from ``start`` on; the values come from a counter-based stream seeded by
    ``setup(stimulus_seed=...)``, the source's creation number, the trial (the number of
    ``reset()`` calls) and the target's position, so equal seeds give bit-identical currents
    whatever the run lengths; ``rng`` is not used.
    """
    translations = _identity(electrodes.NoisyCurrentSource.default_parameters)

    def __init__(self, **parameters) -> None:
        parameters.pop("rng", None)     # our stream: see the class docstring
        super().__init__(**parameters)

    def _checked(self, native: dict) -> dict:
        self._check_times(native)
        native["mean"] = _number("NoisyCurrentSource", "mean", native["mean"])
        native["stdev"] = _number("NoisyCurrentSource", "stdev", native["stdev"], 0.0)
        step = simulator.state.dt
        d = _number("NoisyCurrentSource", "dt", native["dt"], 0.0, lo_open=True)
        ratio = d / step
        if ratio < 1 - 1e-9 or abs(ratio - round(ratio)) > 1e-9:
            raise ValueError(f"NoisyCurrentSource: dt={d!r} ms must be a multiple of the "
                             f"simulation time step ({step:g} ms)")
        native["dt"] = d
        return native


class StepCurrentSource(_CurrentSource, electrodes.StepCurrentSource):
    __doc__ = electrodes.StepCurrentSource.__doc__
    translations = _identity(electrodes.StepCurrentSource.default_parameters)

    def _checked(self, native: dict) -> dict:
        times = np.atleast_1d(np.asarray(native["times"], dtype=float)).ravel()
        amps = np.atleast_1d(np.asarray(native["amplitudes"], dtype=float)).ravel()
        if times.size != amps.size:
            raise errors.InvalidParameterValueError(
                f"StepCurrentSource: {times.size} times but {amps.size} amplitudes")
        if not (np.all(np.isfinite(times)) and np.all(np.isfinite(amps))):
            raise errors.InvalidParameterValueError(
                "StepCurrentSource: times and amplitudes must be finite")
        if times.size and times.min() < 0:
            raise ValueError("Step current cannot accept negative timestamps.")
        if times.size > 1 and np.min(np.diff(times)) <= 0:
            raise ValueError("Step current timestamps should be monotonically increasing.")
        # times on the grid; of times that fall on one step the last amplitude counts
        dt = simulator.state.dt
        steps = np.rint(times / dt).astype(np.int64)
        uniq, last = np.unique(steps[::-1], return_index=True)
        native["times"] = uniq * dt
        native["amplitudes"] = amps[::-1][last]
        return native


#: the current sources offered (all of PyNN's standard ones)
CURRENT_SOURCE_TYPES = ("DCSource", "ACSource", "StepCurrentSource", "NoisyCurrentSource")
