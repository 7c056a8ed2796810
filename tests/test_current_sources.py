"""Current sources (issue 12): PyNN's DCSource, StepCurrentSource, ACSource and
NoisyCurrentSource in ideal mode (exact, as pyNN.nest) and on the wafer (the HICANN's FG
current stimulus: one per FG block, 129 slots of 10 bits played periodically).

* ideal mode against pyNN.nest (marked ``nest``): membrane traces of every source type
  (IF_cond_exp to ~1e-12 mV, spike times equal; EIF_cond_exp_isfa_ista with its RK4 around
  the spikes), the noise's statistics (not its stream);
* the PyNN API: inject_into / inject, sums of sources, changes between runs, recording the
  current, reset, seeding, errors (scenarios of PyNN's own test_electrodes.py);
* the hardware model (pure functions): slots, periods, pulse-length choice, resampling,
  10-bit quantisation, FG blocks and denmems;
* the mapper: one FG block per stimulated neuron, the too-many-stimuli errors;
* the wafer backend: programmed stimuli, warnings, reprogramming without remapping, a DC
  drives the neurons to about the ideal rate.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from pyNN import errors

from pyNN_bss_emu.backend.current_sources import grid_steps
from pyNN_bss_emu.engine.currents import Injections
from pyNN_bss_emu.hardware import current_stimulus as cs
from pyNN_bss_emu.hardware.parameter_transform import TransformSettings, to_hw
from pyNN_bss_emu.mapping.placement import place_neurons
from pyNN_bss_emu.mapping.types import BioGraph, ResourceExhaustedError

DT = 0.1
WAFER = dict(ideal=False, defects="none", clip_parameters=True,
             continue_despite_synapse_loss=True)
LIF = dict(tau_m=10.0, cm=0.2, v_rest=-65.0, v_reset=-70.0, v_thresh=-50.0, tau_refrac=2.0)


def _v(pop) -> np.ndarray:
    return pop.get_data().segments[-1].filter(name="v")[0].magnitude


def _spikes(pop) -> list[np.ndarray]:
    return [np.asarray(s.magnitude) for s in pop.get_data().segments[-1].spiketrains]


# ============================================================================ NEST
def _scenario(sim, celltype: str = "lif", t_stop: float = 200.0):
    """Every source type on IF_cond_exp (or AdEx) neurons; two sources summed on one cell.
    Sources start after 2 dt: pyNN.nest loses the first steps of a source that starts at
    t < min_delay + dt (its generators reach the neurons one min_delay late)."""
    sim.setup(timestep=DT, min_delay=DT, **({"ideal": True} if "bss_emu" in sim.__name__
                                            else {}))
    if celltype == "lif":
        ct = sim.IF_cond_exp(**LIF)
    else:
        ct = sim.EIF_cond_exp_isfa_ista(tau_m=10.0, cm=0.2, v_rest=-65.0, v_reset=-70.0,
                                        v_thresh=-52.0, v_spike=-40.0, delta_T=2.0, a=4.0,
                                        b=0.02, tau_w=100.0, tau_refrac=2.0)
    p = sim.Population(5, ct)
    p.initialize(v=-65.0)
    dc = sim.DCSource(amplitude=0.4, start=20.0, stop=150.0)
    step = sim.StepCurrentSource(times=[10.0, 60.0, 110.3, 170.0],
                                 amplitudes=[0.2, 0.45, -0.1, 0.35])
    ac = sim.ACSource(amplitude=0.3, offset=0.25, frequency=35.0, phase=45.0, start=15.0,
                      stop=180.0)
    weak = sim.DCSource(amplitude=0.1, start=5.0, stop=100.0)
    sine = sim.ACSource(amplitude=0.1, frequency=100.0, start=30.0)
    dc.inject_into(p[0:1])
    step.inject_into(p[1:2])
    ac.inject_into(p[2:3])
    weak.inject_into(p[3:5])          # neuron 3: subthreshold
    sine.inject_into([p[4]])          # neuron 4: three sources
    step.inject_into(p[4:5])
    p.record(["v", "spikes"])
    sim.run(t_stop)
    out = _v(p), _spikes(p)
    sim.end()
    return out


@pytest.fixture
def nest():
    return pytest.importorskip("pyNN.nest")


@pytest.mark.nest
def test_ideal_lif_traces_match_nest(sim, nest):
    """Exact: the same membrane (within float round-off) and spike times as pyNN.nest."""
    v_nest, s_nest = _scenario(nest)
    v_ours, s_ours = _scenario(sim)
    assert v_nest.shape == v_ours.shape
    assert np.abs(v_nest - v_ours).max() < 1e-9
    for a, b in zip(s_nest, s_ours):
        assert a.size == b.size and a.size > 0 or a.size == b.size == 0
        np.testing.assert_allclose(a, b, atol=1e-9)
    assert sum(a.size for a in s_ours) > 15


@pytest.mark.nest
def test_ideal_adex_traces_match_nest(sim, nest):
    """AdEx: same spike times; the membranes agree to 1e-8 mV below threshold and within
    0.2 mV around the spikes (RK4 sub-steps against NEST's adaptive RKF45)."""
    v_nest, s_nest = _scenario(nest, "adex")
    v_ours, s_ours = _scenario(sim, "adex")
    for a, b in zip(s_nest, s_ours):
        np.testing.assert_allclose(a, b, atol=1e-9)
    assert np.abs(v_nest[:, 3] - v_ours[:, 3]).max() < 1e-8
    assert np.abs(v_nest - v_ours).max() < 0.2


def _noise_statistics(sim, noise_dt: float) -> tuple[float, float]:
    sim.setup(timestep=DT, min_delay=DT, **({"ideal": True} if "bss_emu" in sim.__name__
                                            else {}))
    p = sim.Population(40, sim.IF_cond_exp(**dict(LIF, v_thresh=-20.0)))
    p.inject(sim.NoisyCurrentSource(mean=0.3, stdev=0.2, dt=noise_dt, start=5.0))
    p.record("v")
    sim.run(1500.0)
    v = _v(p)[1000:]                  # after 100 ms
    sim.end()
    return float(v.mean()), float(v.std())


@pytest.mark.nest
@pytest.mark.parametrize("noise_dt", [0.1, 1.0])
def test_ideal_noise_has_nests_statistics(sim, nest, noise_dt):
    """Not the same stream (ours is counter-based), the same membrane statistics: an
    independent sequence per target, a new value every dt of the source."""
    m_nest, s_nest = _noise_statistics(nest, noise_dt)
    m_ours, s_ours = _noise_statistics(sim, noise_dt)
    assert abs(m_ours - m_nest) < 0.1 * s_nest
    assert s_ours == pytest.approx(s_nest, rel=0.06)


# ============================================================================ PyNN API
def test_ideal_dc_matches_the_analytic_lif(sim):
    p = sim.Population(1, sim.IF_cond_exp(**dict(LIF, v_thresh=0.0)))
    p.inject(sim.DCSource(amplitude=0.3, start=10.0, stop=30.0))
    p.record("v")
    sim.run(40.0)
    v = _v(p)[:, 0]
    t = np.arange(v.size) * DT
    tau, r = LIF["tau_m"], LIF["tau_m"] / LIF["cm"]
    expect = np.where(t <= 10.0, -65.0, -65.0 + 0.3 * r * (1 - np.exp(-(t - 10.0) / tau)))
    on = t <= 30.0
    np.testing.assert_allclose(v[on], expect[on], atol=1e-9)
    assert v[int(round(10.0 / DT))] == -65.0 and v[int(round(10.0 / DT)) + 1] > -65.0


def test_inject_into_every_kind_of_target(sim):
    """Population.inject, PopulationView, Assembly, list of IDs and ID.inject all reach the
    right cells; a cell with two sources gets their sum."""
    p = sim.Population(6, sim.IF_cond_exp(**dict(LIF, v_thresh=0.0)))
    q = sim.Population(2, sim.IF_cond_exp(**dict(LIF, v_thresh=0.0)))
    ref = sim.Population(1, sim.IF_cond_exp(**dict(LIF, v_thresh=0.0)))
    dc = sim.DCSource(amplitude=0.1, start=1.0)
    p[0:2].inject(dc)
    dc.inject_into(p[2:3] + q[0:1])          # an Assembly of views
    dc.inject_into([p[3], q[1]])
    p[4].inject(dc)
    p[4].inject(sim.DCSource(amplitude=0.1, start=1.0))
    ref.inject(sim.DCSource(amplitude=0.2, start=1.0))
    for pop in (p, q, ref):
        pop.record("v")
    sim.run(20.0)
    vp, vq, vr = _v(p), _v(q), _v(ref)
    for k in range(4):
        np.testing.assert_array_equal(vp[:, k], vp[:, 0])
    np.testing.assert_array_equal(vq[:, 0], vp[:, 0])
    np.testing.assert_array_equal(vq[:, 1], vp[:, 0])
    assert vp[-1, 0] > -65.0
    np.testing.assert_allclose(vp[:, 4], vr[:, 0], atol=1e-12)
    assert np.all(vp[:, 5] == -65.0)           # not injected


def test_spike_sources_and_stale_objects_are_refused(sim):
    src = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0]))
    dc = sim.DCSource(amplitude=0.1)
    with pytest.raises(TypeError, match="spike source"):
        dc.inject_into(src)
    with pytest.raises(TypeError, match="spike source"):
        src.inject(dc)
    sim.setup(timestep=DT)
    p = sim.Population(1, sim.IF_cond_exp())
    with pytest.raises(RuntimeError, match="before the last setup"):
        dc.inject_into(p)


