"""Synapse types of the wafer: static synapses and Tsodyks-Markram short-term plasticity
(the synapse drivers' STP circuit)."""
from __future__ import annotations

import numpy as np
from pyNN import errors
from pyNN.standardmodels import build_translations, synapses

from .. import simulator
from ..mapping import stp


class StaticSynapse(synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"))

    def _get_minimum_delay(self) -> float:
        d = simulator.state.min_delay
        return simulator.state.dt if d == "auto" else d


#: the drivers' STP circuit (brainscales1.md 4.6): U from a 3-bit cap (mapping.stp);
#: depression or facilitation, not both; recovery 6 ms .. 5.9 s (bio, V_dtc range at 1e4)
STP_U_RANGE = stp.U_RANGE
STP_TAU_RANGE_MS = (6.0, 5900.0)


class TsodyksMarkramSynapse(synapses.TsodyksMarkramSynapse):
    __doc__ = synapses.TsodyksMarkramSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"), ("U", "U"),
                                      ("tau_rec", "tau_rec"), ("tau_facil", "tau_facil"))

    def _get_minimum_delay(self) -> float:
        d = simulator.state.min_delay
        return simulator.state.dt if d == "auto" else d

    @staticmethod
    def check(U: np.ndarray, tau_rec: np.ndarray, tau_facil: np.ndarray, wafer: bool) -> None:
        """Valid Tsodyks-Markram parameters; on the wafer also the STP circuit's limits."""
        for name, v in (("U", U), ("tau_rec", tau_rec), ("tau_facil", tau_facil)):
            if not np.all(np.isfinite(v)) or np.any(v < 0):
                raise errors.InvalidParameterValueError(
                    f"TsodyksMarkramSynapse: '{name}' must be finite and >= 0, got "
                    f"{v[~np.isfinite(v) | (v < 0)][0]!r}")
        if np.any((U <= 0) | (U > 1)):
            raise errors.InvalidParameterValueError(
                f"TsodyksMarkramSynapse: 'U' = {U[(U <= 0) | (U > 1)][0]!r} is outside (0, 1]")
        if not wafer:
            return
        both = (tau_rec > 0) & (tau_facil > 0)
        if np.any(both):
            raise errors.InvalidParameterValueError(
                "TsodyksMarkramSynapse on BrainScaleS-1: depression (tau_rec) and facilitation "
                "(tau_facil) cannot be active at the same time; set one of them to 0 (got "
                f"tau_rec={tau_rec[both][0]!r}, tau_facil={tau_facil[both][0]!r})")
        lo, hi = STP_U_RANGE
        bad = (U < lo - 1e-9) | (U > hi + 1e-9)
        if np.any(bad):
            raise errors.InvalidParameterValueError(
                f"TsodyksMarkramSynapse on BrainScaleS-1: 'U' = {U[bad][0]!r} is outside the "
                f"driver's range {lo}..{hi} (3-bit U_SE)")
        tau = np.maximum(tau_rec, tau_facil)
        lo, hi = STP_TAU_RANGE_MS
        bad = (tau < lo) | (tau > hi)
        if np.any(bad):
            raise errors.InvalidParameterValueError(
                f"TsodyksMarkramSynapse on BrainScaleS-1: time constant {tau[bad][0]!r} ms is "
                f"outside the driver's range {lo}..{hi} ms")

    @staticmethod
    def realised_U(U: np.ndarray) -> np.ndarray:
        """U as the driver's 3-bit cap realises it (8 levels from 0.25 to 0.40)."""
        lo, hi = STP_U_RANGE
        return lo + (hi - lo) * stp.u_cap(U) / (stp.N_CAPS - 1)
