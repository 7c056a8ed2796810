"""Faults at the PyNN seam: objects of a previous ``setup()``, 1-D weight arrays in
``Projection.set``, the ADC readout noise of views, and run() callbacks that never advance.

Each test states the intended behaviour; they were written against a main on which they fail
(the companions marked "keeps working" pass there too).  Units: ms, mV, µS, nA; dt = 0.1 ms.
"""
from __future__ import annotations

import signal
import warnings

import numpy as np
import pytest
from pyNN import errors

from conftest import spike_times

DT = 0.1
OLD = "before the last setup"      # what the refusal of a stale object must say


# ---------------------------------------------------------------- 1. objects of an old setup()
def _stale_network(sim):
    """A network of the first setup(): a source that fires once (5 ms), a population, a
    projection, a view; then setup() again."""
    src = sim.Population(5, sim.SpikeSourceArray(spike_times=[5.0]), label="old_src")
    pop = sim.Population(5, sim.IF_cond_exp(), label="old_pop")
    prj = sim.Projection(src, pop, sim.OneToOneConnector(),
                         sim.StaticSynapse(weight=0.05, delay=1.0), label="old_prj")
    view = pop[0:2]
    sim.setup(timestep=DT)
    return src, pop, prj, view


def _assert_refused(excinfo, label: str) -> None:
    msg = str(excinfo.value)
    assert OLD in msg, msg
    assert label in msg, msg


def test_projection_from_old_population_cannot_reach_new_cells(sim):
    """Today the projection attaches to whichever new cells have the old source's node
    numbers: here tonically firing neurons, so each target fires 9 times in 300 ms instead
    of once.  Intended: RuntimeError naming 'old_src', and nothing attached."""
    old_src, _, _, _ = _stale_network(sim)
    sim.Population(5, sim.IF_cond_exp(i_offset=1.0, tau_refrac=2.0), label="driven")
    target = sim.Population(5, sim.IF_cond_exp(tau_refrac=2.0), label="target")
    target.record("spikes")
    try:
        sim.Projection(old_src, target, sim.OneToOneConnector(),
                       sim.StaticSynapse(weight=0.1, delay=1.0))
    except RuntimeError as err:
        assert OLD in str(err) and "old_src" in str(err), str(err)
    else:
        sim.run(300.0)
        counts = [t.size for t in spike_times(target.get_data())]
        pytest.fail("a Projection from a Population of the previous setup() was accepted; "
                    f"its targets fired {counts} spikes (the source fires once)")
    sim.run(300.0)
    assert all(t.size == 0 for t in spike_times(target.get_data()))


def test_projection_onto_old_population_is_refused(sim):
    _, old_pop, _, _ = _stale_network(sim)
    new_src = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0]), label="new_src")
    with pytest.raises(RuntimeError) as exc:
        sim.Projection(new_src, old_pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01))
    _assert_refused(exc, "old_pop")


def test_old_population_record_and_set_are_refused(sim):
    _, old_pop, _, _ = _stale_network(sim)
    sim.Population(5, sim.IF_cond_exp(), label="new_pop")
    with pytest.raises(RuntimeError) as exc:
        old_pop.record("spikes")
    _assert_refused(exc, "old_pop")
    with pytest.raises(RuntimeError) as exc:
        old_pop.set(tau_m=10.0)
    _assert_refused(exc, "old_pop")


@pytest.mark.parametrize("when", ["view_before_setup", "view_after_setup"])
def test_view_of_old_population_in_projection_is_refused(sim, when):
    _, old_pop, _, view = _stale_network(sim)
    old_view = view if when == "view_before_setup" else old_pop[0:2]
    new_pop = sim.Population(3, sim.IF_cond_exp(), label="new_pop")
    with pytest.raises(RuntimeError) as exc:
        sim.Projection(old_view, new_pop, sim.AllToAllConnector(),
                       sim.StaticSynapse(weight=0.01))
    assert OLD in str(exc.value) and "old_pop" in str(exc.value), str(exc.value)


