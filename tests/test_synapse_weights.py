"""Tests of the synapse-weight model (``pyNN_bss_emu.hardware.synapse_weights``).

Expected numbers are derived here from the reference (``shared/reference/brainscales1.md``
4.4, 4.5, 3.3, 11.3): the calibtic polynomial 93.94 + 81.34 w - 1.597 w^2 nS, the scale law
(V_gmax/500)*(11/div), marocco's bio -> hw factor speedup * C_hw / cm_bio and
findBestGmaxConfig / getDigitalWeight, re-implemented by brute force where needed.

These tests check the conductance ladder (levels, rounding, row scale, fixed pattern), so they
realise with ``floor=False``: the synaptic input's offset (issue 14) acts after the ladder and
has its own tests in ``test_weight_floor.py``.
"""
from __future__ import annotations


import numpy as np
import pytest

from pyNN_bss_emu.hardware import synapse_weights as sw

# rounded coefficients of the reference (4.4)
C0, C1, C2 = 93.94, 81.34, -1.597
SIZE4_BIG_PF = 4 * 2.16456                     # 8.65824 pF (3.3)
SCALE_SIZE4 = 1e4 * SIZE4_BIG_PF / 200.0       # cm 0.2 nF = 200 pF -> 432.912 (4.5)


def poly_ref(w):
    w = np.asarray(w, dtype=float)
    return C0 + C1 * w + C2 * w ** 2


def levels_ref(vgmax, div):
    """The 16 levels (nS) of a row with V_gmax / div, from the rounded reference numbers."""
    return poly_ref(np.arange(16)) * (vgmax / 500.0) * (11.0 / div)


def bio(nS_hw, scale=SCALE_SIZE4):
    """hw nS -> bio µS."""
    return np.asarray(nS_hw) / (1000.0 * scale)


# ------------------------------------------------------------------ analog curve, tables
def test_default_polynomial_values():
    g = sw.analog_weight_nS(np.arange(16))
    assert g[0] == pytest.approx(93.94, abs=0.01)
    assert g[1] == pytest.approx(93.94 + 81.34 - 1.597, abs=0.02)          # 173.68
    assert g[1] == pytest.approx(173.68, abs=0.02)
    # 93.94 + 1220.1 - 359.325 = 954.715 (the brief's "954.6" is within its rounding)
    assert g[15] == pytest.approx(93.94 + 81.34 * 15 - 1.597 * 225, abs=0.05)
    assert g[15] == pytest.approx(954.6, abs=0.2)
    np.testing.assert_allclose(g, poly_ref(np.arange(16)), atol=0.05)
    assert np.all(np.diff(g) > 0)
    # digital 0 is not zero conductance
    assert g[0] > 90
    # scale law (V_gmax/500)*(11/div), whole polynomial scaled (calibtic setEssDefaults)
    np.testing.assert_allclose(sw.analog_weight_nS(np.arange(16), 1023, 2),
                               levels_ref(1023, 2), rtol=1e-4)
    assert sw.analog_weight_nS(15, 250, 22) == pytest.approx(g[15] / 4, rel=1e-12)


def test_gmax_presets():
    hw = sw.GmaxConfig.hardware()
    assert np.all(hw.vgmax == 1023)
    assert hw.n_configs == 4 * 29                       # selgmax 0..3 x div 2..30
    assert set(hw.div.tolist()) == set(range(2, 31))
    np.testing.assert_allclose(hw.max_nS[0].max(), levels_ref(1023, 2)[15], rtol=1e-4)
    np.testing.assert_allclose(hw.max_nS[0].min(), levels_ref(1023, 30)[15], rtol=1e-4)
    ess = sw.GmaxConfig.ess()
    assert ess.n_configs == 4
    # calibtic ESS defaults: factors 1, 550/500*11 = 12.1, 650/500*11/4 = 3.575, 0.4*11/15
    expect = {0: 1.0, 1: 12.1, 2: 3.575, 3: 0.4 * 11 / 15}
    for k in range(4):
        assert ess.scale[0, k] == pytest.approx(expect[int(ess.sel[k])], rel=1e-12)
    # widest ESS config: g(15) ~ 11.55 µS hw (4.4)
    assert ess.max_nS.max() == pytest.approx(11550, rel=1e-3)


