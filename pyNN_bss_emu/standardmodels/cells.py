"""The cell types a BrainScaleS-1 wafer offers, as PyNN standard models.

Native parameters keep PyNN's names and units (the ideal engine integrates in biological
units); :meth:`engine_parameters` turns them into the engine's per-neuron columns and checks
the physical ranges.  Hardware parameter ranges and calibration come with the analog substrate.
"""
from __future__ import annotations

import numpy as np
from pyNN import errors
from pyNN.standardmodels import build_translations, cells

# (lower, upper, lower inclusive) per parameter: physical validity, not hardware ranges
_POSITIVE = (0.0, np.inf, False)
_NON_NEGATIVE = (0.0, np.inf, True)
_FINITE = (-np.inf, np.inf, True)


def _check(name: str, value: np.ndarray, bounds: tuple, model: str) -> None:
    lo, hi, lo_incl = bounds
    v = np.asarray(value, dtype=float)
    bad = ~np.isfinite(v) | (v < lo if lo_incl else v <= lo) | (v > hi)
    if np.any(bad):
        first = v.flat[int(np.flatnonzero(bad.ravel())[0])]
        rng = f"{'[' if lo_incl else '('}{lo:g}, {hi:g}]" if np.isfinite(hi) else \
            (f"> {lo:g}" if not lo_incl else f">= {lo:g}")
        if lo == -np.inf:
            rng = "a finite number"
        raise errors.InvalidParameterValueError(
            f"{model}: parameter '{name}' = {float(first):g} is out of range; allowed: {rng}")


def _identity_translations(default_parameters: dict):
    return build_translations(*[(name, name) for name in default_parameters])


class _NeuronMixin:
    """Shared by the two neuron models: validation and conversion for the engine."""
    bounds: dict = {}

    def engine_parameters(self, native: dict) -> dict:
        """PyNN-unit parameters (arrays) -> engine columns (µS, nA, mV, ms, nF)."""
        for name, value in native.items():
            _check(name, value, self.bounds.get(name, _FINITE), type(self).__name__)
        cm = np.asarray(native["cm"], dtype=float)
        out = {
            "cm": cm,
            "g_l": cm / np.asarray(native["tau_m"], dtype=float),
            "e_l": native["v_rest"],
            "v_reset": native["v_reset"],
            "v_thresh": native["v_thresh"],
            "tau_syn_E": native["tau_syn_E"],
            "tau_syn_I": native["tau_syn_I"],
            "e_rev_E": native["e_rev_E"],
            "e_rev_I": native["e_rev_I"],
            "i_offset": native["i_offset"],
            "tau_refrac": native["tau_refrac"],
        }
        out.update(self._adaptation(native))
        # as NEST (iaf_*: "Reset potential must be smaller than threshold"; aeif: V_reset <
        # V_peak): a reset at or above the spike condition fires again at once, every step
        bad = np.asarray(out["v_reset"], float) >= np.asarray(out["v_peak"], float)
        if np.any(bad):
            i = int(np.flatnonzero(np.ravel(bad))[0])
            peak = "v_spike" if "v_spike" in native and np.ravel(
                np.asarray(native.get("delta_T", 0.0), float) > 0)[
                    min(i, np.size(native.get("delta_T", 0.0)) - 1)] else "v_thresh"
            raise errors.InvalidParameterValueError(
                f"{type(self).__name__}: parameter 'v_reset' = "
                f"{float(np.ravel(out['v_reset'])[i]):g} mV must be below '{peak}' = "
                f"{float(np.ravel(out['v_peak'])[i]):g} mV (the reset must lie below the spike "
                "condition, as in NEST)")
        return out


class IF_cond_exp(_NeuronMixin, cells.IF_cond_exp):
    __doc__ = cells.IF_cond_exp.__doc__
    translations = _identity_translations(cells.IF_cond_exp.default_parameters)
    bounds = {"cm": _POSITIVE, "tau_m": _POSITIVE, "tau_syn_E": _POSITIVE,
              "tau_syn_I": _POSITIVE, "tau_refrac": _NON_NEGATIVE}

    def _adaptation(self, native: dict) -> dict:
        n = np.shape(native["cm"])
        return {"a": np.zeros(n), "b": np.zeros(n), "tau_w": np.ones(n),
                "delta_T": np.zeros(n), "v_peak": native["v_thresh"]}


#: reversal potentials (mV) with which conductance synapses emulate current-based ones: the
#: extremes of the wafer's usable reversal range at the default voltage transformation
#: (alpha 10, shift 1.2 V): E_synx saturates above ~1.4 V (+20 mV), E_syni at 0.2 V (-100 mV)
CURR_EMULATION_E_REV_E = 20.0
CURR_EMULATION_E_REV_I = -100.0


