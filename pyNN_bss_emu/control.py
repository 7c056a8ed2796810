"""setup/end/run/reset and state queries of ``pyNN.bss_emu``."""
from __future__ import annotations

import numbers

from pyNN import common
from pyNN.common.control import DEFAULT_MAX_DELAY, DEFAULT_MIN_DELAY, DEFAULT_TIMESTEP
from pyNN.recording import get_io

from . import simulator
from .mapper import WaferMapper

#: extra keyword options of ``setup()``: name -> (default, description)
SETUP_OPTIONS = {
    "max_delay": (DEFAULT_MAX_DELAY, "largest synaptic delay in ms, or 'auto'"),
    "ideal": (False, "switch off every hardware effect: no wafer mapping (no placement limits, "
                     "no synapse loss); the network runs on the ideal engine"),
    "stimulus_seed": (0, "seed (int >= 0) of the spike-source randomness (SpikeSourcePoisson)"),
    "wafer_seed": (0, "seed (int >= 0) of the emulated wafer: its defect map and fixed "
                      "pattern (synapse weights, readout offsets, delay spread)"),
    "trial_seed": (0, "seed (int >= 0) of the trial-to-trial variation (readout noise)"),
    "calibration": ("calibrated", "neuron parameters on the wafer: 'calibrated' (residual "
                                  "mismatch of a calibrated wafer), 'off' (uncalibrated "
                                  "spreads) or 'ideal' (FG quantisation only)"),
    "voltage_alpha": (10.0, "bio -> hardware voltage scale: V_hw = alpha * V_bio[mV] * 1e-3 + "
                            "shift (marocco's param_trafo.alpha_v)"),
    "voltage_shift": (1.2, "bio -> hardware voltage shift in V (param_trafo.shift_v)"),
    "big_capacitors": (True, "big (2.16 pF) or small (0.164 pF) membrane capacitors per denmem"),
    "leak_mode": ("normal", "leak current mirror: 'slow', 'normal' or 'fast' (tau_m ranges)"),
    "clip_parameters": (False, "clip neuron parameters outside the hardware ranges (one warning "
                               "per parameter) instead of raising an error"),
    "analog_recording_limit": (False, "enforce the hardware's 2 recorded membranes per "
                                      "reticle (error naming the reticle)"),
    "defects": ("default", "'default' (seeded small defect rates), 'none', a dict of defect "
                           "rates, or the path of a JSON defect file"),
    "neuron_size": (4, "denmems per logical neuron (even, 2..64); per population with "
                       "sim.set_neuron_size()"),
    "continue_despite_synapse_loss": (False, "run although the mapping lost synapses (lost "
                                             "synapses transmit nothing); default: error"),
    "driver_chain_length": (3, "maximum synapse-driver chain length (1..56)"),
    "merger_routing": ("auto", "'auto' (map with 'minimize_as_possible' and 'minimize', keep "
                               "the one losing fewer synapses), 'minimize_as_possible' (merge "
                               "adjacent neuron blocks while the driver chain at the targets "
                               "allows it), 'minimize' (merge up to 59 neurons) or "
                               "'one_to_one'"),
    "l1_routing": ("backbone+dijkstra", "L1 routing algorithm: 'backbone+dijkstra' (marocco's "
                                        "backbone router, then shortest-path growth for the "
                                        "targets it missed), 'backbone' or 'dijkstra'"),
    "speedup": (1e4, "hardware speed-up (1e3..1e5); sets the input bandwidth in bio time"),
    "weight_rounding": ("nearest", "4-bit weight rounding: 'nearest' or 'stochastic' "
                                   "(unbiased, like marocco)"),
    "mapping_file": (None, "path of a saved mapping (sim.save_mapping) to reuse for this "
                           "network, or where to save a new one"),
    "progress": (None, "progress bars (stderr) for long runs and large mappings: True, False "
                       "or None (only on a terminal; environment PYNN_BSS_EMU_PROGRESS=1/0)"),
}


_BOOL_OPTIONS = ("ideal", "continue_despite_synapse_loss", "analog_recording_limit",
                 "clip_parameters", "big_capacitors")
