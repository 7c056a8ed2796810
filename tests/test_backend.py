"""The seam between the PyNN surface and the backend (issue 11).

* the invalidation rule: what a change makes the wafer redo, and nothing more;
* realised values come from the backend (``Projection.get``) and requests stay available
  (``Projection.get_requested``);
* no surface module asks which backend it runs on.
"""
from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from pyNN_bss_emu.backend.invalidation import (IDEAL_RULES, WAFER_RULES, WORK_ORDER, Change,
                                               Invalidation, Work)

WAFER = dict(ideal=False, defects="none", continue_despite_synapse_loss=True,
             clip_parameters=True)


def _net(sim, cm: float = 0.2, weight: float = 0.004, stp: bool = False):
    src = sim.Population(8, sim.SpikeSourceArray(spike_times=[5.0, 25.0]), label="src")
    pop = sim.Population(6, sim.IF_cond_exp(tau_refrac=2.0, cm=cm), label="pop")
    syn = sim.TsodyksMarkramSynapse(weight=weight, U=0.3, tau_rec=100.0, tau_facil=0.0,
                                    delay=1.0) if stp else \
        sim.StaticSynapse(weight=weight, delay=1.0)
    prj = sim.Projection(src, pop, sim.AllToAllConnector(), syn, label="prj")
    return src, pop, prj


def _weights(prj) -> np.ndarray:
    return np.asarray(prj.get("weight", format="list", with_address=False), dtype=float)


# ---------------------------------------------------------------- the rule tables
def test_every_change_has_a_rule_in_both_backends():
    assert set(IDEAL_RULES) == set(WAFER_RULES) == set(Change)
    # the ideal engine realises everything as asked: nothing to map or program
    for work in IDEAL_RULES.values():
        assert not work & {Work.MAP, Work.PROGRAM_NEURONS, Work.PROGRAM_WEIGHTS,
                           Work.SHARE_STP, Work.CONFIGURE_EVENT_PATHS}


def test_work_is_done_in_dependency_order():
    order = {w: i for i, w in enumerate(WORK_ORDER)}
    assert order[Work.MAP] < order[Work.PROGRAM_NEURONS] < order[Work.PROGRAM_WEIGHTS]
    assert order[Work.PROGRAM_WEIGHTS] < order[Work.BUILD_SYNAPSES]
    assert order[Work.SHARE_STP] < order[Work.BUILD_SYNAPSES]
    # a current stimulus' bio value depends on the realised capacitance (issue 12)
    assert order[Work.PROGRAM_NEURONS] < order[Work.PROGRAM_CURRENTS]
    inv = Invalidation(WAFER_RULES)
    inv.pending.clear()
    inv.changed(Change.WEIGHTS)
    inv.changed(Change.NEURON_PARAMETERS)
    assert inv.todo() == [Work.PROGRAM_NEURONS, Work.PROGRAM_CURRENTS, Work.PROGRAM_WEIGHTS,
                          Work.PUSH_WEIGHTS]


def test_a_rule_table_must_cover_every_change():
    with pytest.raises(ValueError, match="WEIGHTS"):
        Invalidation({c: frozenset() for c in Change if c is not Change.WEIGHTS})


# ---------------------------------------------------------------- the wafer backend
def test_weights_set_after_mapping_are_realised_without_remapping(sim):
    sim.setup(**WAFER)
    _, _, prj = _net(sim)
    sim.run(0.0)
    first = sim.get_mapping()
    before = _weights(prj)
    prj.set(weight=0.008)
    after = _weights(prj)             # quantised again at once, no run needed
    assert sim.get_mapping() is first
    assert np.all(after > before)
    # the same as a fresh setup with these weights
    sim.setup(**WAFER)
    _, _, fresh = _net(sim, weight=0.008)
    sim.run(0.0)
    np.testing.assert_array_equal(after, _weights(fresh))