def test_worked_example_bio_scale():
    c_hw = sw.neuron_capacitance_pF(4)
    assert c_hw == pytest.approx(SIZE4_BIG_PF)
    scale = sw.bio_to_hw_scale(0.2, c_hw, 1e4)
    assert scale == pytest.approx(SCALE_SIZE4, rel=1e-12)
    assert scale == pytest.approx(433, abs=0.2)
    assert sw.bio_to_hw_scale(0.2, 2.16456) == pytest.approx(108.2, abs=0.05)   # per denmem
    g = sw.analog_weight_nS(np.array([0, 1, 15]))
    span_nS_bio = g / scale                              # nS hw / scale = nS bio
    assert span_nS_bio[0] == pytest.approx(0.217, abs=0.001)
    assert span_nS_bio[1] == pytest.approx(0.40, abs=0.005)
    assert span_nS_bio[2] == pytest.approx(2.21, abs=0.01)
    # the widest ESS config reaches ~26.7 nS bio
    assert sw.GmaxConfig.ess().max_nS.max() / scale == pytest.approx(26.7, abs=0.05)

    # through realise_weights: ESS table, 2.2 nS bio needs the default config (its g(15)
    # 954.7 nS hw = 2.205 nS bio is the smallest maximum above 2.2 * 432.9 = 952.4 nS)
    w = np.array([0.0022, 0.00040, 0.000217])             # µS
    res = sw.realise_weights(w, np.zeros(3, int), 0.2, c_hw, 1e4, gmax=sw.GmaxConfig.ess(),
                             floor=False)
    assert res.row_sel[0] == 0 and res.row_div[0] == 11
    assert res.digital.tolist() == [15, 1, 0]
    np.testing.assert_allclose(res.weight_bio_uS * 1000, [2.2053, 0.4012, 0.2170], atol=2e-4)
    np.testing.assert_allclose(res.requested_hw_nS, w * 1000 * SCALE_SIZE4)


# ------------------------------------------------------------------ quantisation
def _random_rows(rng, n_rows, per_row, w_max_uS=0.02):
    keys = np.repeat(np.arange(n_rows) * 7 + 3, per_row)          # non-contiguous keys
    row_top = rng.uniform(0.0005, w_max_uS, n_rows)               # each row its own range
    w = rng.uniform(0, 1, keys.size) * np.repeat(row_top, per_row)
    return w, keys


def test_at_most_16_distinct_realised_weights_per_row():
    rng = np.random.default_rng(3)
    w, keys = _random_rows(rng, 300, 200)
    for rounding in ("nearest", "stochastic"):
        res = sw.realise_weights(w, keys, 0.2, SIZE4_BIG_PF, rounding=rounding, rng=5, floor=False)
        for r in range(res.row_key.size):
            vals = res.weight_bio_uS[res.row_index == r]
            assert np.unique(vals).size <= 16
            # every realised value is a level g(k) of the row's config, in bio units
            lv = bio(levels_ref(res.row_vgmax[r], res.row_div[r]))
            assert np.all(np.min(np.abs(vals[:, None] - lv[None, :]), axis=1)
                          <= 1e-4 * lv[-1])
    # hw conductances: at most 16 per row also with different neurons (scales) in a row
    cm = rng.choice([0.1, 0.2, 0.5], size=w.size)
    res = sw.realise_weights(w, keys, cm, SIZE4_BIG_PF, floor=False)
    for r in range(0, res.row_key.size, 10):
        assert np.unique(res.nominal_hw_nS[res.row_index == r]).size <= 16


