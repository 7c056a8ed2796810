"""Population, PopulationView and Assembly of ``pyNN.bss_emu``.

A population's native parameters live in numpy arrays here (PyNN units); every change is
pushed to the engine at once (converted and range-checked), so an invalid value raises at
``set()`` time and leaves the stored values untouched.
"""
from __future__ import annotations

import numpy as np
import quantities as pq
from pyNN import common, errors
from pyNN.parameters import ParameterSpace, simplify

from . import simulator
from .engine.sources import stream_keys
from .recording import Recorder
from .standardmodels import cells as our_cells
from .standardmodels import CELL_TYPES


def _warn_current_emulation() -> None:
    simulator.state.warn_once(
        "IF_curr_exp", "IF_curr_exp is emulated: the wafer's synapses are conductance-based, so "
        "each synapse becomes a conductance with reversal potential +20 mV (exc) or -100 mV "
        "(inh) that injects the requested current at the midpoint of v_rest and v_thresh "
        "(within about 10 % over that span)", stacklevel=4)


class Assembly(common.Assembly):
    _simulator = simulator

    @property
    def receptor_types(self) -> list:
        """Receptor types common to all populations, in the first population's order (PyNN's
        version returns them in set order, which made the default receptor random)."""
        common_types = set(self.populations[0].celltype.receptor_types)
        for p in self.populations[1:]:
            common_types &= set(p.celltype.receptor_types)
        return [r for r in self.populations[0].celltype.receptor_types if r in common_types]


def _native_array(name: str, value, size: int, celltype) -> np.ndarray:
    """A native parameter as a numeric array of shape (size,) (object array of sequences for
    ``spike_times``); a clear error for strings, quantities and wrong shapes."""
    model = type(celltype).__name__
    if isinstance(value, pq.Quantity):
        unit = celltype.units.get(name, "PyNN units")
        raise errors.InvalidParameterValueError(
            f"{model}: parameter '{name}' = {value!r}: give a plain number in {unit} "
            "(PyNN parameters carry no units)")
    arr = np.asarray(value)
    if name == "spike_times":
        return np.broadcast_to(arr, (size,)) if arr.ndim == 0 else arr
    if arr.dtype.kind not in "biuf":
        raise errors.InvalidParameterValueError(
            f"{model}: parameter '{name}' = {value!r:.60} is not a number "
            f"(expected {celltype.units.get(name, 'a number')})")
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    if arr.shape != (size,):
        raise errors.InvalidDimensionsError(
            f"{model}: parameter '{name}' has shape {arr.shape}, expected ({size},)")
    return arr.astype(float)


def _grandparent_indices(view) -> np.ndarray:
    return np.asarray(view.index_in_grandparent(np.arange(view.size)), dtype=np.int64)


def node_indices(obj) -> np.ndarray:
    """Engine node index of every cell of a Population, PopulationView or Assembly."""
    if isinstance(obj, common.Assembly):
        return np.concatenate([node_indices(p) for p in obj.populations])
    if isinstance(obj, common.PopulationView):
        return obj.grandparent._nodes[_grandparent_indices(obj)]
    return obj._nodes


def neuron_indices(obj) -> np.ndarray:
    """Engine neuron index (state row) of every cell; spike sources cannot receive input."""
    if isinstance(obj, common.Assembly):
        return np.concatenate([neuron_indices(p) for p in obj.populations])
    pop = obj.grandparent if isinstance(obj, common.PopulationView) else obj
    if pop._neuron_index is None:
        raise errors.ConnectionError(
            f"population '{pop.label}' of {type(pop.celltype).__name__} cannot be the target "
            "of a projection: spike sources have no synaptic inputs")
    if isinstance(obj, common.PopulationView):
        return pop._neuron_index[_grandparent_indices(obj)]
    return pop._neuron_index


