"""Property-based tests (hypothesis) of what a user can pass in (issue 13): every ``setup()``
option and the connectors' inputs give either a valid result or a clear error (one of the
documented exception types, naming what was wrong), and the simulator stays usable after it.
"""
from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyNN import errors

from pyNN_bss_emu.backend.options import KEYWORDS

#: errors a bad input may raise (PyNN's and the standard ones), never anything else
CLEAR = (TypeError, ValueError, OSError, errors.ConnectionError, errors.InvalidWeightError,
         errors.InvalidParameterValueError, errors.InvalidDimensionsError)

#: values of every kind a script might pass by mistake
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.integers(-3, 3), max_size=3), st.dictionaries(st.text(max_size=4),
                                                             st.floats(), max_size=2),
    st.sampled_from([np.int64(3), np.uint64(2**63), np.float32(0.5), np.nan, "auto",
                     "none", "default", 1e4, 4, 8, 0, -1]))

#: examples per test: 60 in the suite; BSS_EMU_HYPOTHESIS_EXAMPLES=1000 for a deeper search
SETTINGS = settings(max_examples=int(os.environ.get("BSS_EMU_HYPOTHESIS_EXAMPLES", 60)),
                    deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


def _still_usable(sim) -> None:
    """A fresh setup and a small network run (the simulator is not left broken)."""
    sim.setup(ideal=True)
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0]))
    pop = sim.Population(2, sim.IF_cond_exp(tau_refrac=2.0))
    sim.Projection(src, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.05))
    pop.record("spikes")
    sim.run(10.0)
    assert sim.get_current_time() == pytest.approx(10.0)


# mapping_file would write files named by the drawn text; it has its own tests
KEYWORD_NAMES = sorted(set(KEYWORDS) - {"mapping_file"})


@SETTINGS
@given(name=st.sampled_from(KEYWORD_NAMES), value=ANY_VALUE)
def test_any_setup_option_gives_a_result_or_a_clear_error(sim, name, value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            assert sim.setup(**{"ideal": False, "defects": "none", name: value}) == 0
        except CLEAR as err:
            assert name in str(err), f"{type(err).__name__} does not name {name}: {err}"
        else:
            # what setup() accepted must run: a small network on the wafer (or ideal)
            src = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0]))
            pop = sim.Population(2, sim.IF_cond_exp(tau_refrac=2.0))
            sim.Projection(src, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.05))
            sim.run(5.0)
            assert sim.get_current_time() == pytest.approx(5.0)
    _still_usable(sim)


@SETTINGS
@given(timestep=ANY_VALUE, min_delay=ANY_VALUE)
def test_any_timestep_and_min_delay_give_a_result_or_a_clear_error(sim, timestep, min_delay):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            sim.setup(timestep=timestep, min_delay=min_delay, ideal=True)
        except CLEAR:
            pass
        except Exception as err:   # PyNN's common.setup raises a bare Exception for some
            assert "min_delay" in str(err) or "timestep" in str(err), err
        else:
            dt = sim.get_time_step()
            assert math.isfinite(dt) and dt > 0
            sim.Population(1, sim.IF_cond_exp(tau_refrac=2.0))
            sim.run(1.0)
    _still_usable(sim)


# ---------------------------------------------------------------- connectors
CONNECTORS = st.one_of(
    st.builds(lambda p: ("FixedProbabilityConnector", dict(p_connect=p)), ANY_VALUE),
    st.builds(lambda n, r: ("FixedNumberPreConnector", dict(n=n, with_replacement=r)),
              ANY_VALUE, st.booleans()),
    st.builds(lambda n: ("FixedTotalNumberConnector", dict(n=n)), ANY_VALUE),
    st.builds(lambda rows: ("FromListConnector", dict(conn_list=rows)),
              st.lists(st.lists(st.one_of(st.integers(-2, 6), st.floats(allow_nan=True)),
                                min_size=0, max_size=4), max_size=5)),
    st.builds(lambda s: ("AllToAllConnector", dict(allow_self_connections=s)), ANY_VALUE),
)


@SETTINGS
@given(connector=CONNECTORS, weight=ANY_VALUE, delay=ANY_VALUE)
def test_any_connector_input_gives_a_result_or_a_clear_error(sim, connector, weight, delay):
    name, kwargs = connector
    sim.setup(ideal=True)
    a = sim.Population(4, sim.IF_cond_exp(tau_refrac=2.0))
    b = sim.Population(5, sim.IF_cond_exp(tau_refrac=2.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            conn = getattr(sim, name)(**kwargs, rng=sim.NumpyRNG(seed=1)) \
                if name not in ("FromListConnector", "AllToAllConnector") \
                else getattr(sim, name)(**kwargs)
            prj = sim.Projection(a, b, conn, sim.StaticSynapse(weight=weight, delay=delay))
        except CLEAR:
            pass
        else:
            w = np.asarray(prj.get("weight", format="list", with_address=False), float)
            d = np.asarray(prj.get("delay", format="list", with_address=False), float)
            assert np.all(np.isfinite(w)) and np.all(w >= 0)
            assert np.all(np.isfinite(d)) and np.all(d >= sim.get_time_step() - 1e-12)
            sim.run(2.0)
    _still_usable(sim)


@pytest.mark.both_modes
@pytest.mark.parametrize("size", [2.7, 3.0, "3", True, 0, -1, (2, 0), (2, 2, 2, 2), None])
def test_population_size_must_be_an_integer_or_a_grid(sim, mode, size):
    """Before issue 13: Population(2.7) made 2 neurons, Population("3") and Population(True)
    were accepted."""
    with pytest.raises(errors.InvalidDimensionsError, match="population size"):
        sim.Population(size, sim.IF_cond_exp(tau_refrac=2.0))
    assert sim.Population((2, 3), sim.IF_cond_exp(tau_refrac=2.0)).size == 6
    assert sim.Population(np.int64(3), sim.IF_cond_exp(tau_refrac=2.0)).size == 3


@pytest.mark.parametrize("make, text", [
    (lambda sim: sim.AllToAllConnector(allow_self_connections=None), "allow_self_connections"),
    (lambda sim: sim.FixedProbabilityConnector(1.5), "p_connect"),
    (lambda sim: sim.FixedProbabilityConnector(float("nan")), "p_connect"),
    (lambda sim: sim.FixedNumberPreConnector(2**40), "n="),
    (lambda sim: sim.FixedNumberPostConnector(-1), "n="),
    (lambda sim: sim.FixedTotalNumberConnector(3, with_replacement="yes"), "with_replacement"),
    (lambda sim: sim.StaticSynapse(weight=[]), "weight"),
    (lambda sim: sim.StaticSynapse(weight=True), "weight"),
])
def test_connector_and_synapse_arguments_give_clear_errors(sim, make, text):
    """PyNN only asserts these (a bare AssertionError) or fails deep inside lazyarray."""
    with pytest.raises((ValueError, errors.InvalidParameterValueError), match=text):
        make(sim)


def test_a_projection_that_cannot_fit_in_memory_is_refused_before_drawing(sim):
    a = sim.Population(100, sim.IF_cond_exp(tau_refrac=2.0), label="a")
    b = sim.Population(100, sim.IF_cond_exp(tau_refrac=2.0), label="b")
    with pytest.raises(errors.ConnectionError, match="GiB, more than this machine"):
        sim.Projection(a, b, sim.FixedTotalNumberConnector(2**31 - 1,
                                                           rng=sim.NumpyRNG(seed=1)))
    assert sim.run(1.0) == pytest.approx(1.0)
