"""Synapse types of the wafer: static synapses and Tsodyks-Markram short-term plasticity
(the synapse drivers' STP circuit: its limits are checked by the wafer backend,
:func:`pyNN_bss_emu.mapping.stp.circuit_violation`)."""
from __future__ import annotations

import numpy as np
from pyNN import errors
from pyNN.standardmodels import build_translations, synapses

from .. import simulator


class StaticSynapse(synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"))

    def _get_minimum_delay(self) -> float:
        d = simulator.state.min_delay
        return simulator.state.dt if d == "auto" else d


class TsodyksMarkramSynapse(synapses.TsodyksMarkramSynapse):
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
