"""Synapse types of the wafer: static synapses and Tsodyks-Markram short-term plasticity
(the synapse drivers' STP circuit: its limits are checked by the wafer backend,
:func:`pyNN_bss_emu.mapping.stp.circuit_violation`)."""
from __future__ import annotations

import numpy as np
from pyNN import errors
from pyNN.standardmodels import build_translations, synapses

from .. import simulator


def _check_values(model: str, parameters: dict) -> None:
    """What PyNN takes for a synapse parameter: a number, a RandomDistribution, a function or
    expression of the distance, or a 2-D array (pre x post); anything else (a string that is
    no expression aside, PyNN would fail deep inside lazyarray) is a clear error."""
    from pyNN.random import RandomDistribution
    for name, value in parameters.items():
        if value is None or isinstance(value, (RandomDistribution, str)) or callable(value):
            continue
        if isinstance(value, (bool, np.bool_)):
            ok = False
        elif isinstance(value, (int, float, np.integer, np.floating)):
            ok = True
        else:
            try:
                ok = np.asarray(value, dtype=float).ndim == 2
            except (TypeError, ValueError):
                ok = False
        if not ok:
            raise errors.InvalidParameterValueError(
                f"{model}({name}={value!r:.60}): expected a number, a RandomDistribution, a "
                "function or expression of the distance, or a 2-D array (pre x post)")


class _CheckedSynapse:
    def __init__(self, **parameters):
        _check_values(type(self).__name__, parameters)
        super().__init__(**parameters)


class StaticSynapse(_CheckedSynapse, synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"))

    def _get_minimum_delay(self) -> float:
        d = simulator.state.min_delay
        return simulator.state.dt if d == "auto" else d


class TsodyksMarkramSynapse(_CheckedSynapse, synapses.TsodyksMarkramSynapse):
    __doc__ = synapses.TsodyksMarkramSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"), ("U", "U"),
                                      ("tau_rec", "tau_rec"), ("tau_facil", "tau_facil"))

    def _get_minimum_delay(self) -> float:
        d = simulator.state.min_delay
        return simulator.state.dt if d == "auto" else d

    @staticmethod
    def check(U: np.ndarray, tau_rec: np.ndarray, tau_facil: np.ndarray) -> None:
        """Valid Tsodyks-Markram parameters (the backend adds what its hardware can realise:
        on the wafer, the synapse drivers' STP circuit)."""
        for name, v in (("U", U), ("tau_rec", tau_rec), ("tau_facil", tau_facil)):
            if not np.all(np.isfinite(v)) or np.any(v < 0):
                raise errors.InvalidParameterValueError(
                    f"TsodyksMarkramSynapse: '{name}' must be finite and >= 0, got "
                    f"{v[~np.isfinite(v) | (v < 0)][0]!r}")
        if np.any((U <= 0) | (U > 1)):
            raise errors.InvalidParameterValueError(
                f"TsodyksMarkramSynapse: 'U' = {U[(U <= 0) | (U > 1)][0]!r} is outside (0, 1]")