def test_nearest_rounding_error_at_most_half_a_level():
    rng = np.random.default_rng(11)
    w, keys = _random_rows(rng, 500, 100)
    res = sw.realise_weights(w, keys, 0.2, SIZE4_BIG_PF, rounding="nearest", floor=False)
    req = w * 1000 * SCALE_SIZE4
    np.testing.assert_allclose(res.requested_hw_nS, req, rtol=1e-12)
    row_levels = res.gmax.levels_nS[res.row_quadrant, res.row_config][res.row_index]  # (n, 16)
    # brute force: the closest of the row's 16 levels
    best = row_levels[np.arange(w.size), np.argmin(np.abs(row_levels - req[:, None]), axis=1)]
    inside = (req >= row_levels[:, 0]) & (req <= row_levels[:, 15])
    assert inside.mean() > 0.8                       # the test covers the bracketed regime
    np.testing.assert_allclose(res.nominal_hw_nS, best, rtol=1e-12)
    lo = np.sum(row_levels[:, 1:] <= req[:, None], axis=1)
    hi = np.minimum(lo + 1, 15)
    step = row_levels[np.arange(w.size), hi] - row_levels[np.arange(w.size), lo]
    err = np.abs(res.nominal_hw_nS - req)
    assert np.all(err[inside] <= 0.5 * step[inside] * (1 + 1e-9))
    # below g(0): digital 0 (realised above the request); no clipping in this data
    below = req < row_levels[:, 0]
    assert np.all(res.digital[below & (w > 0)] == 0)
    assert res.n_below_min == int(np.sum(below & (w > 0)))
    assert res.n_clipped == 0
    assert res.n_rounded_to_zero == int(np.sum((res.digital == 0) & (w > 0)))
    # bio = hw / (1000 * scale)
    np.testing.assert_allclose(res.weight_bio_uS, res.nominal_hw_nS / (1000 * SCALE_SIZE4))


def test_stochastic_rounding_unbiased():
    scale = SCALE_SIZE4
    ess = sw.GmaxConfig.ess()
    g = levels_ref(500, 11)
    # one row: the first synapse pins the default config (its max = g(15)), the others sit
    # 30 % of the way from g(5) to g(6)
    n = 200_000
    target = g[5] + 0.3 * (g[6] - g[5])
    w = np.full(n, target / (1000 * scale))
    w[0] = sw.analog_weight_nS(15) / (1000 * scale)
    res = sw.realise_weights(w, np.zeros(n, int), 0.2, SIZE4_BIG_PF, rounding="stochastic",
                             rng=np.random.default_rng(1234), gmax=ess, floor=False)
    assert res.row_sel[0] == 0 and res.row_div[0] == 11
    d = res.digital[1:]
    assert set(np.unique(d).tolist()) == {5, 6}
    g_exact = sw.analog_weight_nS(np.arange(16))
    t_exact = res.requested_hw_nS[1]
    p = (t_exact - g_exact[5]) / (g_exact[6] - g_exact[5])
    assert p == pytest.approx(0.3, abs=1e-3)
    sigma_p = np.sqrt(p * (1 - p) / (n - 1))
    assert abs(np.mean(d == 6) - p) < 3 * sigma_p
    sigma_mean = (g_exact[6] - g_exact[5]) * sigma_p
    assert abs(res.nominal_hw_nS[1:].mean() - t_exact) < 3 * sigma_mean

    # unbiased over random targets in many rows: sum of errors ~ 0 within 3 sigma
    rng = np.random.default_rng(7)
    w, keys = _random_rows(rng, 400, 250)
    res = sw.realise_weights(w, keys, 0.2, SIZE4_BIG_PF, rounding="stochastic", rng=99,
                             floor=False)
    lv = res.gmax.levels_nS[res.row_quadrant, res.row_config][res.row_index]
    req = res.requested_hw_nS
    ok = (req >= lv[:, 0]) & (req <= lv[:, 15])
    lo = np.sum(lv[:, 1:] <= req[:, None], axis=1)
    hi = np.minimum(lo + 1, 15)
    idx = np.arange(req.size)
    step = lv[idx, hi] - lv[idx, lo]
    pp = np.where(step > 0, (req - lv[idx, lo]) / np.where(step > 0, step, 1), 0)
    var = np.sum((step ** 2 * pp * (1 - pp))[ok])
    err = np.sum((res.nominal_hw_nS - req)[ok])
    assert abs(err) < 3 * np.sqrt(var)
    # only the two bracketing levels are used
    assert np.all((res.digital[ok] == lo[ok]) | (res.digital[ok] == hi[ok]))
    # nearest rounding on the same data is biased by comparison (sanity: differs)
    res_n = sw.realise_weights(w, keys, 0.2, SIZE4_BIG_PF, rounding="nearest", floor=False)
    assert np.any(res_n.digital != res.digital)


