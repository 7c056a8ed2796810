"""Synapse types of the wafer: static synapses (4-bit weights come with the analog substrate)."""
from __future__ import annotations

from pyNN.standardmodels import build_translations, synapses

from .. import simulator


class StaticSynapse(synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = build_translations(("weight", "weight"), ("delay", "delay"))

    def _get_minimum_delay(self) -> float:
        d = simulator.state.min_delay
        return simulator.state.dt if d == "auto" else d