def test_bad_parameters_are_refused(sim):
    """PyNN's rules (test_electrodes.py test_issue512) and ours."""
    with pytest.raises(ValueError, match="negative"):
        sim.StepCurrentSource(times=[0.4, -0.6, 0.8], amplitudes=[0.5, -0.5, 0.5])
    with pytest.raises(ValueError, match="monotonically"):
        sim.StepCurrentSource(times=[0.4, 0.2, 0.8], amplitudes=[0.5, -0.5, 0.5])
    with pytest.raises(errors.InvalidParameterValueError, match="amplitudes"):
        sim.StepCurrentSource(times=[0.4, 0.8], amplitudes=[0.5])
    with pytest.raises(ValueError, match="multiple of the simulation time step"):
        sim.NoisyCurrentSource(mean=0.0, stdev=1.0, dt=0.25)
    with pytest.raises(errors.InvalidParameterValueError, match="stdev"):
        sim.NoisyCurrentSource(stdev=-1.0)
    with pytest.raises(errors.InvalidParameterValueError, match="frequency"):
        sim.ACSource(frequency=-1.0)
    with pytest.raises(errors.InvalidParameterValueError, match="start"):
        sim.DCSource(start=-5.0)
    dc = sim.DCSource(amplitude=0.1)
    with pytest.raises(errors.InvalidParameterValueError):
        dc.amplitude = float("nan")
    assert dc.amplitude == 0.1                 # the old value stays
    with pytest.raises(AttributeError, match="set_parameters"):
        dc.set(amplitude=0.2)


