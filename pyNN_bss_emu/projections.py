"""Projection of ``pyNN.bss_emu``: connections held as flat arrays (COO, creation order).

Connectors hand over connections column by column through ``_convergent_connect`` (or, for
our vectorised connectors, all at once through ``_connect_arrays``); nothing per connection
happens in Python.  Weights are conductances in µS, delays in ms rounded to the time step.
"""
from __future__ import annotations


import numpy as np
from pyNN import common, errors
from pyNN.space import Space

from . import simulator
from .backend.records import RECEPTORS as _RECEPTORS
from .backend.records import STP_NAMES as _STP_NAMES
from .populations import neuron_indices, node_indices
from .standardmodels import SYNAPSE_TYPES
from .standardmodels.synapses import (STDP_PARAMETERS, StaticSynapse, STDPMechanism,
                                      TsodyksMarkramSynapse, check_stdp)


def _static_stp(n: int) -> np.ndarray:
    """The (n, 3) STP parameters of static synapses: all NaN, as a read-only view of one row
    (no memory per connection; :meth:`Projection._write_attribute` and ``set_stp`` replace
    the whole array, never write into it)."""
    return np.broadcast_to(np.full((1, 3), np.nan), (n, 3))


class Connection(common.Connection):
    """One connection of a projection; ``weight`` and ``delay`` are live views."""

    def __init__(self, projection: "Projection", index: int) -> None:
        self.projection = projection
        self.index = index

    @property
    def presynaptic_index(self) -> int:
        return int(self.projection._pre_idx[self.index])

    @property
    def postsynaptic_index(self) -> int:
        return int(self.projection._post_idx[self.index])

    def _get_weight(self) -> float:
        return float(self.projection._requested("weight")[self.index])

    def _set_weight(self, w: float) -> None:
        self.projection._write_attribute("weight", np.array([self.index]), np.array([w]))

    def _get_delay(self) -> float:
        return float(self.projection._requested("delay")[self.index])

    def _set_delay(self, d: float) -> None:
        self.projection._write_attribute("delay", np.array([self.index]), np.array([d]))

    weight = property(_get_weight, _set_weight)
    delay = property(_get_delay, _set_delay)

    def as_tuple(self, *attribute_names):
        return tuple(getattr(self, name) for name in attribute_names)


