"""STDP and short-term plasticity on the emulated wafer, through the PyNN API (issue 15).

The engine's rule itself is checked against NEST's ``stdp_facetshw_synapse_hom`` in
test_stdp_wafer_rule.py; here: the translation of PyNN's rule onto the circuit (thresholds,
lookup tables, row time), that weights learn in 4-bit steps on the synapse's own levels and
``Projection.get('weight')`` returns them, the warnings/strict errors, and the synapse driver's
STP translation (U x w programmed, lambda, N).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from pyNN import errors

import pyNN_bss_emu as sim
from pyNN_bss_emu.hardware import stdp as circuit
from pyNN_bss_emu.hardware.parameter_transform import (HardwareParameterWarning,
                                                       ParameterRangeError)
from pyNN_bss_emu.mapping import stp as driver

DT = 0.1
PERIOD = 50.0          # ms between presynaptic spikes
W_MAX = 0.01           # µS


# ------------------------------------------------------------------ the translation
def test_row_time_from_the_controllers_command_cycles():
    """397 cycles per row (34 + 8 x (18 + 6 + 21) + 3) at 125 MHz: 3.176 µs on the chip,
    31.76 ms biological at speed-up 1e4."""
    assert circuit.CYCLES_PER_ROW == 397
    assert circuit.row_time_ms(1e4) == pytest.approx(31.76)
    assert circuit.row_time_ms(1e3) == pytest.approx(3.176)


@pytest.mark.parametrize("A_plus, A_minus, steps", [
    (0.01, 0.01, (1, 1)), (0.01, 0.012, (1, 1)), (0.01, 0.02, (1, 2)), (0.03, 0.01, (3, 1)),
    (0.01, 0.0, (1, 0)), (0.0, 0.01, (0, 1))])
def test_lut_steps_follow_the_amplitude_ratio(A_plus, A_minus, steps):
    assert circuit.lut_steps(A_plus, A_minus) == steps


def test_additive_rule_translation():
    """Additive, A = 0.01: one level per 1 / (15 A) = 6.67 pairs of net correlation; tables
    d + 1 (capped at 15) and d - 1 (floored at 0); both bits leave the weight."""
    req = circuit.circuit_request(20.0, 20.0, 0.01, 0.01, 0.0, 0.0, 0.0)
    assert req.threshold == pytest.approx(1 / 0.15)
    d = np.arange(16)
    np.testing.assert_array_equal(req.lut[0], np.minimum(d + 1, 15))
    np.testing.assert_array_equal(req.lut[1], np.maximum(d - 1, 0))
    np.testing.assert_array_equal(req.lut[2], d)
    assert req.adaptations == []


def test_unequal_amplitudes_and_multiplicative_rule_are_reported():
    req = circuit.circuit_request(20.0, 20.0, 0.01, 0.012, 0.0, 0.0, 0.0)
    assert req.A_minus_realised == pytest.approx(0.01)
    assert any("A_minus/A_plus 1.2 -> 1 (comparator weight 1, 4-bit steps +1/-1" in a
               for a in req.adaptations)
    mult = circuit.circuit_request(20.0, 20.0, 0.01, 0.01, 0.0, 1.0, 1.0)
    # causal step round(1 - d/15): +1 up to level 7, none above; acausal round(d/15)
    np.testing.assert_array_equal(mult.lut[0][:8], np.arange(1, 9))
    np.testing.assert_array_equal(mult.lut[0][8:], np.arange(8, 16))
    np.testing.assert_array_equal(mult.lut[1][:8], np.arange(8))
    np.testing.assert_array_equal(mult.lut[1][8:], np.arange(7, 15))
    assert any("rounded onto 4-bit tables" in a for a in mult.adaptations)


@pytest.mark.parametrize("A_plus, A_minus, rho, steps", [
    (0.01, 0.01, 1.0, (1, 1)), (0.01, 0.012, 1.0, (1, 1)), (0.02, 0.03, 2.0, (1, 1)),
    (0.01, 0.02, 2.0, (1, 1)), (0.02, 0.01, 0.5, (1, 1)), (0.03, 0.01, 1.0, (3, 1)),
    (0.01, 0.05, 2.0, (1, 2))])
def test_comparator_weight_and_steps(A_plus, A_minus, rho, steps):
    """rho s_minus / s_plus nearest to A_minus / A_plus, a step beyond one level costing
    0.15 in log: 1.5 -> comparator weight 2 (error 0.29) rather than steps 2/3 (0.3)."""
    assert circuit.comparator_and_steps(A_plus, A_minus) == (rho, *steps)


@pytest.mark.parametrize("rho", [0.5, 1.0, 2.0])
def test_evaluation_patterns_test_the_weighted_difference(rho):
    """The programmed patterns and voltages make bit 0 = (a_c - rho a_a > T) and bit 1 =
    (rho a_a - a_c > T), checked with the engine's comparator on a grid of accumulators."""
    from pyNN_bss_emu.engine.plasticity import _evaluate
    T = 6.0
    th, tl = circuit.thresholds_for(rho, T)
    cfg = circuit.CONFIGBIT[rho][None].astype(np.int64)
    grid = np.linspace(0.0, 30.0, 31)
    for a_c in grid:
        for a_a in grid:
            d = a_c - rho * a_a
            if abs(abs(d) - T) < 1e-6:
                continue                                   # on the edge
            assert _evaluate(a_c, a_a, th, tl, cfg, 0, 0) == (d > T)
            assert _evaluate(a_c, a_a, th, tl, cfg, 0, 1) == (-d > T)