def test_step_times_are_rounded_to_the_grid(sim):
    """test_issue512: times on the grid, of times on one step the last amplitude counts."""
    step = sim.StepCurrentSource(times=[0.41, 0.42, 0.86], amplitudes=[0.5, -0.5, 0.5])
    np.testing.assert_allclose(step.times.evaluate() if hasattr(step.times, "evaluate")
                               else step.times, [0.4, 0.9])
    assert list(step.amplitudes) == [-0.5, 0.5]
    steps, amps = grid_steps([0.0, 0.04, 1.0], [1.0, 2.0, 3.0], DT)
    assert steps.tolist() == [0, 10] and amps.tolist() == [2.0, 3.0]


def test_changes_between_runs_act_from_the_current_time(sim):
    """``amplitude +=`` and set_parameters between runs equal one run of the equivalent
    step source, bit for bit (NEST lets a change act a few steps late)."""
    p = sim.Population(2, sim.IF_cond_exp(**LIF))
    dc = sim.DCSource(amplitude=0.2, start=5.0, stop=1e12)
    ac = sim.ACSource(amplitude=0.1, offset=0.1, frequency=30.0)
    dc.inject_into(p[0:1])
    ac.inject_into(p[1:2])
    p.record(["v", "spikes"])
    sim.run(50.0)
    dc.amplitude += 0.25
    ac.set_parameters(offset=0.45, phase=90.0)
    sim.run(50.0)
    dc.set_parameters(stop=80.0)                # in the past: off from now on
    sim.run(30.0)
    v1 = _v(p)
    sim.setup(timestep=DT)
    q = sim.Population(2, sim.IF_cond_exp(**LIF))
    sim.StepCurrentSource(times=[5.0, 50.0, 100.0],
                          amplitudes=[0.2, 0.45, 0.0]).inject_into(q[0:1])
    # the AC source's phase refers to its start (t = 0): from 50 ms on it is the sine of
    # phase 90 + 360 * 30 Hz * 50 ms
    sim.ACSource(amplitude=0.1, offset=0.1, frequency=30.0, stop=50.0).inject_into(q[1:2])
    sim.ACSource(amplitude=0.1, offset=0.45, frequency=30.0, phase=90.0 + 540.0, start=50.0,
                 stop=1e12).inject_into(q[1:2])
    q.record("v")
    sim.run(130.0)
    v2 = _v(q)
    np.testing.assert_array_equal(v1[:, 0], v2[:, 0])
    np.testing.assert_allclose(v1[:, 1], v2[:, 1], atol=1e-9)
    assert v1[-1, 0] == -65.0 or v1[-1, 0] != v1[-300, 0]


