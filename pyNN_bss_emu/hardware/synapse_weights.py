"""Synapse weights of the emulated BrainScaleS-1 wafer: bio -> hardware scaling, per-row
gmax configuration, 4-bit quantisation and weight fixed-pattern noise.

A standalone, vectorised (numpy) model of the weight part of marocco's parameter transform
and of the ESS synapse model, following ``shared/reference/brainscales1.md`` sections
3.3, 4.1-4.5, 11.2-11.3, 13.1 and 14.11.  Nothing here touches PyNN objects; the simulator
passes arrays in and gets arrays back.

Units
-----
* bio weights: **µS** (PyNN conductance units); realised bio weights likewise.
* hardware conductances: **nS** in the hardware (accelerated) domain, as in calibtic.
* bio membrane capacitance ``cm_bio_nF``: **nF** (PyNN ``cm``); hardware capacitance
  ``c_hw_pF``: **pF**, the *sum over the denmems* of the logical neuron
  (:func:`neuron_capacitance_pF`).
* ``V_gmax``: floating-gate DAC value 0..1023 (calibtic calls the reference value 500 "nA").

Model
-----
**Bio -> hardware scaling** (marocco ``HICANNParameters``; reference 4.5, 10.2)::

    scale = speedup * C_hw_total / cm_bio              (dimensionless, both in pF)
    w_hw [nS] = w_bio [µS] * 1000 * scale

e.g. cm 0.2 nF, speed-up 1e4, a size-4 big-cap neuron (4 x 2.16456 pF = 8.658 pF):
scale = 1e4 * 8.658 / 200 = 432.9.

**Analog weight curve** of one row (calibtic ``SynapseCalibration`` / ESS, reference 4.4)::

    g_hw(w; V_gmax, div) [nS] = (V_gmax / 500) * (11 / div) * P(w) + H(w)
    P(w) = 93.9406513768 + 81.3443474483 w - 1.59734048208 w^2      (calibtic default)
    H(w) = 0                                                         (default)

``P`` is the RTL-simulation polynomial calibtic uses at V_gmax 500, gmax_div 11; like
calibtic's ``setEssDefaults`` the *whole* polynomial (offset and quadratic term included) is
scaled by ``(V_gmax/500)*(11/div)``.  Its offset and curvature are the nonlinear
weight-only contribution of the guidebook's weight equation: **digital weight 0 is not zero
conductance** (g(0) = 93.94 nS at the reference setting).  The reference says the physical
w-only term is independent of V_gmax and gmax_div, but no public source quantifies that
part separately, so the default keeps calibtic's fully scaled polynomial; ``H`` (the
``fixed_coeffs_nS`` of :class:`GmaxConfig`) is a hook for an unscaled w-only term.

**Row configuration** (halbe ``RowConfig``, reference 4.3): every synapse row has
``selgmax`` 0..3, picking one of the 4 V_gmax values of its quadrant's floating-gate block,
and a divisor ``gmax_div``.  :class:`GmaxConfig` is the table of (selgmax, div) pairs a
row may use together with the 4 V_gmax values per quadrant:

* :meth:`GmaxConfig.hardware` (default): V_gmax0..3 = 1023 in every quadrant, as marocco
  writes on hardware (reference 14.11), and every divisor in the guidebook's usable range
  [2, 30].  The row scale is then (1023/500)*(11/div) = 22.506/div, so g(15) runs from
  716 nS (div 30) to 10.74 µS (div 2) in 29 steps.
* :meth:`GmaxConfig.ess`: the 4 configurations of calibtic's ``setEssDefaults``
  (sel 0: V 500 / div 11; sel 1: V 550 / div 1; sel 2: V 650 / div 4; sel 3: V 200 /
  div 15; scale factors 1, 12.1, 3.575, 0.293).  Its div 1 is calibtic's per-half-row key
  value (marocco writes the same key into both 4-bit halves); the table therefore accepts
  divisors 1..30.

Per row the config is chosen like calibtic's ``findBestGmaxConfig`` from the row's largest
*requested* hardware weight: among the configs whose maximum g(15) is >= that weight the
one with the smallest maximum; if none is large enough, the largest one.  Ties (equal
maxima, e.g. the four equal V_gmax of the hardware table) go to the lowest selgmax.

**Digital weight** (calibtic ``getDigitalWeight``): the two adjacent levels
``g(lo) <= target < g(lo+1)`` bracket the requested hardware weight; ``"nearest"`` takes
the closer one in conductance (a tie goes up), ``"stochastic"`` takes ``lo + 1`` with
probability ``(target - g(lo)) / (g(lo+1) - g(lo))`` (unbiased in conductance).  Targets
below g(0) give 0 (so they realise g(0), *more* than requested); targets above g(15) give 15
and are counted as clipped.  A requested weight of **exactly 0** disables the synapse
(its decoder is set to the never-matching value, reference 4.3): digital 0, realised 0.0.

**Realised weight**::

    g_real [nS] = g_hw(digital; row config) * F_fixed_pattern
    w_real [µS] = g_real / (1000 * scale)

**Fixed-pattern noise** (ESS ``weight_distortion``, reference 11.3 and 16.3): every
hardware synapse gets a fixed multiplicative factor ``max(0, N(1, sigma_synapse))`` and
every synapse driver a factor ``max(0, N(1, sigma_driver))`` shared by its two rows;
``F = F_synapse * F_driver``.  The normals come from a counter-based hash (splitmix64
finaliser, two rounds) of ``(wafer seed, stream, hicann, row, column)`` resp.
``(seed, stream, hicann, driver)`` and a Box-Muller transform, so a given hardware synapse
always gets the same factor for a given wafer seed, whatever the network, the call order or
the number of synapses realised.

[E] values
----------
* ``sigma_synapse`` = 0.2: the reference's [E] default for post-calibration weight
  fixed-pattern noise (11.3); it matches the guidebook's ESS ``weight_distortion`` example
  (0.2) and Petrovici et al. 2014's "realistic" figure [MEM].
* ``sigma_driver`` = 0.05: [E], no public number.  Each driver generates the pulses of
  both its rows (pulse length / V_gmax current mirror), so a small common factor per driver
  is plausible; 5 % keeps it well below the per-synapse spread so that the total spread
  (sqrt(0.2^2 + 0.05^2) = 0.206) stays at the reference's 20 %.
* Quadrant of a row (:func:`row_quadrant`): ``2 * array + side`` of the row's driver
  (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right); the row takes its V_gmax from the
  floating-gate block on its driver's side.  Our convention; matters only for tables whose
  V_gmax differ between quadrants.
* Default rounding ``"nearest"`` (deterministic); marocco itself rounds stochastically, pass
  ``rounding="stochastic"`` for that.  With ``rng=None`` the stochastic draw uses
  ``numpy.random.default_rng(0)``: deterministic, like calibtic's unseeded C ``rand()``.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from . import wafer

__all__ = ["BIG_CAP_PF", "SMALL_CAP_PF", "DEFAULT_WEIGHT_COEFFS_NS", "DEFAULT_SPEEDUP",
           "DEFAULT_SIGMA_SYNAPSE", "DEFAULT_SIGMA_DRIVER", "ROUNDING_MODES", "GmaxConfig",
           "HARDWARE_GMAX", "ESS_GMAX", "FixedPattern", "RealisedWeights", "analog_weight_nS",
           "bio_to_hw_scale", "fixed_pattern_factors", "neuron_capacitance_pF",
           "realise_weights", "row_key", "row_quadrant"]

# ---------------------------------------------------------------- constants
#: big / small membrane capacitor of one denmem, pF (calibtic ``NeuronCalibration``)
BIG_CAP_PF = 2.16456
SMALL_CAP_PF = 0.1642
#: digital synapse weights 0..15
N_WEIGHT_LEVELS = 16
MAX_DIGITAL_WEIGHT = N_WEIGHT_LEVELS - 1
#: calibtic default synapse trafo (RTL simulation), nS at V_gmax 500, gmax_div 11:
#: c0 + c1 w + c2 w^2
DEFAULT_WEIGHT_COEFFS_NS = (93.9406513768, 81.3443474483, -1.59734048208)
REFERENCE_VGMAX = 500.0
REFERENCE_DIV = 11
#: floating-gate DAC range of V_gmax
VGMAX_RANGE = (0.0, 1023.0)
#: divisors a GmaxConfig table accepts (calibtic key 1..15 per half, sum up to 30);
#: the hardware table uses the guidebook's usable range [2, 30]
DIV_RANGE = (1, 30)
HARDWARE_DIVISORS = tuple(range(2, 31))
DEFAULT_SPEEDUP = wafer.DEFAULT_SPEEDUP
#: [E] default fixed-pattern sigmas (see module docstring)
DEFAULT_SIGMA_SYNAPSE = 0.2
DEFAULT_SIGMA_DRIVER = 0.05
ROUNDING_MODES = ("nearest", "stochastic")
#: relative tolerance for "requested weight fits below g(15)" comparisons
_REL_TOL = 1e-12


# ---------------------------------------------------------------- small helpers
def _fmt(value) -> str:
    return np.format_float_positional(value, trim="-") if isinstance(value, float) else repr(value)


def _check_finite_range(name: str, arr: np.ndarray, lo: float, hi: float = np.inf,
                        lo_open: bool = False) -> None:
    """Raise ValueError naming ``name``, the first offending value and the allowed range
    unless every element is finite and in [lo, hi] (or (lo, hi] with ``lo_open``)."""
    arr = np.asarray(arr, dtype=np.float64)
    ok = np.isfinite(arr) & (arr <= hi) & ((arr > lo) if lo_open else (arr >= lo))
    if not np.all(ok):
        bad_idx = np.flatnonzero(~ok.ravel())
        bad = arr.ravel()[bad_idx[0]]
        where = f" (element {int(bad_idx[0])}, {bad_idx.size} bad in total)" if arr.ndim else ""
        left = "(" if lo_open else "["
        right = "]" if np.isfinite(hi) else ")"
        raise ValueError(f"{name} must be finite and in {left}{_fmt(float(lo))}, "
                         f"{_fmt(float(hi)) if np.isfinite(hi) else 'inf'}{right}, "
                         f"got {float(bad)!r}{where}")


def _as_1d_float(name: str, value) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a 1-D array of numbers, got {value!r}") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    return arr


def _as_int_array(name: str, value, n: int | None = None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        if np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) \
                and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must be an array of integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if n is not None and arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) like weight_bio_uS, got {arr.shape}")
    return arr


def _check_int_range(name: str, arr: np.ndarray, lo: int, hi: int) -> None:
    bad = (arr < lo) | (arr > hi)
    if np.any(bad):
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {int(arr.ravel()[i])} "
                         f"(element {i})")


def _broadcast_param(name: str, value, n: int) -> np.ndarray:
    """A 0-d array for a scalar, else a float64 (n,) array; values finite and > 0."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number or an array of numbers, "
                         f"got {value!r}") from exc
    if arr.ndim != 0 and arr.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have shape ({n},) like weight_bio_uS, "
                         f"got shape {arr.shape}")
    _check_finite_range(name, arr, 0.0, lo_open=True)
    return arr


