"""Population, PopulationView and Assembly of ``pyNN.bss_emu``.

A population's native parameters live in numpy arrays here (PyNN units); every change is
pushed to the engine at once (converted and range-checked), so an invalid value raises at
``set()`` time and leaves the stored values untouched.
"""
from __future__ import annotations

import itertools

import numpy as np
import quantities as pq
from pyNN import common, errors
from pyNN.parameters import ParameterSpace, simplify

from . import simulator
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


def _checked_size(size):
    """A population size as PyNN takes it: an integer >= 1, or a tuple of them (a grid, as
    PyNN's Population builds a Line/Grid2D/Grid3D from it); no bool, float or string (2.7
    cells would silently be 2, "3" or True a typo)."""
    def integral(x) -> bool:
        return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))
    if isinstance(size, tuple):
        if not 1 <= len(size) <= 3 or not all(integral(n) and n >= 1 for n in size):
            raise errors.InvalidDimensionsError(
                f"population size {size!r}: a tuple must hold 1 to 3 integers >= 1 (a grid)")
        return tuple(int(n) for n in size)
    if not integral(size):
        raise errors.InvalidDimensionsError(
            f"population size {size!r} ({type(size).__name__}) is not an integer; give the "
            "number of cells as an int >= 1 (or a tuple of ints for a grid)")
    if size < 1:
        raise errors.InvalidDimensionsError(f"population size must be >= 1, got {size}")
    return int(size)


def _restore_id(value: int, parent) -> simulator.ID:
    """Unpickle a cell ID made by :func:`_new_ids` as a plain ID with its parent."""
    cell = simulator.ID(value)
    cell.parent = parent
    return cell


def _new_ids(population, first: int, size: int) -> np.ndarray:
    """The population's cell IDs ``first .. first + size - 1`` (object array of
    :class:`~.simulator.ID`, each knowing its ``parent``).

    Issue 13: PyNN's backends set ``cell.parent`` on every ID (1.7 s and a dict per cell for
    1e6 cells).  Here the IDs are instances of a subclass made for this population, whose
    class attribute is the parent: no per-cell attribute, about 4x faster and 64 instead of
    about 250 bytes per cell; they are IDs (``isinstance``) and behave alike (``cell.parent = x`` still sets
    the cell's own, and pickling gives a plain ID with its parent)."""
    cls = type("ID", (simulator.ID,), {
        "parent": population, "__module__": simulator.ID.__module__,
        "__qualname__": simulator.ID.__qualname__,
        "__reduce__": lambda self: (_restore_id, (int(self), self.parent))})
    # int.__new__ skips ID.__init__, which only repeats what int.__new__ did
    return np.fromiter(map(int.__new__, itertools.repeat(cls, size), range(first, first + size)),
                       dtype=object, count=size)


def _grandparent_indices(view) -> np.ndarray:
    return np.asarray(view.index_in_grandparent(np.arange(view.size)), dtype=np.int64)


def check_current(obj) -> None:
    """Refuse a Population, PopulationView or Assembly made before the last ``setup()``."""
    if isinstance(obj, common.Assembly):
        for p in obj.populations:
            check_current(p)
        return
    pop = obj.grandparent if isinstance(obj, common.PopulationView) else obj
    simulator.state.check_current(pop, f"population '{pop.label}'")


def node_indices(obj) -> np.ndarray:
    """Engine node index of every cell of a Population, PopulationView or Assembly."""
    check_current(obj)
    if isinstance(obj, common.Assembly):
        return np.concatenate([node_indices(p) for p in obj.populations])
    if isinstance(obj, common.PopulationView):
        return obj.grandparent._nodes[_grandparent_indices(obj)]
    return obj._nodes