def test_a_past_start_or_amplitude_change_is_not_retroactive(sim):
    """test_issue451: a DC window that lies in the past when its amplitude changes leaves
    the membrane at rest."""
    p = sim.Population(1, sim.IF_cond_exp(**LIF))
    c = sim.DCSource(amplitude=0.0, start=25.0, stop=50.0)
    c.inject_into(p)
    p.record("v")
    for _ in range(2):
        sim.run(100.0)
        c.amplitude += 0.1
    assert np.all(_v(p) == -65.0)


def test_split_runs_give_the_same_currents(sim):
    def run(chunks):
        sim.setup(timestep=DT, stimulus_seed=4)
        p = sim.Population(3, sim.IF_cond_exp(**LIF))
        p.inject(sim.NoisyCurrentSource(mean=0.4, stdev=0.3, dt=0.5, start=3.0))
        sim.ACSource(amplitude=0.2, frequency=13.0, start=7.0).inject_into(p[0:1])
        p.record(["v", "spikes"])
        for c in chunks:
            sim.run(c)
        return _v(p)
    np.testing.assert_array_equal(run([120.0]), run([33.3, 0.0, 41.7, 45.0]))


def test_recorded_current_is_what_the_neuron_got(sim):
    """Length n + 1 from t = 0 (test_issue_465_474_630), values as defined, changes at the
    start and stop steps, and a neuron driven by a step source made of the recorded noise
    follows the noisy neuron exactly."""
    p = sim.Population(5, sim.IF_cond_exp(**LIF))
    amp, offset, start, stop = 0.5, 0.1, 50.0, 125.0
    ac = sim.ACSource(start=start, stop=stop, amplitude=amp, offset=offset, frequency=100.0,
                      phase=30.0)
    dc = sim.DCSource(amplitude=amp, start=start, stop=stop)
    noise = sim.NoisyCurrentSource(mean=amp, stdev=0.05, start=start, stop=stop, dt=1.0)
    step = sim.StepCurrentSource(times=[start, (start + stop) / 2, stop],
                                 amplitudes=[0.4, 0.6, 0.2])
    for k, s in enumerate((ac, dc, noise, step)):
        s.inject_into(p[k:k + 1])
        s.record()
    p.record("v")
    sim.run(100.0)
    sim.run(100.0)
    n = int(round(200.0 / DT)) + 1
    i0, i1 = int(round(start / DT)), int(round(stop / DT))
    t = np.arange(n) * DT
    for s in (ac, dc, noise, step):
        sig = s.get_data()
        assert sig.shape == (n, 1)
        assert float(sig.t_start) == 0.0 and float(sig.sampling_period) == pytest.approx(DT)
        assert str(sig.units.dimensionality) == "nA"
        i = sig.magnitude[:, 0]
        assert np.all(i[:i0] == 0) and i[i0] != 0
    i_ac = ac.get_data().magnitude[:, 0]
    on = (t >= start - 1e-9) & (t < stop - 1e-9)
    np.testing.assert_allclose(i_ac[on], offset + amp * np.sin(
        2 * np.pi * 100.0 * (t[on] - start) / 1000.0 + np.radians(30.0)), atol=1e-12)
    assert np.all(i_ac[~on] == 0)
    i_dc = dc.get_data().magnitude[:, 0]
    assert np.all(i_dc[i0:i1] == amp) and np.all(i_dc[i1:] == 0)
    i_step = step.get_data().magnitude[:, 0]
    assert i_step[i1 - 1] == 0.6 and i_step[i1] == 0.2 and i_step[-1] == 0.2
    i_noise = noise.get_data().magnitude[:, 0]
    values = i_noise[i0:i1]
    assert np.all(values.reshape(-1, 10) == values.reshape(-1, 10)[:, :1])   # 1 ms each
    assert np.unique(values).size == 75
    # the recorded noise, replayed: the same membrane
    sim.StepCurrentSource(times=t[i0:i1 + 1], amplitudes=np.r_[values, 0.0]).inject_into(
        p[4:5])
    v = _v(p)
    sim.reset()
    sim.run(200.0)
    v_replay = _v(p)
    np.testing.assert_allclose(v_replay[:, 4], v[:, 2], atol=1e-12)


