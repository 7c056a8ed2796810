"""setup(preset=...) and setup(effects=...): what each changes, that explicit keywords win over
a preset, and that switched-off effects really are off (issue 14, items 6 and 8)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyNN_bss_emu as sim
from pyNN_bss_emu.backend.options import PRESETS, EffectOptions, SetupOptions

#: identical LIF neurons that all fire once in the same 0.1 ms step near 28 ms (v_rest above
#: threshold, identical initial membranes, calibration='ideal': no mismatch)
CELL = dict(v_rest=-45.0, v_reset=-65.0, v_thresh=-50.0, tau_m=20.0, cm=1.0, tau_refrac=10.0)


def _volley(n: int, **setup) -> dict:
    """n neurons of one neuron block fire in one step; returns the pulse statistics."""
    sim.setup(timestep=0.1, ideal=False, defects="none", calibration="ideal", neuron_size=4,
              **setup)
    pop = sim.Population(n, sim.IF_cond_exp(**CELL))
    pop.initialize(v=-65.0)
    sim.place_on_hicann(pop, [0])
    pop.record("spikes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(32.0)
    n_recorded = sum(s.size for s in pop.get_data().segments[-1].spiketrains)
    stats = sim.get_pulse_statistics()
    stats["recorded"] = n_recorded
    sim.end()
    return stats


def test_event_loss_ablation_lets_a_synchronous_volley_through():
    """With the event paths limited, a priority encoder passes 2 of 8 simultaneous spikes
    (one served, one in its register); with effects={'event_loss': False} all 8 arrive."""
    limited = _volley(8)
    assert limited["l1_encoder_lost"] == 6 and limited["recorded"] == 2
    free = _volley(8, effects={"event_loss": False})
    assert free["l1_encoder_lost"] == 0 and free["l1_merger_lost"] == 0
    assert free["recorded"] == 8


def test_effects_keyword_checks_names_and_values():
    with pytest.raises(ValueError, match="unknown effect.*'eventloss'.*event_loss"):
        SetupOptions.from_keywords(0.1, "auto", effects={"eventloss": False})
    with pytest.raises(TypeError, match="effects.*expected True or False"):
        SetupOptions.from_keywords(0.1, "auto", effects={"event_loss": 0})
    with pytest.raises(TypeError, match="expected a dict"):
        SetupOptions.from_keywords(0.1, "auto", effects=["event_loss"])
    tree = SetupOptions.from_keywords(0.1, "auto", effects={"mismatch": False})
    assert tree.substrate.effects == EffectOptions(mismatch=False)
    assert tree.substrate.effects.disabled() == ("mismatch",)
    assert SetupOptions.from_keywords(0.1, "auto").substrate.effects.disabled() == ()


def test_marocco_preset_sets_what_marocco_did_and_keywords_win():
    default = SetupOptions.from_keywords(0.1, "auto")
    marocco = SetupOptions.from_keywords(0.1, "auto", preset="marocco")
    assert marocco.preset == "marocco"
    assert marocco.substrate.weight_rounding == "stochastic"
    assert marocco.mapping.l1_routing.algorithm == "backbone"
    assert marocco.mapping.merger_routing.strategy == "minimize_as_possible"
    assert marocco.mapping.neuron_placement.strategy == "enum_asc"
    assert marocco.mapping.neuron_placement.default_neuron_size == 4
    # every preset entry changes the tree at its path, nothing else differs from the default
    for path, value in PRESETS["marocco"].items():
        node = marocco
        for name in path:
            node = getattr(node, name)
        assert node == value, path
    # a keyword given explicitly overrides the preset
    mixed = SetupOptions.from_keywords(0.1, "auto", preset="marocco", l1_routing="dijkstra",
                                       weight_rounding="nearest", neuron_size=8)
    assert mixed.mapping.l1_routing.algorithm == "dijkstra"
    assert mixed.substrate.weight_rounding == "nearest"
    assert mixed.mapping.neuron_placement.default_neuron_size == 8
    assert mixed.mapping.merger_routing.strategy == "minimize_as_possible"
    assert default.preset == "default"
    with pytest.raises(ValueError, match="preset"):
        SetupOptions.from_keywords(0.1, "auto", preset="pymarocco")


def test_marocco_preset_drops_i_offset_and_shares_v_reset_per_hicann():
    """preset='marocco': i_offset is dropped with a warning (calibtic had no transformation
    for it) where the default folds it into the leak potential; v_reset is one mean per HICANN
    (marocco) where the default keeps one value per FG block."""
    def run(preset):
        sim.setup(timestep=0.1, ideal=False, defects="none", calibration="ideal",
                  preset=preset, neuron_size=4)
        # two populations with different v_reset on HICANN 0: 16 neurons of size 4 fill one
        # neuron block, so 'a' and 'b' sit in different FG blocks of the same HICANN
        a = sim.Population(64, sim.IF_cond_exp(v_reset=-70.0, i_offset=0.5), label="a")
        b = sim.Population(64, sim.IF_cond_exp(v_reset=-60.0), label="b")
        sim.place_on_hicann(a, [0])
        sim.place_on_hicann(b, [0])
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            sim.run(1.0)
        texts = [str(w.message) for w in rec]
        return a.get("v_rest"), sim.get_backend(), texts

    _, _, default_texts = run("default")
    assert any("realised as a shift of the leak" in t for t in default_texts)
    assert not any("i_offset is dropped" in t for t in default_texts)
    _, _, marocco_texts = run("marocco")
    assert any("i_offset is dropped" in t for t in marocco_texts)
    assert not any("realised as a shift of the leak" in t for t in marocco_texts)
    sim.end()


def test_v_reset_one_value_per_fg_block_or_per_hicann():
    """Two single-denmem neurons on HICANN 0, denmem 0 (FG block 0: top row, even column) and
    denmem 1 (block 1: odd column), ask for v_reset -70 and -60 mV.  Shared per FG block (the
    hardware) each keeps its own; shared per HICANN (marocco) both get the mean, -65 mV, and a
    warning names the HICANN."""
    from pyNN_bss_emu.hardware.calibration import realise_neuron_parameters
    from pyNN_bss_emu.hardware.parameter_transform import HardwareParameterWarning
    params = dict(cm=0.2, tau_m=10.0, tau_refrac=2.0, tau_syn_E=5.0, tau_syn_I=5.0,
                  e_rev_E=0.0, e_rev_I=-80.0, v_rest=-65.0, v_thresh=-50.0,
                  v_reset=np.array([-70.0, -60.0]))
    layout = [(0, [0]), (0, [1])]
    block = realise_neuron_parameters(params, layout, mode="ideal")
    np.testing.assert_allclose(block.v_reset.v_reset_used, [-70.0, -60.0], atol=0.2)
    with pytest.warns(HardwareParameterWarning, match=r"one value per HICANN.*HICANN 0"):
        hicann = realise_neuron_parameters(params, layout, mode="ideal",
                                           v_reset_sharing="hicann")
    np.testing.assert_allclose(hicann.v_reset.v_reset_used, [-65.0, -65.0], atol=0.2)
    with pytest.raises(ValueError, match="v_reset_sharing"):
        realise_neuron_parameters(params, layout, mode="ideal", v_reset_sharing="reticle")