def test_stochastic_rng_reproducible():
    rng = np.random.default_rng(0)
    w, keys = _random_rows(rng, 50, 100)
    a = sw.realise_weights(w, keys, 0.2, SIZE4_BIG_PF, rounding="stochastic", rng=17, floor=False)
    b = sw.realise_weights(w, keys, 0.2, SIZE4_BIG_PF, rounding="stochastic",
                           rng=np.random.default_rng(17), floor=False)
    c = sw.realise_weights(w, keys, 0.2, SIZE4_BIG_PF, rounding="stochastic", rng=18, floor=False)
    np.testing.assert_array_equal(a.digital, b.digital)
    assert np.any(a.digital != c.digital)


# ------------------------------------------------------------------ row configuration
def _hw_best_div(max_required_nS):
    """Brute-force findBestGmaxConfig for the hardware table (V_gmax 1023, div 2..30)."""
    cands = [(levels_ref(1023, d)[15], d) for d in range(2, 31)]
    ok = [c for c in cands if c[0] >= max_required_nS]
    return min(ok)[1] if ok else max(cands)[1]


def test_row_gets_smallest_sufficient_config_hardware():
    # worked number: W = 2000 nS needs 954.7 * 2.046 * 11 / div >= 2000 -> div <= 10.74
    assert _hw_best_div(2000.0) == 10
    rng = np.random.default_rng(2)
    tops = np.array([500.0, 716.0, 800.0, 2000.0, 5000.0, 10000.0, 10743.0])   # nS hw
    w_parts, k_parts = [], []
    for r, top in enumerate(tops):
        ws = np.append(rng.uniform(0, top, 50), top) / (1000 * SCALE_SIZE4)   # µS
        w_parts.append(rng.permutation(ws))
        k_parts.append(np.full(ws.size, r))
    res = sw.realise_weights(np.concatenate(w_parts), np.concatenate(k_parts), 0.2,
                             SIZE4_BIG_PF, floor=False)
    expect = [_hw_best_div(t) for t in tops]
    assert res.row_div.tolist() == expect
    assert expect[:4] == [30, 30, 26, 10]      # 21488 / 27 = 795.8 < 800 <= 826.5
    assert np.all(res.row_sel == 0)                  # equal V_gmax: ties -> lowest selgmax
    assert np.all(res.row_vgmax == 1023)
    np.testing.assert_allclose(res.row_required_nS, tops, rtol=1e-12)
    assert np.all(res.row_max_nS >= tops * (1 - 1e-12))
    # the next smaller divisor step would not have sufficed
    for top, d in zip(tops, expect):
        if d < 30:
            assert levels_ref(1023, d + 1)[15] < top
    assert res.n_clipped == 0


def test_row_config_ess_and_shared_row():
    ess = sw.GmaxConfig.ess()
    g15 = sw.analog_weight_nS(15)
    cases = {    # max required hw weight (nS) -> (sel, div): smallest sufficient maximum
        250.0: (3, 15),      # 0.2933 * 954.7 = 280.0 >= 250
        900.0: (0, 11),      # 954.7
        1000.0: (2, 4),      # 3.575 * 954.7 = 3413
        5000.0: (1, 1),      # 12.1 * 954.7 = 11552
    }
    for top, (sel, div) in cases.items():
        w = np.array([top, top / 3, top / 10]) / (1000 * SCALE_SIZE4)
        res = sw.realise_weights(w, [4, 4, 4], 0.2, SIZE4_BIG_PF, gmax=ess, floor=False)
        assert (int(res.row_sel[0]), int(res.row_div[0])) == (sel, div), top
    assert 0.4 * 11 / 15 * g15 > 250 and g15 > 900 and 3.575 * g15 > 1000
    # one large synapse sets the config of its whole row, not of other rows
    small = 200.0 / (1000 * SCALE_SIZE4)
    w = np.array([small, small, small, 3000.0 / (1000 * SCALE_SIZE4)])
    res = sw.realise_weights(w, [0, 0, 1, 1], 0.2, SIZE4_BIG_PF, gmax=ess, floor=False)
    assert res.row_sel.tolist() == [3, 2]
    assert res.digital[0] == res.digital[1] != res.digital[2]


