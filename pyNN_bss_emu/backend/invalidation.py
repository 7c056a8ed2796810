"""The one invalidation rule: what changed -> what must be redone before the next run.

Surface calls report a :class:`Change`; each backend owns a rule table (``Change`` -> set of
:class:`Work`) and does the pending work in :data:`WORK_ORDER` before the next run.  The order
encodes the dependencies: the synapse weights are realised after the neurons are programmed
(a 4-bit weight's bio value depends on the neuron's realised membrane capacitance), the
synapse table is built after weights and STP are realised, and a (re)mapping redoes all.
"""
from __future__ import annotations

from enum import Enum


class Change(Enum):
    """Something the user changed since the last run."""
    STRUCTURE = "cells or connections added"
    PLACEMENT = "neuron size or manual placement changed"
    NEURON_PARAMETERS = "neuron parameters set"
    WEIGHTS = "synaptic weights set"
    DELAYS = "synaptic delays set"
    STP_MODE = "STP mode or U set (a driver configuration)"
    STP_TIME_CONSTANTS = "STP time constants set"
    STDP_PARAMETERS = "STDP parameters set"
    # current sources (issue 12): new targets need FG blocks on the wafer (a mapping),
    # new parameters only new stimulus values
    CURRENT_SOURCE_TARGETS = "current source injected into cells"
    CURRENT_SOURCE_PARAMETERS = "current source parameters set"


class Work(Enum):
    """Something a backend does before a run."""
    MAP = "map the network onto the wafer"
    PROGRAM_NEURONS = "program the neuron parameters"
    #: after the neurons: a stimulus' bio current depends on the neuron's capacitance
    PROGRAM_CURRENTS = "give the engine the injected currents (wafer: the FG current stimuli)"
    CONFIGURE_EVENT_PATHS = "configure event paths and analog outputs"
    PROGRAM_WEIGHTS = "realise the synapse weights"
    SHARE_STP = "realise the STP parameters"
    BUILD_SYNAPSES = "give the engine the synapse table"
    PUSH_WEIGHTS = "give the engine the changed weights"


#: the order in which pending work is done (dependencies: see the module docstring)
WORK_ORDER = tuple(Work)

Rules = dict[Change, frozenset[Work]]

_ALL = frozenset(Work)

#: the ideal engine realises everything as asked: only the engine's synapse table follows
IDEAL_RULES: Rules = {
    Change.STRUCTURE: frozenset({Work.BUILD_SYNAPSES}),
    Change.PLACEMENT: frozenset(),
    Change.NEURON_PARAMETERS: frozenset(),   # written to the engine at once
    Change.WEIGHTS: frozenset({Work.PUSH_WEIGHTS}),
    Change.DELAYS: frozenset({Work.BUILD_SYNAPSES}),
    Change.STP_MODE: frozenset({Work.BUILD_SYNAPSES}),
    Change.STP_TIME_CONSTANTS: frozenset({Work.BUILD_SYNAPSES}),
    Change.STDP_PARAMETERS: frozenset({Work.BUILD_SYNAPSES}),
    Change.CURRENT_SOURCE_TARGETS: frozenset({Work.PROGRAM_CURRENTS}),
    Change.CURRENT_SOURCE_PARAMETERS: frozenset({Work.PROGRAM_CURRENTS}),
}

#: the wafer: structure, placement and driver modes are a mapping; parameters are programmed
WAFER_RULES: Rules = {
    Change.STRUCTURE: _ALL - {Work.PUSH_WEIGHTS},
    Change.PLACEMENT: _ALL - {Work.PUSH_WEIGHTS},
    Change.NEURON_PARAMETERS: frozenset({Work.PROGRAM_NEURONS, Work.PROGRAM_CURRENTS,
                                         Work.PROGRAM_WEIGHTS, Work.PUSH_WEIGHTS}),
    Change.WEIGHTS: frozenset({Work.PROGRAM_WEIGHTS, Work.PUSH_WEIGHTS}),
    Change.DELAYS: frozenset(),              # routed delays stay (the backend says so)
    Change.STP_MODE: _ALL - {Work.PUSH_WEIGHTS},
    Change.STP_TIME_CONSTANTS: frozenset({Work.SHARE_STP, Work.BUILD_SYNAPSES}),
    # w_max sets the rows' gmax, the rule the thresholds and tables
    Change.STDP_PARAMETERS: frozenset({Work.PROGRAM_WEIGHTS, Work.BUILD_SYNAPSES}),
    # a stimulated neuron needs an FG block of its own: placement, i.e. a new mapping
    Change.CURRENT_SOURCE_TARGETS: _ALL - {Work.PUSH_WEIGHTS},
    Change.CURRENT_SOURCE_PARAMETERS: frozenset({Work.PROGRAM_CURRENTS}),
}


class Invalidation:
    """Pending work of one backend, from its rule table."""

    def __init__(self, rules: Rules) -> None:
        missing = set(Change) - set(rules)
        if missing:
            raise ValueError(f"rule table misses {sorted(c.name for c in missing)}")
        self.rules = rules
        self.pending: set[Work] = set(rules[Change.STRUCTURE])

    def changed(self, change: Change) -> None:
        """Record a change; its work is done before the next run."""
        self.pending |= self.rules[change]

    def is_pending(self, work: Work) -> bool:
        return work in self.pending

    def done(self, work: Work) -> None:
        """Mark ``work`` done (call only after it succeeded, so a failure is retried)."""
        self.pending.discard(work)

    def todo(self) -> list[Work]:
        """Pending work in :data:`WORK_ORDER`."""
        return [w for w in WORK_ORDER if w in self.pending]
