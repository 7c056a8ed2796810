"""PyNN standard models the BrainScaleS-1 wafer lacks: the nearest model it offers, and what
changes if a script switches to it (used in the error ``pyNN.bss_emu`` raises for them)."""
from __future__ import annotations

#: PyNN model -> (nearest wafer model, what changes)
NEAREST_MODEL: dict[str, tuple[str, str]] = {
    "IF_cond_alpha": (
        "IF_cond_exp", "the synaptic conductance jumps and decays exponentially instead of "
        "rising as an alpha function: same tau_syn, an earlier and sharper PSP; scale the "
        "weight by e (2.72) to keep the charge of an alpha synapse"),
    "IF_curr_alpha": (
        "IF_curr_exp", "exponential instead of alpha-shaped synaptic currents (scale the "
        "weight by e to keep the charge); IF_curr_exp is itself emulated with conductances"),
    "IF_curr_delta": (
        "IF_curr_exp", "a short exponential current (tau_syn_E/I = 0.5 ms, the wafer's low "
        "end, weight in nA = delta jump in mV x cm / tau_syn) instead of an instantaneous "
        "voltage jump"),
    "IF_facets_hardware1": (
        "IF_cond_exp", "the FACETS wafer model's fixed parameters become free IF_cond_exp "
        "parameters (the BrainScaleS-1 denmem is a superset)"),
    "IF_cond_exp_gsfa_grr": (
        "EIF_cond_exp_isfa_ista", "spike-frequency adaptation by the adaptation current "
        "(b, tau_w; delta_T = 0 for a sharp threshold) instead of conductances; no relative "
        "refractoriness"),
    "EIF_cond_alpha_isfa_ista": (
        "EIF_cond_exp_isfa_ista", "exponential instead of alpha-shaped synaptic conductances "
        "(scale the weight by e to keep the charge)"),
    "AdExp": ("EIF_cond_exp_isfa_ista", "the same AdEx dynamics with PyNN's standard names"),
    "LIF": ("IF_cond_exp", "conductance-based exponential synapses"),
    "PointNeuron": ("IF_cond_exp or EIF_cond_exp_isfa_ista",
                    "one compartment with exponential conductance synapses"),
    "Izhikevich": (
        "EIF_cond_exp_isfa_ista", "AdEx reproduces the Izhikevich firing patterns (tonic, "
        "bursting, adapting) with other parameters: a quadratic spike onset becomes an "
        "exponential one and u becomes the adaptation current w"),
    "HH_cond_exp": (
        "EIF_cond_exp_isfa_ista", "an integrate-and-fire neuron with an exponential spike "
        "onset instead of Hodgkin-Huxley channels: no spike shape, a refractory time instead"),
    "GIF_cond_exp": (
        "EIF_cond_exp_isfa_ista", "one adaptation current instead of spike-triggered current "
        "and threshold kernels; a deterministic threshold"),
    "MultiCompartmentNeuron": (
        "IF_cond_exp", "one compartment (denmems of a logical neuron share one membrane)"),
    "SpikeSourcePoissonRefractory": (
        "SpikeSourceArray", "generate the trains beforehand (e.g. with numpy) and play them "
        "back; SpikeSourcePoisson has no dead time"),
    "SpikeSourceGamma": ("SpikeSourceArray", "generate the gamma trains beforehand"),
    "SpikeSourceInhGamma": ("SpikeSourceArray", "generate the inhomogeneous trains "
                                                "beforehand"),
    "ElectricalSynapse": ("(none)", "the wafer has no gap junctions"),
    "SimpleStochasticSynapse": (
        "StaticSynapse", "deterministic transmission; scale the weight by the release "
        "probability for the same mean"),
    "StochasticTsodyksMarkramSynapse": (
        "TsodyksMarkramSynapse", "the mean-field (deterministic) short-term plasticity of "
        "the synapse drivers"),
    "MultiQuantalSynapse": ("TsodyksMarkramSynapse", "deterministic short-term plasticity"),
    "Vogels2011Rule": (
        "SpikePairRule", "the wafer's STDP circuit pairs spikes (inhibitory plasticity with "
        "Vogels' symmetric rule is not a circuit mode)"),
}


def nearest_model_message(name: str, offered: list[str]) -> str:
    """The error text for PyNN model ``name``, which the wafer does not offer."""
    text = f"{name} is not available on the BrainScaleS-1 wafer emulated by pyNN.bss_emu"
    if name in NEAREST_MODEL:
        model, change = NEAREST_MODEL[name]
        text += f"; the nearest model it offers is {model}: {change}"
    return text + f". It offers: {', '.join(offered)}"
