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
* :meth:`GmaxConfig.marocco`: what marocco/calibtic did without a measured row
  calibration: one configuration (selgmax 0, divisor 11, the same divisor written into
  both halves) for every row, V_gmax0..3 = 1023 on the floating gates, but digital weights
  chosen on calibtic's default curve, which is the RTL simulation at V_gmax 500 (see
  *Calibration and programmed V_gmax* below).
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

**Calibration and programmed V_gmax.**  The mapper picks configurations and digital weights
on the levels its row calibration *believes* in; the synapse conducts what the programmed
V_gmax gives.  With a table's ``calibration_vgmax`` (only :meth:`GmaxConfig.marocco`) the
two differ by ``kappa = V_programmed / V_calibration`` per configuration: calibtic's
default curve is the RTL simulation at V_gmax 500 [V-code] (``SynapseCalibration::
setDefaults``, ``doc/default_synapse_calib_for_ess.py``), while ``SharedCalibration::
applySharedCalibration`` writes V_gmax0..3 = 1023 [V-code] and marocco never reconciles the
two (``HICANNParameters.cpp``: "TODO (BV): store V_gmax").  V_gmax is a current cell of the
floating gates (halbe ``isCurrentParameter``), and calibtic itself scales the curve linearly
in it (``setEssDefaults``), so kappa = 1023/500 = 2.046 [D from the linear law, E].

**Realised weight**::

    g_pulse [nS] = kappa * g_hw(digital; row config) * F_fixed_pattern
    g_real [nS]  = E(g_pulse)        (the synaptic input's response, see below;
                                      E(g) = g with ``floor=False``)
    w_real [µS]  = g_real / (1000 * scale)

**Low-weight behaviour: the weight floor.**  A synapse pulse is integrated by the denmem's
synaptic input (an integrating amplifier whose voltage decays with tau_syn) and an OTA
converts that voltage into the conductance towards E_syn (cake ``doc/calibration.tex``,
halbe ``FGBlock.h``: I_conv "controls maximum synaptic conductance", V_convoff "synaptic
input bias correction").  V_convoff is calibrated to the knee below which the input leaks
onto the membrane (cake ``V_convoff_Calibrator``: threshold-linear fit, the knee kept;
``evaluation/V_convoff.ipynb``: set too high it "effectively suppresses spikes", too low it
leaks permanently), so the conversion starts at an offset.  Modelled as a threshold-linear
conversion of the exponentially decaying integrator voltage, a pulse of conductance ``g``
(in hardware nS, the quantity the weight curve gives) delivers the integral of a
conductance of peak ``g`` cut at ``theta``::

    E(g) = g - theta * (1 + ln(g / theta))   for g > theta,   0 otherwise

(the time integral of ``max(0, g e^(-t/tau) - theta)``, divided by ``tau``); E increases,
E(g)/g rises from 0 at ``theta`` towards 1, E(g) <= g.  ``theta`` belongs to the denmem's
input, not to the row: it does not scale with V_gmax or gmax_div, and with the hardware
conductance of a bio weight (``speedup * C_hw / cm``) small capacitors, small neurons and a
low speed-up all move weights towards it.  The engine gets E(g) as the weight of an
exponential synapse with the requested tau_syn: the same charge, a shorter tail; overlapping
pulses on one input, which together can exceed theta, are not modelled (the isolated-pulse
limit, valid at low input rates per denmem).

* ``theta`` = :data:`INPUT_THRESHOLD_NS` = 250 nS [E]: no public measurement exists; the one
  free number of the model, set from the 2022 microcircuit demo [V] (brainscales1-demos
  ``cortical_microcircuit.rst``: small capacitors, neuron size 8, cm 0.25 nF, 10^4;
  "an excitatory weight factor of 1 on the BrainScaleS system corresponds approximately to a
  'real' weight factor of 0.1", the excitatory weights "represent the lower limit").  Under
  marocco's arithmetic [D] its excitatory weights (0.0030..0.0034 µS x 52.5 x 1000 =
  159..180 nS) sit at digital 1 of the default curve (P(1) = 173.7 nS), which conducts
  2.046 x 173.7 = 355.4 nS; theta = 250 nS makes that 17.5 nS, 0.10 of P(1).  The
  inhibitory side is not fitted but follows: the demo's inhibitory weights (1037..1190 nS,
  above P(15) = 954.7 nS, so digital 15, which conducts 1953 nS and delivers 1189 nS)
  realise 1.00..1.15 of what was asked, matching the demo's inhibitory factor 1 on both
  simulators.  Tension: the 2023 random-network demo (big
  capacitors, excitatory 297 nS, digital 2..3) would realise 0.46 of its excitatory weights,
  while its NEST model used them unscaled.
