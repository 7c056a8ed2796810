"""Exact references for the analog substrate (synapse weights, neuron mismatch and its
calibration) and for the in-the-loop trainer's bookkeeping, written to close the gaps a
mutation run (mutmut, ``tools/mutation_score.py``) found in

* ``hardware/synapse_weights.py``: the fixed-pattern hash, the bio -> hw scale for arrays,
  the per-quadrant gmax choice, the clipping tolerance at g(15), the default seed of the
  stochastic rounding and the error messages of bad input;
* ``hardware/calibration.py``: the hidden per-denmem deviations, the V_reset block fit and
  the realised parameters as documented functions of (wafer seed, trial seed, denmem), the
  DAC range edges, the shared-V_reset warning, the layout rules and the calibration cache;
* ``training/trainer.py``: configuration checks, when weights are (re)written, the gain fit
  of ``characterise``, the evaluation schedule and progress bar of ``train`` and the
  checkpoint format.

Every expected value is derived here, by hand (derivation in the comments) or by a small
reference written from the documentation (module docstrings and
``shared/reference/brainscales1.md``), never by calling the code under test.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import warnings

import numpy as np
import pytest

from pyNN_bss_emu.hardware import calibration as C
from pyNN_bss_emu.hardware import synapse_weights as sw
from pyNN_bss_emu.hardware.calibration import (DenmemLayout, WaferCalibration,
                                               realise_neuron_parameters)
from pyNN_bss_emu.hardware.parameter_transform import FG_CELLS, HardwareParameterWarning
from pyNN_bss_emu.training import Dataset, InTheLoopTrainer, Quantiser, TrainerConfig
from pyNN_bss_emu.training.trainer import CheckpointError

# ================================================================== literals
#: calibtic default synapse polynomial (brainscales1.md 4.4), nS at V_gmax 500, div 11
P0, P1, P2 = 93.9406513768, 81.3443474483, -1.59734048208
#: P(15) = 93.9406513768 + 81.3443474483 * 15 - 1.59734048208 * 225 = 954.7042546333 nS
P15 = P0 + P1 * 15 + P2 * 225
#: big membrane capacitor of one denmem, pF (brainscales1.md 3.3); a size-4 neuron: 8.65824
BIG_CAP_PF = 2.16456
#: splitmix64 constants (Steele, Lea & Flood 2014; the finaliser the modules document)
GOLDEN, M1, M2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
MASK64 = (1 << 64) - 1
#: the voltage FG cells: V = DAC * 1.8 / 1023 (brainscales1.md 10.1)
VOLT_PER_DAC = 1.8 / 1023
IF_PARAMS = {"cm": 0.2, "e_rev_E": 0.0, "e_rev_I": -80.0, "tau_m": 10.0, "tau_refrac": 2.0,
             "tau_syn_E": 5.0, "tau_syn_I": 5.0, "v_reset": -65.0, "v_rest": -65.0,
             "v_thresh": -50.0}


def _mix64(z: int) -> int:
    """splitmix64 finaliser on a Python int (mod 2**64)."""
    z = ((z ^ (z >> 30)) * M1) & MASK64
    z = ((z ^ (z >> 27)) * M2) & MASK64
    return z ^ (z >> 31)


# ================================================================== synapse weights
def _ref_uniform_sw(seed: int, stream: int, counter: int) -> float:
    """synapse_weights docstring: key = mix(seed ^ mix(stream * golden)); x = mix(mix(counter
    * golden + key) ^ key); the top 53 bits give u = (x + 1) / 2**53 in (0, 1]."""
    key = _mix64(seed ^ _mix64((stream * GOLDEN) & MASK64))
    x = _mix64(_mix64((counter * GOLDEN + key) & MASK64) ^ key)
    return ((x >> 11) + 1) / 2.0 ** 53


def _ref_normal_sw(seed: int, stream: int, counter: int) -> float:
    """Box-Muller on streams ``stream`` (radius) and ``stream + 1`` (angle)."""
    r = math.sqrt(-2.0 * math.log(_ref_uniform_sw(seed, stream, counter)))
    return r * math.cos(2.0 * math.pi * _ref_uniform_sw(seed, stream + 1, counter))


def test_fixed_pattern_factors_are_the_documented_hash():
    """Per synapse ``max(0, 1 + 0.2 z)``, z from streams 1/2 at counter (h*448 + row)*256 +
    col; per driver ``max(0, 1 + 0.05 z)`` from streams 3/4 at counter h*224 + driver; the
    total is their product (driver = row // 2).  Checked for a few synapses, asked for
    alone and inside a request large enough (> 384*224/4 synapses) for the table path."""
    seed = 123
    h = np.array([0, 7, 7, 383, 200])
    r = np.array([0, 40, 41, 447, 123])
    c = np.array([0, 3, 3, 255, 77])
    fp = sw.FixedPattern(seed)                  # sigmas 0.2 / 0.05 ([E], module docstring)
    syn = [max(0.0, 1 + 0.2 * _ref_normal_sw(seed, 1, (hh * 448 + rr) * 256 + cc))
           for hh, rr, cc in zip(h.tolist(), r.tolist(), c.tolist())]
    drv = [max(0.0, 1 + 0.05 * _ref_normal_sw(seed, 3, hh * 224 + rr // 2))
           for hh, rr in zip(h.tolist(), r.tolist())]
    np.testing.assert_allclose(fp.synapse_factors(h, r, c), syn, rtol=1e-12)
    np.testing.assert_allclose(fp.driver_factors(h, r // 2), drv, rtol=1e-12)
    np.testing.assert_allclose(fp.factors(h, r, c), np.multiply(syn, drv), rtol=1e-12)
    # rows 40 and 41 share driver 20 of HICANN 7
    assert fp.driver_factors(7, 20)[0] == pytest.approx(drv[1]) == pytest.approx(drv[2])
    # the same synapses inside a request of 30,000 (table of all drivers used)
    n = 30_000
    big_h = np.resize(h, n)
    big_r = np.resize(r, n)
    big_c = np.resize(c, n)
    np.testing.assert_allclose(fp.factors(big_h, big_r, big_c)[:5], np.multiply(syn, drv),
                               rtol=1e-12)
    # sigma 0: exactly one, whatever the hash
    assert np.all(sw.FixedPattern(seed, 0.0, 0.0).factors(h, r, c) == 1.0)


def test_bio_to_hw_scale_and_capacitance_for_arrays():
    """scale = speedup * C_hw / (cm * 1000) (marocco, reference 4.5): cm 0.2 / 0.4 nF on a
    size-4 big-cap neuron (8.65824 pF) at 1e4: 1e4 * 8.65824 / 200 = 432.912, / 400 =
    216.456; a scalar gives a Python float."""
    c4 = 4 * BIG_CAP_PF
    got = sw.bio_to_hw_scale(np.array([0.2, 0.4]), c4)
    assert isinstance(got, np.ndarray)
    np.testing.assert_allclose(got, [432.912, 216.456], rtol=1e-12)
    one = sw.bio_to_hw_scale(0.2, c4)
    assert type(one) is float and one == pytest.approx(432.912, rel=1e-12)
    # small caps 0.1642 pF per denmem (3.3): sizes 1 and 4
    np.testing.assert_allclose(sw.neuron_capacitance_pF([1, 4], big_cap=False),
                               [0.1642, 0.6568], rtol=1e-12)


@pytest.mark.parametrize("call, message", [
    # scalar: no element index in the message
    (lambda: sw.bio_to_hw_scale(0.2, 0.0),
     r"c_hw_pF must be finite and in (0, inf), got 0.0"),
    (lambda: sw.realise_weights([0.001], [0], -0.2, 8.0),
     r"cm_bio_nF must be finite and in (0, inf), got -0.2"),
    # array: the first bad element and the count
    (lambda: sw.realise_weights([0.1, -0.01, -0.02], [0, 0, 0], 0.2, 8.0),
     r"weight_bio_uS must be finite and in [0, inf), got -0.01 (element 1, 2 bad in total)"),
    (lambda: sw.realise_weights(["a", "b"], [0, 0], 0.2, 8.0),
     r"weight_bio_uS must be a 1-D array of numbers, got ['a', 'b']"),
    (lambda: sw.GmaxConfig(divisors=[31]), r"divisors must be in [1, 30], got 31 (element 0)"),
    (lambda: sw.GmaxConfig(divisors=[2.5]),
     r"divisors must be an array of integers, got dtype float64"),
    (lambda: sw.GmaxConfig(pairs=[(0, 11), (1, 31)]),
     r"pairs div must be in [1, 30], got 31 (element 1)"),
    (lambda: sw.GmaxConfig(pairs=[(4, 11)]),
     r"pairs selgmax must be in [0, 3], got 4 (element 0)"),
])
def test_synapse_weight_errors_name_parameter_value_and_range(call, message):
    """The whole message: parameter, allowed range, offending value (and where)."""
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        call()


def test_weight_curve_checks_locate_the_first_bad_configuration():
    """Levels must be >= 0 and strictly increasing (GmaxConfig docstring).

    P = 10 w, H = -w (unscaled), V_gmax 10, divisors 2 and 30: scale (10/500)(11/div) =
    0.11 (div 2) and 0.00733 (div 30); levels 0.11*10 w - w = 0.1 w (increasing, g(0) = 0,
    allowed) and 0.0733 w - w (decreasing).  Configurations are sel 0..3 x div (2, 30),
    so the first bad one is quadrant 0, selgmax 0, div 30."""
    with pytest.raises(ValueError, match=r"not strictly increasing over w = 0\.\.15 for "
                                         r"quadrant 0, selgmax 0, div 30: "):
        sw.GmaxConfig(vgmax=(10.0,) * 4, divisors=[2, 30], coeffs_nS=(0.0, 10.0),
                      fixed_coeffs_nS=(0.0, -1.0))
    # g(0) = 0 exactly is allowed (non-negative): P = 10 w
    g = sw.GmaxConfig(divisors=[11], coeffs_nS=(0.0, 10.0))
    assert g.levels_nS[0, 0, 0] == 0.0
    # 1023/500 * 11/11 * 10 * 15 = 306.9 nS
    assert g.max_nS[0, 0] == pytest.approx(306.9, rel=1e-12)


def test_gmax_repr_and_integer_inputs():
    """Integer V_gmax are DAC values like floats; the repr shows them as floats with the
    g(15) range: 1023/500 * 11/div * P(15) = 22.506 * 954.70425 / div -> div 30: 716.2,
    div 2: 10743.3 nS."""
    g = sw.GmaxConfig(vgmax=(1023, 1023, 1023, 1023), divisors=[2, 30])
    lo, hi = 22.506 * P15 / 30, 22.506 * P15 / 2
    assert repr(g) == (f"GmaxConfig('custom', vgmax=[1023.0, 1023.0, 1023.0, 1023.0], "
                       f"8 configs, g(15) {lo:.1f}..{hi:.1f} nS)")
    assert f"{lo:.1f}..{hi:.1f}" == "716.2..10743.3"
    assert g.vgmax.dtype == np.float64
    # integer-valued float row keys are accepted and equal to the integer keys
    w = [0.001, 0.002, 0.0005]
    a = sw.realise_weights(w, [3.0, 3.0, 8.0], 0.2, 4 * BIG_CAP_PF)
    b = sw.realise_weights(w, [3, 3, 8], 0.2, 4 * BIG_CAP_PF)
    assert a.row_key.tolist() == [3, 8]
    np.testing.assert_array_equal(a.digital, b.digital)
    np.testing.assert_array_equal(a.weight_bio_uS, b.weight_bio_uS)


def test_each_quadrant_chooses_its_own_gmax_config():
    """findBestGmaxConfig per quadrant: V_gmax 1023 in quadrant 0, 500 in quadrant 1,
    divisors 5 and 11.  g(15): quadrant 0 div 11: 2.046 * 954.7 = 1953.3, div 5: 4297.3;
    quadrant 1 div 11: 954.7, div 5: 2.2 * 954.7 = 2100.3.  A row needing 1500 nS takes
    div 11 in quadrant 0 and div 5 in quadrant 1 (neither clips)."""
    v = np.array([[1023.0] * 4, [500.0] * 4, [1023.0] * 4, [1023.0] * 4])
    g = sw.GmaxConfig(vgmax=v, divisors=[5, 11])
    # bio scale 1e-3 (speedup 1, c_hw 1 pF, cm 1 nF): w [µS] * 1000 * 1e-3 = w nS hw
    # the ladder's rules: the synaptic input's floor (pre-distortion) off
    res = sw.realise_weights([1500.0, 1500.0], [0, 1], 1.0, 1.0, speedup=1.0, gmax=g,
                             quadrant=[0, 1], floor=False)
    assert res.row_div.tolist() == [11, 5]
    assert res.row_vgmax.tolist() == [1023.0, 500.0]
    np.testing.assert_allclose(res.row_max_nS, [2.046 * P15, 2.2 * P15], rtol=1e-9)
    assert res.n_clipped == 0
    # nearest level, by hand: P(8), P(9), P(10) = 642.46, 696.66, 747.65 nS
    # quadrant 0: 1500 / 2.046 = 733.14 -> between P(9) and P(10), closer to P(10) -> 10
    # quadrant 1: 1500 / 2.2 = 681.82 -> between P(8) and P(9), closer to P(9) -> 9
    assert res.digital.tolist() == [10, 9]


def test_clipping_counts_requests_above_g15_beyond_the_tolerance_only():
    """A request of exactly the row's g(15), or within the relative tolerance 1e-12 above
    it, is not clipped; 1e-9 above it is (the row already has the largest configuration).
    Both curves: the scaled polynomial and one with an unscaled H.  Bio scale 1e-3
    (speedup 1, 1 pF, 1 nF) makes the hw request equal to the bio number."""
    one = sw.GmaxConfig(vgmax=(500.0,) * 4, pairs=[(0, 11)])     # scale (500/500)(11/11) = 1
    top = float(one.max_nS[0, 0])
    assert top == pytest.approx(P15, rel=1e-12)                  # 954.704 nS
    for w, clipped in ((top, False), (top * (1.0 + 1e-12), False), (top * (1 + 1e-9), True)):
        res = sw.realise_weights([w], [0], 1.0, 1.0, speedup=1.0, gmax=one, floor=False)
        assert res.requested_hw_nS[0] == w
        assert res.digital[0] == 15 and bool(res.clipped[0]) is clipped, w
        assert res.n_clipped == int(clipped)
    # with H(w) = 10 + 0.5 w (GmaxConfig(fixed_coeffs_nS)): g(15) = 2.046 P(15) + 17.5
    g = sw.GmaxConfig(divisors=[11], fixed_coeffs_nS=(10.0, 0.5))
    top_h = float(g.max_nS.max())
    assert top_h == pytest.approx(2.046 * P15 + 17.5, rel=1e-12)
    for w, clipped in ((top_h, False), (top_h * (1 + 1e-9), True)):
        res = sw.realise_weights([w], [0], 1.0, 1.0, speedup=1.0, gmax=g, floor=False)
        assert res.digital[0] == 15 and bool(res.clipped[0]) is clipped, w
        assert res.n_clipped == int(clipped)


def test_stochastic_rounding_without_rng_uses_seed_0():
    """``rng=None`` -> ``numpy.random.default_rng(0)`` (module docstring): deterministic and
    equal to ``rng=0``; 400 requests halfway between two levels make a chance agreement of
    two different streams impossible (2**-400)."""
    mid = (P0 + P1 * 5 + P2 * 25 + P0 + P1 * 6 + P2 * 36) / 2        # between g(5) and g(6)
    w = np.full(400, mid)
    w[0] = P15                                  # pins the row to the scale-1 ESS config
    kw = dict(speedup=1.0, gmax=sw.GmaxConfig.ess(), rounding="stochastic", floor=False)
    a = sw.realise_weights(w, np.zeros(400, int), 1.0, 1.0, rng=None, **kw)
    b = sw.realise_weights(w, np.zeros(400, int), 1.0, 1.0, rng=None, **kw)
    c = sw.realise_weights(w, np.zeros(400, int), 1.0, 1.0, rng=0, **kw)
    assert set(np.unique(a.digital[1:]).tolist()) == {5, 6}
    np.testing.assert_array_equal(a.digital, b.digital)
    np.testing.assert_array_equal(a.digital, c.digital)


# ================================================================== calibration
def _ref_key(seed: int, *labels) -> int:
    """calibration: key = blake2b-64 of "seed|label|..." (little endian)."""
    text = "|".join([str(int(seed))] + [str(x) for x in labels]).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


def _ref_normal(key: int, index: int) -> float:
    """Box-Muller on the two 32-bit halves of h = mix(index * golden + key)."""
    h = _mix64((index * GOLDEN + key) & MASK64)
    u1 = ((h >> 32) + 0.5) / 2.0 ** 32
    u2 = ((h & 0xFFFFFFFF) + 0.5) / 2.0 ** 32
    return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)


def _ref_fit(X, y):
    """Ordinary least squares y = a + b X (numpy's polyfit, independent of the module)."""
    b, a = np.polyfit(np.asarray(X, float), np.asarray(y, float), 1)
    return a, b


def _block_of(denmem: int) -> int:
    """Shared FG block of a denmem (halco, brainscales1.md 3.5): 2 * row + column parity."""
    return 2 * (denmem // 256) + denmem % 2


def _ref_v_reset_fit(seed: int, hicann: int, block: int):
    """V_reset block calibration (SharedMismatch defaults): measured mean reset of the
    block's 128 denmems at 5 points over 0.5..0.8 V = block offset (23.4 mV) + gain (3 %) *
    (u - 0.9 V) + mean per-denmem offset (11.7 mV) + systematic (1 mV) + noise (1 mV)."""
    b = hicann * 4 + block
    # test points: DAC round(V * 1023 / 1.8) of 0.5, 0.575, 0.65, 0.725, 0.8 V
    # = 284.17, 326.79, 369.42, 412.04, 454.67 -> 284, 327, 369, 412, 455
    X = np.array([284, 327, 369, 412, 455]) * VOLT_PER_DAC - 0.9
    ob = 0.0234 * _ref_normal(_ref_key(seed, "true", "V_reset", "offset"), b)
    gb = 0.03 * _ref_normal(_ref_key(seed, "true", "V_reset", "gain"), b)
    dens = [d for d in range(512) if _block_of(d) == block]
    assert len(dens) == 128
    kd = _ref_key(seed, "true", "V_reset", "denmem")
    od_mean = np.mean([0.0117 * _ref_normal(kd, hicann * 512 + d) for d in dens])
    s = 0.0010 * _ref_normal(_ref_key(seed, "cal", "V_reset", "sys"), b)
    y = [ob + od_mean + s + gb * X[k]
         + 0.0010 * _ref_normal(_ref_key(seed, "cal", "V_reset", "meas", k), b)
         for k in range(5)]
    return _ref_fit(X, y)


def _ref_cell_fit(seed: int, cell_name: str, gidx: int, offset, gain, systematic,
                  measurement, u_points, u_ref):
    """Per-denmem calibration of one FG cell (calibration docstring): measured = o + g (u -
    u_ref) + s + n_k at the nominal natural coordinates u_k of the test points."""
    X = np.asarray(u_points) - u_ref
    o = offset * _ref_normal(_ref_key(seed, "true", cell_name, "offset"), gidx)
    g = gain * _ref_normal(_ref_key(seed, "true", cell_name, "gain"), gidx)
    s = systematic * _ref_normal(_ref_key(seed, "cal", cell_name, "sys"), gidx)
    y = [o + s + g * X[k]
         + measurement * _ref_normal(_ref_key(seed, "cal", cell_name, "meas", k), gidx)
         for k in range(X.size)]
    return (o, g), _ref_fit(X, y)


def test_hidden_mismatch_and_its_calibration_are_the_documented_functions_of_the_seed():
    """The hidden deviations and the calibration's fits of a few denmems / blocks, from a
    reference of the documented model (DEFAULT_MODEL knobs as literals)."""
    seed = 77
    cal = WaferCalibration(seed)
    # E_l: offset 30 mV, gain 3 %, systematic 14.8 mV, noise 3 mV, 5 points over 0.7..0.9 V:
    # DAC round(V * 568.33) = 397.8, 426.3, 454.7, 483.1, 511.5 -> 398, 426, 455, 483, 512
    u_el = np.array([398, 426, 455, 483, 512]) * VOLT_PER_DAC
    g = np.array([0, 511, 512 * 200 + 77, C.N_DENMEMS - 1])
    o_got, g_got = cal.true(FG_CELLS["E_l"], g)
    fit_got = cal.fit(FG_CELLS["E_l"])
    for i, gi in enumerate(g.tolist()):
        (o, gg), (a, b) = _ref_cell_fit(seed, "E_l", gi, 0.030, 0.03, 0.0148, 0.003, u_el,
                                        0.9)
        assert o_got[i] == pytest.approx(o, rel=1e-12)
        assert g_got[i] == pytest.approx(gg, rel=1e-12)
        assert fit_got[0, gi] == pytest.approx(a, rel=1e-9, abs=1e-12)
        assert fit_got[1, gi] == pytest.approx(b, rel=1e-9, abs=1e-12)
    # I_pl (tau_refrac; log cell): offset 0.834, gain 5 %, systematic 0.417, noise 0.5 %;
    # test points over the central 80 % of ln(usable range) = ln(14.75 ns .. 1.732 µs, the
    # ends of calibtic's table), the programmed DAC rounded, u = ln tau of that DAC;
    # u_ref = centre
    cell = FG_CELLS["I_pl"]
    lo, hi = np.log(1.47476076544e-08), np.log(1.73228307659e-06)
    span = hi - lo
    x = np.exp(np.linspace(lo + 0.1 * span, hi - 0.1 * span, 5))
    d = np.clip(np.floor(cell.to_dac(x) + 0.5), 10, 1022)
    u_pl = np.log(cell.from_dac(d))
    fit_pl = cal.fit(cell)
    for gi in (3, 150_001):
        _, (a, b) = _ref_cell_fit(seed, "I_pl", gi, 0.834, 0.05, 0.417, 0.005, u_pl,
                                  0.5 * (lo + hi))
        assert fit_pl[0, gi] == pytest.approx(a, rel=1e-9, abs=1e-12)
        assert fit_pl[1, gi] == pytest.approx(b, rel=1e-9, abs=1e-12)
    # V_reset: per shared block
    fit_vr = cal.fit_v_reset()
    assert fit_vr.shape == (2, 1536)
    for h, blk in ((0, 0), (0, 3), (211, 2)):
        a, b = _ref_v_reset_fit(seed, h, blk)
        assert fit_vr[0, h * 4 + blk] == pytest.approx(a, rel=1e-9, abs=1e-12)
        assert fit_vr[1, h * 4 + blk] == pytest.approx(b, rel=1e-9, abs=1e-12)


def test_realised_v_reset_and_e_l_per_denmem_with_trial_noise():
    """Realised potentials of single-denmem neurons, uncalibrated and calibrated, with the
    FG trial noise (2 mV, brainscales1.md 10.1 [E]) of trial seed 5 (calibration docstring):

        DAC   = round(V_target / 1.8 * 1023)                      (uncalibrated)
              = round((0.9 + (V_target - 0.9 - a^) / (1 + b^)) / 1.8 * 1023)   (calibrated)
        d_eff = DAC + 0.002 V / (1.8 / 1023) * z_trial
        u     = d_eff * 1.8 / 1023
        V     = u + o + g (u - 0.9)              (+ the denmem's own reset offset for V_reset)
        bio   = (V - 1.2) / 10 mV                 (default alpha 10, shift 1.2 V)

    v_rest = v_reset = -65 mV -> 0.55 V.  V_reset noise and deviations are per shared
    block (hicann * 4 + block)."""
    seed, trial = 31, 5
    pairs = [(5, 0), (5, 1), (9, 300)]           # blocks 0, 1 and 2 (300 = row 1, even)
    layout = DenmemLayout.from_pairs([(h, [d]) for h, d in pairs])
    cal = WaferCalibration(seed)
    for mode in ("uncalibrated", "calibrated"):
        r = realise_neuron_parameters(IF_PARAMS, layout, wafer_seed=seed, mode=mode,
                                      trial_seed=trial, calibration=cal)
        for i, (h, dm) in enumerate(pairs):
            gidx, b = h * 512 + dm, h * 4 + _block_of(dm)
            # -- E_l (per denmem)
            (o, g), (a_hat, b_hat) = _ref_cell_fit(
                seed, "E_l", gidx, 0.030, 0.03, 0.0148, 0.003,
                np.array([398, 426, 455, 483, 512]) * VOLT_PER_DAC, 0.9)
            target = 0.9 + (0.55 - 0.9 - a_hat) / (1 + b_hat) if mode == "calibrated" else 0.55
            dac = math.floor(target / VOLT_PER_DAC + 0.5)
            assert r.dac["E_l"][i] == dac, (mode, i)
            z = _ref_normal(_ref_key(trial, "fg", "E_l"), gidx)
            u = (dac + 0.002 / VOLT_PER_DAC * z) * VOLT_PER_DAC
            want = (u + o + g * (u - 0.9) - 1.2) / 0.01
            assert r.denmem_params["e_l"][i] == pytest.approx(want, abs=1e-9), (mode, i)
            # -- V_reset (per block, plus the denmem's own offset)
            ob = 0.0234 * _ref_normal(_ref_key(seed, "true", "V_reset", "offset"), b)
            gb = 0.03 * _ref_normal(_ref_key(seed, "true", "V_reset", "gain"), b)
            od = 0.0117 * _ref_normal(_ref_key(seed, "true", "V_reset", "denmem"), gidx)
            if mode == "calibrated":
                a_hat, b_hat = _ref_v_reset_fit(seed, h, _block_of(dm))
                target = 0.9 + (0.55 - 0.9 - a_hat) / (1 + b_hat)
            else:
                target = 0.55
            dac = math.floor(target / VOLT_PER_DAC + 0.5)
            assert r.dac["V_reset"][i] == dac
            z = _ref_normal(_ref_key(trial, "fg", "V_reset"), b)
            u = (dac + 0.002 / VOLT_PER_DAC * z) * VOLT_PER_DAC
            want = (u + ob + gb * (u - 0.9) + od - 1.2) / 0.01
            assert r.denmem_params["v_reset"][i] == pytest.approx(want, abs=1e-9), (mode, i)


def test_dac_range_edges_are_programmed_without_clipping():
    """v_rest 60 mV -> 10 * 60e-3 + 1.2 = 1.8 V = DAC 1023 (the top of the FG range) and
    v_reset -120 mV -> 10 * -120e-3 + 1.2 = 0 V = DAC 0 (the bottom), brainscales1.md
    10.1/10.2: both are in range, so they are programmed exactly and nothing is reported
    clipped (ideal mode: no mismatch)."""
    layout = DenmemLayout.from_pairs([(5, [0]), (5, [1])])
    with warnings.catch_warnings():
        warnings.simplefilter("error", HardwareParameterWarning)
        r = realise_neuron_parameters(dict(IF_PARAMS, v_rest=60.0, v_reset=-120.0,
                                           v_thresh=-40.0), layout, mode="ideal")
    assert r.dac["E_l"].tolist() == [1023, 1023]
    assert r.dac["V_reset"].tolist() == [0, 0]
    assert r.dac_clipped == {}
    np.testing.assert_allclose(r.denmem_params["e_l"], 60.0, atol=1e-9)
    np.testing.assert_allclose(r.denmem_params["v_reset"], -120.0, atol=1e-9)


def test_shared_v_reset_warning_names_the_worst_block():
    """Two HICANNs, two size-4 neurons each sharing all 4 blocks (brainscales1.md 3.5):
    HICANN 0 asks -62 / -60 mV (spread 2 mV), HICANN 1 -70 / -60 mV (spread 10 mV, the
    worst; mean -65).  Without labels the message ends after the block mean."""
    layout = DenmemLayout.from_placement([0, 0, 1, 1], [0, 2, 0, 2], [2, 2, 2, 2])
    params = dict(IF_PARAMS, v_reset=np.array([-62.0, -60.0, -70.0, -60.0]))
    with pytest.warns(HardwareParameterWarning) as rec:
        r = realise_neuron_parameters(params, layout, mode="ideal")
    msg = [str(w.message) for w in rec if "v_reset is shared" in str(w.message)]
    assert len(msg) == 1
    assert msg[0].endswith("8 block(s) hold neurons with different v_reset (e.g. HICANN 0 "
                           "block 0, HICANN 0 block 1, HICANN 0 block 2, HICANN 0 block 3, "
                           "HICANN 1 block 0; worst: requested -70.00..-60.00 mV, using the "
                           "block mean -65.00 mV)")
    v = r.v_reset
    np.testing.assert_allclose(v.requested_min, [-62.0] * 4 + [-70.0] * 4, atol=1e-9)
    np.testing.assert_allclose(v.requested_max, [-60.0] * 8, atol=1e-9)
    np.testing.assert_allclose(v.requested_mean, [-61.0] * 4 + [-65.0] * 4, atol=1e-9)


def test_layout_needs_a_denmem_per_neuron_and_may_be_empty():
    """A logical neuron of one denmem is allowed, one of none is not; no neurons at all is
    an empty layout."""
    lay = DenmemLayout.from_pairs([(3, [10]), (4, [0, 1])])
    assert lay.neuron.tolist() == [0, 1, 1] and lay.first.tolist() == [0, 1]
    with pytest.raises(ValueError, match=r"^every logical neuron needs at least one denmem$"):
        DenmemLayout.from_pairs([(3, [10]), (3, [])])
    empty = DenmemLayout.from_pairs([])
    assert empty.size == 0 and empty.n_neurons == 0


def test_calibration_cache_location_memo_and_partial_calibration(tmp_path, monkeypatch):
    """Cache directory ``$XDG_CACHE_HOME/pyNN_bss_emu/calibration``, else
    ``~/.cache/...``; ``wafer_calibration`` memoises per (seed, model) and learns a cache
    directory given later; ``calibrate(cells)`` measures only the named cells."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert C.default_cache_dir() == tmp_path / "xdg" / "pyNN_bss_emu" / "calibration"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert C.default_cache_dir() == tmp_path / "home" / ".cache" / "pyNN_bss_emu" / \
        "calibration"

    seed = 918_273                                  # a seed no other test uses
    first = C.wafer_calibration(seed)
    assert first.cache_dir is None
    again = C.wafer_calibration(seed, cache_dir=tmp_path / "cal")
    try:
        assert again is first
        assert first.cache_dir == tmp_path / "cal"
    finally:
        first.cache_dir = None
    cal = WaferCalibration(seed).calibrate(["E_l", "V_reset"])
    assert cal.calibrated_cells == ["E_l", "V_reset"]


# ================================================================== trainer
class _StandIn:
    """The trainer's view of a network (sizes, unit_uS, check_weights, write_weights,
    run); ``measure(x, q)`` gives the 'measured' activations for the written weights."""

    def __init__(self, sizes, measure) -> None:
        self.sizes = tuple(sizes)
        self.unit_uS = np.full(len(sizes) - 1, 0.01)
        self.measure = measure
        self.writes = []

    def check_weights(self, weights):
        return [np.asarray(w, dtype=float) for w in weights]

    def write_weights(self, weights) -> None:
        self.writes.append([np.array(w) for w in weights])

    def run(self, x, rng):
        return self.measure(np.asarray(x, dtype=float), self.writes[-1])


def _relu_measure(gains):
    """Layer l measured = gains[l] * relu(measured input @ Q_l)."""
    def measure(x, q):
        acts, h = [], x
        for g, w in zip(gains, q):
            h = g * np.maximum(h @ w, 0.0)
            acts.append(h)
        return acts
    return measure


def _toy(n_train=12, n_test=4, n_features=3, n_classes=2, name="toy", seed=0):
    rng = np.random.default_rng(seed)
    return Dataset(name, rng.random((n_train, n_features)),
                   np.arange(n_train) % n_classes, rng.random((n_test, n_features)),
                   np.arange(n_test) % n_classes, n_classes)


def _weights(seed=1, sizes=(3, 4, 2)):
    rng = np.random.default_rng(seed)
    return [rng.normal(0.5, 0.3, (a, b)) for a, b in zip(sizes[:-1], sizes[1:])]


@pytest.mark.parametrize("kw, message", [
    (dict(lr=0.0), "TrainerConfig.lr = 0.0 must be > 0"),
    (dict(beta=float("nan")), "TrainerConfig.beta = nan must be > 0"),
    (dict(a_sat=-1.0), "TrainerConfig.a_sat = -1.0 must be > 0"),
    (dict(lr_decay=1.5), "TrainerConfig.lr_decay = 1.5 must be in (0, 1]"),
    (dict(lr_decay=0.0), "TrainerConfig.lr_decay = 0.0 must be in (0, 1]"),
    (dict(batch_size=0), "TrainerConfig.batch_size = 0 must be >= 1"),
    (dict(eval_batch=0), "TrainerConfig.eval_batch = 0 must be >= 1"),
])
def test_trainer_config_errors_name_parameter_value_and_range(kw, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        TrainerConfig(**kw)


def test_trainer_config_boundaries_and_quantiser_layer_count():
    TrainerConfig(lr_decay=1.0, batch_size=1, eval_batch=1)       # upper / lower ends allowed
    net = _StandIn((3, 4, 2), _relu_measure([1.0, 1.0]))
    w = _weights()
    q1 = Quantiser([np.array(0.1)], 15)                            # one layer for two
    with pytest.raises(ValueError, match=r"^quantiser has 1 layers, the network 2$"):
        InTheLoopTrainer(net, w, _toy(), quantiser=q1)


def test_weights_are_written_only_when_they_or_the_units_change():
    """Evaluating twice with unchanged shadow weights writes once; a new conductance unit or
    a changed quantised weight is written again."""
    net = _StandIn((3, 4, 2), _relu_measure([1.0, 1.0]))
    tr = InTheLoopTrainer(net, _weights(), _toy(), TrainerConfig(batch_size=4))
    tr.evaluate()
    tr.evaluate()
    assert len(net.writes) == 1
    net.unit_uS = net.unit_uS * 2
    tr.evaluate()
    assert len(net.writes) == 2
    tr.evaluate()
    assert len(net.writes) == 2
    tr.shadow[0] = tr.shadow[0] + 5 * tr.quantiser.lsb[0]          # 5 LSB: another level
    tr.evaluate()
    assert len(net.writes) == 3


def test_characterise_fits_each_layers_gain():
    """Measured = gain_l * relu(input @ Q_l): the least-squares factor sum(a pred) /
    sum(pred^2) is gain_l exactly; it is clipped to [0.05, 20] and the unit is divided by
    gain**damping each round (the stand-in ignores the unit, so the gain stays).  Layer 1:
    gain 2 -> unit 0.01 / 2**(0.8 * 3); layer 2: gain 30 -> clipped 20 -> 0.01 / 20**2.4."""
    net = _StandIn((3, 4, 2), _relu_measure([2.0, 30.0]))
    tr = InTheLoopTrainer(net, _weights(), _toy())
    gains = tr.characterise(rounds=3, damping=0.8)
    np.testing.assert_allclose(gains, [2.0, 20.0], rtol=1e-12)
    np.testing.assert_allclose(net.unit_uS, [0.01 / 2.0 ** 2.4, 0.01 / 20.0 ** 2.4],
                               rtol=1e-12)
    # a layer no input can drive (all weights negative, inputs >= 0): pred = 0, gain 1;
    # a measured gain of 0.01 is clipped to 0.05
    w = _weights()
    w[1] = -np.abs(w[1])
    net = _StandIn((3, 4, 2), _relu_measure([0.01, 1.0]))
    tr = InTheLoopTrainer(net, w, _toy())
    np.testing.assert_allclose(tr.characterise(rounds=1, damping=1.0), [0.05, 1.0],
                               rtol=1e-12)
    np.testing.assert_allclose(net.unit_uS, [0.01 / 0.05, 0.01], rtol=1e-12)


def test_train_schedule_progress_bar_and_zero_iterations(capsys):
    """``train(12)`` with the default ``eval_every=10`` evaluates at 10 and at the end
    (12); ``train(0)`` does nothing; the progress bar (on by default) shows loss, batch and
    test accuracy."""
    net = _StandIn((3, 4, 2), _relu_measure([1.0, 1.0]))
    tr = InTheLoopTrainer(net, _weights(), _toy(), TrainerConfig(batch_size=4))
    hist = tr.train(0)
    assert tr.iteration == 0 and hist["iteration"] == []
    with pytest.raises(ValueError, match=r"^iterations = -1 must be >= 0$"):
        tr.train(-1)
    hist = tr.train(12)
    assert hist["iteration"] == list(range(1, 13))
    assert hist["eval_iteration"] == [10, 12]
    err = capsys.readouterr().err
    assert "in-the-loop" in err and "12/12" in err
    assert re.search(r"loss=\d\.\d{3}, batch=\d\.\d{3}, test=\d\.\d{3}", err), err[-300:]


def test_checkpoint_format_identity_and_version(tmp_path):
    """The checkpoint records the network / data identity under fixed keys; a checkpoint of
    another version or data set is refused with a message naming what differs."""
    data = _toy()
    net = _StandIn((3, 4, 2), _relu_measure([1.0, 1.0]))
    tr = InTheLoopTrainer(net, _weights(), data, TrainerConfig(batch_size=4))
    tr.train(1, progress=False)
    path = str(tmp_path / "ckpt.npz")
    tr.save_checkpoint(path)
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
    assert meta["version"] == 2
    assert meta["identity"] == {"sizes": [3, 4, 2], "data": "toy", "n_train": 12,
                                "n_features": 3, "n_classes": 2}
    # another data set (14 training samples): refused, naming n_train and both values
    other = InTheLoopTrainer(_StandIn((3, 4, 2), _relu_measure([1.0, 1.0])), _weights(),
                             _toy(n_train=14))
    with pytest.raises(CheckpointError, match=r"\{'n_train': \(12, 14\)\}$"):
        other.load_checkpoint(path)
    # another version
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta["version"] = 1
    arrays["meta"] = np.array(json.dumps(meta))
    old = str(tmp_path / "old.npz")
    np.savez(old, **arrays)
    with pytest.raises(CheckpointError, match=r"has version 1, this trainer reads version 2$"):
        tr.load_checkpoint(old)