def test_out_of_range_time_constants_and_thresholds_are_clipped():
    req = circuit.circuit_request(0.5, 500.0, 0.5, 0.5, 0.0, 0.0, 0.0)
    assert (req.tau_plus, req.tau_minus) == circuit.TAU_RANGE_MS
    assert req.threshold == circuit.THRESHOLD_RANGE[0]          # 1 / 7.5 pairs asked
    assert len(req.adaptations) == 3


def test_sharing_picks_the_majority_per_group():
    group = np.array([0, 0, 0, 1, 1])
    key = np.array([2, 2, 1, 3, 3])
    chosen, conflicts = circuit.share_per_group(group, key)
    np.testing.assert_array_equal(chosen, [2, 2, 2, 3, 3])
    np.testing.assert_array_equal(conflicts, [0])


# ------------------------------------------------------------------ learning on the wafer
def pairing_network(lag: float, A: float = 0.05, A_minus: float | None = None,
                    strict: bool = False, **setup):
    """One plastic synapse (pre every 50 ms) onto a cell that a strong static input makes
    fire ``lag`` ms after each presynaptic spike (plus the input's delay and rise)."""
    sim.setup(timestep=DT, defects="none", clip_parameters=True, strict=strict, ideal=False,
              **setup)
    t_pre = np.arange(PERIOD, 3000.0, PERIOD)
    pre = sim.Population(1, sim.SpikeSourceArray(spike_times=t_pre))
    post = sim.Population(1, sim.IF_cond_exp(tau_refrac=2.0))
    drive = sim.Population(1, sim.SpikeSourceArray(spike_times=t_pre + lag))
    sim.Projection(drive, post, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=0.2, delay=1.0))
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=20.0, tau_minus=20.0, A_plus=A,
                                            A_minus=A if A_minus is None else A_minus),
        weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=W_MAX),
        weight=0.5 * W_MAX, delay=1.0)
    return sim.Projection(pre, post, sim.AllToAllConnector(), stdp)


def weight_trajectory(prj, n: int = 10, every: float = 300.0) -> np.ndarray:
    out = []
    for _ in range(n):
        sim.run(every)
        out.append(prj.get("weight", format="array")[0, 0])
    return np.array(out)


@pytest.fixture
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
    sim.end()


@pytest.mark.parametrize("lag, direction", [(5.0, 1), (-10.0, -1)])
def test_weights_learn_in_4bit_steps_on_the_synapses_levels(quiet, lag, direction):
    """Causal pairs (post 5 ms after the arrival) potentiate to the top level, acausal ones
    depress to the bottom; every weight Projection.get returns is one of the synapse's 16
    levels, and consecutive weights differ by whole levels."""
    prj = pairing_network(lag)
    sim.run(DT)                                           # maps and programs the wafer
    w0 = prj.get("weight", format="array")[0, 0]
    rec = sim.simulator.state.backend.projections[prj._record.key]
    levels = rec.levels_uS[0]
    assert w0 == levels[np.argmin(np.abs(levels - 0.5 * W_MAX))]       # nearest level
    traj = np.r_[w0, weight_trajectory(prj)]
    idx = np.array([int(np.argmin(np.abs(levels - w))) for w in traj])
    np.testing.assert_array_equal(levels[idx], traj)                   # on the levels
    assert np.all(np.diff(idx) * direction >= 0)                       # one direction
    assert idx[-1] == (15 if direction > 0 else 0)
    assert abs(idx[-1] - idx[0]) >= 5
    # the row's gmax spans w_max: the top level is w_max within the fixed pattern
    assert levels[15] == pytest.approx(W_MAX, rel=0.3)
    counters = sim.simulator.state.backend.network.stdp_counters
    assert counters[2] == abs(idx[-1] - idx[0])                        # one level per change