# ---------------------------------------------------------------- scaling
def neuron_capacitance_pF(size, big_cap: bool = True):
    """Total hardware membrane capacitance (pF) of a logical neuron of ``size`` denmems
    (big caps 2.16456 pF, small 0.1642 pF each; reference 3.3)."""
    size = np.asarray(size)
    _check_finite_range("size", size, 0.0, lo_open=True)
    out = size * (BIG_CAP_PF if big_cap else SMALL_CAP_PF)
    return float(out) if out.ndim == 0 else out


def bio_to_hw_scale(cm_bio_nF, c_hw_pF, speedup: float = DEFAULT_SPEEDUP):
    """Dimensionless conductance scale ``speedup * C_hw / cm_bio`` (marocco): a bio weight of
    ``w`` µS becomes ``w * 1000 * scale`` nS on the hardware.  ``cm_bio_nF`` in nF,
    ``c_hw_pF`` (sum over the neuron's denmems) in pF."""
    cm = np.asarray(cm_bio_nF, dtype=np.float64)
    c = np.asarray(c_hw_pF, dtype=np.float64)
    _check_finite_range("cm_bio_nF", cm, 0.0, lo_open=True)
    _check_finite_range("c_hw_pF", c, 0.0, lo_open=True)
    _check_finite_range("speedup", np.asarray(speedup, dtype=np.float64), 0.0, lo_open=True)
    out = float(speedup) * c / (cm * 1000.0)
    return float(out) if out.ndim == 0 else out