def neuron_indices(obj) -> np.ndarray:
    """Engine neuron index (state row) of every cell; spike sources cannot receive input."""
    check_current(obj)
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
        """Native parameters of the local cells (all cells in one process; PyNN gathers
        the other ranks' cells for ``get(gather=True)``)."""
        owner, idx = self._owner(), self._indices()
        if not np.all(self._mask_local):
            idx = idx[self._mask_local]
        check_current(owner)
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
        check_current(owner)
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

    def _set_initial_value_array(self, variable, initial_values):
        owner, idx = self._owner(), self._indices()
        check_current(owner)
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
        simulator.state.backend.set_initial(owner._record, idx, variable, values)


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
        size = _checked_size(size)
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
        if isinstance(self.celltype, our_cells._NeuronMixin):
            # issue 13: a network the backend cannot hold fails here, before anything is
            # allocated (on the wafer: denmems), not minutes and gigabytes later at run()
            state.backend.check_new_neurons(self.label, self.size)
        ps = self.celltype.native_parameters
        ps.shape = (self.size,)
        ps.evaluate(simplify=False)
        params = {name: _native_array(name, value, self.size, self.celltype)
                  for name, value in ps.items()}
        ct = self.celltype
        neurons = isinstance(ct, our_cells._NeuronMixin)
        # checked before the backend is touched (for neurons: the engine's values, computed
        # once and given to the backend as they are)
        if neurons:
            engine = ct.engine_parameters(params)
        else:
            self._check_parameters(params)
        self.all_cells = _new_ids(self, state.id_counter, self.size)
        self._mask_local = state.backend.local_cells(self.size)
        state.id_counter += self.size
        backend = self._backend = state.backend
        if neurons:
            self._record = backend.create_neurons(
                self.label, self.size, type(ct).__name__, engine,
                *self._hardware_request(params))
        elif isinstance(ct, our_cells.SpikeSourcePoisson):
            self._record = backend.create_poisson_sources(self.label, self.size)
        else:
            self._record = backend.create_array_sources(self.label, self.size)
        self._node0 = int(self._nodes[0])
        if isinstance(ct, our_cells.IF_curr_exp):
            _warn_current_emulation()
        self._parameters = params
        if not neurons:
            # (neurons got their parameters with create_neurons; pushing them again cost
            # a second conversion and copies of every array, issue 13)
            self._push_parameters(params, np.arange(self.size))
        state.populations.append(self)

    # engine indices of the cells (held by the backend's record)
    @property
    def _nodes(self) -> np.ndarray:
        return self._record.nodes

    @property
    def _neuron_index(self) -> np.ndarray | None:
        return self._record.neuron_index

    @property
    def _population_key(self) -> int:
        return self._record.key

    def _hardware_request(self, params: dict) -> tuple[str, dict]:
        """The hardware model that realises this cell type and its bio parameters (the
        emulated IF_curr_exp is an IF_cond_exp with synaptic reversal potentials)."""
        ct = self.celltype
        if hasattr(ct, "conductance_parameters"):
            return "IF_cond_exp", ct.conductance_parameters(params)
        return type(ct).__name__, params

    def _check_parameters(self, params: dict) -> None:
        ct = self.celltype
        if isinstance(ct, our_cells._NeuronMixin):
            ct.engine_parameters(params)
        elif isinstance(ct, our_cells.SpikeSourcePoisson):
            ct.check(params)
        else:
            ct.trains(params)

    def _push_parameters(self, params: dict, idx: np.ndarray) -> None:
        """Validate ``params`` (full arrays) and give entries ``idx`` to the backend."""
        backend = simulator.state.backend
        now = simulator.state.t
        ct = self.celltype
        if self._neuron_index is not None:
            sub = {k: np.asarray(v)[idx] for k, v in params.items()}
            backend.set_neuron_parameters(self._record, idx, ct.engine_parameters(sub),
                                          self._hardware_request(params)[1])
        elif isinstance(ct, our_cells.SpikeSourcePoisson):
            sub = {k: np.asarray(v, dtype=float)[idx] for k, v in params.items()}
            ct.check(sub)
            backend.set_poisson_parameters(self._record, idx, sub["rate"], sub["start"],
                                           sub["duration"], now)
        else:
            trains = ct.trains({"spike_times": np.asarray(params["spike_times"],
                                                          dtype=object)[idx]})
            backend.set_spike_times(self._record, idx, trains, now)