#: name -> (type, lowest, highest allowed value)
_NUMBER_OPTIONS = {
    "stimulus_seed": (numbers.Integral, 0, float("inf")),
    "wafer_seed": (numbers.Integral, 0, float("inf")),
    "trial_seed": (numbers.Integral, 0, float("inf")),
    "driver_chain_length": (numbers.Integral, 1, 56),     # 56 drivers per quadrant
    "speedup": (numbers.Real, 1e3, 1e5),                  # what the hardware supports
    "voltage_alpha": (numbers.Real, 1.0, 50.0),
    "voltage_shift": (numbers.Real, 0.0, 1.8),            # the FG voltage range
}
_CHOICE_OPTIONS = {
    "merger_routing": ("auto", "minimize_as_possible", "minimize", "one_to_one"),
    "l1_routing": ("backbone+dijkstra", "backbone", "dijkstra"),
    "weight_rounding": ("nearest", "stochastic"),
    "calibration": ("calibrated", "off", "ideal"),
    "leak_mode": ("slow", "normal", "fast"),
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
    for name in _BOOL_OPTIONS:
        if not isinstance(options[name], bool):
            raise TypeError(f"setup({name}={options[name]!r}): expected True or False")
    for name, (kind, lo, hi) in _NUMBER_OPTIONS.items():
        v = options[name]
        if isinstance(v, bool) or not isinstance(v, kind) or not lo <= v <= hi:
            what = "an integer" if kind is numbers.Integral else "a number"
            bounds = f">= {lo}" if hi == float("inf") else f"in {lo:g}..{hi:g}"
            raise ValueError(f"setup({name}={v!r}): expected {what} {bounds}")
    for name, allowed in _CHOICE_OPTIONS.items():
        if options[name] not in allowed:
            raise ValueError(f"setup({name}={options[name]!r}): expected one of {allowed}")
    if options["progress"] not in (None, True, False):
        raise TypeError(f"setup(progress={options['progress']!r}): expected True, False or None")
    from .mapper import check_neuron_size
    check_neuron_size(options["neuron_size"])
    max_delay = options["max_delay"]
    if max_delay != "auto" and (not isinstance(max_delay, numbers.Real) or max_delay < timestep):
        raise ValueError(f"setup(max_delay={max_delay!r}): expected 'auto' or a number of ms "
                         f">= timestep ({timestep} ms)")
    if min_delay != "auto" and (not isinstance(min_delay, numbers.Real)):
        raise ValueError(f"setup(min_delay={min_delay!r}): expected 'auto' or a number of ms")
    return options


def _defect_map(options: dict):
    """The wafer's defect map from the ``defects`` option (validated here, before anything of
    the previous simulation is discarded)."""
    from .hardware.defects import DefectMap
    try:
        return DefectMap.from_spec(options["defects"], options["wafer_seed"])
    except (ValueError, OSError) as err:
        raise type(err)(f"setup(defects={options['defects']!r}): {err}") from None


def setup(timestep: float = DEFAULT_TIMESTEP, min_delay=DEFAULT_MIN_DELAY,
          **extra_params) -> int:
    """Start a new simulation; any previous network is discarded.

    ``timestep``, ``min_delay`` and ``max_delay`` are in ms.  Extra options: see
    ``SETUP_OPTIONS`` (unknown keywords are an error).  Returns the MPI rank (always 0).
    """
    options = _check_options(timestep, min_delay, extra_params)
    common.setup(timestep, min_delay, **extra_params)
    state = simulator.state
    defects = _defect_map(options)
    state.options = options
    state.ended = False
    state.new_network(float(timestep))
    state.clear()
    state.mapper = None if options["ideal"] else WaferMapper(options, defects)
    state.warnings_given = set()
    state.min_delay = min_delay
    state.max_delay = options["max_delay"]
    from . import simulator as _simulator
    _simulator.PROGRESS = options["progress"] if options["progress"] is not None \
        else _simulator.PROGRESS_DEFAULT
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