def test_rows_of_plastic_synapses_hold_no_static_synapse(quiet):
    """The 0.2 µS static input and the plastic synapse from another source share no row
    (else the row's gmax would put w_max near level 1)."""
    pairing_network(5.0)
    sim.run(DT)                                           # maps the network
    result = sim.simulator.state.backend.result
    rows = np.stack([result.syn_hicann, result.syn_row], axis=1)
    plastic_row = rows[1]                                  # projection 1: the STDP synapse
    assert not np.any(np.all(rows[0:1] == plastic_row, axis=1))


def test_learned_weights_survive_reset_and_restart_from_a_set_weight(quiet):
    prj = pairing_network(5.0)
    sim.run(1500.0)
    learned = prj.get("weight", format="array")[0, 0]
    sim.reset()
    assert prj.get("weight", format="array")[0, 0] == learned          # as NEST keeps them
    prj.set(weight=0.0)
    prj.get("weight", format="array")
    rec = sim.simulator.state.backend.projections[prj._record.key]
    assert rec.digital[0] == 0
    assert prj.get("weight", format="array")[0, 0] == rec.levels_uS[0, 0]
    sim.run(3000.0)
    assert rec.digital[0] > 3                                           # learns again


def test_translation_warns_once_and_strict_refuses():
    with pytest.warns(HardwareParameterWarning, match=r"A_minus/A_plus 1\.2 -> 1 "):
        pairing_network(5.0, A=0.01, A_minus=0.012)
        sim.run(100.0)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sim.run(100.0)
    assert not [x for x in w if "A_minus/A_plus" in str(x.message)]
    pairing_network(5.0, A=0.01, A_minus=0.012, strict=True)
    with pytest.raises(ParameterRangeError, match="A_minus/A_plus"):
        sim.run(100.0)
    sim.end()


def test_requested_stdp_parameters_are_reported(quiet):
    prj = pairing_network(5.0, A=0.01, A_minus=0.012)
    sim.run(10.0)
    assert prj.get("A_minus", format="list", with_address=False) == [0.012]
    assert prj.get("tau_plus", format="array")[0, 0] == 20.0
    assert prj.get("dendritic_delay_fraction", format="list", with_address=False) == [1.0]


def test_bad_stdp_parameters_raise_naming_them():
    sim.setup(timestep=DT, defects="none", ideal=False)
    pre = sim.Population(2, sim.SpikeSourceArray())
    post = sim.Population(2, sim.IF_cond_exp())
    bad = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(tau_plus=-5.0),
                            weight_dependence=sim.AdditiveWeightDependence(w_max=0.01))
    with pytest.raises(errors.InvalidParameterValueError, match=r"tau_plus = -5\.0"):
        sim.Projection(pre, post, sim.AllToAllConnector(), bad)
    with pytest.raises(errors.InvalidParameterValueError, match="w_max = 0.0 must be larger"):
        sim.Projection(pre, post, sim.AllToAllConnector(), sim.STDPMechanism(
            timing_dependence=sim.SpikePairRule(),
            weight_dependence=sim.AdditiveWeightDependence(w_max=0.0)))
    with pytest.raises(errors.InvalidModelError, match="offers SpikePairRule"):
        sim.STDPMechanism(timing_dependence=sim.AdditiveWeightDependence(),
                          weight_dependence=sim.AdditiveWeightDependence())
    sim.end()


# ------------------------------------------------------------------ the driver's STP
def test_driver_parameters_reproduce_tsodyks_markram():
    """Depression: lambda 1, N 0 (factor 1 - I = x); facilitation: lambda (1 - U) / U; the
    weight is programmed as U x w."""
    stp = np.array([[0.4, 100.0, 0.0], [0.25, 0.0, 200.0], [np.nan] * 3])
    par = driver.driver_parameters(stp)
    np.testing.assert_allclose(par[0], [1.0, 0.0])
    np.testing.assert_allclose(par[1], [3.0, 0.0])
    assert np.all(np.isnan(par[2]))
    np.testing.assert_allclose(driver.stp_weight_scale(stp), [0.4, 0.25, 1.0])


