"""Neuron mismatch per logical neuron against what BSS-1 users measured (issue 14).

Sources (electronicvisions/brainscales1-demos, wafer 30; Schmidt 2024):

* 2022 cortical microcircuit (``cortical_microcircuit.rst``: ``variation`` and
  ``variation_boundaries``; ``experiment_description.py``: ``_apply_variations`` passes each
  number as the sigma of ``normal_clipped`` and ``_redraw`` redraws outside the bounds):
  small capacitors, slow leak, neuron size 8, e_rev_I..e_rev_E = -150..50 mV on 0.4..1.3 V.
* 2023 balanced random network (``random_network.rst``: ``neuron_parameters``, absolute sigma
  of ``normal_clipped``): big capacitors, normal leak, neuron size 8, -140..140 mV on
  0.45..1.3 V.

The emulated wafer must show these spreads per *logical neuron* (after the compound-neuron
combination of its 8 denmems).  The expected spread of each parameter is the standard
deviation of the demo's clipped normal, computed here from the published sigma and bounds.
A whole wafer (24,576 neurons of 8 denmems) gives a sampling error of the sd below 1 %; the
tolerance, 6 %, covers that, the wafer-to-wafer variation of the realised sd (the knobs were
solved on one wafer seed; others differ by <= 3 %) and the clipping of calibrated DACs.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from pyNN_bss_emu.hardware import calibration as C
from pyNN_bss_emu.hardware.calibration import DenmemLayout, realise_neuron_parameters
from pyNN_bss_emu.hardware.parameter_transform import (
    HardwareParameterWarning, TransformSettings)

pytestmark = pytest.mark.filterwarnings("ignore:calibrated DAC values")

# ---------------------------------------------------------------- the publications
MICROCIRCUIT = {
    "settings": dict(alpha=1000 * (1.3 - 0.4) / (50 + 150),          # 4.5
                     shift=(50 * 0.4 + 150 * 1.3) / 200, bigcap=False, leak_mode="slow"),
    # neuron_parameters; v_rest is set per population (-44..-24 mV): -40 stands for them
    "params": {"cm": 0.25, "e_rev_E": 50.0, "e_rev_I": -150.0, "tau_m": 10.0,
               "tau_refrac": 2.0, "tau_syn_E": 2.2, "tau_syn_I": 2.2, "v_reset": -65.0,
               "v_rest": -40.0, "v_thresh": -50.0},
    "sigma": {"e_rev_E": 11.1, "e_rev_I": 1.6, "tau_m": 8.0, "tau_refrac": 1.5,
              "tau_syn_E": 0.6, "tau_syn_I": 0.4, "v_rest": 2.0, "v_thresh": 1.1,
              "v_reset": 1.6},
    "bounds": {"tau_m": (3, np.inf), "tau_refrac": (0, np.inf), "tau_syn_E": (1.8, 4),
               "tau_syn_I": (1.9, 6), "v_reset": (-np.inf, 0.9 * -50.0)},
}
BRUNEL = {
    "settings": dict(alpha=1000 * (1.3 - 0.45) / 280, shift=(140 * 0.45 + 140 * 1.3) / 280,
                     bigcap=True, leak_mode="normal"),
    "params": {"cm": 1.0, "e_rev_E": 140.0, "e_rev_I": -140.0, "tau_m": 10.0,
               "tau_refrac": 2.0, "tau_syn_E": 3.0, "tau_syn_I": 3.0, "v_reset": 10.0,
               "v_rest": 0.0, "v_thresh": 20.0},
    "sigma": {"tau_m": 2.0, "tau_syn_E": 0.4, "tau_syn_I": 0.2, "tau_refrac": 1.0,
              "v_rest": 1.96, "v_reset": 4.2, "v_thresh": 1.12, "e_rev_E": 14.0,
              "e_rev_I": 1.96},
    "bounds": {"tau_m": (0, np.inf), "tau_syn_E": (0, np.inf), "tau_syn_I": (0, np.inf),
               "tau_refrac": (0, np.inf), "v_reset": (-np.inf, 0.9 * 20.0)},
}
SETUPS = {"microcircuit_2022": MICROCIRCUIT, "brunel_2023": BRUNEL}
TOLERANCE = 0.06


def _clipped_normal(mu: float, sigma: float, lo: float, hi: float) -> tuple[float, float]:
    """Mean and sd of N(mu, sigma) redrawn outside (lo, hi) (truncated normal)."""
    a, b = (lo - mu) / sigma, (hi - mu) / sigma
    phi = lambda z: 0.0 if math.isinf(z) else math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))
    z = cdf(b) - cdf(a)
    za = 0.0 if math.isinf(a) else a * phi(a)
    zb = 0.0 if math.isinf(b) else b * phi(b)
    shift = (phi(a) - phi(b)) / z
    return mu + sigma * shift, sigma * math.sqrt(1 + (za - zb) / z - shift ** 2)


def _target(setup: dict, name: str) -> tuple[float, float]:
    lo, hi = setup["bounds"].get(name, (-np.inf, np.inf))
    return _clipped_normal(setup["params"][name], setup["sigma"][name], lo, hi)


def _wafer_layout(size: int = 8) -> DenmemLayout:
    per = 256 // (size // 2)
    h = np.repeat(np.arange(384), per)
    x0 = np.tile(np.arange(per) * (size // 2), 384)
    return DenmemLayout.from_placement(h, x0, np.full(h.size, size // 2))


def _settings(setup: dict) -> TransformSettings:
    return TransformSettings(**setup["settings"])


def _per_neuron(r) -> dict[str, np.ndarray]:
    n = r.neuron_parameters()
    return {"tau_m": n["cm"] / n["g_l"], "e_rev_E": n["e_rev_E"], "e_rev_I": n["e_rev_I"],
            "v_rest": n["e_l"], "v_thresh": n["v_thresh"], "v_reset": n["v_reset"],
            "tau_syn_E": n["tau_syn_E"], "tau_syn_I": n["tau_syn_I"],
            "tau_refrac": n["tau_refrac"]}


@pytest.fixture(scope="module")
def wafers():
    """Whole-wafer realisations of each published setup, calibrated and uncalibrated."""
    lay = _wafer_layout(8)
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HardwareParameterWarning)
        for key, setup in SETUPS.items():
            out[key] = {mode: realise_neuron_parameters(
                setup["params"], lay, settings=_settings(setup), wafer_seed=3, trial_seed=2,
                mode=mode) for mode in ("calibrated", "uncalibrated")}
    return out


# ---------------------------------------------------------------- the reading of the sources
def test_clipped_normal_spread_is_the_redraw_spread():
    """The demo's redraw loop draws a truncated normal: its sd, computed, matches a sample
    (microcircuit tau_m: 10 +- 8 ms redrawn below 3 ms -> sd 6.16 ms, mean 12.7 ms)."""
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 8.0, 2_000_000)
    x = x[x > 3.0]
    mean, sd = _clipped_normal(10.0, 8.0, 3.0, np.inf)
    assert sd == pytest.approx(np.std(x), rel=2e-3) and mean == pytest.approx(np.mean(x),
                                                                            rel=2e-3)
    assert C.truncated_normal_std(8.0, 10.0, 3.0) == pytest.approx(sd, rel=1e-12)
    assert C.truncated_normal_std(1.12, 20.0) == pytest.approx(1.12, rel=1e-12)
    assert C.truncated_normal_std(0.0, 20.0) == 0.0


@pytest.mark.parametrize("key, profile", [("microcircuit_2022", C.MICROCIRCUIT_2022),
                                          ("brunel_2023", C.BRUNEL_2023)])
def test_profiles_hold_the_published_numbers(key, profile):
    setup = SETUPS[key]
    s = profile.settings
    assert (s.alpha, s.shift) == pytest.approx((setup["settings"]["alpha"],
                                                setup["settings"]["shift"]), rel=1e-12)
    assert (s.bigcap, s.leak_mode) == (setup["settings"]["bigcap"],
                                       setup["settings"]["leak_mode"])
    assert profile.neuron_size == 8
    assert dict(profile.params) == setup["params"]
    assert dict(profile.sigma) == setup["sigma"]
    for name in setup["sigma"]:
        assert profile.neuron_std(name) == pytest.approx(_target(setup, name)[1], rel=1e-12)
    assert C.MEASURED_PROFILES[(s.bigcap, s.leak_mode)] is profile


def test_potential_spreads_agree_in_hardware_volts():
    """The sources' point: in hardware volts the potentials of the two setups agree
    (e_rev_E 11.1 mV x 4.5 = 50 mV vs 14 mV x 3.04 = 43 mV), tau_m does not (62 % of the
    mean vs 20 %)."""
    a, b = C.MICROCIRCUIT_2022, C.BRUNEL_2023
    assert a.neuron_std_hw("e_rev_E") == pytest.approx(0.04995, rel=1e-3)
    assert b.neuron_std_hw("e_rev_E") == pytest.approx(14 * 0.85 / 280, rel=1e-9)
    for name in ("e_rev_E", "e_rev_I", "v_rest", "v_thresh"):
        assert 0.6 < a.neuron_std_hw(name) / b.neuron_std_hw(name) < 1.6, name
    assert a.neuron_std_hw("tau_m") / b.neuron_std_hw("tau_m") > 3


# ---------------------------------------------------------------- the measured setups
@pytest.mark.parametrize("key", list(SETUPS))
def test_measured_profile_reproduced_per_logical_neuron(wafers, key):
    setup = SETUPS[key]
    got = _per_neuron(wafers[key]["calibrated"])
    assert got["tau_m"].size == 24_576
    failures = {}
    for name in setup["sigma"]:
        _, want = _target(setup, name)
        sd = float(np.std(got[name]))
        if abs(sd / want - 1) > TOLERANCE:
            failures[name] = (round(sd, 4), round(want, 4))
    assert not failures, failures
    # the means: on target for the potentials (calibration removes the offsets); tau_m
    # near the clipped normal's mean (the leak spread keeps the mean conductance, so the
    # mean time constant of a neuron lies above the target, as the redrawn normal's does)
    for name in ("v_rest", "v_thresh", "e_rev_I"):
        assert np.mean(got[name]) == pytest.approx(setup["params"][name],
                                                   abs=0.1 * setup["sigma"][name])
    mean_tau, _ = _target(setup, "tau_m")
    assert np.mean(got["tau_m"]) == pytest.approx(mean_tau, rel=0.06)


@pytest.mark.parametrize("key", list(SETUPS))
def test_uncalibrated_neurons_spread_more(wafers, key):
    """Calibration improves every spread at least 1.8x per neuron, except tau_m: its spread
    is mostly the leak's operating-point term, which no calibration removes (calibration.py)
    - with small capacitors and slow leak calibrating tau_m barely helps."""
    cal = _per_neuron(wafers[key]["calibrated"])
    unc = _per_neuron(wafers[key]["uncalibrated"])
    for name in cal:
        ratio = np.std(unc[name]) / np.std(cal[name])
        assert ratio >= (0.95 if name == "tau_m" else 1.8), (name, ratio)
    tau_ratio = np.std(unc["tau_m"]) / np.std(cal["tau_m"])
    assert tau_ratio > (1.1 if key == "brunel_2023" else 0.95)


# ---------------------------------------------------------------- the other configurations
GENERIC = {"cm": 0.2, "e_rev_E": 0.0, "e_rev_I": -80.0, "tau_m": 20.0, "tau_refrac": 2.0,
           "tau_syn_E": 5.0, "tau_syn_I": 5.0, "v_reset": -65.0, "v_rest": -65.0,
           "v_thresh": -50.0}
CONFIGS = [(True, "normal"), (False, "slow"), (True, "slow"), (True, "fast"),
           (False, "normal"), (False, "fast")]


def _denmem_spreads(bigcap: bool, leak_mode: str, params: dict = GENERIC, seed: int = 5
                    ) -> dict[str, float]:
    """Per-denmem calibrated spread without FG noise, 64 HICANNs (32,768 denmems): V hw for
    potentials (alpha 10), sd of ln for time constants."""
    lay = DenmemLayout.from_pairs([(h, [d]) for h in range(64) for d in range(512)])
    s = TransformSettings(bigcap=bigcap, leak_mode=leak_mode)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HardwareParameterWarning)
        r = realise_neuron_parameters(params, lay, settings=s, wafer_seed=seed,
                                      trial_noise=False)
    p = r.denmem_params
    out = {k: float(np.std(p[k])) * 1e-2 for k in ("e_l", "v_thresh", "e_rev_I")}
    out.update({k: float(np.std(np.log(p[k]))) for k in ("tau_syn_I", "tau_refrac", "tau_m")})
    return out


@pytest.fixture(scope="module")
def config_spreads():
    return {c: _denmem_spreads(*c) for c in CONFIGS}


def test_derived_configurations_take_the_geometric_mean(config_spreads):
    """Potentials, tau_syn and tau_refrac: per-denmem residuals of a configuration without a
    measurement are the geometric mean of the two measured ones (calibration.py rules)."""
    a, b = config_spreads[(False, "slow")], config_spreads[(True, "normal")]
    for cfg in CONFIGS[2:]:
        got = config_spreads[cfg]
        for name in ("e_l", "v_thresh", "e_rev_I", "tau_syn_I", "tau_refrac"):
            assert got[name] == pytest.approx(math.sqrt(a[name] * b[name]), rel=0.05), \
                (cfg, name)


def test_leak_spread_follows_the_operating_current(config_spreads):
    """tau_m: at equal capacitor and tau_m all leak modes run the leak OTA on the same
    current and share one spread, plus the coarser FG steps of the faster modes (small
    capacitor, 20 ms: I_gl DAC ~72 slow, ~8 normal, ~3 fast); the small capacitor needs less
    current and spreads more; a longer tau_m (less current) spreads more, by less than
    Pelgrom's strong-inversion limit sqrt(I1 / I2)."""
    big = {m: config_spreads[(True, m)]["tau_m"] for m in ("normal", "slow", "fast")}
    small = {m: config_spreads[(False, m)]["tau_m"] for m in ("slow", "normal", "fast")}
    for sd in (big, small):
        assert sd["normal"] == pytest.approx(sd["slow"], rel=0.03)
        assert 0.98 * sd["normal"] <= sd["fast"] < 1.1 * sd["slow"]
    assert min(small.values()) > 1.5 * max(big.values())
    s = TransformSettings()
    i10, i40 = (float(C.leak_operating_current(s, t)) for t in (10.0, 40.0))
    sd10 = _denmem_spreads(True, "normal", dict(GENERIC, tau_m=10.0))["tau_m"]
    sd40 = _denmem_spreads(True, "normal", dict(GENERIC, tau_m=40.0))["tau_m"]
    assert 1.0 < sd40 / sd10 < math.sqrt(i10 / i40)