def test_reset_restarts_recording_and_draws_new_noise(sim):
    sim.setup(timestep=DT, stimulus_seed=7)
    p = sim.Population(2, sim.IF_cond_exp(**LIF))
    noise = sim.NoisyCurrentSource(mean=0.2, stdev=0.2, dt=0.5)
    dc = sim.DCSource(amplitude=0.3, start=2.0)
    noise.inject_into(p)
    dc.inject_into(p)
    noise.record()
    dc.record()
    sim.run(20.0)
    first = noise.get_data().magnitude[:, 0]
    # each target draws its own sequence
    p.record("v")
    sim.reset()
    sim.run(20.0)
    second = noise.get_data().magnitude[:, 0]
    assert second.size == first.size == 201
    assert not np.array_equal(first, second)            # a new trial, new values
    np.testing.assert_array_equal(dc.get_data().magnitude[:20, 0], 0.0)
    v = _v(p)
    assert not np.array_equal(v[:, 0], v[:, 1])
    # the same seed gives the same currents
    sim.setup(timestep=DT, stimulus_seed=7)
    q = sim.Population(2, sim.IF_cond_exp(**LIF))
    again = sim.NoisyCurrentSource(mean=0.2, stdev=0.2, dt=0.5)
    sim.DCSource(amplitude=0.3, start=2.0)
    again.inject_into(q)
    again.record()
    sim.run(20.0)
    np.testing.assert_array_equal(again.get_data().magnitude[:, 0], first)


# ============================================================================ engine
def test_slot_injection_is_the_exact_step_mean():
    slot = 0.32
    values = np.arange(129) * 0.01
    inj = Injections.slots(0, slot, values)
    steps = np.arange(0, 5000)
    got = inj.evaluate(steps, DT)[0]
    fine = np.repeat(values, 32)               # 0.01 ms resolution of one period
    period = np.tile(fine, 2)
    expect = period[(steps[:, None] * 10 + np.arange(10)[None, :]) % fine.size].mean(axis=1)
    np.testing.assert_allclose(got, expect, atol=1e-12)


# ============================================================================ hardware model
def test_slots_and_periods_at_the_default_speedup():
    assert cs.slot_ms(0) == pytest.approx(0.32)
    assert cs.slot_ms(15) == pytest.approx(5.12)
    assert cs.period_ms(0) == pytest.approx(41.28)
    assert cs.period_ms(15) == pytest.approx(660.48)
    assert cs.slot_ms(15, 1e3) == pytest.approx(0.512)


@pytest.mark.parametrize("shape, pulse_length, exact", [
    (cs.WaveformShape(constant=True), 15, math.inf),
    # DCSource(start=50, stop=150): the shortest period covering 150 ms
    (cs.WaveformShape(first_change_ms=50.0, last_change_ms=150.0), 3, 165.12 + 50.0),
    # steps back to 0 within 30 ms
    (cs.WaveformShape(first_change_ms=10.0, last_change_ms=30.0), 0, 41.28 + 10.0),
    # longer than the longest period
    (cs.WaveformShape(first_change_ms=10.0, last_change_ms=900.0), 15, 660.48),
    # DCSource(start=20) forever: hold the final value as long as possible
    (cs.WaveformShape(first_change_ms=20.0, last_change_ms=20.0, returns=False), 15, 660.48),
    # noise with dt = 0.1 ms: the shortest slot; dt = 1 ms: 0.96 ms
    (cs.WaveformShape(noise_dt_ms=0.1, returns=False), 0, 41.28),
    (cs.WaveformShape(noise_dt_ms=1.0, returns=False), 2, 123.84),
    # a sine of 12.11 Hz fits the grid exactly (one period of pulse length 1)
    (cs.WaveformShape(sine_period_ms=82.56, returns=False), 1, math.inf),
    # noise with a stop: the period covers it; slots of 1.6 ms instead of 1 ms
    (cs.WaveformShape(first_change_ms=150.0, last_change_ms=175.0, noise_dt_ms=1.0), 4,
     206.4 + 150.0),
    # 10 Hz: the best fit is pulse length 11 (4.96 sine periods: a 16.6 degree jump)
    (cs.WaveformShape(sine_period_ms=100.0, returns=False), 11, 495.36),
    # 2 kHz: fewer than 8 slots per sine period even at pulse length 0: aliased
    (cs.WaveformShape(sine_period_ms=0.5, returns=False), 0, 0.0),
])
def test_pulse_length_choice(shape, pulse_length, exact):
    ch = cs.choose_pulse_length(shape, 1e4)
    assert ch.pulse_length == pulse_length
    assert ch.exact_until_ms == pytest.approx(exact)
    assert (ch.reason == "") == math.isinf(exact)