def test_old_projection_get_and_set_are_refused(sim):
    """Today ``old_prj.set(weight=...)`` rewrites the new network's engine weights."""
    _, _, old_prj, _ = _stale_network(sim)
    a = sim.Population(5, sim.IF_cond_exp(), label="a")
    b = sim.Population(5, sim.IF_cond_exp(), label="b")
    new_prj = sim.Projection(a, b, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.02))
    sim.run(1.0)
    with pytest.raises(RuntimeError) as exc:
        old_prj.get("weight", format="list")
    _assert_refused(exc, "old_prj")
    with pytest.raises(RuntimeError) as exc:
        old_prj.set(weight=0.05)
    _assert_refused(exc, "old_prj")
    assert [w for _, _, w in new_prj.get("weight", format="list")] == [0.02] * 5
    np.testing.assert_array_equal(sim.simulator.state.network.syn_weight, 0.02)


def test_simulator_stays_usable_after_a_refusal(sim):
    old_src, old_pop, _, _ = _stale_network(sim)
    src = sim.Population(3, sim.SpikeSourceArray(spike_times=[5.0]), label="src")
    pop = sim.Population(3, sim.IF_cond_exp(tau_refrac=2.0), label="pop")
    for attempt in (lambda: sim.Projection(old_src, pop, sim.AllToAllConnector()),
                    lambda: old_pop.record("spikes")):
        with pytest.raises(RuntimeError, match=OLD):
            attempt()
    # 0.1 µS: one input spike, one output spike
    sim.Projection(src, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.1, delay=1.0))
    pop.record("spikes")
    sim.run(50.0)
    assert [t.size for t in spike_times(pop.get_data())] == [1, 1, 1]


# ---------------------------------------------------------------- 2. 1-D weight arrays
#: connections in an order that is not pre x post order
CONNECTIONS = [(1, 0), (0, 2), (1, 2), (0, 1)]


def _small_projection(sim):
    a = sim.Population(2, sim.IF_cond_exp(), label="a")
    b = sim.Population(3, sim.IF_cond_exp(), label="b")
    return sim.Projection(a, b, sim.FromListConnector(CONNECTIONS),
                          sim.StaticSynapse(weight=0.01), label="ab")


@pytest.mark.both_modes
@pytest.mark.parametrize("n", [6, 3], ids=["pre_x_post", "post"])
def test_set_weight_1d_array_of_wrong_length_is_refused(sim, mode, n):
    """A 1-D array must hold one value per connected pair (4 here): other lengths are an
    InvalidDimensionsError naming the shape given and the accepted forms (before: a bare
    numpy ValueError); the weights stay unchanged."""
    prj = _small_projection(sim)
    sim.run(1.0)                         # mapped on the wafer in wafer mode
    before = prj.get("weight", format="list")
    w = np.arange(1, n + 1) * 1e-3
    with pytest.raises(errors.InvalidDimensionsError) as exc:
        prj.set(weight=w)
    msg = str(exc.value)
    assert f"({n},)" in msg and "4 here" in msg, msg
    for accepted in ("scalar", "RandomDistribution", "distance", "(2, 3)"):
        assert accepted in msg, (accepted, msg)
    assert prj.get("weight", format="list") == before


@pytest.mark.both_modes
@pytest.mark.parametrize("as_list", [False, True])
def test_set_weight_1d_array_follows_pynns_row_major_pair_order(sim, mode, as_list):
    """PyNN 0.13's own Projection.set maps a list or 1-D array onto the connected (pre,
    post) pairs in row-major order (its conformance scenarios rely on it); the same in both
    modes, and on the wafer also when a synapse is lost (its NaN must not shift the order:
    checked through get_requested, which holds what was asked)."""
    prj = _small_projection(sim)
    sim.run(1.0)
    w = np.arange(1, 5) * 1e-3
    prj.set(weight=list(w) if as_list else w)
    got = {(int(i), int(j)): v for i, j, v in
           prj.get_requested("weight", format="list", with_address=True)}
    pairs = sorted(CONNECTIONS)          # row-major: (0, 1), (0, 2), (1, 0), (1, 2)
    assert got == {pair: pytest.approx(value) for pair, value in zip(pairs, w)}