def row_key(hicann, row):
    """Global row key ``hicann * 448 + row`` (row = ``SynapseRowOnHICANN`` 0..447)."""
    return np.asarray(hicann, dtype=np.int64) * wafer.SYNAPSE_ROWS + np.asarray(row, np.int64)


def row_quadrant(row):
    """Quadrant 0..3 (= floating-gate block) supplying V_gmax to synapse row ``row``:
    ``2 * array + side`` of its driver ``row // 2`` (0 top-left, 1 top-right,
    2 bottom-left, 3 bottom-right; our convention, see module doc)."""
    driver = np.asarray(row, dtype=np.int64) // 2
    return 2 * wafer.driver_array(driver) + wafer.driver_side(driver)


def _poly(coeffs, w):
    w = np.asarray(w, dtype=np.float64)
    out = np.zeros_like(w)
    for c in reversed(tuple(coeffs)):
        out = out * w + c
    return out


def analog_weight_nS(w, vgmax: float = REFERENCE_VGMAX, gmax_div: float = REFERENCE_DIV,
                     coeffs_nS=DEFAULT_WEIGHT_COEFFS_NS, fixed_coeffs_nS=()):
    """Hardware conductance (nS) of digital weight(s) ``w`` (0..15) on a row with
    ``V_gmax`` (DAC) and divisor ``gmax_div``:
    ``(vgmax/500)*(11/gmax_div)*P(w) + H(w)`` with ``P = coeffs_nS``, ``H = fixed_coeffs_nS``
    (polynomial coefficients, lowest order first).  Broadcasts over all arguments."""
    w = np.asarray(w, dtype=np.float64)
    s = (np.asarray(vgmax, dtype=np.float64) / REFERENCE_VGMAX) \
        * (REFERENCE_DIV / np.asarray(gmax_div, dtype=np.float64))
    out = s * _poly(coeffs_nS, w) + _poly(fixed_coeffs_nS, w)
    return float(out) if out.ndim == 0 else out