class Projection(common.Projection):
    __doc__ = common.Projection.__doc__
    _simulator = simulator
    _static_synapse_class = StaticSynapse

    def __init__(self, presynaptic_population, postsynaptic_population, connector,
                 synapse_type=None, source=None, receptor_type=None, space=Space(),
                 label=None):
        simulator.state.check_usable()
        node_indices(presynaptic_population)     # objects of an earlier setup(): clear error
        if synapse_type is not None and (
                type(synapse_type).__name__ not in SYNAPSE_TYPES
                or not type(synapse_type).__module__.startswith(__package__)):
            raise errors.InvalidModelError(
                f"synapse type {type(synapse_type).__name__} is not available in pyNN.bss_emu; "
                f"the BrainScaleS-1 wafer offers: {', '.join(SYNAPSE_TYPES)}")
        neuron_indices(postsynaptic_population)  # spike sources cannot be targets: clear error
        self._current_based = False
        common.Projection.__init__(self, presynaptic_population, postsynaptic_population,
                                   connector, synapse_type, source, receptor_type, space, label)
        if self.receptor_type not in _RECEPTORS:
            raise errors.ConnectionError(
                f"receptor_type '{self.receptor_type}' is not available; "
                f"choose one of {sorted(_RECEPTORS)}")
        self._post_neurons = neuron_indices(self.post)
        self._current_based = not self.post.conductance_based
        self._pre_nodes = node_indices(self.pre)
        self._backend = simulator.state.backend
        self._chunks: list[tuple] = []
        connector.connect(self)
        pre, post, weight, delay, stp, stdp = self._consolidated_chunks()
        self._pre_idx, self._post_idx = pre, post
        plastic = isinstance(self.synapse_type, STDPMechanism)
        self._record = self._backend.connect(
            self.label, self._pre_nodes[pre], self._post_neurons[post],
            _RECEPTORS[self.receptor_type], weight, delay, stp,
            isinstance(self.synapse_type, TsodyksMarkramSynapse),
            to_conductance=self._conductances if self._current_based else None,
            to_user=self._currents if self._current_based else None,
            stdp=stdp if plastic else None,
            dendritic_delay_fraction=float(self.synapse_type.dendritic_delay_fraction)
            if plastic else 1.0)
        simulator.state.projections.append(self)

    # ------------------------------------------------------------ building
    def _convergent_connect(self, presynaptic_indices, postsynaptic_index,
                            location_selector=None, **connection_parameters):
        if location_selector is not None:
            raise NotImplementedError("pyNN.bss_emu has no multi-compartment neurons")
        pre = np.asarray(presynaptic_indices, dtype=np.int64).ravel()
        if pre.size == 0:
            return
        post = np.full(pre.size, int(postsynaptic_index), dtype=np.int64)
        self._add_chunk(pre, post, connection_parameters)

    def _connect_arrays(self, pre: np.ndarray, post: np.ndarray, **connection_parameters):
        """Add many connections at once (positions in ``pre``/``post``, native parameters as
        scalars or arrays aligned with ``pre``)."""
        self._add_chunk(np.asarray(pre, np.int64), np.asarray(post, np.int64),
                        connection_parameters)

    def _add_chunk(self, pre, post, params) -> None:
        if pre.size and (pre.min() < 0 or pre.max() >= self.pre.size):
            bad = pre[(pre < 0) | (pre >= self.pre.size)][0]
            raise errors.ConnectionError(
                f"presynaptic index {bad} out of range for '{self.pre.label}' "
                f"(size {self.pre.size})")
        if post.size and (post.min() < 0 or post.max() >= self.post.size):
            bad = post[(post < 0) | (post >= self.post.size)][0]
            raise errors.ConnectionError(
                f"postsynaptic index {bad} out of range for '{self.post.label}' "
                f"(size {self.post.size})")
        n = pre.size
        weight = np.broadcast_to(np.asarray(params.get("weight", 0.0), dtype=float), (n,))
        delay = params.get("delay")
        if delay is None:
            delay = self.synapse_type._get_minimum_delay()
        delay = np.broadcast_to(np.asarray(delay, dtype=float), (n,))
        self._check_weights(weight)
        delay = self._check_delays(delay)
        self._chunks.append((pre, post, np.array(weight), delay, self._stp_columns(params, n),
                             self._stdp_columns(params, n)))

    def _stp_columns(self, params: dict, n: int) -> np.ndarray:
        """(n, 3) Tsodyks-Markram parameters U, tau_rec, tau_facil (NaN rows: static)."""
        if not isinstance(self.synapse_type, TsodyksMarkramSynapse):
            return _static_stp(n)
        cols = [np.broadcast_to(np.asarray(params[name], dtype=float), (n,))
                for name in _STP_NAMES]
        TsodyksMarkramSynapse.check(*cols)
        simulator.state.backend.check_stp(*cols, label=self.label)
        return np.column_stack(cols)

    def _stdp_columns(self, params: dict, n: int) -> np.ndarray:
        """(n, 8) STDP parameters (``STDP_PARAMETERS``; weights in the user's unit), checked;
        an empty (n, 0) array for other synapse types."""
        if not isinstance(self.synapse_type, STDPMechanism):
            return np.zeros((n, 0))
        mu_plus, mu_minus = self.synapse_type.mu()
        defaults = {"mu_plus": mu_plus, "mu_minus": mu_minus}
        cols = {name: np.broadcast_to(np.asarray(params.get(name, defaults.get(name)),
                                                 dtype=float), (n,))
                for name in STDP_PARAMETERS}
        check_stdp(self.label, cols, self._current_based)
        return np.column_stack([cols[name] for name in STDP_PARAMETERS]).reshape(n, -1)

    def _consolidated_chunks(self) -> tuple:
        """All connections the connector made: (pre, post, weight, delay, stp, stdp)."""
        if not self._chunks:
            plastic = isinstance(self.synapse_type, STDPMechanism)
            return (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0),
                    np.zeros(0), np.zeros((0, 3)),
                    np.zeros((0, len(STDP_PARAMETERS) if plastic else 0)))
        n = sum(c[0].size for c in self._chunks)
        out = tuple(_static_stp(n) if i == 4 and not isinstance(
            self.synapse_type, TsodyksMarkramSynapse)
                    else np.concatenate([c[i] for c in self._chunks]) for i in range(6))
        self._chunks = []
        return out

    def _check_weights(self, weight: np.ndarray) -> None:
        if self._current_based:
            # PyNN's convention for current synapses: excitatory >= 0 nA, inhibitory <= 0 nA
            sign_ok = weight <= 0 if self.receptor_type == "inhibitory" else weight >= 0
            bad = ~np.isfinite(weight) | ~sign_ok
            if np.any(bad):
                raise errors.InvalidWeightError(
                    f"weight {weight[bad][0]!r} nA in projection '{self.label}': current-based "
                    f"{self.receptor_type} synapses need finite weights "
                    f"{'<= 0' if self.receptor_type == 'inhibitory' else '>= 0'}")
            return
        bad = ~np.isfinite(weight) | (weight < 0)
        if np.any(bad):
            raise errors.InvalidWeightError(
                f"weight {weight[bad][0]!r} µS in projection '{self.label}': conductance-based "
                "synapses need finite weights >= 0 (use receptor_type='inhibitory' for "
                "inhibition)")

    def _conductances(self, weight: np.ndarray) -> np.ndarray:
        """Engine weights (µS) for user weights: unchanged for conductance-based targets; for
        emulated current-based targets |I| times the post neuron's µS-per-nA factor."""
        if not self._current_based:
            return weight
        return np.abs(weight) * self._siemens_per_ampere()

    def _siemens_per_ampere(self) -> np.ndarray:
        """Per connection: µS of emulating conductance per nA of requested current."""
        factor = np.empty(self.post.size)
        pops = self.post.populations if isinstance(self.post, common.Assembly) else [self.post]
        start = 0
        for part in pops:
            ps = part.get(["v_rest", "v_thresh"], gather=True, simplify=False)
            native = {"v_rest": ps[0], "v_thresh": ps[1]}
            factor[start:start + part.size] = part.celltype.conductance_per_current(
                native, self.receptor_type)
            start += part.size
        return factor[self._post_idx]

    def _check_delays(self, delay: np.ndarray) -> np.ndarray:
        dt = simulator.state.dt
        bad = ~np.isfinite(delay) | (delay < dt - 1e-9)
        if np.any(bad):
            raise errors.ConnectionError(
                f"delay {delay[bad][0]!r} ms in projection '{self.label}' is below the time "
                f"step: delays must be finite and >= dt = {dt} ms")
        max_delay = simulator.state.max_delay
        if max_delay != "auto" and np.any(delay > max_delay + 1e-9):
            raise errors.ConnectionError(
                f"delay {delay[delay > max_delay][0]!r} ms in projection '{self.label}' exceeds "
                f"max_delay = {max_delay} ms given to setup()")
        return np.rint(delay / dt) * dt   # the engine works on the time grid

    # ------------------------------------------------------------ access
    def _check_current(self) -> None:
        simulator.state.check_current(self, f"projection '{self.label}'")

    def _requested(self, name: str) -> np.ndarray:
        """The requested values of attribute ``name`` (the backend holds them)."""
        self._check_current()
        return self._backend.requested(self._record, name)

    def get(self, attribute_names, format, gather=True, with_address=True,
            multiple_synapses="sum"):
        names = [attribute_names] if isinstance(attribute_names, str) else attribute_names
        known = self.synapse_type.get_parameter_names()
        for name in names:
            if name not in known:
                raise self._unknown_attribute(name)
        self._check_current()
        return super().get(attribute_names, format, gather, with_address, multiple_synapses)

    get.__doc__ = common.Projection.get.__doc__

    def get_requested(self, attribute_names, format, gather=True, with_address=True,
                      multiple_synapses="sum"):
        """Like :meth:`get`, but the values asked for (the user's weights, delays and STP
        parameters) rather than those the backend realised (on the wafer: 4-bit weights,
        routed delays, the drivers' STP; NaN weights for synapses the mapping lost)."""
        self._answer = self._requested
        try:
            return self.get(attribute_names, format, gather, with_address, multiple_synapses)
        finally:
            del self._answer

    def set(self, **attributes):
        self._check_current()
        return super().set(**attributes)

    set.__doc__ = common.Projection.set.__doc__ + """
        A list or 1-D array gives one value per connected (pre, post) pair in row-major
        order (pre index, then post index), as PyNN's reference implementation does; its
        length must be the number of connected pairs.
        """

    def _value_list_to_array(self, attributes):
        """Lists and 1-D arrays of ``set()``: one value per connected (pre, post) pair in
        row-major order, as in PyNN's common implementation -- but the pairs come from the
        connections themselves, not from the non-NaN realised weights (on the wafer a lost
        synapse reports NaN and would shift every later value)."""
        mask = np.zeros((self.pre.size, self.post.size), dtype=bool)
        mask[self._pre_idx, self._post_idx] = True
        n_pairs = int(mask.sum())
        for name, value in attributes.items():
            if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray)
                                                    and value.ndim == 1):
                value = np.asarray(value, dtype=float)
                if value.shape != (n_pairs,):
                    raise errors.InvalidDimensionsError(
                        f"Projection.set({name}=<1-D array of shape {value.shape}>) in "
                        f"projection '{self.label}': a list or 1-D array needs one value per "
                        f"connected (pre, post) pair in row-major order, {n_pairs} here; "
                        "PyNN also accepts a scalar, a RandomDistribution, a function of the "
                        "distance, or a 2-D array of shape (pre.size, post.size) = "
                        f"{(self.pre.size, self.post.size)} as returned by "
                        "get(format='array')")
                array_value = np.full(mask.shape, np.nan)
                array_value[mask] = value
                attributes[name] = array_value
        return attributes

    def __len__(self) -> int:
        return int(self._pre_idx.size)

    def size(self, gather: bool = True) -> int:
        """The number of connections.  Every MPI rank holds all of them (the model
        description is replicated, :mod:`pyNN_bss_emu.engine.distributed`), so there is
        nothing to sum over ranks, unlike PyNN's default."""
        return len(self)

    def __getitem__(self, i):
        n = len(self)
        if isinstance(i, (int, np.integer)):
            if not -n <= i < n:
                raise IndexError(f"connection index {i} out of range (projection has {n})")
            return Connection(self, int(i) % n)
        if isinstance(i, slice):
            return [Connection(self, k) for k in range(*i.indices(n))]
        raise TypeError(f"connection index must be int or slice, not {type(i).__name__}")

    @property
    def connections(self):
        return (Connection(self, k) for k in range(len(self)))

    def _write_attribute(self, name: str, index: np.ndarray, values: np.ndarray) -> None:
        self._check_current()
        values = np.asarray(values, dtype=float)
        backend = self._backend
        if name == "weight":
            self._check_weights(values)
            backend.set_weights(self._record, index, values)
        elif name in _STP_NAMES and isinstance(self.synapse_type, TsodyksMarkramSynapse):
            new = self._record.stp.copy()
            new[index, _STP_NAMES.index(name)] = values
            TsodyksMarkramSynapse.check(new[:, 0], new[:, 1], new[:, 2])
            backend.check_stp(new[:, 0], new[:, 1], new[:, 2], label=self.label)
            backend.set_stp(self._record, new)
        elif name == "delay":
            backend.set_delays(self._record, index, self._check_delays(values))
        elif name in STDP_PARAMETERS and isinstance(self.synapse_type, STDPMechanism):
            new = self._record.stdp.copy()
            new[index, STDP_PARAMETERS.index(name)] = values
            check_stdp(self.label, {k: new[:, i] for i, k in enumerate(STDP_PARAMETERS)},
                       self._current_based)
            backend.set_stdp(self._record, new)
        else:
            raise self._unknown_attribute(name)

    def _set_attributes(self, parameter_space):
        parameter_space.evaluate(simplify=True)
        for name, value in parameter_space.items():
            if np.ndim(value) == 0:
                values = np.full(len(self), float(value))
            else:
                value = np.asarray(value, dtype=float)
                if value.shape != (self.pre.size, self.post.size):
                    raise errors.InvalidDimensionsError(
                        f"'{name}' array has shape {value.shape}, expected "
                        f"{(self.pre.size, self.post.size)} (presynaptic x postsynaptic)")
                values = value[self._pre_idx, self._post_idx]
            self._write_attribute(name, np.arange(len(self)), values)

    def _get_attributes_as_arrays(self, names, multiple_synapses="sum"):
        aggregate = {"sum": (np.add.at, 0.0), "min": (np.minimum.at, np.inf),
                     "max": (np.maximum.at, -np.inf)}
        if multiple_synapses not in aggregate and multiple_synapses != "last":
            raise ValueError(f"multiple_synapses='{multiple_synapses}': use one of "
                             f"'sum', 'min', 'max', 'last'")
        present = np.zeros((self.pre.size, self.post.size), dtype=bool)
        present[self._pre_idx, self._post_idx] = True
        out = []
        for name in names:
            values = self._attribute(name)
            if multiple_synapses == "last":
                arr = np.full(present.shape, np.nan)
                arr[self._pre_idx, self._post_idx] = values
            else:
                func, fill = aggregate[multiple_synapses]
                arr = np.full(present.shape, fill)
                func(arr, (self._pre_idx, self._post_idx), values)
                arr[~present] = np.nan
            out.append(arr)
        return out

    def _get_attributes_as_list(self, names):
        columns = [self._attribute(name) for name in names]
        return list(zip(*[c.tolist() for c in columns]))

    def _attribute(self, name: str) -> np.ndarray:
        """Per connection: what the backend realised (or, inside :meth:`get_requested`, what
        was asked for)."""
        if name == "presynaptic_index":
            return self._pre_idx
        if name == "postsynaptic_index":
            return self._post_idx
        plastic = isinstance(self.synapse_type, STDPMechanism)
        if plastic and name == "dendritic_delay_fraction":
            return np.full(len(self), float(self.synapse_type.dendritic_delay_fraction))
        if name not in ("weight", "delay") and not (
                name in _STP_NAMES and isinstance(self.synapse_type, TsodyksMarkramSynapse)) \
                and not (plastic and name in STDP_PARAMETERS):
            raise self._unknown_attribute(name)
        answer = getattr(self, "_answer", None)
        if answer is not None:
            return answer(name)
        return self._backend.realised(self._record, name)

    def _currents(self, conductance: np.ndarray) -> np.ndarray:
        """User weights (nA, PyNN's sign) for engine conductances (µS) of an emulated
        current-based target."""
        sign = -1.0 if self.receptor_type == "inhibitory" else 1.0
        return sign * conductance / self._siemens_per_ampere()

    def _unknown_attribute(self, name: str) -> errors.NonExistentParameterError:
        return errors.NonExistentParameterError(
            name, type(self.synapse_type).__name__,
            sorted(self.synapse_type.get_parameter_names()))

    def _set_initial_value_array(self, variable, initial_value):
        raise errors.NonExistentParameterError(variable, type(self.synapse_type).__name__, [])