def test_resampling_keeps_the_charge_per_slot():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(3, 700))
    slot = 0.5
    means = cs.resample(values, DT, slot)
    assert means.shape == (3, 129)
    # 5 steps per slot: plain block means
    np.testing.assert_allclose(means, values[:, :645].reshape(3, 129, 5).mean(axis=2))
    # a slot not on the grid: the charge is integrated exactly
    means = cs.resample(np.ones(500), DT, 0.32)
    np.testing.assert_allclose(means, 1.0)
    step = np.r_[np.zeros(7), np.ones(493)]           # on from 0.7 ms
    m = cs.resample(step, DT, 0.32)
    assert m[1] == 0.0 and m[2] == pytest.approx((0.96 - 0.7) / 0.32, abs=1e-12)
    assert m[3] == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="cover"):
        cs.resample(np.ones(10), DT, 0.32)


def test_amplitude_scaling_and_quantisation():
    """A current scales like the offset current b (calibtic), with the logical neuron's
    total capacitance; 10 bits of 2.5 µA / 1023."""
    s = TransformSettings()
    one = cs.hw_per_bio_current(0.2, 1)
    assert one == pytest.approx(float(to_hw("b", 1.0, s, 0.2)))
    scale = cs.hw_per_bio_current(0.2, 4)              # default neuron size
    lsb_bio = 2.5e-6 / 1023 / scale
    assert lsb_bio == pytest.approx(0.565e-3, rel=1e-3)        # 0.565 pA
    assert 1023 * lsb_bio == pytest.approx(0.5775, rel=1e-3)   # full scale 0.577 nA
    dac, neg, above = cs.quantise(np.array([-1e-7, 0.0, 1.2e-6, 2.6e-6]))
    assert dac.tolist() == [0, 0, 491, 1023]
    assert neg.tolist() == [True, False, False, False]
    assert above.tolist() == [False, False, False, True]
    np.testing.assert_allclose(cs.dac_to_current(dac[2]), 491 * 2.5e-6 / 1023)


def test_fg_blocks_of_denmems_and_neurons():
    # sthal toSharedFGBlockOnHICANN: 2 * row + column % 2
    assert cs.stimulus_block(np.array([0, 1, 256, 257, 10, 511])).tolist() == [0, 1, 2, 3, 0, 3]
    reach = cs.reachable_blocks(np.array([4, 5, 6]), np.array([1, 1, 2]))
    assert reach.tolist() == [[True, False, True, False], [False, True, False, True],
                              [True, True, True, True]]
    den = cs.stimulus_denmem(np.array([4, 4, 5, 6]), np.array([1, 1, 1, 2]),
                             np.array([2, 1, 3, 1]))
    assert den.tolist() == [256 + 4, -1, 256 + 5, 7]


# ============================================================================ the mapper
def _graph(sizes, stimulus, manual=None, neuron_size=4, labels=None) -> BioGraph:
    n = len(sizes)
    z = np.zeros(0, dtype=np.int64)
    return BioGraph(size=np.array(sizes), is_source=np.zeros(n, bool),
                    neuron_size=np.full(n, neuron_size), manual_hicanns=manual or [None] * n,
                    label=labels or [f"p{k}" for k in range(n)],
                    rate=np.zeros(sum(sizes)), pre=z, post=z, receptor=z, projection=z,
                    stimulus=np.asarray(stimulus),
                    stimulus_label=["DCSource #0", "StepCurrentSource #1"])


def _ok():
    return np.ones((384, 2, 256), bool), np.ones(384, bool)


