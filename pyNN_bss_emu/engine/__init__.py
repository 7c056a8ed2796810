"""Compiled, time-stepped emulation of the analog core: neurons, synapses, spike transport.

The engine knows flat arrays, not PyNN objects; see :class:`network.Network`.
"""
from .network import Network, compound_neuron_parameters, STATE_VARIABLES  # noqa: F401
from .kernels import PARAM_COLUMNS  # noqa: F401