* **Measured row calibration** (tables with ``exact_calibration``: the hardware and ESS
  tables, the default): a synapse calibration measures PSPs, so it knows the input's
  response and programs the pulse ``E^-1(request)`` (:func:`inverse_input_response_nS`);
  the row configuration and the 4-bit level are chosen for that pulse, and weights act as
  requested up to the rounding.  marocco's table (``kappa`` 2.046, levels believed on the
  V_gmax-500 curve) does not pre-distort: its small weights fall into the floor, which is
  what the demo saw.
* **Floor** of a row configuration (:meth:`GmaxConfig.floor_nS`): for a measured row
  calibration, the smallest positive response of the row's 16 levels (3.68 nS at divisor
  30); for marocco's table the requested hardware weight ``R`` below which the row realises
  less than :data:`FLOOR_FRACTION` (1/2) of it, from ``E(kappa R) = R / 2`` (quantisation
  aside): 314.7 nS.  Synapses requested below their row's floor are counted
  (``below_floor``) and reported; the half is a reporting convention, not physics.
* ``floor=False`` switches the input's response off (E(g) = g, the model before issue 14);
  ``quantise=False`` replaces the 4-bit levels by continuous weights (the request, limited to
  the row's [g(0), g(15)]), for ablation studies.

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
           "HARDWARE_GMAX", "ESS_GMAX", "MAROCCO_GMAX", "GMAX_TABLES", "INPUT_THRESHOLD_NS", "FLOOR_FRACTION",
           "FixedPattern", "RealisedWeights", "analog_weight_nS", "bio_to_hw_scale",
           "fixed_pattern_factors", "floor_request_nS", "input_response_nS",
           "inverse_input_response_nS",
           "neuron_capacitance_pF", "realise_weights", "row_key", "row_quadrant"]

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
#: [E] offset of a denmem's synaptic input, as the hardware conductance (nS) a single pulse
#: must exceed before it opens the input (module docstring, "the weight floor")
INPUT_THRESHOLD_NS = 250.0
#: a request is below its row's floor where the row realises less than this share of it
#: (a reporting convention)
FLOOR_FRACTION = 0.5
#: the V_gmax calibtic's default weight curve was simulated at (marocco's belief)
MAROCCO_CALIBRATION_VGMAX = REFERENCE_VGMAX
#: the divisor of calibtic's default configuration (GmaxConfig::Default: selgmax 0, div 11)
MAROCCO_DIV = REFERENCE_DIV
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


def _check_threshold(threshold_nS) -> float:
    try:
        theta = float(threshold_nS)
    except (TypeError, ValueError):
        raise ValueError(f"threshold_nS must be a finite number >= 0 (nS), "
                         f"got {threshold_nS!r}") from None
    _check_finite_range("threshold_nS", np.asarray(theta), 0.0)
    return theta


def input_response_nS(g_nS, threshold_nS: float = INPUT_THRESHOLD_NS) -> np.ndarray:
    """Conductance (nS, hardware) a denmem's synaptic input delivers for pulses of
    conductance ``g_nS`` (nS, hardware, >= 0): ``g - theta * (1 + ln(g / theta))`` above the
    input's offset ``theta`` = ``threshold_nS``, 0 below it (module docstring, "the weight
    floor").  ``threshold_nS`` 0 returns ``g`` unchanged.  Returns a new float64 array."""
    theta = _check_threshold(threshold_nS)
    out = np.array(g_nS, dtype=np.float64)          # a copy: worked on in place
    if theta == 0.0:
        return out
    out -= theta                                    # the part of the peak above theta
    above = out > 0.0
    x = out[above]
    # log1p keeps the result exact just above theta, where it goes like x^2 / (2 theta)
    x -= theta * np.log1p(x / theta)
    out[above] = x
    out[~above] = 0.0
    return out