@pytest.mark.parametrize("neuron_size", [2, 4])
def test_each_stimulated_neuron_owns_an_fg_block(neuron_size):
    n = 20
    stim = np.where(np.arange(n) % 3 == 0, 0, -1)
    stim[1] = 1
    place = place_neurons(_graph([n], stim, neuron_size=neuron_size), *_ok())
    on = stim >= 0
    den = place.stimulus_denmem
    assert np.all(den[on] >= 0) and np.all(den[~on] == -1)
    block = cs.stimulus_block(den[on])
    keys = place.hicann[on] * 4 + block
    assert np.unique(keys).size == on.sum()                  # one neuron per block
    assert np.bincount(place.hicann[on]).max() <= 4
    # the stimulated denmem belongs to the neuron
    col, row = den[on] % 256, den[on] // 256
    assert np.all((col >= place.x0[on]) & (col < place.x0[on] + place.width[on]))
    assert np.all(row <= 1)
    # every neuron placed, none overlapping
    cols = {(h, c) for h, x, w in zip(place.hicann, place.x0, place.width)
            for c in range(x, x + w)}
    assert len(cols) == n * neuron_size // 2


def test_no_stimuli_place_as_before():
    g = _graph([30, 7], np.full(37, -1))
    a = place_neurons(g, *_ok(), strategy="enum_asc")
    g.stimulus = None
    g2 = _graph([30, 7], np.full(37, -1))
    b = place_neurons(g2, *_ok(), strategy="enum_asc")
    for name in ("hicann", "x0", "width", "block"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    # the forward-filling front: cells 0..29 then 30..36 in order on HICANN 0
    assert a.hicann.max() == 0 and a.x0.tolist() == list(range(0, 74, 2))


def test_too_many_stimuli_on_a_manual_hicann_name_what_collides():
    stim = np.r_[np.zeros(3, np.int64), np.ones(2, np.int64)]
    g = _graph([3, 2], stim, manual=[[7], [7]], labels=["a", "b"])
    with pytest.raises(ResourceExhaustedError) as exc:
        place_neurons(g, *_ok())
    msg = str(exc.value)
    assert "population 'b'" in msg and "StepCurrentSource #1" in msg
    assert "HICANN 7" in msg and "'a' (DCSource #0)" in msg and "FG block" in msg
    # on two HICANNs it fits
    g = _graph([3, 2], stim, manual=[[7], [7, 8]], labels=["a", "b"])
    place = place_neurons(g, *_ok())
    assert place.hicann[3:].tolist() == [7, 8]


def test_more_stimuli_than_the_wafer_has_fg_blocks():
    denmem_ok, hicann_ok = _ok()
    hicann_ok[10:] = False                     # 10 HICANNs: 40 blocks
    g = _graph([41], np.zeros(41, np.int64))
    with pytest.raises(ResourceExhaustedError, match=r"41 neurons that receive current.*"
                                                     r"40 FG blocks on 10"):
        place_neurons(g, denmem_ok, hicann_ok)
    place_neurons(_graph([40], np.zeros(40, np.int64)), denmem_ok, hicann_ok)


# ============================================================================ the wafer
def _wafer_net(sim, n=8, **setup):
    sim.setup(timestep=DT, **dict(WAFER, **setup))
    return sim.Population(n, sim.IF_cond_exp(**LIF), label="pop")


def test_wafer_dc_drives_the_ideal_rate(sim):
    """A DC current on the wafer (FG stimulus, quantised, mismatch of neurons and stimulus
    gain) gives about the rate of the ideal engine (v_inf 5 mV above threshold: the measured
    per-neuron spreads, docs/substrate.md, move the mean rate by up to ~40 %)."""
    rates = {}
    for ideal in (True, False):
        sim.setup(timestep=DT, **dict(WAFER, ideal=ideal))
        p = sim.Population(16, sim.IF_cond_exp(**LIF))
        p.inject(sim.DCSource(amplitude=0.4))
        p.record("spikes")
        sim.run(500.0)
        rates[ideal] = np.array([s.size for s in _spikes(p)]) / 0.5
    assert rates[True].min() == rates[True].max() > 40
    assert rates[False].mean() == pytest.approx(rates[True].mean(), rel=0.4)
    assert rates[False].std() > 0                      # the wafer's neurons differ


def test_wafer_programs_one_stimulus_per_neuron(sim):
    p = _wafer_net(sim, calibration="ideal")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dc = sim.DCSource(amplitude=0.3)
        dc.inject_into(p[0:5])
        step = sim.StepCurrentSource(times=[10.0, 20.0, 30.0], amplitudes=[0.1, 0.2, 0.0])
        step.inject_into(p[5:6])
        step.record()
        sim.run(100.0)
    st = sim.get_backend().currents.stimuli
    assert st.cell.tolist() == [0, 1, 2, 3, 4, 5]
    assert np.unique(st.hicann * 4 + st.block).size == 6
    assert st.pulse_length.tolist() == [15] * 5 + [0]       # constant; steps within 41 ms
    lsb = st.full_scale_nA / 1023
    np.testing.assert_allclose(st.current_nA[:5], 0.3, atol=0.5 * lsb[0] + 1e-12)
    assert st.dac[0, 0] == round(0.3 / lsb[0])
    # (calibration='ideal': no gain error; the DC of all its neurons alike)
    assert np.all(st.dac[:5] == st.dac[0, 0])
    msgs = [str(w.message) for w in caught if "FG current stimulus" in str(w.message)]
    assert len(msgs) == 1 and "StepCurrentSource #1" in msgs[0] and "41.28 ms" in msgs[0]
    assert "DCSource" not in msgs[0]
    # recorded: the played pattern, periodic
    i = step.get_data().magnitude[:, 0]
    period = int(round(41.28 / DT))
    assert i[250] == pytest.approx(0.2, abs=lsb[5]) and i[350] == 0
    assert i[250 + period] == i[250]


def test_wafer_warns_about_periods_signs_and_range(sim):
    p = _wafer_net(sim)
    sim.ACSource(amplitude=0.1, offset=0.05, frequency=10.0).inject_into(p[0:1])
    sim.NoisyCurrentSource(mean=0.2, stdev=0.05, dt=1.0).inject_into(p[1:2])
    sim.DCSource(amplitude=5.0).inject_into(p[2:3])
    with pytest.warns(UserWarning) as caught:
        sim.run(10.0)
    text = "\n".join(str(w.message) for w in caught)
    assert "ACSource #0" in text and "phase jumps" in text
    assert "negative currents are set to 0" in text
    assert "NoisyCurrentSource #1" in text and "frozen pattern" in text
    assert "DCSource #2" in text and "clipped" in text and "0.577 nA" in text


def test_wafer_reprograms_parameter_changes_and_remaps_new_targets(sim):
    p = _wafer_net(sim)
    dc = sim.DCSource(amplitude=0.2)
    dc.inject_into(p[0:2])
    dc.record()
    sim.run(20.0)
    first = sim.get_mapping()
    dac0 = sim.get_backend().currents.stimuli.dac.copy()
    dc.amplitude = 0.4
    sim.run(20.0)
    assert sim.get_mapping() is first                  # no remapping
    dac1 = sim.get_backend().currents.stimuli.dac
    assert np.all(dac1 > dac0)
    i = dc.get_data().magnitude[:, 0]
    assert i[100] == pytest.approx(0.2, rel=0.2) and i[300] == pytest.approx(0.4, rel=0.2)
    dc.inject_into(p[2:3])
    with pytest.warns(RuntimeWarning, match="mapped again"):
        sim.run(1.0)
    assert sim.get_backend().currents.stimuli.cell.tolist() == [0, 1, 2]


def test_wafer_manual_placement_beyond_four_stimuli_is_an_error(sim):
    p = _wafer_net(sim, n=6)
    sim.place_on_hicann(p, [3])
    p.inject(sim.DCSource(amplitude=0.2))
    with pytest.raises(ResourceExhaustedError, match=r"population 'pop': 6 neurons receive "
                                                     r"current \(DCSource #0\).*HICANN\(s\) 3"):
        sim.run(1.0)


def test_a_saved_mapping_keeps_the_fg_blocks(sim, tmp_path):
    """The stimulated neurons enter the mapping's fingerprint: a saved mapping is reused for
    the same network (same blocks and denmems) and refused for one without the sources."""
    path = str(tmp_path / "mapping.npz")

    def build(inject: bool):
        p = _wafer_net(sim, mapping_file=path)
        if inject:
            sim.DCSource(amplitude=0.2).inject_into(p[1:4])
        sim.run(1.0)
        return sim.get_backend().currents.stimuli

    first = build(True)
    again = build(True)
    for name in ("cell", "hicann", "block", "denmem"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    with pytest.raises(Exception, match="different network"):
        build(False)