def test_clipping_counted():
    ess = sw.GmaxConfig.ess()
    top = ess.max_nS.max()                                   # 11.55 µS hw
    hw = np.array([100.0, 5000.0, top, 1.5 * top, 3 * top, 0.0])
    res = sw.realise_weights(hw / (1000 * SCALE_SIZE4), np.zeros(6, int), 0.2, SIZE4_BIG_PF,
                             gmax=ess, floor=False)
    assert (res.row_sel[0], res.row_div[0]) == (1, 1)        # largest config
    assert res.n_clipped == 2
    assert res.clipped.tolist() == [False, False, False, True, True, False]
    assert res.digital[2:5].tolist() == [15, 15, 15]
    np.testing.assert_allclose(res.nominal_hw_nS[3:5], top)
    # hardware table clips above 10.74 µS hw
    hw2 = np.array([5000.0, 11000.0, 20000.0])
    res2 = sw.realise_weights(hw2 / (1000 * SCALE_SIZE4), np.zeros(3, int), 0.2, SIZE4_BIG_PF,
                              floor=False)
    assert res2.row_div[0] == 2 and res2.n_clipped == 2
    assert res2.nominal_hw_nS[2] == pytest.approx(levels_ref(1023, 2)[15], rel=1e-4)


def test_zero_weights_disabled_exactly():
    fp = sw.FixedPattern(seed=5)
    w = np.array([0.0, 0.001, 0.0, 1e-7, 0.0])
    h = np.array([1, 1, 1, 2, 3])
    r = np.array([10, 10, 10, 20, 30])
    c = np.array([0, 1, 2, 3, 4])
    res = sw.realise_weights(w, sw.row_key(h, r), 0.2, SIZE4_BIG_PF, fixed_pattern=fp,
                             coordinates=(h, r, c), floor=False)
    assert res.enabled.tolist() == [False, True, False, True, False]
    assert res.n_disabled == 3 and res.n_enabled == 2
    assert np.all(res.weight_bio_uS[~res.enabled] == 0.0)
    assert np.all(res.weight_hw_nS[~res.enabled] == 0.0)
    assert np.all(res.digital[~res.enabled] == 0)
    # a tiny positive weight: digital 0 but still g(0) of its row (> requested)
    assert res.digital[3] == 0 and res.weight_bio_uS[3] > 1e-7
    assert res.nominal_hw_nS[3] == pytest.approx(res.row_min_nS[res.row_index[3]])
    assert res.n_rounded_to_zero == 1 and res.n_below_min == 1
    # a row with only zero weights
    res0 = sw.realise_weights(np.zeros(4), np.zeros(4, int), 0.2, SIZE4_BIG_PF, floor=False)
    assert res0.n_disabled == 4 and np.all(res0.weight_bio_uS == 0.0)


def test_mixed_neurons_in_a_row():
    # same row, targets with different bio cm / hw capacitances: config from the hw domain
    cm = np.array([0.2, 0.4, 0.2])
    chw = np.array([SIZE4_BIG_PF, SIZE4_BIG_PF, 2 * SIZE4_BIG_PF])
    w = np.array([0.002, 0.002, 0.002])
    res = sw.realise_weights(w, [9, 9, 9], cm, chw, gmax=sw.GmaxConfig.ess(), floor=False)
    scale = 1e4 * chw / (cm * 1000)
    np.testing.assert_allclose(res.scale, scale)
    np.testing.assert_allclose(res.requested_hw_nS, w * 1000 * scale)
    assert res.row_required_nS[0] == pytest.approx(0.002 * 1000 * scale.max())
    np.testing.assert_allclose(res.weight_bio_uS, res.nominal_hw_nS / (1000 * scale))