# ---------------------------------------------------------------- gmax table
class GmaxConfig:
    """Table of the gmax configurations a synapse row may use.

    .. rubric:: Parameters

    vgmax : array_like, shape (4,) or (4, 4)
        The 4 V_gmax DAC values (0 < V <= 1023) selectable by ``selgmax``: shape (4,) for
        all quadrants, or (4 quadrants, 4) (quadrant as in :func:`row_quadrant`).
    divisors : sequence of int
        Divisors (integers in [1, 30]) each selgmax may be combined with; default the
        guidebook's usable range 2..30.  Ignored if ``pairs`` is given.
    pairs : sequence of (int, int) or None
        Explicit ``(selgmax, div)`` pairs (e.g. calibtic's 4 ESS configs) instead of
        ``{0..3} x divisors``.
    coeffs_nS, fixed_coeffs_nS : sequences of float
        Polynomial ``P`` (scaled by ``(V/500)*(11/div)``) and ``H`` (unscaled) of the analog
        weight curve, lowest order first, nS.  Every configuration's 16 levels must be
        non-negative and strictly increasing.

    .. rubric:: Attributes

    sel, div : arrays (m,)
        The configurations.
    vgmax : array (4, 4)
        [quadrant, sel].
    scale : array (4, m)
        ``(V/500)*(11/div)``.
    levels_nS : array (4, m, 16)
        g(0..15) per quadrant and configuration.
    max_nS : array (4, m)
        g(15).
    """

    def __init__(self, vgmax=(1023.0,) * 4, divisors=HARDWARE_DIVISORS, pairs=None,
                 coeffs_nS=DEFAULT_WEIGHT_COEFFS_NS, fixed_coeffs_nS=(), name: str = "custom"):
        v = np.array(vgmax, dtype=np.float64)
        if v.shape == (4,):
            v = np.tile(v, (4, 1))
        if v.shape != (4, 4):
            raise ValueError(f"vgmax must have shape (4,) or (4, 4) (quadrant, selgmax), "
                             f"got {v.shape}")
        _check_finite_range("vgmax", v, VGMAX_RANGE[0], VGMAX_RANGE[1], lo_open=True)
        if pairs is None:
            d = _as_int_array("divisors", np.atleast_1d(divisors))
            if d.ndim != 1 or d.size == 0:
                raise ValueError(f"divisors must be a non-empty 1-D list, got {divisors!r}")
            d = np.unique(d)
            _check_int_range("divisors", d, *DIV_RANGE)
            sel = np.repeat(np.arange(4, dtype=np.int64), d.size)
            div = np.tile(d, 4)
        else:
            p = _as_int_array("pairs", pairs)
            if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] == 0:
                raise ValueError(f"pairs must be a non-empty list of (selgmax, div), "
                                 f"got shape {p.shape}")
            sel, div = p[:, 0].copy(), p[:, 1].copy()
            _check_int_range("pairs selgmax", sel, 0, 3)
            _check_int_range("pairs div", div, *DIV_RANGE)
            if np.unique(sel * 64 + div).size != sel.size:
                raise ValueError("pairs must not repeat a (selgmax, div) configuration")
        coeffs = tuple(float(c) for c in coeffs_nS)
        fixed = tuple(float(c) for c in fixed_coeffs_nS)
        _check_finite_range("coeffs_nS", np.array(coeffs or (0.0,)), -np.inf)
        _check_finite_range("fixed_coeffs_nS", np.array(fixed or (0.0,)), -np.inf)
        self.name = name
        self.vgmax = v
        self.sel = sel
        self.div = div
        self.coeffs_nS = coeffs
        self.fixed_coeffs_nS = fixed
        self.scale = (v[:, sel] / REFERENCE_VGMAX) * (REFERENCE_DIV / div[None, :])   # (4, m)
        w = np.arange(N_WEIGHT_LEVELS, dtype=np.float64)
        self.levels_nS = (self.scale[:, :, None] * _poly(coeffs, w)[None, None, :]
                          + _poly(fixed, w)[None, None, :])                         # (4, m, 16)
        if np.any(self.levels_nS[..., 0] < 0) or np.any(np.diff(self.levels_nS, axis=-1) <= 0):
            q, c = np.argwhere((self.levels_nS[..., 0] < 0)
                               | np.any(np.diff(self.levels_nS, axis=-1) <= 0, axis=-1))[0]
            raise ValueError(
                f"coeffs_nS/fixed_coeffs_nS give an analog weight curve that is negative or "
                f"not strictly increasing over w = 0..15 for quadrant {q}, selgmax "
                f"{sel[c]}, div {div[c]}: {np.round(self.levels_nS[q, c], 3).tolist()}")
        self.max_nS = self.levels_nS[..., -1]
        #: P(0..15): the levels of a unit-scale row (V_gmax 500, div 11) without H
        self.unit_levels_nS = _poly(coeffs, w)
        #: 1 / (P(k+1) - P(k)) for k = 0..14, and 0 for k = 15
        with np.errstate(divide="ignore"):      # only used when P itself is increasing
            self.unit_inv_step = np.append(1.0 / np.diff(self.unit_levels_nS), 0.0)
        # per quadrant: configurations by ascending maximum, ties -> lowest (sel, div)
        self._order = np.stack([np.lexsort((div, sel, self.max_nS[q])) for q in range(4)])
        self._sorted_max = np.take_along_axis(self.max_nS, self._order, axis=1)
        self.uniform_quadrants = bool(np.all(v == v[0]))
        for arr in (self.vgmax, self.sel, self.div, self.scale, self.levels_nS, self.max_nS,
                    self.unit_levels_nS, self.unit_inv_step, self._order, self._sorted_max):
            arr.flags.writeable = False

    # ------------------------------------------------------------ presets
    @classmethod
    def hardware(cls, vgmax: float = 1023.0, divisors=HARDWARE_DIVISORS) -> "GmaxConfig":
        """marocco on hardware: V_gmax0..3 = ``vgmax`` (1023) everywhere, divisors 2..30."""
        return cls(vgmax=(vgmax,) * 4, divisors=divisors, name="hardware")

    @classmethod
    def ess(cls) -> "GmaxConfig":
        """calibtic ``setEssDefaults``: (sel, V_gmax, div) = (0, 500, 11), (1, 550, 1),
        (2, 650, 4), (3, 200, 15); scale factors 1, 12.1, 3.575, 0.293."""
        return cls(vgmax=(500.0, 550.0, 650.0, 200.0),
                   pairs=((0, 11), (1, 1), (2, 4), (3, 15)), name="ess")

    # ------------------------------------------------------------ queries
    @property
    def n_configs(self) -> int:
        return int(self.sel.size)

    def best_config(self, max_required_nS, quadrant=0) -> np.ndarray:
        """Configuration index (into ``sel``/``div``) per row for the row's largest required
        hardware weight (nS): calibtic ``findBestGmaxConfig`` (smallest sufficient maximum,
        else the largest).  Vectorised over rows; ``quadrant`` scalar or per row."""
        req = np.asarray(max_required_nS, dtype=np.float64)
        quad = np.broadcast_to(np.asarray(quadrant, dtype=np.int64), req.shape)
        out = np.empty(req.shape, dtype=np.int64)
        m = self.n_configs
        for q in np.unique(quad):
            sel = quad == q
            # first config with max >= req (with a relative tolerance), else the last one
            pos = np.searchsorted(self._sorted_max[q] * (1.0 + _REL_TOL), req[sel], side="left")
            out[sel] = self._order[q, np.minimum(pos, m - 1)]
        return out

    def levels(self, config: int, quadrant: int = 0) -> np.ndarray:
        """The 16 hardware conductances (nS) of configuration index ``config``."""
        return self.levels_nS[quadrant, config].copy()

    def __repr__(self) -> str:
        v = self.vgmax[0].tolist() if self.uniform_quadrants else self.vgmax.tolist()
        return (f"GmaxConfig({self.name!r}, vgmax={v}, {self.n_configs} configs, "
                f"g(15) {self.max_nS.min():.1f}..{self.max_nS.max():.1f} nS)")


