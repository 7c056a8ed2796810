"""PyNN scripts run unmodified on the wafer and are told what the wafer changed (issue 12).

* PyNN's defaults of every cell and synapse type we offer run in the default (wafer) mode with
  warnings only (the nearest realisable parameter, named per population and parameter);
  ``strict=True`` makes them errors;
* the report of material changes: clipped 4-bit weights and missing recorded spikes (the two
  cases a new user met), nothing for a clean network, once per kind in a loop;
* PyNN's and NEST's parameter checks; models the wafer lacks name the nearest one;
* ``NativeRNG``; ``get_min_delay()`` with ``min_delay='auto'``.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import pytest
from pyNN import errors

from pyNN_bss_emu.backend.report import WaferReportWarning
from pyNN_bss_emu.hardware.parameter_transform import HardwareParameterWarning

WAFER = dict(ideal=False, defects="none")


def _messages(record, category) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, category)]


# ---------------------------------------------------------------- PyNN's defaults
@pytest.mark.parametrize("cell, adapted", [
    ("IF_cond_exp", {"tau_refrac": (0.1, 0.1475)}),
    ("IF_curr_exp", {"tau_refrac": (0.1, 0.1475)}),
    ("EIF_cond_exp_isfa_ista", {"tau_refrac": (0.1, 0.1475), "delta_T": (2.0, 1.35)}),
])
def test_pynn_defaults_run_on_the_wafer_with_one_warning_per_parameter(sim, cell, adapted):
    sim.setup(**WAFER)
    src = sim.Population(4, sim.SpikeSourceArray(spike_times=[1.0, 5.0]), label="src")
    pop = sim.Population(4, getattr(sim, cell)(), label="cells")
    weight = 0.5 if cell == "IF_curr_exp" else 0.01
    sim.Projection(src, pop, sim.AllToAllConnector(),
                   sim.TsodyksMarkramSynapse(weight=weight), label="tm")
    with pytest.warns(Warning) as record:
        sim.run(20.0)
        sim.run(20.0)                       # a second run repeats no warning
    params = _messages(record, HardwareParameterWarning)
    for name, (requested, realised) in adapted.items():
        lines = [m for m in params if f"parameter '{name}'" in m]
        assert len(lines) == 1, params
        assert f"population 'cells' ({cell})" in lines[0]
        assert f"= {requested:g} " in lines[0] and f"realised as {realised:g} " in lines[0]
        assert "hardware range" in lines[0] and "strict=True" in lines[0]
    assert sim.get_current_time() == pytest.approx(40.0)


def test_pynn_default_tsodyks_markram_u_is_adapted(sim):
    sim.setup(**WAFER)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    pop = sim.Population(1, sim.IF_cond_exp(tau_refrac=2.0))
    with pytest.warns(HardwareParameterWarning, match=r"projection 'tm'.*'U' = 0\.5"):
        prj = sim.Projection(src, pop, sim.AllToAllConnector(), sim.TsodyksMarkramSynapse(),
                             label="tm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(5.0)
    assert prj.get("U", format="list", with_address=False) == [pytest.approx(0.40)]


def test_strict_turns_the_adaptations_into_errors(sim):
    sim.setup(strict=True, **WAFER)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    pop = sim.Population(1, sim.IF_cond_exp(), label="cells")
    with pytest.raises(errors.InvalidParameterValueError, match="0.25..0.4"):
        sim.Projection(src, pop, sim.AllToAllConnector(), sim.TsodyksMarkramSynapse())
    sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01))
    with pytest.raises(ValueError, match=r"population 'cells'.*tau_refrac.*clip_parameters"):
        sim.run(5.0)


# ---------------------------------------------------------------- the report
def _brunel_like(sim, weight_inh: float):
    """Excitation and 50 nS inhibition onto neurons of cm 0.25 nF at neuron size 8: the
    inhibitory weights exceed the top 4-bit level of their rows."""
    sim.setup(neuron_size=8, **WAFER)
    exc = sim.Population(120, sim.IF_cond_exp(tau_refrac=2.0, cm=0.25), label="exc")
    inh = sim.Population(30, sim.IF_cond_exp(tau_refrac=2.0, cm=0.25), label="inh")
    rng = sim.NumpyRNG(seed=2)
    sim.Projection(exc, exc, sim.FixedProbabilityConnector(0.1, rng=rng),
                   sim.StaticSynapse(weight=0.004), label="e->e")
    prj = sim.Projection(inh, exc, sim.FixedProbabilityConnector(0.2, rng=rng),
                         sim.StaticSynapse(weight=weight_inh), receptor_type="inhibitory",
                         label="i->e")
    return prj


def test_report_names_weights_clipped_at_the_top_of_the_4bit_range(sim):
    prj = _brunel_like(sim, 0.05)
    with pytest.warns(WaferReportWarning) as record:
        sim.run(1.0)
    text = "\n".join(_messages(record, WaferReportWarning))
    n = len(prj)
    assert "weights clipped at the top of the 4-bit range" in text
    assert f"'i->e': {n} of {n}" in text and "requested up to 0.05 µS" in text
    assert "sim.plot_weights" in text and "neuron_size" in text
    realised = np.nanmax(prj.get("weight", format="list", with_address=False))
    assert f"realised up to {realised:.4g} µS" in text and realised < 0.05
    assert any("weights clipped" in line for line in sim.get_wafer_report()["mapping"])


def test_report_names_recorded_spikes_missing_for_want_of_upward_bandwidth(sim):
    sim.setup(**WAFER)
    pop = sim.Population(200, sim.IF_cond_exp(tau_refrac=1.0, i_offset=2.0, tau_m=10.0),
                         label="busy")
    sim.place_on_hicann(pop, [100, 101])       # two HICANN links for 200 fast neurons
    pop.record("spikes")
    with pytest.warns(WaferReportWarning) as record:
        sim.run(100.0)
    text = "\n".join(_messages(record, WaferReportWarning))
    stats = sim.get_pulse_statistics()
    lost, kept = stats["l2_up_lost"], stats["l2_up_sent"]
    recorded = sum(len(t) for t in pop.get_data().segments[0].spiketrains)
    assert kept == recorded and lost > kept          # most of them are missing
    assert (f"recorded spikes missing for want of upward bandwidth: "
            f"{lost} of {lost + kept}") in text.replace(" (HICANN link 17.8 MHz, FPGA 125 "
                                                       "MHz)", "")
    assert f"'busy: {lost}'" in text and "l2_up_lost" in text


def test_no_report_for_a_network_the_wafer_realises_well(sim):
    sim.setup(**WAFER)
    src = sim.Population(10, sim.SpikeSourcePoisson(rate=5.0), label="src")
    pop = sim.Population(10, sim.IF_cond_exp(tau_refrac=2.0), label="pop")
    sim.Projection(src, pop, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.01))
    pop.record("spikes")
    with warnings.catch_warnings():
        warnings.simplefilter("error", WaferReportWarning)
        warnings.simplefilter("ignore", UserWarning)
        sim.run(200.0)
    assert sim.get_wafer_report() == {"mapping": [], "run": []}


def test_report_is_issued_once_per_kind_in_a_loop(sim):
    prj = _brunel_like(sim, 0.05)
    with pytest.warns(WaferReportWarning):
        sim.run(1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WaferReportWarning)
        for k in range(3):                   # the trainer's loop: write weights, run
            prj.set(weight=0.05 + 0.001 * k)
            sim.run(1.0)
    assert sim.get_wafer_report()["mapping"]          # the latest numbers stay available


def test_the_report_is_a_wafer_query(sim):
    sim.setup(ideal=True)
    with pytest.raises(RuntimeError, match="maps nothing"):
        sim.get_wafer_report()


# ---------------------------------------------------------------- PyNN's and NEST's checks
@pytest.mark.both_modes
@pytest.mark.parametrize("cell, params, text", [
    ("IF_cond_exp", dict(v_reset=-45.0, v_thresh=-50.0), "'v_reset' = -45 mV must be below "
                                                         "'v_thresh' = -50 mV"),
    ("IF_curr_exp", dict(v_reset=-50.0), "'v_reset' = -50 mV must be below 'v_thresh'"),
    ("EIF_cond_exp_isfa_ista", dict(v_reset=-40.0), "'v_reset' = -40 mV must be below "
                                                    "'v_spike' = -40 mV"),
    ("SpikeSourceArray", dict(spike_times=[5.0, 2.0]), "must be in increasing order"),
])
def test_pynn_and_nest_parameter_checks(sim, mode, cell, params, text):
    with pytest.raises(errors.InvalidParameterValueError, match=text):
        sim.Population(2, getattr(sim, cell)(**params))
    pop = sim.Population(2, sim.IF_cond_exp(tau_refrac=2.0))     # still usable
    with pytest.raises(errors.InvalidParameterValueError, match="v_reset"):
        pop.set(v_reset=-40.0)
    assert pop.get("v_reset") == pytest.approx(-65.0)


def test_equal_spike_times_are_accepted_as_in_pynn(sim):
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[2.0, 2.0, 3.0]))
    src.record("spikes")
    sim.run(5.0)
    assert len(src.get_data().segments[0].spiketrains[0]) == 3


@pytest.mark.parametrize("name, nearest", [
    ("IF_cond_alpha", "IF_cond_exp"), ("IF_curr_alpha", "IF_curr_exp"),
    ("Izhikevich", "EIF_cond_exp_isfa_ista"), ("HH_cond_exp", "EIF_cond_exp_isfa_ista"),
    ("Vogels2011Rule", "SpikePairRule"),
])
def test_models_the_wafer_lacks_name_the_nearest_one(sim, name, nearest):
    with pytest.raises(errors.NoModelAvailableError) as exc:
        getattr(sim, name)
    msg = str(exc.value)
    assert f"the nearest model it offers is {nearest}:" in msg and "It offers:" in msg


# ---------------------------------------------------------------- NativeRNG
def test_native_rng_streams_are_seeded_counter_based_and_not_numpys(sim):
    a, b = sim.NativeRNG(seed=7), sim.NativeRNG(seed=7)
    x = a.next(5)
    np.testing.assert_array_equal(x, b.next(5))
    assert not np.array_equal(sim.NativeRNG(seed=8).next(5), x)
    assert not np.array_equal(sim.NumpyRNG(seed=7).next(5), x)
    c = copy.deepcopy(a)
    assert type(c) is type(a)
    np.testing.assert_array_equal(c.next(3), a.next(3))
    w = a.next(1000, "normal", {"mu": 0.5, "sigma": 0.01})
    assert abs(w.mean() - 0.5) < 0.002 and abs(w.std() - 0.01) < 0.001
    with pytest.raises(ValueError, match="seed"):
        sim.NativeRNG(seed=-1)


def test_native_rng_drives_connectors_and_distributions_reproducibly(sim):
    def build():
        sim.setup(ideal=True)
        rng = sim.NativeRNG(seed=87354762)
        p1 = sim.Population(10, sim.SpikeSourcePoisson(rate=100.0))
        p2 = sim.Population(10, sim.IF_cond_exp())
        syn = sim.StaticSynapse(weight=sim.RandomDistribution("normal", mu=0.5, sigma=0.01,
                                                              rng=rng), delay=0.5)
        prj = sim.Projection(p1, p2, sim.FixedProbabilityConnector(0.7, rng=rng), syn)
        return prj.get("weight", format="list")
    first = build()
    assert 40 < len(first) < 100
    assert build() == first


# ---------------------------------------------------------------- min_delay 'auto'
@pytest.mark.both_modes
def test_min_and_max_delay_auto_report_the_realised_delays(sim, mode):
    sim.setup(min_delay="auto")
    assert sim.get_min_delay() == pytest.approx(sim.get_time_step())
    a = sim.Population(3, sim.IF_cond_exp(tau_refrac=2.0))
    b = sim.Population(3, sim.IF_cond_exp(tau_refrac=2.0))
    prj = sim.Projection(a, b, sim.AllToAllConnector(), sim.StaticSynapse(delay=0.5))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(1.0)
    delays = np.asarray(prj.get("delay", format="list", with_address=False))
    assert sim.get_min_delay() == pytest.approx(delays.min())
    assert sim.get_max_delay() == pytest.approx(delays.max())
    if mode == "ideal":
        assert sim.get_min_delay() == pytest.approx(0.5)