def test_quadrant_specific_vgmax():
    assert sw.row_quadrant(np.array([0, 2, 224, 226, 1, 447])).tolist() == [1, 0, 2, 3, 1, 3]
    v = np.array([[1023.0] * 4, [500.0] * 4, [1023.0] * 4, [1023.0] * 4])
    g = sw.GmaxConfig(vgmax=v, divisors=[11])
    w = np.full(2, 1500.0 / (1000 * SCALE_SIZE4))     # < 1953 (V 1023), > 954.7 (V 500)
    with pytest.raises(ValueError, match="quadrant"):
        sw.realise_weights(w, [0, 1], 0.2, SIZE4_BIG_PF, gmax=g, floor=False)
    res = sw.realise_weights(w, [0, 1], 0.2, SIZE4_BIG_PF, gmax=g, quadrant=[0, 1], floor=False)
    np.testing.assert_allclose(res.row_max_nS,
                               [levels_ref(1023, 11)[15], levels_ref(500, 11)[15]], rtol=1e-4)
    assert res.clipped.tolist() == [False, True]
    with pytest.raises(ValueError, match="quadrant must be constant within a row"):
        sw.realise_weights(w, [0, 0], 0.2, SIZE4_BIG_PF, gmax=g, quadrant=[0, 1], floor=False)


def test_unscaled_w_only_term():
    # H(w) = 10 + 0.5 w nS not scaled by V_gmax/div: levels and nearest rounding follow it
    g = sw.GmaxConfig(divisors=[5, 20], fixed_coeffs_nS=(10.0, 0.5))
    lv20 = levels_ref(1023, 20) + 10 + 0.5 * np.arange(16)
    np.testing.assert_allclose(g.levels_nS[0, g.div == 20][0], lv20, rtol=1e-4)
    rng = np.random.default_rng(4)
    hw = rng.uniform(0, lv20[15], 300)
    res = sw.realise_weights(hw / (1000 * SCALE_SIZE4), np.zeros(300, int), 0.2,
                             SIZE4_BIG_PF, gmax=g, floor=False)
    assert res.row_div[0] == 20
    row = g.levels_nS[0, res.row_config[0]]
    best = row[np.argmin(np.abs(row[None, :] - res.requested_hw_nS[:, None]), axis=1)]
    np.testing.assert_allclose(res.nominal_hw_nS, best)


# ------------------------------------------------------------------ fixed pattern
def test_fixed_pattern_reproducible_and_seed_dependent():
    rng = np.random.default_rng(8)
    n = 50_000
    h = rng.integers(0, 384, n)
    r = rng.integers(0, 448, n)
    c = rng.integers(0, 256, n)
    a = sw.FixedPattern(seed=123).factors(h, r, c)
    b = sw.FixedPattern(seed=123).factors(h, r, c)
    np.testing.assert_array_equal(a, b)
    # independent of which other synapses are asked for and of their order
    perm = rng.permutation(n)[:1000]
    np.testing.assert_array_equal(sw.FixedPattern(123).factors(h[perm], r[perm], c[perm]),
                                  a[perm])
    assert sw.FixedPattern(123).factors(h[5], r[5], c[5])[0] == a[5]
    # another seed gives an unrelated pattern
    other = sw.FixedPattern(seed=124).factors(h, r, c)
    assert np.mean(other == a) < 1e-3
    assert abs(np.corrcoef(a, other)[0, 1]) < 0.03
    # the function form agrees
    np.testing.assert_array_equal(sw.fixed_pattern_factors(123, h, r, c), a)
    # realise_weights applies exactly these factors
    w = np.full(n, 0.001)
    res = sw.realise_weights(w, sw.row_key(h, r), 0.2, SIZE4_BIG_PF,
                             fixed_pattern=sw.FixedPattern(123), coordinates=(h, r, c),
                             floor=False)
    np.testing.assert_allclose(res.weight_hw_nS, res.nominal_hw_nS * a)
    np.testing.assert_allclose(res.fixed_pattern, a)
    res2 = sw.realise_weights(w, sw.row_key(h, r), 0.2, SIZE4_BIG_PF, fixed_pattern=a, floor=False)
    np.testing.assert_array_equal(res2.weight_bio_uS, res.weight_bio_uS)