# ---------------------------------------------------------------- fixed pattern
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_STREAM_SYNAPSE = 1      # uses streams 1, 2 (Box-Muller pair)
_STREAM_DRIVER = 3       # uses streams 3, 4


def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser, in place on a uint64 array (wrapping arithmetic)."""
    z ^= z >> np.uint64(30)
    z *= _M1
    z ^= z >> np.uint64(27)
    z *= _M2
    z ^= z >> np.uint64(31)
    return z


def _hash_uniform(seed: int, stream: int, counter: np.ndarray) -> np.ndarray:
    """Uniform doubles in (0, 1] from a counter-based hash of (seed, stream, counter):
    ``x = mix(mix(counter * golden + key) ^ key)``, key = ``mix(seed ^ mix(stream *
    golden))``; the top 53 bits give the double."""
    with np.errstate(over="ignore"):
        key = _mix64(np.array([seed], dtype=np.uint64)
                     ^ _mix64(np.array([stream], dtype=np.uint64) * _GOLDEN))[0]
        x = counter.astype(np.uint64)
        x *= _GOLDEN
        x += key
        _mix64(x)
        x ^= key
        _mix64(x)
    x >>= np.uint64(11)
    u = x.astype(np.float64)
    u += 1.0
    u *= 1.0 / 9007199254740992.0
    return u


def _hash_normal(seed: int, stream: int, counter: np.ndarray) -> np.ndarray:
    """Standard normals (Box-Muller) from streams ``stream`` and ``stream + 1``."""
    r = _hash_uniform(seed, stream, counter)
    np.log(r, out=r)
    r *= -2.0
    np.sqrt(r, out=r)
    phi = _hash_uniform(seed, stream + 1, counter)
    phi *= 2.0 * np.pi
    np.cos(phi, out=phi)
    r *= phi
    return r


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) \
            or not 0 <= int(seed) < 2 ** 64:
        raise ValueError(f"seed must be an integer in [0, 2**64 - 1], got {seed!r}")
    return int(seed)


@dataclass(frozen=True)
class FixedPattern:
    """Per-wafer weight fixed-pattern noise: factor ``max(0, N(1, sigma_synapse))`` per
    hardware synapse times ``max(0, N(1, sigma_driver))`` per synapse driver, drawn from a
    counter-based hash of (``seed``, hicann, row, column) resp. (``seed``, hicann, driver).

    ``sigma_synapse`` default 0.2 ([E], reference 11.3), ``sigma_driver`` 0.05 ([E]).
    """
    seed: int
    sigma_synapse: float = DEFAULT_SIGMA_SYNAPSE
    sigma_driver: float = DEFAULT_SIGMA_DRIVER

    def __post_init__(self):
        _check_seed(self.seed)
        for name in ("sigma_synapse", "sigma_driver"):
            _check_finite_range(name, np.asarray(getattr(self, name), dtype=float), 0.0)

    @staticmethod
    def _coords(hicann, row, column=None):
        h = _as_int_array("hicann", np.atleast_1d(hicann))
        r = _as_int_array("row", np.atleast_1d(row))
        arrays = [h, r]
        if column is not None:
            arrays.append(_as_int_array("column", np.atleast_1d(column)))
        try:
            arrays = np.broadcast_arrays(*arrays)
        except ValueError as exc:
            raise ValueError(f"hicann, row{', column' if column is not None else ''} must "
                             f"have the same shape, got "
                             f"{[np.shape(a) for a in arrays]}") from exc
        _check_int_range("hicann", arrays[0], 0, wafer.N_HICANN - 1)
        return arrays

    def synapse_factors(self, hicann, row, column) -> np.ndarray:
        """Per-synapse factors (float64) for hardware coordinates hicann 0..383,
        row 0..447, column 0..255 (equal-shaped arrays)."""
        h, r, c = self._coords(hicann, row, column)
        _check_int_range("row", r, 0, wafer.SYNAPSE_ROWS - 1)
        _check_int_range("column", c, 0, wafer.DENMEM_COLUMNS - 1)
        if self.sigma_synapse == 0:
            return np.ones(h.shape)
        counter = (h * wafer.SYNAPSE_ROWS + r) * wafer.DENMEM_COLUMNS + c
        z = _hash_normal(self.seed, _STREAM_SYNAPSE, counter)
        z *= self.sigma_synapse
        z += 1.0
        return np.maximum(z, 0.0, out=z)

    def driver_factors(self, hicann, driver) -> np.ndarray:
        """Per-driver factors for hicann 0..383, driver 0..223 (rows ``2d``, ``2d+1``)."""
        h, d = self._coords(hicann, driver)
        _check_int_range("driver", d, 0, wafer.N_SYNAPSE_DRIVERS - 1)
        if self.sigma_driver == 0:
            return np.ones(h.shape)
        z = _hash_normal(self.seed, _STREAM_DRIVER, h * wafer.N_SYNAPSE_DRIVERS + d)
        z *= self.sigma_driver
        z += 1.0
        return np.maximum(z, 0.0, out=z)

    def wafer_driver_factors(self) -> np.ndarray:
        """Factors of all drivers of the wafer, shape (384, 224)."""
        h, d = np.divmod(np.arange(wafer.N_HICANN * wafer.N_SYNAPSE_DRIVERS),
                         wafer.N_SYNAPSE_DRIVERS)
        return self.driver_factors(h, d).reshape(wafer.N_HICANN, wafer.N_SYNAPSE_DRIVERS)

    def factors(self, hicann, row, column) -> np.ndarray:
        """Total factor per synapse: synapse factor x factor of its driver ``row // 2``."""
        out = self.synapse_factors(hicann, row, column)
        if self.sigma_driver:
            h, r = self._coords(hicann, row)
            if h.size > wafer.N_HICANN * wafer.N_SYNAPSE_DRIVERS // 4:
                out *= self.wafer_driver_factors()[h, r // 2]    # cheaper: one table
            else:
                out *= self.driver_factors(h, r // 2)
        return out


def fixed_pattern_factors(seed: int, hicann, row, column,
                          sigma_synapse: float = DEFAULT_SIGMA_SYNAPSE,
                          sigma_driver: float = DEFAULT_SIGMA_DRIVER) -> np.ndarray:
    """Shorthand for ``FixedPattern(seed, sigma_synapse, sigma_driver).factors(...)``."""
    return FixedPattern(seed, sigma_synapse, sigma_driver).factors(hicann, row, column)


# ---------------------------------------------------------------- realisation
@dataclass
class RealisedWeights:
    """Result of :func:`realise_weights`.

    Per synapse k (shape (n,)):
        ``digital`` uint8 0..15 (0 for disabled synapses); ``enabled`` bool (False where
        the requested weight was exactly 0: decoder disabled); ``weight_bio_uS`` realised
        bio weight (µS, incl. fixed pattern, 0.0 where disabled); ``weight_hw_nS``
        realised hardware conductance (nS, incl. fixed pattern); ``nominal_hw_nS`` the
        level g(digital) without fixed pattern (0 where disabled); ``requested_hw_nS``;
        ``scale`` bio->hw factor (``w_hw[nS] = w_bio[µS] * 1000 * scale``);
        ``fixed_pattern`` factor (ones if none); ``clipped`` bool (requested > g(15));
        ``row_index`` index into the per-row arrays.

    Per row r (shape (R,), rows sorted by key):
        ``row_key``; ``row_quadrant``; ``row_config`` index into ``gmax.sel``/``gmax.div``;
        ``row_sel`` (selgmax 0..3); ``row_div``; ``row_vgmax`` (DAC); ``row_required_nS``
        (largest requested hw weight); ``row_min_nS`` / ``row_max_nS`` (g(0) / g(15)).

    Counters: ``n_synapses``, ``n_enabled``, ``n_disabled`` (requested 0), ``n_clipped``
    (requested above g(15) of the row's config), ``n_rounded_to_zero`` (requested > 0 but
    digital 0, which still conducts g(0)), ``n_below_min`` (requested > 0 but below g(0):
    realised larger than requested).
    """
    digital: np.ndarray
    enabled: np.ndarray
    weight_bio_uS: np.ndarray
    weight_hw_nS: np.ndarray
    nominal_hw_nS: np.ndarray
    requested_hw_nS: np.ndarray
    scale: np.ndarray
    fixed_pattern: np.ndarray
    clipped: np.ndarray
    row_index: np.ndarray
    row_key: np.ndarray
    row_quadrant: np.ndarray
    row_config: np.ndarray
    row_sel: np.ndarray
    row_div: np.ndarray
    row_vgmax: np.ndarray
    row_required_nS: np.ndarray
    row_min_nS: np.ndarray
    row_max_nS: np.ndarray
    gmax: GmaxConfig
    rounding: str
    n_synapses: int
    n_enabled: int
    n_disabled: int
    n_clipped: int
    n_rounded_to_zero: int
    n_below_min: int

    @property
    def stats(self) -> dict:
        """The counters as a dict."""
        return {k: getattr(self, k) for k in ("n_synapses", "n_enabled", "n_disabled",
                                              "n_clipped", "n_rounded_to_zero",
                                              "n_below_min")}


def _unique_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique keys and the inverse index; a dense O(n + range) path for compact
    non-negative keys (e.g. hicann * 448 + row), ``np.unique`` otherwise."""
    if keys.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    kmin, kmax = int(keys.min()), int(keys.max())
    if kmax - kmin <= max(4 * keys.size, 1 << 20):
        present = np.zeros(kmax - kmin + 1, dtype=bool)
        present[keys - kmin] = True
        lut = np.cumsum(present, dtype=np.int64) - 1
        return np.flatnonzero(present).astype(np.int64) + kmin, lut[keys - kmin]
    ukeys, inv = np.unique(keys, return_inverse=True)
    return ukeys.astype(np.int64), inv.reshape(-1).astype(np.int64)


def realise_weights(weight_bio_uS, row_key, cm_bio_nF, c_hw_pF,
                    speedup: float = DEFAULT_SPEEDUP, rounding: str = "nearest",
                    rng: np.random.Generator | int | None = None, fixed_pattern=None, *,
                    gmax: GmaxConfig | None = None, quadrant=None,
                    coordinates=None) -> RealisedWeights:
    """Quantise requested bio weights onto the 4-bit, per-row-scaled synapse array.

    .. rubric:: Parameters

    weight_bio_uS : array (n,)
        Requested bio weights, µS, finite and >= 0 (0 disables a synapse).
    row_key : int array (n,)
        Integer key of each synapse's row (e.g. :func:`row_key` = ``hicann * 448 + row``);
        synapses with equal keys share one gmax configuration.
    cm_bio_nF : scalar or array (n,)
        Bio membrane capacitance (nF) of each synapse's target.
    c_hw_pF : scalar or array (n,)
        Total hardware capacitance (pF) of the target's denmems.
    speedup : float
        Acceleration factor (> 0; hardware 1e3..1e5, default 1e4).
    rounding : str
        ``"nearest"`` or ``"stochastic"`` (calibtic ``getDigitalWeight``).
    rng : numpy Generator, int or None
        Generator or int seed for the stochastic rounding; None -> seed 0.
    fixed_pattern : None, array (n,) or FixedPattern
        None (no fixed pattern), (n,) array of factors >= 0, or a :class:`FixedPattern`
        (then ``coordinates=(hicann, row, column)`` is required).
    gmax : GmaxConfig or None
        The :class:`GmaxConfig` table (default :meth:`GmaxConfig.hardware`).
    quadrant : None or int array (n,)
        Ints 0..3 (:func:`row_quadrant`), constant within a row; needed only when the
        table's V_gmax differ between quadrants.
    coordinates : tuple of 3 arrays (n,)
        (hicann, row, column) arrays of shape (n,) for a :class:`FixedPattern`.

    .. rubric:: Returns

    RealisedWeights

    .. rubric:: Raises

    ValueError
        On bad input (naming the parameter, value and allowed range).
    """
    w = _as_1d_float("weight_bio_uS", weight_bio_uS)
    n = w.size
    _check_finite_range("weight_bio_uS", w, 0.0)
    keys = _as_int_array("row_key", row_key, n)
    cm = _broadcast_param("cm_bio_nF", cm_bio_nF, n)
    chw = _broadcast_param("c_hw_pF", c_hw_pF, n)
    try:
        speedup_f = float(speedup)
    except (TypeError, ValueError):
        raise ValueError(f"speedup must be a finite number > 0, got {speedup!r}") from None
    _check_finite_range("speedup", np.asarray(speedup_f), 0.0, lo_open=True)
    if not isinstance(rounding, str) or rounding not in ROUNDING_MODES:
        raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")
    if gmax is None:
        gmax = HARDWARE_GMAX
    elif not isinstance(gmax, GmaxConfig):
        raise ValueError(f"gmax must be a GmaxConfig, got {type(gmax).__name__}")
    if rounding == "stochastic":
        if rng is None:
            rng = np.random.default_rng(0)
        elif isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
            rng = np.random.default_rng(_check_seed(rng))
        elif not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, an integer seed or None, "
                             f"got {type(rng).__name__}")

    # fixed-pattern factors
    if fixed_pattern is None:
        fp = None
    elif isinstance(fixed_pattern, FixedPattern):
        if coordinates is None or len(coordinates) != 3:
            raise ValueError("coordinates=(hicann, row, column) of shape (n,) are required "
                             "with a FixedPattern")
        h, r, c = (_as_int_array(name, a, n)
                   for name, a in zip(("hicann", "row", "column"), coordinates))
        fp = fixed_pattern.factors(h, r, c)
    else:
        fp = _as_1d_float("fixed_pattern", fixed_pattern)
        if fp.shape != (n,):
            raise ValueError(f"fixed_pattern must have shape ({n},) like weight_bio_uS, "
                             f"got {fp.shape}")
        _check_finite_range("fixed_pattern", fp, 0.0)

    # bio -> hw (scalar scale when both capacitances are scalars)
    scale = speedup_f * chw / (cm * 1000.0)
    req = w * (1000.0 * scale)                                    # nS hw
    enabled = w > 0

    # rows and their gmax configuration
    ukeys, inv = _unique_keys(keys)
    n_rows = ukeys.size
    if quadrant is None:
        if not gmax.uniform_quadrants:
            raise ValueError("quadrant (per synapse, 0..3) is required: the gmax table's "
                             "V_gmax differ between quadrants")
        rquad = np.zeros(n_rows, dtype=np.int64)
    else:
        quad = _as_int_array("quadrant", quadrant, n)
        _check_int_range("quadrant", quad, 0, 3)
        rquad = np.zeros(n_rows, dtype=np.int64)
        rquad[inv] = quad                          # any member's quadrant ...
        if np.any(rquad[inv] != quad):             # ... must be every member's
            i = int(np.flatnonzero(rquad[inv] != quad)[0])
            raise ValueError(f"quadrant must be constant within a row; row_key "
                             f"{int(keys[i])} has quadrants {quad[i]} and {rquad[inv[i]]}")
    row_req = np.zeros(n_rows)
    if n:
        np.maximum.at(row_req, inv, req)
    row_cfg = gmax.best_config(row_req, rquad)
    row_levels = gmax.levels_nS[rquad, row_cfg]                  # (R, 16) nS

    # digital weights
    if not any(gmax.fixed_coeffs_nS):
        # levels are scale * P(k): work in the unit-scale domain y = req / scale_row
        # (scale_row * P(k) reproduces the table bit for bit)
        unit = gmax.unit_levels_nS
        s_syn = gmax.scale[rquad, row_cfg][inv]
        y = req / s_syn
        lo = np.searchsorted(unit, y, side="right")
        lo -= 1
        np.clip(lo, 0, MAX_DIGITAL_WEIGHT, out=lo)
        frac = y - unit[lo]
        frac *= gmax.unit_inv_step[lo]                           # 0 at level 15
        clipped = y > unit[-1] * (1.0 + _REL_TOL)
        below = y < unit[0]
        del y
    else:
        # general curve (unscaled w-only term H): compare with the row's 16 levels
        flat = row_levels.ravel()
        base = inv * N_WEIGHT_LEVELS
        lo = np.zeros(n, dtype=np.int64)
        for k in range(1, N_WEIGHT_LEVELS):
            lo += req >= flat[base + k]
        g_lo = flat[base + lo]
        g_hi = flat[base + np.minimum(lo + 1, MAX_DIGITAL_WEIGHT)]
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.where(lo < MAX_DIGITAL_WEIGHT, (req - g_lo) / (g_hi - g_lo), 0.0)
        clipped = req > flat[base + MAX_DIGITAL_WEIGHT] * (1.0 + _REL_TOL)
        below = req < flat[base]
    np.clip(frac, 0.0, 1.0, out=frac)
    if rounding == "nearest":
        up = frac >= 0.5
    else:
        up = rng.random(n) < frac
    del frac
    digital = lo.astype(np.uint8)
    digital += up
    digital[~enabled] = 0
    below &= enabled
    if not any(gmax.fixed_coeffs_nS):
        nominal = gmax.unit_levels_nS[digital]
        nominal *= s_syn
    else:
        nominal = flat[base + digital]
    nominal[~enabled] = 0.0
    weight_hw = nominal * fp if fp is not None else nominal.copy()
    weight_bio = weight_hw / (1000.0 * scale)

    n_enabled = int(enabled.sum())
    if np.ndim(scale) == 0:
        scale = np.full(n, float(scale))
    return RealisedWeights(
        digital=digital, enabled=enabled, weight_bio_uS=weight_bio,
        weight_hw_nS=weight_hw, nominal_hw_nS=nominal, requested_hw_nS=req, scale=scale,
        fixed_pattern=fp if fp is not None else np.ones(n), clipped=clipped,
        row_index=inv, row_key=ukeys, row_quadrant=rquad.astype(np.int8),
        row_config=row_cfg, row_sel=gmax.sel[row_cfg].astype(np.uint8),
        row_div=gmax.div[row_cfg].astype(np.uint8),
        row_vgmax=gmax.vgmax[rquad, gmax.sel[row_cfg]],
        row_required_nS=row_req, row_min_nS=row_levels[:, 0].copy(),
        row_max_nS=row_levels[:, MAX_DIGITAL_WEIGHT].copy(), gmax=gmax, rounding=rounding,
        n_synapses=n, n_enabled=n_enabled, n_disabled=n - n_enabled,
        n_clipped=int(clipped.sum()),
        n_rounded_to_zero=int(np.count_nonzero(enabled & (digital == 0))),
        n_below_min=int(below.sum()))


#: the two preset tables (read-only; shared)
HARDWARE_GMAX = GmaxConfig.hardware()
ESS_GMAX = GmaxConfig.ess()
