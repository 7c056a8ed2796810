"""PyNN's procedural API (create, connect, record, ...) for ``pyNN.bss_emu``."""
from pyNN import common

from . import simulator
from .connectors import FixedProbabilityConnector
from .populations import Population
from .projections import Projection
from .standardmodels.synapses import StaticSynapse

create = common.build_create(Population)
connect = common.build_connect(Projection, FixedProbabilityConnector, StaticSynapse)
set = common.set  # noqa: A001 - PyNN's name
record = common.build_record(simulator)


def record_v(source, filename):
    return record(["v"], source, filename)


def record_gsyn(source, filename):
    return record(["gsyn_exc", "gsyn_inh"], source, filename)