def test_fixed_pattern_statistics():
    # per-synapse factors over one million synapses of the wafer: N(1, 0.2) clipped >= 0
    n = 1_000_000
    rng = np.random.default_rng(9)
    flat = rng.choice(384 * 448 * 256, size=n, replace=False)
    h, rest = np.divmod(flat, 448 * 256)
    r, c = np.divmod(rest, 256)
    f = sw.FixedPattern(seed=2024, sigma_driver=0.0).factors(h, r, c)
    assert np.all(f >= 0)
    assert abs(f.mean() - 1.0) < 3 * 0.2 / np.sqrt(n) + 1e-4
    assert f.std() == pytest.approx(0.2, rel=0.005)
    z = (f - 1) / 0.2
    assert np.mean(np.abs(z) < 1) == pytest.approx(0.6827, abs=0.003)    # Gaussian shape
    assert np.mean(np.abs(z) < 2) == pytest.approx(0.9545, abs=0.002)
    # neighbouring synapses are uncorrelated
    g = sw.FixedPattern(seed=2024, sigma_driver=0.0).factors(h, r, (c + 1) % 256)
    assert abs(np.corrcoef(f, g)[0, 1]) < 0.005
    # a big sigma: clipped at 0, never negative
    big = sw.FixedPattern(seed=1, sigma_synapse=1.0, sigma_driver=0.0).factors(h, r, c)
    assert big.min() == 0.0 and np.mean(big == 0) == pytest.approx(0.1587, abs=0.003)

    # per-driver factors: all 384 x 224 drivers, sigma 0.05, shared by both rows
    fp = sw.FixedPattern(seed=2024)
    d = fp.wafer_driver_factors()
    assert d.shape == (384, 224)
    assert abs(d.mean() - 1.0) < 3 * 0.05 / np.sqrt(d.size)
    assert d.std() == pytest.approx(0.05, rel=0.02)
    hh = np.array([7, 7, 7])
    rr = np.array([40, 41, 42])                       # rows 40, 41: driver 20; 42: driver 21
    cc = np.array([3, 3, 3])
    tot = fp.factors(hh, rr, cc) / fp.synapse_factors(hh, rr, cc)
    assert tot[0] == pytest.approx(d[7, 20]) and tot[1] == pytest.approx(d[7, 20])
    assert tot[2] == pytest.approx(d[7, 21])
    # combined spread ~ sqrt(0.2^2 + 0.05^2)
    tot_all = fp.factors(h, r, c)
    assert tot_all.std() == pytest.approx(np.hypot(0.2, 0.05), rel=0.02)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize("bad, match", [
    (dict(weight_bio_uS=[0.1, -0.01]), r"weight_bio_uS.*\[0, inf\).*-0\.01"),
    (dict(weight_bio_uS=[0.1, np.nan]), r"weight_bio_uS.*nan"),
    (dict(weight_bio_uS=[np.inf, 0.1]), r"weight_bio_uS.*inf"),
    (dict(weight_bio_uS=[[0.1, 0.1]]), r"weight_bio_uS.*1-D.*\(1, 2\)"),
    (dict(row_key=[0]), r"row_key.*shape \(2,\)"),
    (dict(row_key=[0.5, 1.0]), r"row_key.*integers"),
    (dict(rounding="up"), r"rounding.*'nearest'.*'stochastic'.*'up'"),
    (dict(cm_bio_nF=[0.2, 0.2, 0.2]), r"cm_bio_nF.*\(2,\)"),
    (dict(cm_bio_nF=-0.2), r"cm_bio_nF.*\(0, inf\).*-0\.2"),
    (dict(c_hw_pF=0.0), r"c_hw_pF.*\(0, inf\).*0\.0"),
    (dict(speedup=float("nan")), r"speedup.*nan"),
    (dict(fixed_pattern=[1.0]), r"fixed_pattern.*\(2,\)"),
    (dict(fixed_pattern=[1.0, -0.5]), r"fixed_pattern.*\[0, inf\).*-0\.5"),
    (dict(fixed_pattern=sw.FixedPattern(1)), r"coordinates"),
    (dict(quadrant=[0, 4]), r"quadrant.*\[0, 3\].*4"),
    (dict(rounding="stochastic", rng="x"), r"rng"),
    (dict(gmax="ess"), r"gmax"),
])
def test_realise_weights_bad_input(bad, match):
    kw = dict(weight_bio_uS=[0.001, 0.002], row_key=[0, 1], cm_bio_nF=0.2,
              c_hw_pF=SIZE4_BIG_PF)
    kw.update(bad)
    with pytest.raises(ValueError, match=match):
        sw.realise_weights(**kw)