def inverse_input_response_nS(r_nS, threshold_nS: float = INPUT_THRESHOLD_NS) -> np.ndarray:
    """The pulse conductance (nS, hardware) whose input response (:func:`input_response_nS`)
    is ``r_nS`` (> 0): what a row calibration measured on PSPs programs for a requested
    weight.  0 maps to 0; ``threshold_nS`` 0 returns ``r`` unchanged.  Vectorised Newton
    iteration on ``u - 1 - ln u = r / theta`` (``u = g / theta > 1``), started where the
    convex function is positive, so it descends monotonically onto the root."""
    theta = _check_threshold(threshold_nS)
    r = np.array(r_nS, dtype=np.float64)
    if theta == 0.0:
        return r
    out = np.zeros_like(r)
    pos = r > 0.0
    a = r[pos] / theta
    # u0 = 1 + a + sqrt(2a) has f(u0) >= 0 because e^s >= 1 + s + s^2/2 (s = sqrt(2a))
    u = 1.0 + a + np.sqrt(2.0 * a)
    for _ in range(100):
        step = (u - 1.0 - np.log(u) - a) / (1.0 - 1.0 / u)
        u -= step
        if np.all(np.abs(step) <= 1e-13 * u):
            break
    out[pos] = u * theta
    return out


def floor_request_nS(kappa, threshold_nS: float = INPUT_THRESHOLD_NS,
                     fraction: float = FLOOR_FRACTION) -> np.ndarray:
    """The requested hardware weight ``R`` (nS) at which a row whose pulses conduct ``kappa``
    times the request realises ``fraction`` of it: ``E(kappa R) = fraction R`` with
    :func:`input_response_nS` ``E`` (continuous weights, no fixed pattern).  Requests below
    ``R`` realise less.  ``inf`` where ``kappa <= fraction`` (the row never reaches the
    share), 0 for ``threshold_nS`` 0.  Vectorised over ``kappa`` (> 0)."""
    theta = _check_threshold(threshold_nS)
    k = np.asarray(kappa, dtype=np.float64)
    _check_finite_range("kappa", k, 0.0, lo_open=True)
    phi = float(fraction)
    if not 0.0 < phi < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction!r}")
    a = 1.0 - phi / k
    out = np.full(k.shape, np.inf)
    ok = a > 0.0
    if theta == 0.0:
        out[ok] = 0.0
        return out
    # with u = kappa R / theta: f(u) = a u - 1 - ln u = 0, the root above 1 (f(1) < 0).  f
    # is convex; Newton from a point where f > 0 (u0 = (2/a)(1 + ln(2/a)), f(u0) > 0 since
    # x > ln x) descends monotonically onto the root.
    aa = a[ok]
    u = (2.0 / aa) * (1.0 + np.log(2.0 / aa))
    for _ in range(100):
        step = (aa * u - 1.0 - np.log(u)) / (aa - 1.0 / u)
        u -= step
        if np.all(np.abs(step) <= 1e-14 * u):
            break
    out[ok] = u * theta / k[ok]
    return out


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
    calibration_vgmax : None or array_like, shape (4,) or (4, 4)
        The V_gmax (DAC, 0 < V <= 1023) the row calibration's curve was made for, if it is
        not the programmed ``vgmax``: digital weights are then chosen on the curve at
        ``calibration_vgmax`` while the synapses conduct at ``vgmax`` (marocco: 500 vs
        1023).  None: the calibration knows the programmed value.  Not combined with
        ``fixed_coeffs_nS``.

    .. rubric:: Attributes

    sel, div : arrays (m,)
        The configurations.
    vgmax : array (4, 4)
        [quadrant, sel], the programmed V_gmax.
    calibration_vgmax : array (4, 4)
        [quadrant, sel], the V_gmax the calibration assumes (equal to ``vgmax`` unless given).
    scale : array (4, m)
        ``(V_cal/500)*(11/div)``: the calibration's scale, on which configurations and
        digital weights are chosen.
    levels_nS : array (4, m, 16)
        g(0..15) per quadrant and configuration, as the calibration believes them.
    max_nS : array (4, m)
        g(15), likewise.
    kappa : array (4, m)
        ``V_programmed / V_cal``: what a pulse conducts over what the calibration believes.
    exact_calibration : bool
        True if ``kappa`` is 1 everywhere.
    """

    def __init__(self, vgmax=(1023.0,) * 4, divisors=HARDWARE_DIVISORS, pairs=None,
                 coeffs_nS=DEFAULT_WEIGHT_COEFFS_NS, fixed_coeffs_nS=(), name: str = "custom",
                 calibration_vgmax=None):
        v = self._vgmax_table("vgmax", vgmax)
        v_cal = v if calibration_vgmax is None else \
            self._vgmax_table("calibration_vgmax", calibration_vgmax)
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
        self.calibration_vgmax = v_cal.copy()
        self.sel = sel
        self.div = div
        self.coeffs_nS = coeffs
        self.fixed_coeffs_nS = fixed
        self.scale = (v_cal[:, sel] / REFERENCE_VGMAX) * (REFERENCE_DIV / div[None, :])  # (4, m)
        # the programmed over the calibrated current: V_gmax is a current cell, the synapse
        # current is proportional to it (calibtic's own linear law)
        self.kappa = v[:, sel] / v_cal[:, sel]
        self.exact_calibration = bool(np.all(self.kappa == 1.0))
        if not self.exact_calibration and any(fixed):
            raise ValueError("calibration_vgmax different from vgmax cannot be combined with "
                             "fixed_coeffs_nS (the unscaled term has no V_gmax to differ in)")
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
        self.uniform_quadrants = bool(np.all(v == v[0]) and np.all(v_cal == v_cal[0]))
        for arr in (self.vgmax, self.calibration_vgmax, self.sel, self.div, self.scale,
                    self.kappa, self.levels_nS, self.max_nS, self.unit_levels_nS,
                    self.unit_inv_step, self._order, self._sorted_max):
            arr.flags.writeable = False

    @staticmethod
    def _vgmax_table(name: str, vgmax) -> np.ndarray:
        """A (4 quadrants, 4 selgmax) float table of V_gmax DAC values in (0, 1023]."""
        v = np.array(vgmax, dtype=np.float64)
        if v.shape == (4,):
            v = np.tile(v, (4, 1))
        if v.shape != (4, 4):
            raise ValueError(f"{name} must have shape (4,) or (4, 4) (quadrant, selgmax), "
                             f"got {v.shape}")
        _check_finite_range(name, v, VGMAX_RANGE[0], VGMAX_RANGE[1], lo_open=True)
        return v

    # ------------------------------------------------------------ presets
    @classmethod
    def hardware(cls, vgmax: float = 1023.0, divisors=HARDWARE_DIVISORS) -> "GmaxConfig":
        """marocco on hardware: V_gmax0..3 = ``vgmax`` (1023) everywhere, divisors 2..30."""
        return cls(vgmax=(vgmax,) * 4, divisors=divisors, name="hardware")

    @classmethod
    def marocco(cls) -> "GmaxConfig":
        """What marocco/calibtic did without a measured row calibration: one configuration,
        selgmax 0 with divisor 11 (calibtic ``GmaxConfig::Default``, written into both
        halves of the row, ``HICANNParameters.cpp``), for every row, V_gmax0..3 = 1023 on
        the floating gates (``SharedCalibration::applySharedCalibration``), digital weights
        chosen on calibtic's default curve, simulated at V_gmax 500
        (``SynapseCalibration::setDefaults``): the pulses conduct 1023/500 = 2.046 times
        what marocco computed."""
        return cls(vgmax=(VGMAX_RANGE[1],) * 4, pairs=((0, MAROCCO_DIV),), name="marocco",
                   calibration_vgmax=(MAROCCO_CALIBRATION_VGMAX,) * 4)

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
        """The 16 hardware conductances (nS) of configuration index ``config``, as the
        calibration believes them (the pulses conduct ``kappa`` times these)."""
        return self.levels_nS[quadrant, config].copy()

    def floor_nS(self, threshold_nS: float = INPUT_THRESHOLD_NS,
                 fraction: float = FLOOR_FRACTION) -> np.ndarray:
        """The floor of every configuration, shape (4, m): the smallest requested hardware
        weight (nS) the configuration realises.

        * A measured row calibration (``exact_calibration``: it knows the programmed V_gmax
          and, measured on PSPs, the synaptic input's response) pre-distorts the requests
          (:func:`inverse_input_response_nS`); its floor is the smallest positive response of
          its 16 levels, ``E(g_k)`` for the first level above ``threshold_nS`` (smaller
          requests become 0 or that level by rounding).
        * Otherwise (marocco: levels believed on calibtic's V_gmax-500 curve, pulses at
          1023) the request below which the row realises less than ``fraction`` of it:
          :func:`floor_request_nS` of ``kappa`` (314.7 nS at 250 nS)."""
        if not self.exact_calibration:
            return floor_request_nS(self.kappa, threshold_nS, fraction)
        response = input_response_nS(self.levels_nS, threshold_nS)       # (4, m, 16)
        first = np.where(response > 0.0, response, np.inf).min(axis=-1)
        return first

    def __repr__(self) -> str:
        v = self.vgmax[0].tolist() if self.uniform_quadrants else self.vgmax.tolist()
        cal = "" if self.exact_calibration else \
            f", calibrated for vgmax {self.calibration_vgmax[0].tolist()}"
        return (f"GmaxConfig({self.name!r}, vgmax={v}{cal}, {self.n_configs} configs, "
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
        ``digital`` uint8 0..15 (0 for disabled synapses; with ``quantise=False`` the
        nearest level, for information); ``enabled`` bool (False where the requested weight
        was exactly 0: decoder disabled); ``weight_bio_uS`` realised bio weight (µS, incl.
        fixed pattern and the synaptic input's response, 0.0 where disabled);
        ``weight_hw_nS`` the same in hardware nS (what the neuron receives);
        ``conductance_hw_nS`` the conductance of the synapse's pulse (nS: ``kappa`` x level
        x fixed pattern) before the synaptic input's response; ``nominal_hw_nS`` the level
        g(digital) the calibration believes in, without fixed pattern (0 where disabled;
        with ``quantise=False`` the request limited to [g(0), g(15)]); ``requested_hw_nS``;
        ``scale`` bio->hw factor (``w_hw[nS] = w_bio[µS] * 1000 * scale``);
        ``fixed_pattern`` factor (ones if none); ``clipped`` bool (requested > g(15));
        ``below_floor`` bool (requested > 0 but below the row's floor; always False with
        ``floor=False``); ``row_index`` index into the per-row arrays.

    Per row r (shape (R,), rows sorted by key):
        ``row_key``; ``row_quadrant``; ``row_config`` index into ``gmax.sel``/``gmax.div``;
        ``row_sel`` (selgmax 0..3); ``row_div``; ``row_vgmax`` (programmed DAC);
        ``row_required_nS`` (largest requested hw weight); ``row_min_nS`` / ``row_max_nS``
        (g(0) / g(15) as the calibration believes them); ``row_floor_nS`` (the
        configuration's floor, :meth:`GmaxConfig.floor_nS`; 0 with ``floor=False``).

    Settings: ``gmax``, ``rounding``, ``floor``, ``quantise``, ``threshold_nS``.

    Counters: ``n_synapses``, ``n_enabled``, ``n_disabled`` (requested 0), ``n_clipped``
    (requested above g(15) of the row's config), ``n_rounded_to_zero`` (requested > 0 but
    digital 0, which still conducts g(0); 0 with ``quantise=False``), ``n_below_min``
    (requested > 0 but below g(0): given g(0), more than requested), ``n_below_floor``
    (requested > 0 but below the row's floor: realised much less than requested).
    """
    digital: np.ndarray
    enabled: np.ndarray
    weight_bio_uS: np.ndarray
    weight_hw_nS: np.ndarray
    conductance_hw_nS: np.ndarray
    nominal_hw_nS: np.ndarray
    requested_hw_nS: np.ndarray
    scale: np.ndarray
    fixed_pattern: np.ndarray
    clipped: np.ndarray
    below_floor: np.ndarray
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
    row_floor_nS: np.ndarray
    gmax: GmaxConfig
    rounding: str
    floor: bool
    quantise: bool
    threshold_nS: float
    n_synapses: int
    n_enabled: int
    n_disabled: int
    n_clipped: int
    n_rounded_to_zero: int
    n_below_min: int
    n_below_floor: int

    @property
    def stats(self) -> dict:
        """The counters as a dict."""
        return {k: getattr(self, k) for k in ("n_synapses", "n_enabled", "n_disabled",
                                              "n_clipped", "n_rounded_to_zero",
                                              "n_below_min", "n_below_floor")}

    @property
    def floor_bio_uS(self) -> np.ndarray:
        """Per synapse, its row's floor in bio units (µS) for its target neuron's scale."""
        return self.row_floor_nS[self.row_index] / (1000.0 * self.scale)


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


def _check_switch(name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _stochastic_rng(rng) -> np.random.Generator:
    """The generator of the stochastic rounding: a Generator, an int seed or None (seed 0,
    deterministic like calibtic's unseeded C ``rand()``)."""
    if rng is None:
        return np.random.default_rng(0)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, bool):
        return np.random.default_rng(_check_seed(rng))
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, an integer seed or None, "
                         f"got {type(rng).__name__}")
    return rng