class IF_curr_exp(_NeuronMixin, cells.IF_curr_exp):
    """Leaky integrate-and-fire neuron with current-based exponential synapses, **emulated**:
    the wafer has only conductance-based synapses, so each synapse becomes a conductance with
    the reversal potential at the edge of the hardware range (+20 mV excitatory, -100 mV
    inhibitory), scaled so that it injects the requested current at the midpoint between
    ``v_rest`` and ``v_thresh``.  Over that span the injected current deviates by up to about
    +-10 % (the driving force changes); weights are given and reported in nA as usual."""
    translations = _identity_translations(cells.IF_curr_exp.default_parameters)
    bounds = {"cm": _POSITIVE, "tau_m": _POSITIVE, "tau_syn_E": _POSITIVE,
              "tau_syn_I": _POSITIVE, "tau_refrac": _NON_NEGATIVE}
    default_initial_values = {"v": -65.0}   # synaptic currents start at 0
    recordable = ["spikes", "v"]

    def engine_parameters(self, native: dict) -> dict:
        full = dict(native)
        n = np.shape(native["cm"])
        full["e_rev_E"] = np.full(n, CURR_EMULATION_E_REV_E)
        full["e_rev_I"] = np.full(n, CURR_EMULATION_E_REV_I)
        return super().engine_parameters(full)

    def _adaptation(self, native: dict) -> dict:
        n = np.shape(native["cm"])
        return {"a": np.zeros(n), "b": np.zeros(n), "tau_w": np.ones(n),
                "delta_T": np.zeros(n), "v_peak": native["v_thresh"]}

    @staticmethod
    def conductance_per_current(native: dict, receptor: str) -> np.ndarray:
        """µS per nA of synaptic current for each neuron (the driving force at the midpoint
        of v_rest and v_thresh)."""
        v_ref = 0.5 * (np.asarray(native["v_rest"], float) + np.asarray(native["v_thresh"],
                                                                        float))
        e = CURR_EMULATION_E_REV_E if receptor == "excitatory" else CURR_EMULATION_E_REV_I
        return 1.0 / np.abs(e - v_ref)

    def conductance_parameters(self, native: dict) -> dict:
        """The equivalent IF_cond_exp parameters (for the wafer's parameter transformation)."""
        out = {k: np.asarray(v, float) for k, v in native.items()}
        n = np.shape(out["cm"])
        out["e_rev_E"] = np.full(n, CURR_EMULATION_E_REV_E)
        out["e_rev_I"] = np.full(n, CURR_EMULATION_E_REV_I)
        return out


class EIF_cond_exp_isfa_ista(_NeuronMixin, cells.EIF_cond_exp_isfa_ista):
    __doc__ = cells.EIF_cond_exp_isfa_ista.__doc__
    translations = _identity_translations(cells.EIF_cond_exp_isfa_ista.default_parameters)
    bounds = {"cm": _POSITIVE, "tau_m": _POSITIVE, "tau_syn_E": _POSITIVE,
              "tau_syn_I": _POSITIVE, "tau_refrac": _NON_NEGATIVE, "tau_w": _POSITIVE,
              "delta_T": _NON_NEGATIVE}

    def _adaptation(self, native: dict) -> dict:
        delta_t = np.asarray(native["delta_T"], dtype=float)
        # like NEST: with delta_T = 0 the model is a LIF with threshold v_thresh
        v_peak = np.where(delta_t > 0, native["v_spike"], native["v_thresh"])
        return {"a": np.asarray(native["a"], dtype=float) / 1000.0,  # nS -> µS
                "b": native["b"], "tau_w": native["tau_w"], "delta_T": delta_t,
                "v_peak": v_peak}

    def engine_parameters(self, native: dict) -> dict:
        out = super().engine_parameters(native)
        dT = np.asarray(native["delta_T"], dtype=float)
        bad = (dT > 0) & (np.asarray(native["v_spike"]) <= np.asarray(native["v_thresh"]))
        if np.any(bad):
            i = int(np.flatnonzero(np.ravel(bad))[0])
            raise errors.InvalidParameterValueError(
                "EIF_cond_exp_isfa_ista: parameter 'v_spike' must be above 'v_thresh' "
                f"(got v_spike={float(np.ravel(native['v_spike'])[i]):g} mV, "
                f"v_thresh={float(np.ravel(native['v_thresh'])[i]):g} mV)")
        return out


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__
    translations = _identity_translations(cells.SpikeSourcePoisson.default_parameters)
    bounds = {"rate": _NON_NEGATIVE, "start": _NON_NEGATIVE, "duration": _NON_NEGATIVE}

    def check(self, native: dict) -> None:
        for name, value in native.items():
            _check(name, value, self.bounds[name] if name != "duration" else
                   (0.0, np.inf, True), "SpikeSourcePoisson")


class SpikeSourceArray(cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__
    translations = _identity_translations(cells.SpikeSourceArray.default_parameters)

    @staticmethod
    def trains(native: dict) -> list[np.ndarray]:
        """The spike trains (ms) as float arrays, validated (finite, >= 0, in increasing
        order as PyNN requires; equal times are allowed)."""
        out = []
        for seq in np.asarray(native["spike_times"], dtype=object).ravel():
            t = np.asarray(getattr(seq, "value", seq), dtype=float).ravel()
            if t.size and (not np.all(np.isfinite(t)) or t.min() < 0):
                raise errors.InvalidParameterValueError(
                    f"SpikeSourceArray: parameter 'spike_times' must hold finite times >= 0 ms, "
                    f"got {float(t[~np.isfinite(t) | (t < 0)][0]):g}")
            if np.any(np.diff(t) < 0):
                k = int(np.flatnonzero(np.diff(t) < 0)[0])
                raise errors.InvalidParameterValueError(
                    "Spike times given to SpikeSourceArray must be in increasing order (got "
                    f"{t[k]:g} ms before {t[k + 1]:g} ms)")
            out.append(t)
        return out
