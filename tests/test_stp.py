"""Tsodyks-Markram short-term plasticity: against NEST's tsodyks_synapse, and the wafer's
restrictions on the synapse drivers' STP circuit."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from pyNN import errors

from pyNN_bss_emu.hardware.parameter_transform import HardwareParameterWarning

DT = 0.1
TRAIN = np.arange(10.0, 200.0, 20.0).tolist() + [205.0, 210.0, 215.0, 400.0]


def _stp_trace(sim, U, tau_rec, tau_facil, **setup):
    sim.setup(timestep=DT, min_delay=DT, **setup)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=TRAIN))
    cell = sim.Population(1, sim.IF_cond_exp(tau_refrac=2.0, v_thresh=0.0))   # never fires
    syn = sim.TsodyksMarkramSynapse(weight=0.01, delay=1.0, U=U, tau_rec=tau_rec,
                                    tau_facil=tau_facil)
    prj = sim.Projection(src, cell, sim.AllToAllConnector(), syn, receptor_type="excitatory")
    cell.record("gsyn_exc")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(450.0)
    g = cell.get_data().segments[0].filter(name="gsyn_exc")[0].magnitude[:, 0]
    return g, prj


def _jumps(g):
    """Conductance increments at the input spikes (arrival = spike + 1 ms delay)."""
    steps = np.rint((np.asarray(TRAIN) + 1.0) / DT).astype(int)
    return g[steps] - g[steps - 1] * np.exp(-DT / 5.0)


# (NEST requires tau_rec > 0: 0.001 ms recovers fully between spikes, like 0)
@pytest.mark.parametrize("U, tau_rec, tau_facil", [(0.5, 100.0, 0.0), (0.1, 0.001, 200.0),
                                                   (0.3, 50.0, 100.0)],
                         ids=["depression", "facilitation", "both"])
def test_matches_nest_tsodyks_synapse(sim, U, tau_rec, tau_facil):
    nest = pytest.importorskip("pyNN.nest")
    ours, _ = _stp_trace(sim, U, tau_rec, tau_facil, ideal=True)
    ref, _ = _stp_trace(nest, U, tau_rec, tau_facil)
    np.testing.assert_allclose(_jumps(ours), _jumps(ref), rtol=1e-3, atol=1e-7)
    j = _jumps(ours)
    if tau_facil == 0.0:
        assert j[11] < 0.8 * j[0]       # depressed in the 5 ms burst
    if tau_rec < 1.0:
        assert j[11] > 1.2 * j[0]       # facilitated in the burst


def test_a_new_setup_starts_with_full_resources(sim):
    """A second setup() gives the first network's trace (reset() itself: test_reset.py)."""
    g1, _ = _stp_trace(sim, 0.5, 100.0, 0.0, ideal=True)
    sim.setup(timestep=DT, ideal=True)
    g2, _ = _stp_trace(sim, 0.5, 100.0, 0.0, ideal=True)
    np.testing.assert_allclose(g1, g2)


def test_get_stp_parameters(sim):
    _, prj = _stp_trace(sim, 0.5, 100.0, 0.0, ideal=True)
    assert prj.get("U", format="list", with_address=False) == [0.5]
    assert prj.get("tau_rec", format="list", with_address=False) == [100.0]


@pytest.mark.parametrize("kw, text", [
    (dict(U=0.3, tau_rec=50.0, tau_facil=100.0), "at the same time"),
    (dict(U=0.6, tau_rec=100.0, tau_facil=0.0), "0.25..0.4"),
    (dict(U=0.3, tau_rec=1.0, tau_facil=0.0), "6.0..5900.0"),
])
def test_wafer_strict_rejects_what_the_drivers_cannot_do(wafer_sim, kw, text):
    sim = wafer_sim
    sim.setup(strict=True, defects="none", clip_parameters=True)
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    cell = sim.Population(1, sim.IF_cond_exp())
    with pytest.raises(errors.InvalidParameterValueError, match=text):
        sim.Projection(src, cell, sim.AllToAllConnector(),
                       sim.TsodyksMarkramSynapse(weight=0.01, **kw))
    # still usable
    sim.Projection(src, cell, sim.AllToAllConnector(),
                   sim.TsodyksMarkramSynapse(weight=0.01, U=0.3, tau_rec=100.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(5.0)


def test_wafer_depression_with_3bit_U(wafer_sim):
    g, _ = _stp_trace(wafer_sim, 0.3, 100.0, 0.0, defects="none", calibration="ideal")
    # routed delays differ from 1 ms: find the conductance jumps in the trace itself
    inc = g[1:] - g[:-1] * np.exp(-DT / 5.0)
    j = inc[inc > 0.2 * inc.max()]
    assert j.size == len(TRAIN)
    # the driver realises U on 8 levels (0.3 -> 0.293 or 0.314); the burst still depresses
    assert j[11] < 0.85 * j[0]


@pytest.mark.parametrize("kw, text, realised", [
    (dict(U=0.3, tau_rec=50.0, tau_facil=100.0), "at the same time",
     dict(U=0.25 + 0.15 * 2 / 7, tau_rec=50.0, tau_facil=0.0)),
    (dict(U=0.6, tau_rec=100.0, tau_facil=0.0), "0.25..0.4",
     dict(U=0.40, tau_rec=100.0, tau_facil=0.0)),
    (dict(U=0.3, tau_rec=1.0, tau_facil=0.0), "6..5900",
     dict(U=0.25 + 0.15 * 2 / 7, tau_rec=6.0, tau_facil=0.0)),
])
def test_wafer_adapts_to_the_nearest_driver_settings_with_a_warning(wafer_sim, kw, text,
                                                                     realised):
    """By default the drivers realise the nearest parameters (one warning naming the
    projection; Projection.get shows the realised values, get_requested the asked ones)."""
    sim = wafer_sim
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    cell = sim.Population(1, sim.IF_cond_exp(tau_refrac=2.0))
    with pytest.warns(HardwareParameterWarning, match=text) as record:
        prj = sim.Projection(src, cell, sim.AllToAllConnector(),
                             sim.TsodyksMarkramSynapse(weight=0.01, **kw), label="tm")
    assert any("projection 'tm'" in str(w.message) for w in record)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(5.0)
    for name, value in realised.items():
        assert prj.get(name, format="list", with_address=False) == [pytest.approx(value)]
        assert prj.get_requested(name, format="list", with_address=False) == [kw[name]]
