"""setup/end/run/reset and state queries of ``pyNN.bss_emu``."""
from __future__ import annotations

import numbers
import os
import warnings

from pyNN import common
from pyNN.common.control import DEFAULT_MIN_DELAY, DEFAULT_TIMESTEP
from pyNN.recording import get_io

from . import simulator
from .backend import make_backend, progress, world_exchange
from .backend.options import SetupOptions, ignored_keywords_message, setup_keywords

#: environment variable that makes ``setup()`` default to ``ideal=True``: runs an unmodified
#: script (``python script.py bss_emu``) on the ideal engine; an explicit ``ideal=`` wins
IDEAL_ENVIRONMENT = "PYNN_BSS_EMU_IDEAL"

#: extra keyword options of ``setup()``: name -> (default, description), generated from the
#: option tree (:mod:`pyNN_bss_emu.backend.options`, where each default is stated once)
SETUP_OPTIONS = setup_keywords()


def setup(timestep: float = DEFAULT_TIMESTEP, min_delay=DEFAULT_MIN_DELAY,
          **extra_params) -> int:
    """Start a new simulation; any previous network is discarded.

    ``timestep``, ``min_delay`` and ``max_delay`` are in ms.  Extra options: see
    ``SETUP_OPTIONS`` (unknown keywords are an error).  Returns the MPI rank: started by
    ``mpirun -np N`` (with the ``mpi`` extra installed) the emulation is distributed over
    the N processes, each updating its own share of the neurons (``Population.local_cells``);
    spikes are exchanged once per window of the smallest delay, and the results are
    bit-identical for any N.
    With the environment variable ``PYNN_BSS_EMU_IDEAL=1`` the default is ``ideal=True``
    (an unmodified script runs on the ideal engine).
    """
    if "ideal" not in extra_params and \
            os.environ.get(IDEAL_ENVIRONMENT, "").strip().lower() in ("1", "true", "yes"):
        extra_params["ideal"] = True
    options = SetupOptions.from_keywords(timestep, min_delay, **extra_params)
    if options.ignored:
        warnings.warn(ignored_keywords_message(options.ignored), UserWarning, stacklevel=2)
    # everything is validated before anything of the previous simulation is discarded
    exchange = world_exchange()         # None unless started by mpirun with > 1 rank
    backend = make_backend(options, float(timestep), exchange)
    common.setup(timestep, min_delay, **extra_params)
    state = simulator.state
    state.start(backend, options, float(timestep))
    state.mpi_rank = 0 if exchange is None else exchange.rank
    state.num_processes = 1 if exchange is None else exchange.size
    state.min_delay = min_delay
    state.max_delay = options.engine.max_delay
    progress.set_progress(options.engine.progress)
    return rank()


def get_backend():
    """The backend of the current simulation (:class:`pyNN_bss_emu.backend.Backend`): its
    ``name`` ('ideal' or 'wafer'), ``description`` and the queries of realised values."""
    return simulator.state.backend


def end(compatible_output: bool = True) -> None:
    """Write the files requested with ``record(..., to_file=...)`` and finish; the simulator
    can be used again only after a new ``setup()``."""
    state = simulator.state
    for (population, variables, filename) in state.write_on_end:
        io = get_io(filename)
        population.write_data(io, variables)
    state.write_on_end = []
    state.ended = True


_run, _run_until = common.build_run(simulator)


def _checked_callbacks(callbacks):
    """Wrap ``run()`` callbacks so that a callback asking to be called again less than half
    a time step later is an error: the run could not advance and would loop forever."""
    if not callbacks:
        return callbacks
    state = simulator.state

    def checked(callback):
        def call(t):
            nxt = callback(t)
            if not isinstance(nxt, numbers.Real) or not nxt >= state.t + state.dt / 2:
                raise ValueError(
                    f"run() callback {getattr(callback, '__name__', callback)!r} returned the "
                    f"next call time {nxt!r} ms at t = {state.t:g} ms: it must be at least "
                    f"half a time step later (t + dt/2 = {state.t + state.dt / 2:g} ms, "
                    f"dt = {state.dt:g} ms), or the run cannot advance")
            return nxt
        return call
    return [checked(cb) for cb in callbacks]


def run(simtime: float, callbacks=None) -> float:
    """Advance the simulation by ``simtime`` ms; returns the new time (ms).  ``callbacks``:
    functions of the time (ms) returning when to call them next (at least dt/2 later)."""
    simulator.state.check_usable()
    simulator.check_positive_duration("simtime", simtime)
    return _run(simtime, _checked_callbacks(callbacks))


def run_until(time_point: float, callbacks=None) -> float:
    """Advance the simulation until ``time_point`` ms; returns the new time (ms)."""
    simulator.state.check_usable()
    simulator.check_positive_duration("time_point", time_point)
    return _run_until(time_point, _checked_callbacks(callbacks))


run.__doc__ = _run.__doc__ or run.__doc__
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize

get_current_time, get_time_step, _configured_min_delay, _configured_max_delay, \
    num_processes, rank = common.build_state_queries(simulator)


def get_min_delay():
    """The smallest synaptic delay (ms): as given to ``setup()``, or with ``'auto'`` the
    smallest delay the network realises (as NEST reports it; on the wafer the routed delays
    after the mapping), the time step while there are no connections."""
    value = _configured_min_delay()
    if value != "auto":
        return value
    span = simulator.state.backend.delay_range()
    return simulator.state.dt if span is None else span[0]


def get_max_delay():
    """The largest synaptic delay (ms): as given to ``setup()``, or with ``'auto'`` the
    largest delay the network realises ('auto' while there are no connections)."""
    value = _configured_max_delay()
    if value != "auto":
        return value
    span = simulator.state.backend.delay_range()
    return value if span is None else span[1]