def _psc_amplitudes(mode: str, U: float, tau: float, ideal: bool) -> tuple:
    """gsyn_exc jumps of a cell receiving one Tsodyks-Markram synapse (spikes every 20 ms),
    and the realised U, tau and weight."""
    sim.setup(timestep=DT, defects="none", clip_parameters=True, ideal=ideal)
    t = np.arange(10.0, 400.0, 20.0)
    pre = sim.Population(1, sim.SpikeSourceArray(spike_times=t))
    post = sim.Population(1, sim.IF_cond_exp(tau_syn_E=0.2, tau_refrac=2.0))
    syn = sim.TsodyksMarkramSynapse(
        U=U, weight=0.01, delay=1.0, tau_rec=tau if mode == "dep" else 0.0,
        tau_facil=tau if mode == "fac" else 0.0)
    prj = sim.Projection(pre, post, sim.AllToAllConnector(), syn)
    post.record("gsyn_exc")
    sim.run(400.0)
    g = np.asarray(post.get_data().segments[0].analogsignals[0]).ravel()
    backend = sim.simulator.state.backend
    tau_syn = backend.realised_neuron_parameters(backend.populations[1])["tau_syn_E"][0]
    # the input of each step: what the conductance gained beyond its decay
    inputs = g[1:] - g[:-1] * np.exp(-DT / tau_syn)
    amps = inputs[inputs > 1e-3 * inputs.max()]
    real = {k: prj.get(k, format="array")[0, 0] for k in ("U", "tau_rec", "tau_facil", "weight")}
    sim.end()
    return amps, real, t


@pytest.mark.parametrize("mode", ["dep", "fac"])
def test_wafer_stp_runs_the_driver_equations_with_tm_translation(mode):
    """On the wafer each PSC is (U w) x the driver's factor: depression x = 1 - I,
    facilitation 1 + lambda I with I recovering with the driver's one tau; the realised
    Projection weight stays the requested w (not U w)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        amps, real, t = _psc_amplitudes(mode, 0.3, 80.0, ideal=False)
    U, tau = real["U"], real["tau_rec"] if mode == "dep" else real["tau_facil"]
    assert real["weight"] == pytest.approx(0.01, rel=0.35)        # 4-bit, fixed pattern
    lam = 1.0 if mode == "dep" else (1.0 - U) / U
    I, want, t_last = 0.0, [], None
    for ts in t:
        if t_last is not None:
            I *= np.exp(-(ts - t_last) / tau)
        want.append(1.0 - I if mode == "dep" else 1.0 + lam * I)
        I += U * (1.0 - I)
        t_last = ts
    want = np.array(want)
    np.testing.assert_allclose(amps / amps[0], want / want[0], rtol=2e-3)
    if mode == "dep":
        assert amps[-1] / amps[0] < 0.8                       # it depresses
    else:
        assert amps[-1] / amps[0] > 1.5                       # it facilitates


def test_plastic_key_is_a_static_driver_of_its_own():
    """Key 17 (rows for STDP synapses) is a static driver configuration (no STP cap) that
    shares no driver with key 0."""
    assert driver.key_mode([0, driver.PLASTIC]).tolist() == [0, 0]
    assert driver.key_cap([driver.PLASTIC]).tolist() == [-1]
    keys, cls = driver.stp_classes(np.array([0, driver.PLASTIC, 0]))
    assert keys.tolist() == [0, driver.PLASTIC] and cls.tolist() == [0, 1, 0]


def test_shared_voltages_are_chosen_by_majority_and_said_once():
    """Three plastic projections onto one neuron, tau_plus 10, 30, 30 ms (same tables): the
    neuron's quadrant takes 30 ms (8 of 12 synapses) with one warning naming the first
    projection; no lookup-table conflict (the tables agree)."""
    sim.setup(timestep=DT, defects="none", clip_parameters=True, ideal=False)
    pre = sim.Population(4, sim.SpikeSourcePoisson(rate=10.0))
    post = sim.Population(1, sim.IF_cond_exp(tau_refrac=2.0))
    prjs = [sim.Projection(pre, post, sim.AllToAllConnector(), sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=tp, tau_minus=20.0, A_plus=0.01,
                                            A_minus=0.01),
        weight_dependence=sim.AdditiveWeightDependence(w_max=W_MAX), weight=0.005))
        for tp in (10.0, 30.0, 30.0)]
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        sim.run(100.0)
        sim.run(100.0)
    shared = [str(x.message) for x in w if "shared by a quadrant" in str(x.message)]
    assert len(shared) == 1
    assert "tau_plus 10 ms" in shared[0] and "(4 synapses)" in shared[0]
    assert "(8 synapses)" in shared[0] and repr(prjs[0].label) in shared[0]
    assert not [x for x in w if "lookup tables belong" in str(x.message)]
    table = sim.simulator.state.backend.network.hardware_stdp
    np.testing.assert_array_equal(table.tau_plus, 30.0)
    sim.end()