def _fixed_pattern_array(fixed_pattern, coordinates, n: int) -> np.ndarray | None:
    """Per-synapse fixed-pattern factors (n,) from None, an array or a FixedPattern."""
    if fixed_pattern is None:
        return None
    if isinstance(fixed_pattern, FixedPattern):
        if coordinates is None or len(coordinates) != 3:
            raise ValueError("coordinates=(hicann, row, column) of shape (n,) are required "
                             "with a FixedPattern")
        h, r, c = (_as_int_array(name, a, n)
                   for name, a in zip(("hicann", "row", "column"), coordinates))
        return fixed_pattern.factors(h, r, c)
    fp = _as_1d_float("fixed_pattern", fixed_pattern)
    if fp.shape != (n,):
        raise ValueError(f"fixed_pattern must have shape ({n},) like weight_bio_uS, "
                         f"got {fp.shape}")
    _check_finite_range("fixed_pattern", fp, 0.0)
    return fp


def _row_quadrants(gmax: GmaxConfig, quadrant, keys: np.ndarray, inv: np.ndarray,
                   n_rows: int) -> np.ndarray:
    """Quadrant (0..3) of every row; checks that it is constant within a row."""
    rquad = np.zeros(n_rows, dtype=np.int64)
    if quadrant is None:
        if not gmax.uniform_quadrants:
            raise ValueError("quadrant (per synapse, 0..3) is required: the gmax table's "
                             "V_gmax differ between quadrants")
        return rquad
    quad = _as_int_array("quadrant", quadrant, keys.size)
    _check_int_range("quadrant", quad, 0, 3)
    rquad[inv] = quad                          # any member's quadrant ...
    if np.any(rquad[inv] != quad):             # ... must be every member's
        i = int(np.flatnonzero(rquad[inv] != quad)[0])
        raise ValueError(f"quadrant must be constant within a row; row_key "
                         f"{int(keys[i])} has quadrants {quad[i]} and {rquad[inv[i]]}")
    return rquad


