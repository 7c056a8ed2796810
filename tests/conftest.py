"""Shared fixtures for the pyNN.bss_emu test-suite.

Every test runs between ``sim.setup()`` and ``sim.end()`` (autouse fixture ``sim``), so each
test starts from an empty network at t = 0 with dt = 0.1 ms.  Tests that need another time
step or setup option simply call ``sim.setup(...)`` again (this discards the network).

The fixture's ``setup`` defaults to ``ideal=True`` (no mapping, no synapse loss) unless a test
passes ``ideal`` itself.  PyNN behaviour that must not depend on the mode (API semantics, errors
on bad input) is tested in both: a test marked ``@pytest.mark.both_modes`` runs twice, once per
value of the ``mode`` fixture, and in ``"wafer"`` mode the same ``sim.setup`` maps the network
on a defect-free wafer (``ideal=False, defects="none"``, parameters clipped to the hardware
ranges as in ``wafer_sim``, synapse loss allowed).  Wafer-specific tests live in their own files and use ``wafer_sim``.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyNN.bss_emu as _sim

DT = 0.1


_real_setup = _sim.setup

MODES = ("ideal", "wafer")


def _ideal_setup(*args, **kwargs):
    kwargs.setdefault("ideal", True)
    return _real_setup(*args, **kwargs)


def _both_modes_wafer_setup(*args, **kwargs):
    # a test that passes ``ideal`` itself asks for that mode explicitly
    if kwargs.get("ideal", False):
        return _real_setup(*args, **kwargs)
    kwargs.setdefault("ideal", False)
    kwargs.setdefault("defects", "none")
    # PyNN-semantics networks (e.g. all-to-all between small populations) may lose a few
    # synapses for want of drivers; loss is the mapping tests' subject, not these tests'
    kwargs.setdefault("continue_despite_synapse_loss", True)
    return _wafer_setup(*args, **kwargs)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "both_modes: run the test in ideal and in wafer mode (fixture ``mode``)")


def pytest_generate_tests(metafunc):
    if metafunc.definition.get_closest_marker("both_modes") is not None:
        metafunc.parametrize("mode", MODES, indirect=True)


@pytest.fixture
def mode(request) -> str:
    """``"ideal"`` or ``"wafer"``: the mode ``sim.setup`` defaults to in this test."""
    return getattr(request, "param", "ideal")


@pytest.fixture(autouse=True)
def sim(monkeypatch, mode):
    """The backend module, freshly set up (dt = 0.1 ms; ideal engine, or the mapped wafer for
    tests marked ``both_modes`` in their ``wafer`` run); ended after the test."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    monkeypatch.setattr(_sim, "setup", _ideal_setup if mode == "ideal"
                        else _both_modes_wafer_setup)
    assert _sim.setup(timestep=DT) == 0
    yield _sim
    _sim.end()


def _wafer_setup(*args, **kwargs):
    # the mapping tests use PyNN's default cells, whose tau_refrac (0.1 ms) lies below the
    # hardware's range: clip unless a test asks otherwise
    kwargs.setdefault("clip_parameters", True)
    return _real_setup(*args, **kwargs)


@pytest.fixture
def wafer_sim(sim, monkeypatch):
    """The backend with the wafer-mode ``setup`` (mapping on, no defects; neuron parameters
    outside the hardware ranges are clipped unless a test passes ``clip_parameters``)."""
    monkeypatch.setattr(_sim, "setup", _wafer_setup)
    _wafer_setup(timestep=DT, defects="none")
    return _sim


def guidebook_network(sim) -> None:
    """marocco's guidebook loss example (brainscales1.md 14.12) on the current setup: 50
    Poisson sources on HICANN 1 and 50 IF_cond_exp on HICANN 0, two FixedProbability(0.5)
    projections (sources -> neurons, neurons -> neurons) of one seeded connector."""
    rng = sim.NumpyRNG(seed=2)
    src = sim.Population(50, sim.SpikeSourcePoisson(rate=5.0))
    pop = sim.Population(50, sim.IF_cond_exp())
    sim.place_on_hicann(pop, [0])
    sim.place_on_hicann(src, [1])
    c = sim.FixedProbabilityConnector(0.5, rng=rng)
    sim.Projection(src, pop, c, sim.StaticSynapse(weight=0.01))
    sim.Projection(pop, pop, c, sim.StaticSynapse(weight=0.01))


def assert_same(a, b):
    """Two lists of recordings are identical: arrays equal element by element, lists of
    arrays (spike trains) equal in length and per train."""
    assert len(a) == len(b)
    for x, y in zip(a, b):
        if isinstance(x, list):
            assert len(x) == len(y)
            for u, w in zip(x, y):
                np.testing.assert_array_equal(u, w)
        else:
            np.testing.assert_array_equal(x, y)


def spike_times(segment_or_block, index=None):
    """Spike times (ms, float arrays) of a neo Segment/Block, per spiketrain, ordered by
    ``source_index``.  With ``index`` returns only that train."""
    seg = segment_or_block
    if hasattr(seg, "segments"):
        seg = seg.segments[-1]
    trains = sorted(seg.spiketrains, key=lambda st: int(st.annotations["source_index"]))
    out = [np.asarray(st.rescale("ms").magnitude, dtype=float) for st in trains]
    return out if index is None else out[index]


def signal(segment_or_block, name):
    """The AnalogSignal called ``name`` of a neo Segment/Block (last segment of a block)."""
    seg = segment_or_block
    if hasattr(seg, "segments"):
        seg = seg.segments[-1]
    sigs = [s for s in seg.analogsignals if s.name == name]
    assert len(sigs) == 1, f"expected one '{name}' signal, got {len(sigs)}"
    return sigs[0]


def lif_first_spike(i_offset, cm=1.0, tau_m=20.0, v_rest=-65.0, v_thresh=-50.0, v_start=None):
    """Analytic time (ms) at which a LIF neuron with constant current ``i_offset`` (nA), starting
    at ``v_start`` (default v_rest), reaches threshold; inf if it never does."""
    g_l = cm / tau_m
    v_inf = v_rest + i_offset / g_l
    v0 = v_rest if v_start is None else v_start
    if v_inf <= v_thresh:
        return np.inf
    return tau_m * np.log((v_inf - v0) / (v_inf - v_thresh))


def ceil_to_grid(t, dt=DT):
    """Smallest multiple of ``dt`` that is >= t (with a tiny tolerance for round-off)."""
    return np.ceil(t / dt - 1e-9) * dt
