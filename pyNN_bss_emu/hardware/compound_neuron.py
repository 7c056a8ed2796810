"""Compound neurons: several denmems connected into one logical neuron share one membrane
(brainscales1.md section 3.2); their per-denmem parameters combine into per-neuron ones."""
from __future__ import annotations

import numpy as np


def compound_neuron_parameters(denmem_params: dict[str, np.ndarray],
                               neuron_of_denmem: np.ndarray) -> dict[str, np.ndarray]:
    """Combine per-denmem parameters into per-neuron ones (compound neurons).

    The denmems of a compound neuron share one membrane: capacitances, leak, adaptation and
    synaptic conductance scales add up, reversal potentials and thresholds are conductance
    (leak) weighted means.  ``neuron_of_denmem`` must be sorted (denmems of one neuron adjacent).
    """
    starts = np.flatnonzero(np.r_[True, np.diff(neuron_of_denmem) != 0])
    add = np.add.reduceat
    g_l = add(denmem_params["g_l"], starts)
    out = {"cm": add(denmem_params["cm"], starts), "g_l": g_l}
    for name in ("a", "b", "i_offset", "syn_scale_E", "syn_scale_I"):
        if name in denmem_params:
            out[name] = add(denmem_params[name], starts)
    for name in ("e_l", "v_thresh", "e_rev_E", "e_rev_I", "delta_T", "tau_w", "tau_syn_E",
                 "tau_syn_I", "v_reset", "v_peak"):
        if name in denmem_params:
            out[name] = add(denmem_params[name] * denmem_params["g_l"], starts) / g_l
    return out