def _round_up(frac: np.ndarray, rounding: str, rng) -> np.ndarray:
    """Which synapses take the upper of their two bracketing levels."""
    np.clip(frac, 0.0, 1.0, out=frac)
    if rounding == "nearest":
        return frac >= 0.5
    return rng.random(frac.size) < frac


def _levels_on_scaled_curve(gmax, req, s_syn, quantise, rounding, rng):
    """Digital weights and believed levels (nS) where every level is ``scale * P(k)``:
    worked in the unit-scale domain ``y = req / scale_row`` (``scale_row * P(k)``
    reproduces the table bit for bit).  Returns digital, nominal, clipped, below-g(0)."""
    unit = gmax.unit_levels_nS
    y = req / s_syn
    lo = np.searchsorted(unit, y, side="right")
    lo -= 1
    np.clip(lo, 0, MAX_DIGITAL_WEIGHT, out=lo)
    frac = y - unit[lo]
    frac *= gmax.unit_inv_step[lo]                           # 0 at level 15
    clipped = y > unit[-1] * (1.0 + _REL_TOL)
    below = y < unit[0]
    digital = lo.astype(np.uint8)
    digital += _round_up(frac, "nearest" if not quantise else rounding, rng)
    if quantise:
        nominal = unit[digital]
    else:                                       # continuous within [g(0), g(15)]
        nominal = np.clip(y, unit[0], unit[-1], out=y)
    nominal *= s_syn
    return digital, nominal, clipped, below


