"""The ideal backend (``setup(ideal=True)``): no wafer, every value realised as asked."""
from __future__ import annotations

from .base import Backend
from .invalidation import IDEAL_RULES


class IdealBackend(Backend):
    """The engine runs the requested network: no placement limits, no synapse loss, exact
    weights, PyNN delays, no event loss, no readout noise."""
    name = "ideal"
    description = "ideal engine"
    rules = IDEAL_RULES