# ---------------------------------------------------------------- seeds and switches
def _small(**kw):
    lay = _wafer_layout(8)
    lay = DenmemLayout(lay.hicann[:4096], lay.denmem[:4096], lay.neuron[:4096], 512)
    s = _settings(BRUNEL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", HardwareParameterWarning)
        return realise_neuron_parameters(BRUNEL["params"], lay, settings=s, **kw)


def test_equal_seeds_are_bit_identical_and_the_pattern_is_the_wafers():
    a = _small(wafer_seed=4, trial_seed=1)
    b = _small(wafer_seed=4, trial_seed=1)
    for k in a.denmem_params:
        assert np.array_equal(a.denmem_params[k], b.denmem_params[k]), k
    c = _small(wafer_seed=5, trial_seed=1)
    assert not np.allclose(a.denmem_params["e_l"], c.denmem_params["e_l"])
    # another configuration of the same wafer scales the same hidden pattern
    lay = DenmemLayout.from_pairs([(h, [d]) for h in range(8) for d in range(512)])
    dev = []
    for bigcap, mode in ((True, "normal"), (False, "slow")):
        r = realise_neuron_parameters(GENERIC, lay, wafer_seed=4, mode="uncalibrated",
                                      settings=TransformSettings(bigcap=bigcap,
                                                                 leak_mode=mode),
                                      trial_noise=False)
        dev.append(r.denmem_params["e_l"] - np.median(r.denmem_params["e_l"]))
    assert np.corrcoef(*dev)[0, 1] > 0.95


def test_mismatch_and_trial_noise_switches():
    ideal = _small(wafer_seed=4, trial_seed=1, mode="ideal")
    off = _small(wafer_seed=4, trial_seed=1, mismatch=False, trial_noise=False)
    for k in ideal.denmem_params:
        assert np.array_equal(ideal.denmem_params[k], off.denmem_params[k]), k
        assert np.ptp(off.denmem_params[k]) == 0.0, k
    # the calibrated mode without mismatch programs the default transform
    unc = _small(wafer_seed=4, trial_seed=1, mode="uncalibrated")
    for cell, d in off.dac.items():
        assert np.array_equal(d, unc.dac[cell]), cell
    # no fixed pattern, FG noise only: 2 mV hw for voltage cells (10.1 [E])
    noise = _small(wafer_seed=4, trial_seed=1, mismatch=False)
    alpha = BRUNEL["settings"]["alpha"]
    assert np.std(noise.denmem_params["e_l"]) * alpha * 1e-3 == pytest.approx(0.002, rel=0.1)
    # fixed pattern without FG noise is the trial_seed=None realisation
    a = _small(wafer_seed=4, trial_seed=1, trial_noise=False)
    b = _small(wafer_seed=4, trial_seed=None)
    for k in a.denmem_params:
        assert np.array_equal(a.denmem_params[k], b.denmem_params[k]), k
    assert np.std(a.denmem_params["e_l"]) > 5 * np.std(noise.denmem_params["e_l"])