class _ParameterAccess:
    """``_get_parameters``/``_set_parameters`` shared by Population and PopulationView; works
    on the owning population's arrays at ``self._indices()``."""

    def _owner(self):
        raise NotImplementedError

    def _indices(self):
        raise NotImplementedError

    def _get_parameters(self, *names):
        ct = self.celltype
        known = ct.get_parameter_names()
        for name in names:
            if name not in known:
                raise errors.NonExistentParameterError(name, type(ct).__name__, sorted(known))
        if any(name in ct.computed_parameters() for name in names):
            native_names = ct.get_native_names()
        else:
            native_names = ct.get_native_names(*names)
        return ct.reverse_translate(self._get_native_parameters(*native_names))

    def _get_native_parameters(self, *names):
        owner, idx = self._owner(), self._indices()
        values = {}
        for name in names:
            if name not in owner._parameters:
                raise errors.NonExistentParameterError(name, type(self.celltype).__name__,
                                                       sorted(owner._parameters))
            values[name] = simplify(owner._parameters[name][idx])
        return ParameterSpace(values, shape=(len(idx),))

    def _set_parameters(self, parameter_space):
        """``parameter_space`` holds native parameters for the cells of ``self``."""
        owner, idx = self._owner(), self._indices()
        parameter_space.shape = (len(idx),)
        parameter_space.evaluate(simplify=False)
        new = {name: owner._parameters[name].copy() for name in owner._parameters}
        for name, value in parameter_space.items():
            if name not in new:
                raise errors.NonExistentParameterError(name, type(self.celltype).__name__,
                                                       sorted(new))
            new[name][idx] = _native_array(name, value, len(idx), self.celltype)
        owner._push_parameters(new, idx)   # validates; raises before anything is stored
        owner._parameters = new
        if simulator.state.mapper is not None and owner._neuron_index is not None:
            simulator.state.neurons_dirty = True   # the wafer realises them at the next run

    def _set_initial_value_array(self, variable, initial_values):
        owner, idx = self._owner(), self._indices()
        if owner._neuron_index is None:
            return
        allowed = owner.celltype.default_initial_values
        if variable not in allowed:
            raise errors.NonExistentParameterError(variable, type(owner.celltype).__name__,
                                                   sorted(allowed))
        values = initial_values
        if hasattr(values, "evaluate"):
            values = values.evaluate(simplify=False) if values.shape else values.evaluate()
        values = np.broadcast_to(np.asarray(values, dtype=float), (owner.size,))[idx] \
            if np.ndim(values) == 0 or np.size(values) == owner.size else \
            np.asarray(values, dtype=float)
        if not np.all(np.isfinite(values)):
            raise errors.InvalidParameterValueError(
                f"initial value of '{variable}' must be finite, got {values[~np.isfinite(values)][0]}")
        net = simulator.state.network
        net.set_initial(owner._neuron_index[idx], variable, values, apply_now=True)


class PopulationView(_ParameterAccess, common.PopulationView):
    _assembly_class = Assembly
    _simulator = simulator

    def _owner(self):
        return self.grandparent

    def _indices(self):
        return _grandparent_indices(self)

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)


