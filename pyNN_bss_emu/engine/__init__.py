"""Compiled, time-stepped emulation of the analog core: neurons, synapses, spike transport.

The engine knows flat arrays, not PyNN objects; see :class:`network.Network`.
"""
import os

import numba

# numba's OpenMP threading layer crashes when NEST's own libgomp is loaded in the same process
# (our tests and benchmarks run both); its portable "workqueue" layer has no such conflict.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

from .network import Network, STATE_VARIABLES  # noqa: F401,E402
from .kernels import PARAM_COLUMNS  # noqa: F401,E402