@pytest.mark.both_modes
def test_set_weight_2d_array_keeps_working(sim, mode):
    prj = _small_projection(sim)
    w = np.arange(6, dtype=float).reshape(2, 3) * 1e-3 + 1e-3
    prj.set(weight=w)
    got = prj.get("weight", format="array")
    expected = np.full((2, 3), np.nan)
    for i, j in CONNECTIONS:
        expected[i, j] = w[i, j]
    np.testing.assert_array_equal(got, expected)


# ---------------------------------------------------------------- 3. readout noise of views
def _v_by_cell(obj) -> dict[int, np.ndarray]:
    """Recorded v of a Population or view: cell index in the population -> samples (mV)."""
    sig = obj.get_data().segments[0].filter(name="v")[0]
    channels = np.asarray(sig.array_annotations["channel_index"], dtype=int)
    return {int(c): np.asarray(sig.magnitude[:, k]) for k, c in enumerate(channels)}


def _recorded_wafer_population(sim):
    p = sim.Population(4, sim.IF_cond_exp(i_offset=np.array([0.5, 0.8, 1.0, 1.2]),
                                          tau_refrac=2.0), label="p")
    p.record("v")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(50.0)
    return p


def test_readout_noise_does_not_depend_on_the_view(wafer_sim):
    """One ADC draw per sample, neuron and trial: a view returns the same v samples as the
    whole population for its neurons (today they differ by up to ~2.5 mV)."""
    p = _recorded_wafer_population(wafer_sim)
    whole = _v_by_cell(p)
    for view in (p[0:1], p[[3, 1]], p[1:4]):
        for cell, v in _v_by_cell(view).items():
            np.testing.assert_array_equal(v, whole[cell], err_msg=f"cell {cell} of {view}")


def test_readout_noise_does_not_depend_on_the_query_order(wafer_sim):
    """The view first and then the population gives the same data as the other order (two
    identical networks, same seeds), and the same data for the view's neurons."""
    sim = wafer_sim
    p = _recorded_wafer_population(sim)
    whole_first, view_second = _v_by_cell(p), _v_by_cell(p[[2]])
    sim.setup(timestep=DT, defects="none")
    q = _recorded_wafer_population(sim)
    view_first, whole_second = _v_by_cell(q[[2]]), _v_by_cell(q)
    for cell in range(4):
        np.testing.assert_array_equal(whole_first[cell], whole_second[cell])
    np.testing.assert_array_equal(view_first[2], view_second[2])
    np.testing.assert_array_equal(view_first[2], whole_first[2])


# ---------------------------------------------------------------- 4. callbacks that never advance
@pytest.fixture
def hang_guard():
    """Fail (instead of hanging) if the test takes longer than 20 s."""
    def on_alarm(signum, frame):
        raise TimeoutError("no progress after 20 s: the run loops forever")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def test_callback_returning_less_than_half_a_step_ahead_is_refused(sim, hang_guard):
    """A callback asks to be called again 0.01 ms later (< dt/2): the run cannot advance.
    Today run() loops forever; intended: ValueError naming the time asked for (or the
    interval) and dt.  The simulator stays usable."""
    pop = sim.Population(1, sim.IF_cond_exp(i_offset=1.0, tau_refrac=2.0))
    pop.record("spikes")
    with pytest.raises(ValueError) as exc:
        sim.run(10, callbacks=[lambda t: t + 0.01])
    msg = str(exc.value)
    assert ("0.01" in msg) and ("dt" in msg or "time step" in msg) and "0.1" in msg, msg
    t0 = sim.get_current_time()
    assert sim.run(50.0) == pytest.approx(t0 + 50.0)
    assert spike_times(pop.get_data(), 0).size > 0     # first spike at 27.7 ms


def test_callback_with_a_sane_interval_keeps_working(sim, hang_guard):
    sim.Population(1, sim.IF_cond_exp())
    calls = []

    def every_ms(t: float) -> float:
        calls.append(t)
        return t + 1.0

    assert sim.run(10.0, callbacks=[every_ms]) == pytest.approx(10.0)
    np.testing.assert_allclose(calls, np.arange(11.0), atol=1e-9)