class Population(_ParameterAccess, common.Population):
    __doc__ = common.Population.__doc__
    _simulator = simulator
    _recorder_class = Recorder
    _assembly_class = Assembly

    def __init__(self, size, cellclass, cellparams=None, structure=None,
                 initial_values={}, label=None):
        simulator.state.check_usable()
        celltype = cellclass(**(cellparams or {})) if isinstance(cellclass, type) else cellclass
        if type(celltype).__name__ not in CELL_TYPES or \
                not isinstance(celltype, getattr(our_cells, type(celltype).__name__)):
            raise errors.InvalidModelError(
                f"{type(celltype).__name__} (from {type(celltype).__module__}) is not a cell type "
                f"of pyNN.bss_emu; the BrainScaleS-1 wafer offers: {', '.join(CELL_TYPES)}")
        try:
            size = int(size)
        except (TypeError, ValueError):
            raise errors.InvalidDimensionsError(f"population size {size!r} is not an integer") \
                from None
        if size < 1:
            raise errors.InvalidDimensionsError(f"population size must be >= 1, got {size}")
        try:
            super().__init__(size, celltype, None, structure, initial_values, label)
        except Exception:
            # nothing half-built stays visible: PyNN registers the recorder first, and a failing
            # initial value comes after the cells exist (they stay in the engine unconnected,
            # unrecorded and unreachable, which is harmless)
            state = simulator.state
            state.recorders.discard(getattr(self, "recorder", None))
            if any(p is self for p in state.populations):
                state.populations = [p for p in state.populations if p is not self]
            raise

    def _owner(self):
        return self

    def _indices(self):
        return np.arange(self.size)

    def _get_view(self, selector, label=None):
        return PopulationView(self, selector, label)

    def _create_cells(self):
        state = simulator.state
        id_range = np.arange(state.id_counter, state.id_counter + self.size)
        self.all_cells = np.array([simulator.ID(i) for i in id_range], dtype=simulator.ID)
        self._mask_local = np.ones(self.size, dtype=bool)
        for cell in self.all_cells:
            cell.parent = self
        state.id_counter += self.size
        ps = self.celltype.native_parameters
        ps.shape = (self.size,)
        ps.evaluate(simplify=False)
        params = {name: _native_array(name, value, self.size, self.celltype)
                  for name, value in ps.items()}
        self._check_parameters(params)   # before the engine is touched
        net = state.network
        self._neuron_index = None
        self._source_index = None
        self._population_key = state.population_counter
        state.population_counter += 1
        if isinstance(self.celltype, our_cells._NeuronMixin):
            eng = self.celltype.engine_parameters(params)
            self._neuron_index, self._nodes = net.add_neurons(eng, self.size)
        elif isinstance(self.celltype, our_cells.SpikeSourcePoisson):
            keys = stream_keys(state.options.get("stimulus_seed", 0), self._population_key,
                               self.size)
            self._nodes, self._source_index = net.add_poisson_sources(keys)
        else:
            self._nodes, self._source_index = net.add_array_sources(self.size)
        self._node0 = int(self._nodes[0])
        if isinstance(self.celltype, our_cells.IF_curr_exp):
            _warn_current_emulation()
        # wafer placement requests (used by the mapper at the next run)
        self._neuron_size = np.full(self.size, state.options.get("neuron_size", 4),
                                    dtype=np.int64)
        self._manual_hicanns: dict[int, tuple] = {}
        state.mapping_dirty = True
        self._parameters = params
        self._push_parameters(params, np.arange(self.size))
        state.populations.append(self)

    def _check_parameters(self, params: dict) -> None:
        ct = self.celltype
        if isinstance(ct, our_cells._NeuronMixin):
            ct.engine_parameters(params)
        elif isinstance(ct, our_cells.SpikeSourcePoisson):
            ct.check(params)
        else:
            ct.trains(params)

    def _expected_rates(self) -> np.ndarray:
        """Expected firing rate (Hz) per cell, for the input bandwidth of spike sources:
        the Poisson rate, or a spike array's spike count over its span (at least 1 s)."""
        ct = self.celltype
        if isinstance(ct, our_cells.SpikeSourcePoisson):
            return np.asarray(self._parameters["rate"], dtype=float).copy()
        if isinstance(ct, our_cells.SpikeSourceArray):
            trains = ct.trains(self._parameters)
            return np.array([t.size / max(t.max() if t.size else 0.0, 1000.0) * 1000.0
                             for t in trains])
        return np.zeros(self.size)

    def _push_parameters(self, params: dict, idx: np.ndarray) -> None:
        """Validate ``params`` (full arrays) and write entries ``idx`` into the engine."""
        net = simulator.state.network
        now = simulator.state.t
        ct = self.celltype
        if self._neuron_index is not None:
            sub = {k: np.asarray(v)[idx] for k, v in params.items()}
            net.set_neuron_parameters(self._neuron_index[idx], ct.engine_parameters(sub))
        elif isinstance(ct, our_cells.SpikeSourcePoisson):
            sub = {k: np.asarray(v, dtype=float)[idx] for k, v in params.items()}
            ct.check(sub)
            net.poisson.set_parameters(self._source_index[idx], sub["rate"], sub["start"],
                                       sub["duration"], now)
        else:
            trains = ct.trains({"spike_times": np.asarray(params["spike_times"],
                                                          dtype=object)[idx]})
            net.arrays.set_times(self._source_index[idx], trains, now)