def test_neuron_parameters_set_after_mapping_reprogram_neurons_and_weights(sim):
    """A 4-bit weight's bio value depends on the realised membrane capacitance: after
    Population.set(cm=...) the realised weights follow, exactly as a fresh setup gives them
    (before issue 11 they kept the old capacitance's values)."""
    sim.setup(**WAFER)
    _, pop, prj = _net(sim, cm=0.2)
    sim.run(10.0)
    first = sim.get_mapping()
    pop.set(cm=0.4)
    sim.run(10.0)
    assert sim.get_mapping() is first
    changed = _weights(prj)
    sim.setup(**WAFER)
    _, pop2, fresh = _net(sim, cm=0.4)
    sim.run(10.0)
    np.testing.assert_array_equal(changed, _weights(fresh))


def test_delays_cannot_be_programmed_on_the_wafer(sim):
    sim.setup(**WAFER)
    _, _, prj = _net(sim)
    sim.run(0.0)
    routed = np.asarray(prj.get("delay", format="list", with_address=False))
    with pytest.warns(UserWarning, match="routed delays stay in effect"):
        prj.set(delay=5.0)
    np.testing.assert_array_equal(routed, prj.get("delay", format="list", with_address=False))
    assert np.all(np.asarray(prj.get_requested("delay", format="list", with_address=False))
                  == 5.0)


def test_stp_time_constant_is_shared_again_but_a_new_u_level_remaps(sim):
    sim.setup(**WAFER)
    _, _, prj = _net(sim, stp=True)
    sim.run(0.0)
    first = sim.get_mapping()
    prj.set(tau_rec=200.0)
    sim.run(0.0)
    assert sim.get_mapping() is first
    assert set(prj.get("tau_rec", format="list", with_address=False)) == {200.0}
    prj.set(U=0.4)                       # another 3-bit level: a driver configuration
    with pytest.warns(RuntimeWarning, match="mapped again"):
        sim.run(0.0)
    assert sim.get_mapping() is not first
    assert set(prj.get("U", format="list", with_address=False)) == {0.4}


def test_failed_programming_is_retried_at_the_next_run(sim):
    sim.setup(ideal=False, defects="none", strict=True)   # out of range is an error
    _, pop, _ = _net(sim)
    pop.set(tau_refrac=0.1)                         # below the wafer's range
    with pytest.raises(ValueError, match=r"population 'pop' \(IF_cond_exp\).*tau_refrac"
                                         r".*setup\(clip_parameters=True\)"):
        sim.run(10.0)
    pop.set(tau_refrac=2.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # no "mapped again" notice
        sim.run(10.0)
    assert sim.get_current_time() == pytest.approx(10.0)


# ---------------------------------------------------------------- requested and realised
@pytest.mark.both_modes
def test_get_requested_gives_what_was_asked(sim, mode):
    _, _, prj = _net(sim, weight=0.0037)
    sim.run(0.0)
    requested = np.asarray(prj.get_requested("weight", format="list", with_address=False))
    assert np.all(requested == 0.0037)
    realised = _weights(prj)
    if mode == "ideal":
        np.testing.assert_array_equal(realised, requested)
    else:                                    # 4-bit levels with the wafer's fixed pattern
        assert not np.array_equal(realised, requested)
        assert np.all(np.abs(realised / requested - 1) < 1.0)
    assert sim.get_backend().name == mode


# ---------------------------------------------------------------- the surface
SURFACE = ("control", "simulator", "populations", "projections", "recording", "connectors",
           "procedural_api", "wafer_api", "plotting", "standardmodels/cells",
           "standardmodels/synapses")


def test_no_surface_module_branches_on_the_backend():
    root = Path(__file__).resolve().parents[1] / "pyNN_bss_emu"
    pattern = re.compile(r"IdealBackend|WaferBackend|options\.ideal|isinstance\([^)]*Backend|"
                         r"state\.mapper|\.name\s*[=!]=\s*[\"'](ideal|wafer)")
    offenders = []
    for name in SURFACE:
        for i, line in enumerate((root / f"{name}.py").read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if pattern.search(code):
                offenders.append(f"{name}.py:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