def _levels_on_general_curve(row_levels, inv, req, quantise, rounding, rng):
    """As :func:`_levels_on_scaled_curve` for a curve with an unscaled term H: compare
    with each row's 16 levels."""
    n = req.size
    flat = row_levels.ravel()
    base = inv * N_WEIGHT_LEVELS
    lo = np.zeros(n, dtype=np.int64)
    for k in range(1, N_WEIGHT_LEVELS):      # 15 comparisons of whole arrays
        lo += req >= flat[base + k]
    g_lo = flat[base + lo]
    g_hi = flat[base + np.minimum(lo + 1, MAX_DIGITAL_WEIGHT)]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(lo < MAX_DIGITAL_WEIGHT, (req - g_lo) / (g_hi - g_lo), 0.0)
    clipped = req > flat[base + MAX_DIGITAL_WEIGHT] * (1.0 + _REL_TOL)
    below = req < flat[base]
    digital = lo.astype(np.uint8)
    digital += _round_up(frac, "nearest" if not quantise else rounding, rng)
    if quantise:
        nominal = flat[base + digital]
    else:
        nominal = np.clip(req, flat[base], flat[base + MAX_DIGITAL_WEIGHT])
    return digital, nominal, clipped, below


def realise_weights(weight_bio_uS, row_key, cm_bio_nF, c_hw_pF,
                    speedup: float = DEFAULT_SPEEDUP, rounding: str = "nearest",
                    rng: np.random.Generator | int | None = None, fixed_pattern=None, *,
                    gmax: GmaxConfig | None = None, quadrant=None,
                    coordinates=None, floor: bool = True, quantise: bool = True,
                    threshold_nS: float = INPUT_THRESHOLD_NS) -> RealisedWeights:
    """Realise requested bio weights on the 4-bit, per-row-scaled synapse array and the
    denmems' synaptic inputs.

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
    floor : bool
        True (default): the synaptic input's offset weakens small pulses (module docstring,
        "the weight floor"); False: every pulse acts in proportion to its conductance (the
        model before issue 14, bit for bit).
    quantise : bool
        True (default): 4-bit levels; False: continuous weights, the request limited to the
        row's [g(0), g(15)] (times fixed pattern, ``kappa`` and the input's response).
    threshold_nS : float
        The synaptic input's offset (nS hardware, >= 0), default
        :data:`INPUT_THRESHOLD_NS` ([E] 250 nS).

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
    floor = _check_switch("floor", floor)
    quantise = _check_switch("quantise", quantise)
    theta = _check_threshold(threshold_nS)
    if rounding == "stochastic" and quantise:
        rng = _stochastic_rng(rng)
    fp = _fixed_pattern_array(fixed_pattern, coordinates, n)

    # bio -> hw (scalar scale when both capacitances are scalars)
    scale = speedup_f * chw / (cm * 1000.0)
    req = w * (1000.0 * scale)                                    # nS hw
    enabled = w > 0

    # A measured (PSP-based) row calibration knows the synaptic input's response and
    # programs the pulse that delivers the request; marocco's default curve (not exact)
    # believes the pulse levels themselves, so its small weights fall into the floor.
    predistort = floor and gmax.exact_calibration and theta > 0.0
    target = inverse_input_response_nS(req, theta) if predistort else req

    # rows and their gmax configuration (chosen on the calibration's levels, like marocco)
    ukeys, inv = _unique_keys(keys)
    rquad = _row_quadrants(gmax, quadrant, keys, inv, ukeys.size)
    row_req = np.zeros(ukeys.size)
    if n:
        np.maximum.at(row_req, inv, target)
    row_cfg = gmax.best_config(row_req, rquad)
    row_levels = gmax.levels_nS[rquad, row_cfg]                  # (R, 16) nS

    # digital weights and the levels the calibration believes in
    if not any(gmax.fixed_coeffs_nS):
        digital, nominal, clipped, below = _levels_on_scaled_curve(
            gmax, target, gmax.scale[rquad, row_cfg][inv], quantise, rounding, rng)
    else:
        digital, nominal, clipped, below = _levels_on_general_curve(
            row_levels, inv, target, quantise, rounding, rng)
    digital[~enabled] = 0
    below &= enabled
    nominal[~enabled] = 0.0

    # what the pulses conduct (programmed V_gmax, fixed pattern) and what the input makes of it
    if not gmax.exact_calibration:
        nominal_pulse = nominal * gmax.kappa[rquad, row_cfg][inv]
    else:
        nominal_pulse = nominal
    conductance = nominal_pulse * fp if fp is not None else nominal_pulse.copy()
    weight_hw = input_response_nS(conductance, theta) if floor else conductance
    weight_bio = weight_hw / (1000.0 * scale)

    if floor:
        row_floor = gmax.floor_nS(theta)[rquad, row_cfg]
        below_floor = enabled & (req < row_floor[inv])
    else:
        row_floor = np.zeros(ukeys.size)
        below_floor = np.zeros(n, dtype=bool)

    n_enabled = int(enabled.sum())
    if np.ndim(scale) == 0:
        scale = np.full(n, float(scale))
    rounded = int(np.count_nonzero(enabled & (digital == 0))) if quantise else 0
    return RealisedWeights(
        digital=digital, enabled=enabled, weight_bio_uS=weight_bio, weight_hw_nS=weight_hw,
        conductance_hw_nS=conductance, nominal_hw_nS=nominal, requested_hw_nS=req,
        scale=scale, fixed_pattern=fp if fp is not None else np.ones(n), clipped=clipped,
        below_floor=below_floor, row_index=inv, row_key=ukeys,
        row_quadrant=rquad.astype(np.int8), row_config=row_cfg,
        row_sel=gmax.sel[row_cfg].astype(np.uint8), row_div=gmax.div[row_cfg].astype(np.uint8),
        row_vgmax=gmax.vgmax[rquad, gmax.sel[row_cfg]], row_required_nS=row_req,
        row_min_nS=row_levels[:, 0].copy(), row_max_nS=row_levels[:, MAX_DIGITAL_WEIGHT].copy(),
        row_floor_nS=row_floor, gmax=gmax, rounding=rounding, floor=floor, quantise=quantise,
        threshold_nS=theta, n_synapses=n, n_enabled=n_enabled, n_disabled=n - n_enabled,
        n_clipped=int(clipped.sum()), n_rounded_to_zero=rounded, n_below_min=int(below.sum()),
        n_below_floor=int(below_floor.sum()))


def level_table_bio_uS(rw: RealisedWeights, which: np.ndarray | None = None) -> np.ndarray:
    """The bio weight (µS) every one of the 16 digital levels would give each synapse
    ``which`` (indices or mask into ``rw``; default all) in its row's configuration, with its
    fixed pattern and the synaptic input's response: what an STDP controller's lookup moves
    the synapse between.  Shape (n, 16)."""
    idx = np.arange(rw.n_synapses) if which is None else np.flatnonzero(
        np.asarray(which)) if np.asarray(which).dtype == bool else np.asarray(which)
    gmax = rw.gmax
    rows = rw.row_index[idx]
    q, cfg = rw.row_quadrant[rows], rw.row_config[rows]
    nominal = gmax.levels_nS[q, cfg]                              # (n, 16)
    if not gmax.exact_calibration:
        nominal = nominal * gmax.kappa[q, cfg][:, None]
    conductance = nominal * rw.fixed_pattern[idx][:, None]
    hw = input_response_nS(conductance, rw.threshold_nS) if rw.floor else conductance
    return hw / (1000.0 * rw.scale[idx][:, None])


#: the two preset tables (read-only; shared)
HARDWARE_GMAX = GmaxConfig.hardware()
ESS_GMAX = GmaxConfig.ess()
MAROCCO_GMAX = GmaxConfig.marocco()
#: the tables by name, as the setup options name them
GMAX_TABLES = {"hardware": HARDWARE_GMAX, "marocco": MAROCCO_GMAX}