@pytest.mark.parametrize("bad, match", [
    (dict(vgmax=(1023, 1023, 1023, 1100)), r"vgmax.*\(0, 1023\].*1100"),
    (dict(vgmax=(1023, 1023, 1023, 0)), r"vgmax.*\(0, 1023\].*0\.0"),
    (dict(vgmax=(1023, 1023)), r"vgmax.*shape"),
    (dict(divisors=[0, 5]), r"divisors.*\[1, 30\].*0"),
    (dict(divisors=[31]), r"divisors.*\[1, 30\].*31"),
    (dict(pairs=[(4, 11)]), r"selgmax.*\[0, 3\].*4"),
    (dict(pairs=[(0, 11), (0, 11)]), r"repeat"),
    (dict(coeffs_nS=(100.0, -5.0)), r"not strictly increasing"),
])
def test_gmax_config_bad_input(bad, match):
    with pytest.raises(ValueError, match=match):
        sw.GmaxConfig(**bad)


def test_fixed_pattern_bad_input():
    with pytest.raises(ValueError, match=r"seed.*-1"):
        sw.FixedPattern(-1)
    with pytest.raises(ValueError, match=r"sigma_synapse.*\[0, inf\).*-0\.1"):
        sw.FixedPattern(1, sigma_synapse=-0.1)
    with pytest.raises(ValueError, match=r"row.*\[0, 447\].*448"):
        sw.FixedPattern(1).factors([0], [448], [0])
    with pytest.raises(ValueError, match=r"column.*\[0, 255\].*256"):
        sw.FixedPattern(1).factors([0], [0], [256])
    with pytest.raises(ValueError, match=r"hicann.*\[0, 383\].*384"):
        sw.FixedPattern(1).factors([384], [0], [0])


# ------------------------------------------------------------------ scale
def test_microcircuit_scale_2_4M_synapses():
    """2.4 M synapses in one vectorised call (the 10 % microcircuit's size) give one result per
    synapse; the wall time is measured in benchmarks/stage_timings.py, not here."""
    n = 2_400_000
    rng = np.random.default_rng(0)
    h = rng.integers(0, 384, n)
    r = rng.integers(0, 448, n)
    c = rng.integers(0, 256, n)
    w = rng.uniform(0, 0.01, n)
    w[rng.random(n) < 0.05] = 0.0
    keys = sw.row_key(h, r)
    cm = np.full(n, 0.2)
    chw = SIZE4_BIG_PF * rng.choice([1, 2, 4], size=n)
    res = sw.realise_weights(w, keys, cm, chw, rounding="stochastic", rng=1,
                             fixed_pattern=sw.FixedPattern(7), coordinates=(h, r, c))
    assert res.n_synapses == n and res.digital.shape == (n,)
    assert res.n_disabled == int(np.sum(w == 0))
