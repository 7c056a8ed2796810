"""setup/end/run/reset and state queries of ``pyNN.bss_emu``."""
from __future__ import annotations

import numbers

from pyNN import common
from pyNN.common.control import DEFAULT_MAX_DELAY, DEFAULT_MIN_DELAY, DEFAULT_TIMESTEP
from pyNN.recording import get_io

from . import simulator

#: extra keyword options of ``setup()``: name -> (default, description)
SETUP_OPTIONS = {
    "max_delay": (DEFAULT_MAX_DELAY, "largest synaptic delay in ms, or 'auto'"),
    "ideal": (True, "switch off every hardware effect (the engine is ideal in this release)"),
    "stimulus_seed": (0, "seed (int >= 0) of the spike-source randomness (SpikeSourcePoisson)"),
}


def _check_options(timestep, min_delay, extra_params: dict) -> dict:
    unknown = sorted(set(extra_params) - set(SETUP_OPTIONS))
    if unknown:
        raise TypeError(
            f"setup() got unknown keyword argument(s) {', '.join(map(repr, unknown))}; "
            f"pyNN.bss_emu accepts timestep, min_delay and: {', '.join(sorted(SETUP_OPTIONS))}")
    if not isinstance(timestep, numbers.Real) or not timestep > 0:
        raise ValueError(f"setup(timestep={timestep!r}): the time step must be a number > 0 ms")
    options = {name: default for name, (default, _) in SETUP_OPTIONS.items()}
    options.update(extra_params)
    if not isinstance(options["ideal"], bool):
        raise TypeError(f"setup(ideal={options['ideal']!r}): expected True or False")
    seed = options["stimulus_seed"]
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"setup(stimulus_seed={seed!r}): expected an integer >= 0")
    max_delay = options["max_delay"]
    if max_delay != "auto" and (not isinstance(max_delay, numbers.Real) or max_delay < timestep):
        raise ValueError(f"setup(max_delay={max_delay!r}): expected 'auto' or a number of ms "
                         f">= timestep ({timestep} ms)")
    if min_delay != "auto" and (not isinstance(min_delay, numbers.Real)):
        raise ValueError(f"setup(min_delay={min_delay!r}): expected 'auto' or a number of ms")
    return options


def setup(timestep: float = DEFAULT_TIMESTEP, min_delay=DEFAULT_MIN_DELAY,
          **extra_params) -> int:
    """Start a new simulation; any previous network is discarded.

    ``timestep``, ``min_delay`` and ``max_delay`` are in ms.  Extra options: see
    ``SETUP_OPTIONS`` (unknown keywords are an error).  Returns the MPI rank (always 0).
    """
    options = _check_options(timestep, min_delay, extra_params)
    common.setup(timestep, min_delay, **extra_params)
    state = simulator.state
    state.options = options
    state.ended = False
    state.new_network(float(timestep))
    state.clear()
    state.min_delay = min_delay
    state.max_delay = options["max_delay"]
    return rank()


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


def run(simtime: float, callbacks=None) -> float:
    """Advance the simulation by ``simtime`` ms; returns the new time (ms)."""
    simulator.state.check_usable()
    simulator.check_positive_duration("simtime", simtime)
    return _run(simtime, callbacks)


def run_until(time_point: float, callbacks=None) -> float:
    """Advance the simulation until ``time_point`` ms; returns the new time (ms)."""
    simulator.state.check_usable()
    simulator.check_positive_duration("time_point", time_point)
    return _run_until(time_point, callbacks)


run.__doc__ = _run.__doc__ or run.__doc__
run_for = run
reset = common.build_reset(simulator)
initialize = common.initialize

get_current_time, get_time_step, get_min_delay, get_max_delay, \
    num_processes, rank = common.build_state_queries(simulator)
