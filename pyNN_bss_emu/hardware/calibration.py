"""Fixed-pattern mismatch, calibration and trial-to-trial FG noise of the BSS-1 neurons.

Blueprint (``shared/reference/brainscales1.md`` 16.3): the per-denmem parameters the emulator
integrates are obtained by reverse-transforming the *programmed* DAC values through the
*true* per-denmem transfer functions.  True = default transform (10.3) + hidden per-denmem
deviations drawn from ``wafer_seed``; the calibration only knows *fitted* deviations, obtained
from simulated, noisy measurements.  Three modes:

* ``'calibrated'`` (default): DAC = calibrated transform of the target; realised through the
  true transform -> the residual spreads that BSS-1 users measured (see below).
* ``'uncalibrated'`` (alias ``'off'``): DAC = default transform; realised through the true
  transform -> larger spreads (11.3 [E]).
* ``'ideal'``: no mismatch and no FG noise (ESS without calibration files, 13.1): realised =
  default reverse transform of the DAC, i.e. requested up to DAC quantisation.

:func:`realise_neuron_parameters` also takes ``mismatch=False`` (no fixed pattern: every
denmem realises the default transform of its target, up to DAC quantisation) and
``trial_noise=False`` (no FG programming noise) for ablations.

Mismatch model (per FG cell ``c``, per denmem ``i``; ``u`` is the *natural coordinate*: the
hw voltage in V for potentials, ``ln`` of the hw value for time constants, conductances and
currents; ``u_nom(d)`` the default reverse transform of DAC ``d``)::

    u_true(d) = u_nom(d) + o_i + g_i * (u_nom(d) - u_ref)              (hidden, wafer_seed)
    measured  = u_true(d_k) + s_i + n_ik,   k = 1..K test points       (calibration)
    fit       : least squares of (measured - u_nom(d_k)) on (u_nom(d_k) - u_ref) -> o^, g^
    calibrated: u_nom = u_ref + (u* - u_ref - o^) / (1 + g^);  DAC = round(default(u_nom))

``o`` (offset / log-factor), ``g`` (gain) are what calibration removes; ``s`` (a systematic,
per-denmem error common to all test points: readout-shift error, indirect measurement) and
``n`` (measurement noise, which also carries the FG programming noise during calibration) are
what it leaves behind, together with DAC quantisation and the trial-to-trial FG noise.  The
residual grows away from the calibration range (extrapolation of the fitted gain), as for
e_rev_E at 1.3 V (calibration range 0.8-1.0 V, cake ``v4_params.py``).  The leak has one more
hidden term that no calibration sees, which depends on the leak OTA's operating current
(:class:`LeakOperatingPoint`)::

    ln g_l,true += sigma(I_op) z_i - sigma(I_op)^2 / 2,  sigma = sigma_ref (i_ref / I_op)^gamma

V_reset is one FG cell per shared block of 128 denmems (3.5): the *block* has hidden offset and
gain (calibrated per block from the block mean, like cake), every denmem adds its own reset
offset that no calibration can remove.

**What the knobs reproduce.**  Two publications of wafer 30 give the parameter spreads that
NEST needed to reproduce the calibrated wafer, per *logical neuron* of 8 denmems
(:data:`MEASURED_PROFILES`): the 2022 cortical microcircuit (small capacitors, slow leak) and
the 2023 balanced random network (big capacitors, normal leak), both in
``electronicvisions/brainscales1-demos``.  Both pass their numbers as the *absolute* sigma of a
normal distribution redrawn outside bounds (``normal_clipped``); the microcircuit's comment
calls them "percentage of the mean", but its code passes them unchanged and its bounds
(tau_syn_E 1.8..4 ms around 2.2 ms) only make sense for absolute sigmas.  So the targets are
the standard deviations of those clipped normals (:func:`truncated_normal_std`, computed from
the published sigma and bounds), compared with the realised neurons after the compound-neuron
combination.  In hardware units the two setups agree for the potentials (e_rev_E: 11.1 mV x
4.5 = 50 mV hw and 14 mV x 3.04 = 43 mV hw) while tau_m differs 3x (60 % against 20 % of the
mean): the leak spread depends on the configuration.  :func:`mismatch_model` turns a
configuration (capacitor, leak mode) into knobs with the rules documented at
:data:`UNCALIBRATED_FACTOR`; the two measured configurations reproduce their profile within a
few per cent over a whole wafer, the four others follow the rules.

Random numbers are counter-based (splitmix64 of (seed, stream, global denmem index)), so the
hidden deviations of a denmem depend only on (wafer_seed, hicann, denmem) and never on the
network or the configuration (other knobs scale the same pattern); the trial noise uses
``trial_seed`` and an independent stream.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import warnings
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from . import wafer as _w
from .parameter_transform import (
    CELL_TYPES, DAC_MAX, DISABLED_DAC, FG_CELLS, I_FULL_SCALE, FGCell,
    HardwareParameterWarning, TransformSettings, from_hw, round_dac, shared_fg_block, to_hw,
    transform_parameters)

__all__ = [
    "N_DENMEMS", "N_SHARED_BLOCKS", "MODES", "CellMismatch", "SharedMismatch", "FGNoise",
    "MismatchModel", "DEFAULT_MODEL", "MismatchProfile", "MICROCIRCUIT_2022", "BRUNEL_2023",
    "MEASURED_PROFILES", "LeakOperatingPoint", "LEAK_DIVISOR", "UNCALIBRATED_FACTOR",
    "mismatch_model", "model_for", "residuals_for", "leak_operating_current",
    "truncated_normal_std", "DenmemLayout",
    "WaferCalibration", "wafer_calibration", "default_cache_dir", "SharedVReset",
    "Realisation", "realise_neuron_parameters", "clear_calibration_cache",
]

#: how V_reset is shared (``realise_neuron_parameters(v_reset_sharing=...)``)
V_RESET_SHARING = ("fg_block", "hicann")
N_DENMEMS = _w.N_HICANN * _w.DENMEMS_PER_HICANN          # 196,608
N_SHARED_BLOCKS = _w.N_HICANN * 4                        # 4 shared FG blocks per HICANN
MODES = ("calibrated", "uncalibrated", "ideal")
_MODE_ALIASES = {"off": "uncalibrated", "calibration_off": "uncalibrated", "none": "ideal"}

# ---------------------------------------------------------------- measured profiles
def truncated_normal_std(sigma: float, mean: float, low: float = -np.inf,
                         high: float = np.inf) -> float:
    """Standard deviation of a normal (``mean``, ``sigma``) redrawn outside ``(low, high)``,
    i.e. truncated to it (PyNN's ``normal_clipped``; the microcircuit demo's ``_redraw``).

    Units of ``sigma``; ``sigma = 0`` gives 0."""
    if sigma == 0:
        return 0.0
    a, b = (low - mean) / sigma, (high - mean) / sigma
    mass = _std_normal_cdf(b) - _std_normal_cdf(a)
    if not mass > 0:
        raise ValueError(f"bounds ({low}, {high}) leave no mass of N({mean}, {sigma})")
    pa, pb = _std_normal_pdf(a), _std_normal_pdf(b)
    za = 0.0 if np.isinf(a) else a * pa
    zb = 0.0 if np.isinf(b) else b * pb
    shift = (pa - pb) / mass
    return float(sigma * math.sqrt(1.0 + (za - zb) / mass - shift * shift))


def _std_normal_pdf(z: float) -> float:
    return 0.0 if np.isinf(z) else math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def _std_normal_cdf(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


#: bio parameters whose spread is a hardware voltage offset (compared in V hw); the others
#: (time constants) spread relative to their mean
POTENTIALS = ("e_rev_E", "e_rev_I", "v_rest", "v_thresh", "v_reset")


@dataclass(frozen=True)
class MismatchProfile:
    """Parameter spreads *per logical neuron* of a calibrated wafer in one configuration: the
    normal distributions (absolute sigma, redrawn outside bounds) with which BSS-1 users made
    NEST reproduce their wafer.

    * ``settings``: the experiment's transformation (capacitor, leak mode, voltage mapping).
    * ``neuron_size``: denmems per logical neuron.
    * ``params``: the model's mean parameters (PyNN units).
    * ``sigma``: absolute sigma per parameter (mV, ms), as the demo passes it.
    * ``bounds``: (low, high) outside which the demo redraws.
    * ``source``: where the numbers are published.
    """
    label: str
    settings: TransformSettings
    neuron_size: int
    params: Mapping[str, float]
    sigma: Mapping[str, float]
    bounds: Mapping[str, tuple[float, float]]
    source: str

    def neuron_std(self, name: str) -> float:
        """Std of the demo's clipped (redrawn) normal of ``name``, bio units (mV or ms)."""
        lo, hi = self.bounds.get(name, (-np.inf, np.inf))
        return truncated_normal_std(self.sigma[name], self.params[name], lo, hi)

    def neuron_std_hw(self, name: str) -> float:
        """The same spread in hardware terms: V hw for potentials (times alpha), relative to the
        mean parameter for time constants."""
        if name in POTENTIALS:
            return self.neuron_std(name) * self.settings.alpha * 1e-3
        return self.neuron_std(name) / self.params[name]


#: brainscales1-demos, cortical microcircuit (2022, wafer 30; Schmidt 2024): the ``variation``
#: dict (e_rev_E 11.1, ... v_reset 1.6) goes as ``sigma`` to ``normal_clipped`` with the
#: ``variation_boundaries`` and a redraw; the comment calls the numbers "percentage of the
#: mean", the code passes them as absolute mV / ms (and only then do the bounds make sense:
#: tau_syn_E 2.2 +- 0.6 % could never reach 1.8 ms).  Setup: small capacitors, slow leak,
#: neuron size 8, e_rev_I..e_rev_E = -150..50 mV onto 0.4..1.3 V.  v_rest is set per
#: population (-44..-24 mV); -40 mV stands for them (E_l at 0.895 V).
MICROCIRCUIT_2022 = MismatchProfile(
    label="wafer 30, 2022: small capacitors, slow leak (cortical microcircuit)",
    settings=TransformSettings.from_voltage_range(50.0, -150.0, 1.3, 0.4, bigcap=False,
                                                  leak_mode="slow"),
    neuron_size=8,
    params={"cm": 0.25, "e_rev_E": 50.0, "e_rev_I": -150.0, "tau_m": 10.0,
            "tau_refrac": 2.0, "tau_syn_E": 2.2, "tau_syn_I": 2.2, "v_reset": -65.0,
            "v_rest": -40.0, "v_thresh": -50.0},
    sigma={"e_rev_E": 11.1, "e_rev_I": 1.6, "tau_m": 8.0, "tau_refrac": 1.5,
           "tau_syn_E": 0.6, "tau_syn_I": 0.4, "v_rest": 2.0, "v_thresh": 1.1,
           "v_reset": 1.6},
    bounds={"tau_m": (3.0, np.inf), "tau_refrac": (0.0, np.inf), "tau_syn_E": (1.8, 4.0),
            "tau_syn_I": (1.9, 6.0), "v_reset": (-np.inf, 0.9 * -50.0)},
    source="brainscales1-demos cortical_microcircuit.rst (variation, variation_boundaries), "
           "experiment_description.py (_apply_variations, _redraw)")

#: brainscales1-demos, balanced random network (2023, wafer 30): ``neuron_parameters`` are
#: ``normal_clipped`` distributions with absolute sigma.  Setup: big capacitors, normal leak,
#: neuron size 8, e_rev_I..e_rev_E = -140..140 mV onto 0.45..1.3 V.
BRUNEL_2023 = MismatchProfile(
    label="wafer 30, 2023: big capacitors, normal leak (balanced random network)",
    settings=TransformSettings.from_voltage_range(140.0, -140.0, 1.3, 0.45, bigcap=True,
                                                  leak_mode="normal"),
    neuron_size=8,
    params={"cm": 1.0, "e_rev_E": 140.0, "e_rev_I": -140.0, "tau_m": 10.0,
            "tau_refrac": 2.0, "tau_syn_E": 3.0, "tau_syn_I": 3.0, "v_reset": 10.0,
            "v_rest": 0.0, "v_thresh": 20.0},
    sigma={"e_rev_E": 14.0, "e_rev_I": 1.96, "tau_m": 2.0, "tau_refrac": 1.0,
           "tau_syn_E": 0.4, "tau_syn_I": 0.2, "v_rest": 1.96, "v_thresh": 1.12,
           "v_reset": 4.2},
    bounds={"tau_m": (0.0, np.inf), "tau_refrac": (0.0, np.inf), "tau_syn_E": (0.0, np.inf),
            "tau_syn_I": (0.0, np.inf), "v_reset": (-np.inf, 0.9 * 20.0)},
    source="brainscales1-demos random_network.rst (neuron_parameters)")

#: the measured configurations, keyed by (big capacitors, leak mode)
MEASURED_PROFILES: dict[tuple[bool, str], MismatchProfile] = {
    (False, "slow"): MICROCIRCUIT_2022, (True, "normal"): BRUNEL_2023}


# ---------------------------------------------------------------- the knobs
@dataclass(frozen=True)
class CellMismatch:
    """Mismatch knobs of one FG cell family (units: V for potentials, ln-units ~ relative
    for log cells).

    * ``offset``: sigma of the hidden per-denmem offset (the uncalibrated spread).
    * ``gain``: sigma of the hidden gain deviation around ``u_ref`` (dimensionless).
    * ``systematic``: sigma of the per-denmem calibration error common to all test points.
    * ``measurement``: sigma of the noise of each calibration measurement.
    * ``n_points``: number of calibration test points K.
    * ``cal_range``: hw range (SI) of the test points; None = central 80 % of the usable
      range in the natural coordinate.
    * ``calibrated``: False if the calibration does not treat this cell (the calibrated mode
      then falls back to the default transform, as calibtic does).
    """
    offset: float
    gain: float
    systematic: float
    measurement: float
    n_points: int = 5
    cal_range: tuple[float, float] | None = None
    calibrated: bool = True


@dataclass(frozen=True)
class SharedMismatch:
    """Knobs of the shared V_reset (V): per-block offset/gain (calibrated per block from the
    block mean), per-denmem reset offset (never calibratable), calibration errors of the block
    fit."""
    block_offset: float = 0.020
    block_gain: float = 0.03
    denmem_offset: float = 0.0041
    systematic: float = 0.0010
    measurement: float = 0.0010
    n_points: int = 5
    cal_range: tuple[float, float] = (0.5, 0.8)


@dataclass(frozen=True)
class FGNoise:
    """Trial-to-trial FG programming noise (10.1 [E]), redrawn per configuration: Gaussian,
    ``voltage`` sigma in V hw for voltage cells, ``current`` relative sigma for current
    cells."""
    voltage: float = 0.002
    current: float = 0.01


#: I_gl current-mirror divisor per leak mode (brainscales1.md 3.3): the leak OTA runs on
#: DAC * 2.5 µA / 1023 / divisor
LEAK_DIVISOR = {"slow": 27.0, "normal": 3.0, "fast": 1.0}


@dataclass(frozen=True)
class LeakOperatingPoint:
    """The part of the leak mismatch that depends on the leak OTA's operating current and
    that no calibration removes: per denmem ``ln g_l += sigma z - sigma^2 / 2`` (z fixed per
    denmem, the mean of g_l kept), ``sigma = sigma_ref * (i_ref / I_op) ** gamma``, ``I_op``
    the programmed I_gl current over the leak-mode divisor (A)."""
    sigma_ref: float
    i_ref: float
    gamma: float

    def sigma(self, i_op: np.ndarray) -> np.ndarray:
        """ln-sigma of g_l at operating current(s) ``i_op`` (A)."""
        i = np.maximum(np.asarray(i_op, dtype=float), I_FULL_SCALE / DAC_MAX / 27.0)
        return self.sigma_ref * (self.i_ref / i) ** self.gamma


@dataclass(frozen=True)
class MismatchModel:
    """All knobs: per-cell-family :class:`CellMismatch` (keys ``E_l``, ``V_t``, ``V_exp``,
    ``E_synx``, ``E_syni``, ``I_gl``, ``I_pl``, ``V_syntcx``, ``V_syntci``, ``I_gladapt``,
    ``I_radapt``, ``I_rexp``, ``I_fire``), the shared V_reset, the FG noise, the voltage
    reference point of the gain deviation (V) and the leak's operating-point term (None:
    none)."""
    cells: Mapping[str, CellMismatch]
    v_reset: SharedMismatch = SharedMismatch()
    fg_noise: FGNoise = FGNoise()
    u_ref_voltage: float = 0.9
    leak: LeakOperatingPoint | None = None

    def fingerprint(self) -> str:
        d = asdict(self)
        d["cells"] = {k: asdict(v) for k, v in sorted(self.cells.items())}
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    def cell(self, family: str) -> CellMismatch:
        return self.cells[family]


def leak_operating_current(settings: TransformSettings, tau_m: float | np.ndarray
                           ) -> np.ndarray:
    """Operating current (A) of the leak OTA that the default transform programs for
    ``tau_m`` (ms): I_gl DAC * 2.5 µA / 1023 over the leak mode's divisor."""
    cell = FG_CELLS[settings.leak_variant]
    dac = cell.to_dac(to_hw("tau_m", np.asarray(tau_m, dtype=float), settings))
    return dac * I_FULL_SCALE / DAC_MAX / LEAK_DIVISOR[settings.leak_mode]


#: How the knobs follow from the profiles.
#:
#: * The measured per-neuron spreads (:data:`MEASURED_PROFILES`) fix per-denmem *calibration
#:   residuals* (the ``systematic`` knob of each cell family, V hw or ln units): a neuron of 8
#:   denmems takes leak, reversal potentials, v_rest and tau_syn as g_l-weighted means of its
#:   denmems (their independent residuals shrink by sqrt(N_eff), N_eff = (sum g)^2 / sum g^2,
#:   ~4 with the slow small-capacitor leak spread, ~6.5 with the big-capacitor one) and
#:   v_thresh, v_reset and tau_refrac from its firing denmem alone.  The residuals below were
#:   solved by realising whole wafers (24,576 neurons of 8 denmems) in each measured setup and
#:   scaling each knob by target / realised spread until all agreed within 1 % (FG trial
#:   noise, DAC rounding, calibration fit noise and DACs clipped at the end of their range
#:   are part of the realised spread, as on the wafer).
#: * Potentials are offsets of the circuits in volts (OTA and comparator offsets, FG cells),
#:   the same circuits with either capacitor or leak mode: per denmem the two measured
#:   configurations agree within 1.75x.  A configuration without a measurement takes the
#:   geometric mean of the two per-denmem residuals.
#: * tau_syn (V_syntc) and tau_refrac (I_pl) are circuits of their own that do not see the
#:   membrane capacitor or the leak divisor: geometric mean likewise.
#: * tau_m: relative leak mismatch grows as the leak OTA's operating current falls (Pelgrom:
#:   sigma(dI/I) ~ I^-1/2 in strong inversion, constant in weak inversion).  The leak is the
#:   one cell the calibration does not measure at its working point (cake sets I_gl from E_l,
#:   10.5), so its residual is an operating-point term (:class:`LeakOperatingPoint`), fitted
#:   through the two measured points: at tau_m = 10 ms the small capacitor (0.164 pF) with
#:   slow leak runs the OTA on ~8.5x less current than the big capacitor (2.16 pF) with
#:   normal leak.  The fitted exponent gamma lies between the two Pelgrom limits.  The leak
#:   mode itself changes the operating current only through tau_m and the capacitor (the FG
#:   current scales with the divisor), so at equal tau_m and capacitor all leak modes get the
#:   same spread, except for the coarser FG steps of the fast mode.
#: * Uncalibrated (hidden offsets, removed by the calibration): ``UNCALIBRATED_FACTOR`` = 2
#:   times the calibrated residual, at least the [E] spreads of 11.3 (potentials 20-50 mV
#:   hw, tau_refrac 25 %, tau_syn 12 %), gains 2-10 % [E].  The leak keeps a hidden offset
#:   of 35 % on top of its operating-point term: more would leave tau_m = 10 ms out of reach
#:   for many big-capacitor denmems (5.41 ms is the end of the range).  So calibrating improves
#:   tau_m only ~1.2x with big capacitors and hardly at all with small capacitors and slow
#:   leak, where the operating-point term dominates (the calibration cannot see it).
#: * FG trial noise (10.1 [E]): 2 mV for voltage cells, 1 % for current cells.
#: * I_gladapt, I_radapt, I_rexp, I_fire (a, tau_w, delta_T, b) are not calibrated by cake
#:   (10.5): in the calibrated mode they use the default transform, so their spread stays the
#:   uncalibrated 25 %.
UNCALIBRATED_FACTOR = 2.0

#: per-denmem calibration residuals (``systematic``) solved for the measured profiles:
#: V hw for potentials (V_reset: the denmem's own reset offset), ln units for time constants;
#: ``I_gl`` is the operating-point sigma at the profile's tau_m
_MEASURED_RESIDUAL: dict[tuple[bool, str], dict[str, float]] = {
    (False, "slow"): {"E_l": 0.0175, "V_t": 0.00436, "E_synx": 0.0969, "E_syni": 0.0136,
                      "V_syntcx": 0.298, "V_syntci": 0.237, "I_pl": 0.533, "V_reset": 0.00683,
                      "I_gl": 1.104},
    (True, "normal"): {"E_l": 0.0148, "V_t": 0.00253, "E_synx": 0.107, "E_syni": 0.0147,
                       "V_syntcx": 0.304, "V_syntci": 0.166, "I_pl": 0.417, "V_reset": 0.0117,
                       "I_gl": 0.510},
}

#: the [E] floors of the uncalibrated offsets (11.3) and the knobs that do not change with
#: the configuration: gain, calibration measurement noise, test points (cake v4_params.py
#: ranges for potentials, 10.4; V_exp as V_t)
_BASE = {
    # offset floor, gain, measurement, K, calibration range
    "E_l": (0.030, 0.03, 0.003, 5, (0.7, 0.9)),
    "V_t": (0.020, 0.02, 0.002, 5, (0.7, 1.1)),
    "V_exp": (0.020, 0.02, 0.002, 5, (0.7, 1.1)),
    "E_synx": (0.050, 0.10, 0.0089, 5, (0.8, 1.0)),
    "E_syni": (0.030, 0.05, 0.005, 5, (0.4, 0.8)),
    "I_gl": (0.35, 0.05, 0.02, 5, None),
    "I_pl": (0.25, 0.05, 0.005, 5, None),
    "V_syntcx": (0.12, 0.03, 0.002, 5, None),
    "V_syntci": (0.12, 0.03, 0.001, 5, None),
}
#: the leak's calibration residual besides the operating-point term (fit error, ln units)
_LEAK_SYSTEMATIC = 0.02
_NOT_CALIBRATED = {name: CellMismatch(0.25, 0.05, 0.0, 0.0, calibrated=False)
                   for name in ("I_gladapt", "I_radapt", "I_rexp", "I_fire")}


def _leak_law() -> LeakOperatingPoint:
    """The operating-point law through the two measured points (see the knob notes)."""
    (k1, p1), (k2, p2) = MEASURED_PROFILES.items()
    i1 = float(leak_operating_current(p1.settings, p1.params["tau_m"]))
    i2 = float(leak_operating_current(p2.settings, p2.params["tau_m"]))
    s1, s2 = _MEASURED_RESIDUAL[k1]["I_gl"], _MEASURED_RESIDUAL[k2]["I_gl"]
    return LeakOperatingPoint(sigma_ref=s2, i_ref=i2, gamma=math.log(s1 / s2) /
                              math.log(i2 / i1))


def residuals_for(big_capacitors: bool, leak_mode: str) -> dict[str, float]:
    """Per-denmem calibration residuals of a configuration: the measured ones, or else the
    geometric mean of the two measured configurations (potentials, tau_syn, tau_refrac;
    ``I_gl`` is left out: the leak follows :class:`LeakOperatingPoint`)."""
    if leak_mode not in LEAK_DIVISOR:
        raise ValueError(f"leak_mode={leak_mode!r}: allowed are {tuple(LEAK_DIVISOR)}")
    key = (bool(big_capacitors), leak_mode)
    if key in _MEASURED_RESIDUAL:
        out = dict(_MEASURED_RESIDUAL[key])
    else:
        a, b = _MEASURED_RESIDUAL.values()
        out = {k: math.sqrt(a[k] * b[k]) for k in a}
    out.pop("I_gl")
    return out


@lru_cache(maxsize=None)
def mismatch_model(big_capacitors: bool = True, leak_mode: str = "normal") -> MismatchModel:
    """The knobs of a configuration (capacitor, leak mode), following the rules above."""
    res = residuals_for(big_capacitors, leak_mode)
    res["V_exp"] = res["V_t"]
    cells: dict[str, CellMismatch] = {}
    for name, (floor, gain, meas, k, rng) in _BASE.items():
        sys = _LEAK_SYSTEMATIC if name == "I_gl" else res[name]
        offset = floor if name == "I_gl" else max(floor, UNCALIBRATED_FACTOR * sys)
        cells[name] = CellMismatch(offset, gain, sys, meas, k, rng)
    cells.update(_NOT_CALIBRATED)
    d = res["V_reset"]
    v_reset = SharedMismatch(block_offset=max(0.020, UNCALIBRATED_FACTOR * d),
                             denmem_offset=d)
    return MismatchModel(cells=cells, v_reset=v_reset, leak=_leak_law())


def model_for(settings: TransformSettings | None = None) -> MismatchModel:
    """The knobs for the capacitor and leak mode of ``settings`` (default: big, normal)."""
    s = settings or TransformSettings()
    return mismatch_model(s.bigcap, s.leak_mode)


#: the knobs of the default configuration (big capacitors, normal leak)
DEFAULT_MODEL = mismatch_model(True, "normal")


def _family(cell: FGCell) -> str:
    return "I_gl" if cell.name.startswith("I_gl_") else cell.name


# ---------------------------------------------------------------- counter-based RNG
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _key(seed: int, *labels) -> np.uint64:
    text = "|".join([str(int(seed))] + [str(x) for x in labels]).encode()
    return np.uint64(int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little"))


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def _normals(key: np.uint64, index: np.ndarray) -> np.ndarray:
    """Standard normals, one per index, a pure function of (key, index) (Box-Muller on the two
    32-bit halves of a splitmix64 hash)."""
    idx = np.asarray(index, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h = _mix(idx * _GOLDEN + key)
    u1 = ((h >> np.uint64(32)).astype(np.float64) + 0.5) * (1.0 / 4294967296.0)
    u2 = ((h & np.uint64(0xFFFFFFFF)).astype(np.float64) + 0.5) * (1.0 / 4294967296.0)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


# ---------------------------------------------------------------- wafer calibration
def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/pyNN_bss_emu/calibration`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pyNN_bss_emu" / "calibration"


class WaferCalibration:
    """Hidden true transfer functions of one wafer and their calibration (fits).

    ``true(cell, gidx)`` gives the hidden (offset, gain) of denmems with global index
    ``gidx = hicann * 512 + denmem``; ``fit(cell)`` the calibration's fitted (offset, gain) for
    the whole wafer, measured lazily per cell and kept in memory (and, with ``cache_dir``, in
    ``calib-w<seed>-<fingerprint>.npz`` there)."""

    def __init__(self, wafer_seed: int, model: MismatchModel | None = None,
                 cache_dir: str | os.PathLike | None = None) -> None:
        self.wafer_seed = int(wafer_seed)
        self.model = model or DEFAULT_MODEL
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._fits: dict[str, np.ndarray] = {}
        if self.cache_dir is not None and self.cache_file.exists():
            with np.load(self.cache_file) as f:
                self._fits = {k: f[k] for k in f.files}

    @property
    def cache_file(self) -> Path:
        assert self.cache_dir is not None
        return self.cache_dir / f"calib-w{self.wafer_seed}-{self.model.fingerprint()}.npz"

    # -- hidden truth
    def u_ref(self, cell: FGCell) -> float:
        """Reference point of the gain deviation in the natural coordinate."""
        if not cell.log:
            return self.model.u_ref_voltage
        lo, hi = cell.usable
        return 0.5 * (np.log(lo) + np.log(hi))

    def true(self, cell: FGCell, gidx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Hidden (offset, gain) of the given denmems for ``cell``."""
        family = _family(cell)        # one leak circuit, whatever its leak-mode variant
        m = self.model.cell(family)
        o = m.offset * _normals(_key(self.wafer_seed, "true", family, "offset"), gidx)
        g = m.gain * _normals(_key(self.wafer_seed, "true", family, "gain"), gidx)
        return o, g

    def true_v_reset(self, block: np.ndarray, gidx: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Hidden V_reset deviations: (block offset, block gain) per block, per-denmem offset."""
        m = self.model.v_reset
        ob = m.block_offset * _normals(_key(self.wafer_seed, "true", "V_reset", "offset"), block)
        gb = m.block_gain * _normals(_key(self.wafer_seed, "true", "V_reset", "gain"), block)
        od = m.denmem_offset * _normals(_key(self.wafer_seed, "true", "V_reset", "denmem"),
                                        gidx)
        return ob, gb, od

    def leak_operating_term(self, gidx: np.ndarray, i_op: np.ndarray) -> np.ndarray:
        """Hidden operating-point deviation of ln g_l (:class:`LeakOperatingPoint`) of the
        given denmems at leak operating currents ``i_op`` (A); zeros without such a term."""
        law = self.model.leak
        if law is None:
            return np.zeros(np.shape(gidx))
        sigma = law.sigma(i_op)
        z = _normals(_key(self.wafer_seed, "true", "I_gl", "operating"), gidx)
        return sigma * z - 0.5 * sigma * sigma      # keeps the mean of g_l

    # -- calibration
    def _test_points(self, cell: FGCell, n_points: int,
                     cal_range: tuple[float, float] | None) -> np.ndarray:
        if cal_range is None:
            lo, hi = cell.usable
            ulo, uhi = cell.natural(np.array([lo, hi]))
            span = uhi - ulo
            x = cell.from_natural(np.linspace(ulo + 0.1 * span, uhi - 0.1 * span, n_points))
        else:
            x = cell.from_natural(np.linspace(*cell.natural(np.array(cal_range)), n_points))
        d = np.clip(round_dac(cell.to_dac(x)), *cell.dac_range)
        return cell.natural(cell.from_dac(d.astype(float)))    # nominal u of programmed DACs

    @staticmethod
    def _linear_fit(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Least squares y = a + b X per row of y (shape (n, K)); returns (a, b)."""
        Xc = X - X.mean()
        b = (y - y.mean(axis=1, keepdims=True)) @ Xc / float(Xc @ Xc)
        a = y.mean(axis=1) - b * X.mean()
        return a, b

    def fit(self, cell: FGCell) -> np.ndarray:
        """Fitted (offset, gain) of every denmem on the wafer, shape (2, 196608)."""
        if cell.name not in self._fits:
            m = self.model.cell(_family(cell))
            gidx = np.arange(N_DENMEMS, dtype=np.int64)
            if not m.calibrated:
                self._fits[cell.name] = np.zeros((2, N_DENMEMS))
                return self._fits[cell.name]
            u = self._test_points(cell, m.n_points, m.cal_range)
            X = u - self.u_ref(cell)
            o, g = self.true(cell, gidx)
            s = m.systematic * _normals(_key(self.wafer_seed, "cal", cell.name, "sys"), gidx)
            y = (o + s)[:, None] + g[:, None] * X[None, :]
            for k in range(X.size):
                y[:, k] += m.measurement * _normals(
                    _key(self.wafer_seed, "cal", cell.name, "meas", k), gidx)
            a, b = self._linear_fit(X, y)
            self._fits[cell.name] = np.stack([a, b])
        return self._fits[cell.name]

    def fit_v_reset(self) -> np.ndarray:
        """Fitted (offset, gain) of every shared V_reset block, shape (2, 1536); the
        calibration measures the mean reset potential of the block's 128 denmems."""
        if "V_reset" not in self._fits:
            m = self.model.v_reset
            cell = FG_CELLS["V_reset"]
            blocks = np.arange(N_SHARED_BLOCKS, dtype=np.int64)
            gidx = np.arange(N_DENMEMS, dtype=np.int64)
            ob, gb, od = self.true_v_reset(blocks, gidx)
            block_of = (gidx // 512) * 4 + shared_fg_block(gidx % 512)
            od_mean = np.bincount(block_of, od, N_SHARED_BLOCKS) / np.bincount(
                block_of, minlength=N_SHARED_BLOCKS)
            X = self._test_points(cell, m.n_points, m.cal_range) - self.model.u_ref_voltage
            s = m.systematic * _normals(_key(self.wafer_seed, "cal", "V_reset", "sys"), blocks)
            y = (ob + od_mean + s)[:, None] + gb[:, None] * X[None, :]
            for k in range(X.size):
                y[:, k] += m.measurement * _normals(
                    _key(self.wafer_seed, "cal", "V_reset", "meas", k), blocks)
            self._fits["V_reset"] = np.stack(self._linear_fit(X, y))
        return self._fits["V_reset"]

    def calibrate(self, cells: Sequence[str] | None = None) -> "WaferCalibration":
        """Measure and fit all (or the named) FG cells of the whole wafer; with ``cache_dir``
        the fits are written to :attr:`cache_file`.  Returns self."""
        names = list(cells) if cells is not None else [
            n for n in FG_CELLS if n != "V_reset"] + ["V_reset"]
        for name in names:
            if name == "V_reset":
                self.fit_v_reset()
            else:
                self.fit(FG_CELLS[name])
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.cache_file.with_suffix(".tmp.npz")
            np.savez(tmp, **self._fits)
            os.replace(tmp, self.cache_file)
        return self

    @property
    def calibrated_cells(self) -> list[str]:
        return sorted(self._fits)


_CALIBRATIONS: dict[tuple[int, str], WaferCalibration] = {}


def wafer_calibration(wafer_seed: int, model: MismatchModel | None = None,
                      cache_dir: str | os.PathLike | None = None) -> WaferCalibration:
    """The (memoised) :class:`WaferCalibration` of a wafer seed and mismatch model."""
    model = model or DEFAULT_MODEL
    key = (int(wafer_seed), model.fingerprint())
    cal = _CALIBRATIONS.get(key)
    if cal is None:
        cal = _CALIBRATIONS[key] = WaferCalibration(wafer_seed, model, cache_dir)
    elif cache_dir is not None and cal.cache_dir is None:
        cal.cache_dir = Path(cache_dir)
    return cal


def clear_calibration_cache() -> None:
    """Forget all in-memory calibrations (disk caches stay)."""
    _CALIBRATIONS.clear()


# ---------------------------------------------------------------- denmem layout
@dataclass(frozen=True)
class DenmemLayout:
    """Which denmems make up each logical neuron, as flat arrays sorted by neuron.

    * ``hicann``, ``denmem``: per denmem, HICANN enum (0..383) and ``NeuronOnHICANN`` enum
      (y * 256 + x, 0..511).
    * ``neuron``: per denmem, its logical neuron (0..n_neurons-1, non-decreasing).

    The *first* denmem of each neuron is the firing one (top-left in marocco).
    """
    hicann: np.ndarray
    denmem: np.ndarray
    neuron: np.ndarray
    n_neurons: int

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[int, Sequence[int]]]) -> "DenmemLayout":
        """From one ``(hicann, denmem indices)`` pair per neuron."""
        counts = np.array([len(np.atleast_1d(d)) for _, d in pairs], dtype=np.int64)
        hicann = np.repeat(np.array([int(h) for h, _ in pairs], dtype=np.int64), counts)
        denmem = (np.concatenate([np.atleast_1d(np.asarray(d, dtype=np.int64)) for _, d in pairs])
                  if pairs else np.zeros(0, dtype=np.int64))
        neuron = np.repeat(np.arange(len(pairs), dtype=np.int64), counts)
        return cls._checked(hicann, denmem, neuron, len(pairs))

    @classmethod
    def from_placement(cls, hicann: np.ndarray, x0: np.ndarray, width: np.ndarray
                       ) -> "DenmemLayout":
        """From a marocco-style placement: neuron ``c`` owns columns ``x0[c] .. x0[c] +
        width[c] - 1`` in both denmem rows of HICANN ``hicann[c]`` (top row first)."""
        hicann = np.asarray(hicann, dtype=np.int64)
        x0 = np.asarray(x0, dtype=np.int64)
        width = np.asarray(width, dtype=np.int64)
        n = hicann.size
        size = 2 * width
        neuron = np.repeat(np.arange(n, dtype=np.int64), size)
        start = np.concatenate([[0], np.cumsum(size)[:-1]])
        k = np.arange(neuron.size) - start[neuron]          # position within the neuron
        w = width[neuron]
        row = k // w
        col = x0[neuron] + k % w
        return cls._checked(hicann[neuron], row * 256 + col, neuron, n)

    @classmethod
    def _checked(cls, hicann, denmem, neuron, n_neurons) -> "DenmemLayout":
        if np.any((hicann < 0) | (hicann >= _w.N_HICANN)):
            raise ValueError(f"HICANN enums must be 0..{_w.N_HICANN - 1}")
        if np.any((denmem < 0) | (denmem >= _w.DENMEMS_PER_HICANN)):
            raise ValueError(f"denmem enums must be 0..{_w.DENMEMS_PER_HICANN - 1}")
        if n_neurons and np.bincount(neuron, minlength=n_neurons).min() == 0:
            raise ValueError("every logical neuron needs at least one denmem")
        g = hicann * 512 + denmem
        if np.unique(g).size != g.size:
            raise ValueError("a denmem is assigned twice (to one or several neurons)")
        return cls(hicann, denmem, neuron, int(n_neurons))

    @property
    def global_index(self) -> np.ndarray:
        return self.hicann * _w.DENMEMS_PER_HICANN + self.denmem

    @property
    def size(self) -> int:
        return int(self.denmem.size)

    @property
    def first(self) -> np.ndarray:
        """Index (into the denmem arrays) of every neuron's first (firing) denmem."""
        return np.flatnonzero(np.r_[True, np.diff(self.neuron) != 0])


# ---------------------------------------------------------------- realisation
@dataclass
class SharedVReset:
    """The shared V_reset actually used, per used FG block, and what it means per neuron.

    * ``hicann``, ``block``: per used block (block 0..3 = 2 * row + column parity).
    * ``requested_mean`` / ``requested_min`` / ``requested_max``: bio mV over the block's
      denmems (each denmem carries its neuron's v_reset; the mean is what is programmed, like
      marocco).
    * ``dac``: programmed DAC per block.
    * ``conflict``: requests in the block differ by more than half a DAC step.
    * ``v_reset_used``: per neuron, mean of the shared values of its denmems' blocks (bio mV).
    """
    hicann: np.ndarray
    block: np.ndarray
    n_denmems: np.ndarray
    requested_mean: np.ndarray
    requested_min: np.ndarray
    requested_max: np.ndarray
    dac: np.ndarray
    conflict: np.ndarray
    v_reset_used: np.ndarray

    @property
    def n_conflicts(self) -> int:
        return int(self.conflict.sum())


@dataclass
class Realisation:
    """Per-denmem realised parameters in engine units (µS, nF, mV, ms, nA).

    * ``denmem_params``: ``cm``, ``g_l``, ``e_l``, ``v_reset``, ``v_thresh``, ``v_peak``,
      ``tau_syn_E``, ``tau_syn_I``, ``e_rev_E``, ``e_rev_I``, ``a``, ``b``, ``tau_w``,
      ``delta_T``, ``i_offset``, ``tau_refrac`` per denmem (the input of
      ``compound_neuron_parameters`` (:mod:`.compound_neuron`); ``tau_m`` = cm / g_l is included for
      convenience).
    * ``layout``: the denmems (with ``layout.neuron`` as ``neuron_of_denmem``).
    * ``dac``: programmed DAC per FG cell and denmem (``V_reset``: the block's value).
    * ``clipped``: bio parameters clipped into the hardware range (``clip=True``).
    * ``dac_clipped``: FG cell -> number of denmems whose calibrated DAC had to be clipped.
    """
    denmem_params: dict[str, np.ndarray]
    layout: DenmemLayout
    dac: dict[str, np.ndarray]
    v_reset: SharedVReset
    mode: str
    cell_type: str
    settings: TransformSettings
    clipped: list[str] = field(default_factory=list)
    dac_clipped: dict[str, int] = field(default_factory=dict)
    clipped_details: list = field(default_factory=list)

    @property
    def neuron_of_denmem(self) -> np.ndarray:
        return self.layout.neuron

    @property
    def firing_denmem(self) -> np.ndarray:
        return self.layout.first

    def neuron_parameters(self, firing_denmem_rules: bool = True) -> dict[str, np.ndarray]:
        """Per-neuron parameters via ``compound_neuron_parameters`` (:mod:`.compound_neuron`) plus
        ``tau_refrac``.  With ``firing_denmem_rules`` the firing (first) denmem supplies
        tau_refrac, v_peak and v_reset (and v_thresh for IF_cond_exp), as in the ESS
        ``CompoundNeuron``; otherwise those are leak-weighted means (tau_refrac: firing)."""
        from .compound_neuron import compound_neuron_parameters
        p = {k: v for k, v in self.denmem_params.items() if k not in ("tau_refrac", "tau_m")}
        out = compound_neuron_parameters(p, self.layout.neuron)
        first = self.layout.first
        out["tau_refrac"] = self.denmem_params["tau_refrac"][first].copy()
        if firing_denmem_rules:
            out["v_peak"] = self.denmem_params["v_peak"][first].copy()
            out["v_reset"] = self.denmem_params["v_reset"][first].copy()
            if self.cell_type == CELL_TYPES[0]:
                out["v_thresh"] = self.denmem_params["v_thresh"][first].copy()
        return out


def _leak_current(dac: np.ndarray, leak_mode: str) -> np.ndarray:
    """Operating current (A) of the leak OTA at I_gl DAC ``dac``."""
    return dac * I_FULL_SCALE / DAC_MAX / LEAK_DIVISOR[leak_mode]


def _normalise_mode(mode: str) -> str:
    mode = _MODE_ALIASES.get(mode, mode)
    if mode not in MODES:
        raise ValueError(f"mode={mode!r}: allowed are {MODES} (or 'off')")
    return mode


def _trial_noise(cell: FGCell, d: np.ndarray, index: np.ndarray, trial_seed: int | None,
                 fg: FGNoise, label: str) -> np.ndarray:
    """Programmed DAC (float) plus Gaussian FG programming noise of one configuration."""
    d = d.astype(float)
    if trial_seed is None:
        return d
    z = _normals(_key(trial_seed, "fg", label), index)
    if cell.kind == "voltage":
        return d + (fg.voltage / cell.lsb) * z
    return d * (1.0 + fg.current * z)


def _realise_cell(cell: FGCell, x_target: np.ndarray, on: np.ndarray, gidx: np.ndarray,
                  mode: str, cal: WaferCalibration | None, trial_seed: int | None,
                  fg: FGNoise) -> tuple[np.ndarray, np.ndarray, int]:
    """Program ``cell`` of the denmems ``gidx`` for hw targets ``x_target`` (only where
    ``on``) and return (realised hw value (NaN where off), DAC, number of clipped DACs).

    ``cal`` None: no fixed pattern (the default transform, realised exactly); ``trial_seed``
    None: no FG programming noise."""
    n = gidx.size
    dac = np.full(n, DISABLED_DAC.get(cell.name, 0), dtype=np.int64)
    x_out = np.full(n, np.nan)
    if not np.any(on):
        return x_out, dac, 0
    g = gidx[on]
    x = x_target[on]
    dmin, dmax = cell.dac_range
    m = cal.model.cell(_family(cell)) if cal is not None else None
    u_ref = cal.u_ref(cell) if cal is not None else 0.0
    if mode == "calibrated" and m is not None and m.calibrated:
        a_hat, b_hat = cal.fit(cell)[:, g]
        u_nom = u_ref + (cell.natural(x) - u_ref - a_hat) / (1.0 + b_hat)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            d_f = cell.to_dac(cell.from_natural(u_nom))
        d_f = np.where(np.isfinite(d_f), d_f, dmax + 1.0)
    else:
        d_f = cell.to_dac(x)
    d = round_dac(np.clip(d_f, dmin - 1.0, dmax + 1.0))
    n_clip = int(np.sum((d < dmin) | (d > dmax)))
    d = np.clip(d, dmin, dmax)
    dac[on] = d
    d_eff = np.clip(_trial_noise(cell, d, g, trial_seed, fg, cell.name), dmin, dmax)
    if cal is None:
        x_out[on] = cell.from_dac(d_eff)
        return x_out, dac, n_clip
    u_nom = cell.natural(cell.from_dac(d_eff))
    o, gain = cal.true(cell, g)
    x_out[on] = cell.from_natural(u_nom + o + gain * (u_nom - u_ref))
    return x_out, dac, n_clip


def _shared_requests(x_req: np.ndarray, key: np.ndarray):
    """The denmems sharing one V_reset value (equal ``key``): the used keys, each denmem's
    group, the denmem count, mean, minimum and maximum of the requests per group."""
    used, inv = np.unique(key, return_inverse=True)
    count = np.bincount(inv, minlength=used.size)
    mean = np.bincount(inv, x_req, used.size) / count
    lo = np.full(used.size, np.inf)
    hi = np.full(used.size, -np.inf)
    np.minimum.at(lo, inv, x_req)
    np.maximum.at(hi, inv, x_req)
    return used, inv, count, mean, lo, hi


def _v_reset_per_hicann(x_req: np.ndarray, layout: DenmemLayout, s: TransformSettings
                        ) -> np.ndarray:
    """marocco's V_reset: the mean request over each HICANN's denmems, for all of them (its
    four FG blocks get the same value); warns once where requests on a HICANN differ."""
    used, inv, _, mean, lo, hi = _shared_requests(x_req, layout.hicann)
    differ = (hi - lo) > 0.5 * FG_CELLS["V_reset"].lsb
    if np.any(differ):
        k = int(np.flatnonzero(differ)[np.argmax((hi - lo)[differ])])
        warnings.warn(
            f"v_reset: one value per HICANN, the mean of its neurons' requests (as marocco "
            f"wrote it; the hardware would allow one per FG block, preset='default'): "
            f"{int(differ.sum())} HICANN(s) hold neurons with different v_reset (worst: "
            f"HICANN {int(used[k])}, requested {from_hw('v_reset', lo[k], s):.2f}.."
            f"{from_hw('v_reset', hi[k], s):.2f} mV, using {from_hw('v_reset', mean[k], s):.2f}"
            f" mV)", HardwareParameterWarning, stacklevel=4)
    return mean[inv]


def _realise_v_reset(x_req: np.ndarray, layout: DenmemLayout, mode: str,
                     cal: WaferCalibration | None, trial_seed: int | None, fg: FGNoise,
                     s: TransformSettings, neuron_labels: Sequence[str] | None,
                     per_hicann: bool = False
                     ) -> tuple[np.ndarray, np.ndarray, SharedVReset, int]:
    cell = FG_CELLS["V_reset"]
    if per_hicann:
        x_req = _v_reset_per_hicann(x_req, layout, s)
    block_global = layout.hicann * 4 + shared_fg_block(layout.denmem)
    used, inv, count, mean, bmin, bmax = _shared_requests(x_req, block_global)
    conflict = (bmax - bmin) > 0.5 * cell.lsb
    if np.any(conflict):
        bio = lambda v: from_hw("v_reset", v, s)        # noqa: E731
        k = np.flatnonzero(conflict)
        worst = k[np.argmax((bmax - bmin)[k])]
        where = ", ".join(f"HICANN {h} block {b}" for h, b in
                          zip(used[k[:5]] // 4, used[k[:5]] % 4))
        pops = ""
        if neuron_labels is not None:
            bad = np.isin(inv, k)
            labels = sorted({str(neuron_labels[i]) for i in np.unique(layout.neuron[bad])})
            pops = f"; populations involved: {', '.join(labels[:10])}"
        warnings.warn(
            f"v_reset is shared by the 128 denmems of a floating-gate block (4 per HICANN) "
            f"and cannot be set per neuron: {k.size} block(s) hold neurons with different "
            f"v_reset (e.g. {where}; worst: requested {bio(bmin[worst]):.2f}.."
            f"{bio(bmax[worst]):.2f} mV, using the block mean {bio(mean[worst]):.2f} mV)"
            f"{pops}", HardwareParameterWarning, stacklevel=3)

    if mode == "calibrated" and cal is not None:
        a_hat, b_hat = cal.fit_v_reset()[:, used]
        u_ref = cal.model.u_ref_voltage
        d_f = cell.to_dac(u_ref + (mean - u_ref - a_hat) / (1.0 + b_hat))
    else:
        d_f = cell.to_dac(mean)
    d = round_dac(np.clip(d_f, -1.0, DAC_MAX + 1.0))
    n_clip = int(np.sum((d < 0) | (d > DAC_MAX)))
    d = np.clip(d, 0, DAC_MAX)
    d_eff = np.clip(_trial_noise(cell, d, used, trial_seed, fg, "V_reset"), 0, DAC_MAX)
    u = cell.from_dac(d_eff)
    if cal is None:
        x_den = u[inv]
    else:
        ob, gb, od = cal.true_v_reset(used, layout.global_index)
        u_ref = cal.model.u_ref_voltage
        x_den = (u + ob + gb * (u - u_ref))[inv] + od
    used_bio = from_hw("v_reset", mean, s)
    v_used = np.bincount(layout.neuron, used_bio[inv], layout.n_neurons) / np.bincount(
        layout.neuron, minlength=layout.n_neurons)
    info = SharedVReset(used // 4, used % 4, count, used_bio, from_hw("v_reset", bmin, s),
                        from_hw("v_reset", bmax, s), d, conflict, v_used)
    return x_den, d[inv], info, n_clip


def realise_neuron_parameters(
        params_bio: Mapping[str, np.ndarray],
        denmems: DenmemLayout | Sequence[tuple[int, Sequence[int]]],
        *, settings: TransformSettings | None = None, cell_type: str | None = None,
        wafer_seed: int = 0, mode: str = "calibrated", trial_seed: int | None = None,
        clip: bool = False, clip_remedy: str = "pass clip=True", warn_clipped: bool = True,
        model: MismatchModel | None = None,
        calibration: WaferCalibration | None = None,
        cache_dir: str | os.PathLike | None = None,
        neuron_labels: Sequence[str] | None = None,
        mismatch: bool = True, trial_noise: bool = True,
        v_reset_sharing: str = "fg_block", i_offset: str = "fold",
        warn_dac_clipped: bool = True) -> Realisation:
    """Realised per-denmem parameters of logical neurons on a wafer.

    * ``params_bio``: PyNN parameters (names/units of ``IF_cond_exp`` or
      ``EIF_cond_exp_isfa_ista``), scalars or arrays with one entry per logical neuron.
    * ``denmems``: a :class:`DenmemLayout` or one ``(hicann, denmem indices)`` pair per
      neuron.
    * ``settings``: bio <-> hw scaling (speed-up, alpha/shift, capacitor, leak mode).
    * ``cell_type``: inferred from the parameters if None.
    * ``wafer_seed``: selects the wafer's hidden mismatch (and its calibration).
    * ``mode``: 'calibrated', 'uncalibrated' (= 'off') or 'ideal'.
    * ``trial_seed``: seed of the trial-to-trial FG programming noise of this configuration
      (None: no FG noise).  Ignored in 'ideal' mode.
    * ``clip``: clip out-of-range parameters (one warning per parameter) instead of raising.
    * ``clip_remedy``: the end of the out-of-range error message (how to switch clipping on).
    * ``warn_clipped``: warn about clipped parameters here (False: the caller reports
      ``realisation.clipped_details``).
    * ``model``: mismatch knobs (default: :func:`model_for` the settings' capacitor and leak
      mode).
    * ``calibration``: an explicit calibration object (its own wafer seed and model then
      apply).
    * ``cache_dir``: the directory of the on-disk calibration cache (a missing file triggers
      a full-wafer calibration that is written there).
    * ``neuron_labels``: per neuron, e.g. its population label (used in the v_reset warning).
    * ``mismatch``: False removes the fixed pattern (hidden deviations, their calibration and
      the leak's operating-point term): every denmem is programmed with the default transform
      of its target and realises it up to DAC quantisation (and FG noise).
    * ``trial_noise``: False removes the FG programming noise (as ``trial_seed=None``).
    * ``v_reset_sharing``: 'fg_block' (the hardware: one V_reset cell per FG block, the mean
      of its denmems' requests) or 'hicann' (marocco: one mean over the HICANN's neurons
      written into all four blocks, ``HICANNParameters.cpp``).
    * ``i_offset``: 'fold' (a constant current realised as a leak-potential shift) or 'drop'
      (calibtic ignored it; one warning says so).
    * ``warn_dac_clipped``: warn here about calibrated DAC values clipped at the FG range
      (False: the caller reports ``realisation.dac_clipped`` itself).

    ``mode='ideal'`` is ``mismatch=False, trial_noise=False``.

    Returns a :class:`Realisation`; ``realisation.neuron_parameters()`` gives per-neuron
    compound parameters for the engine.
    """
    mode = _normalise_mode(mode)
    s = settings or TransformSettings()
    layout = denmems if isinstance(denmems, DenmemLayout) else DenmemLayout.from_pairs(denmems)
    if v_reset_sharing not in V_RESET_SHARING:
        raise ValueError(f"v_reset_sharing={v_reset_sharing!r}: expected one of "
                         f"{V_RESET_SHARING}")
    hp = transform_parameters(params_bio, s, cell_type, clip=clip, clip_remedy=clip_remedy,
                              warn_clipped=warn_clipped, i_offset=i_offset)
    if hp.size not in (1, layout.n_neurons):
        raise ValueError(f"parameters are given for {hp.size} neurons, the layout has "
                         f"{layout.n_neurons}")
    if mode == "ideal" or not trial_noise:
        trial_seed = None
    cal = None
    if mode != "ideal" and mismatch:
        cal = calibration or wafer_calibration(wafer_seed, model or model_for(s), cache_dir)
        if cache_dir is not None and not cal.cache_file.exists():
            cal.calibrate()
    fg = (cal.model if cal is not None else model or model_for(s)).fg_noise
    nrn = layout.neuron if hp.size > 1 else np.zeros(layout.size, dtype=np.int64)
    gidx = layout.global_index
    adex = hp.cell_type == CELL_TYPES[1]

    real: dict[str, np.ndarray] = {}
    dac: dict[str, np.ndarray] = {}
    dac_clipped: dict[str, int] = {}
    for cname, x_neuron in hp.hw.items():
        if cname == "V_reset":
            continue
        cell = FG_CELLS[cname]
        on = hp.enabled[cname][nrn]
        x, d, nc = _realise_cell(cell, x_neuron[nrn], on, gidx, mode, cal, trial_seed, fg)
        if cal is not None and cname == s.leak_variant:
            # the cell holds tau_m = C / g_l: the term acts on ln g_l
            x = x * np.exp(-cal.leak_operating_term(gidx, _leak_current(d, s.leak_mode)))
        real[cname], dac[cname] = x, d
        if nc:
            dac_clipped[cname] = nc
    x_reset, dac["V_reset"], vinfo, nc = _realise_v_reset(
        hp.hw["V_reset"][nrn], layout, mode, cal, trial_seed, fg, s, neuron_labels,
        per_hicann=v_reset_sharing == "hicann")
    if nc:
        dac_clipped["V_reset"] = nc
    if dac_clipped and warn_dac_clipped:
        warnings.warn(
            "calibrated DAC values outside the FG range were clipped: " + ", ".join(
                f"{k} ({v} denmems)" for k, v in dac_clipped.items()) +
            "; these denmems miss their targets (values near the edge of the hardware range)",
            HardwareParameterWarning, stacklevel=2)

    # -- back to bio / engine units, per denmem
    count = np.bincount(layout.neuron, minlength=layout.n_neurons)[layout.neuron]
    cm_i = hp.cm[nrn] / count
    tau_m = from_hw("tau_m", real[s.leak_variant], s)
    out = {
        "cm": cm_i,
        "tau_m": tau_m,
        "g_l": cm_i / tau_m,
        "e_l": from_hw("v_rest", real["E_l"], s),
        "v_reset": from_hw("v_reset", x_reset, s),
        "e_rev_E": from_hw("e_rev_E", real["E_synx"], s),
        "e_rev_I": from_hw("e_rev_I", real["E_syni"], s),
        "tau_syn_E": from_hw("tau_syn_E", real["V_syntcx"], s),
        "tau_syn_I": from_hw("tau_syn_I", real["V_syntci"], s),
        "tau_refrac": from_hw("tau_refrac", real["I_pl"], s),
        "i_offset": hp.i_offset[nrn] / count,
    }
    v_t = from_hw("v_spike", real["V_t"], s)
    out["v_peak"] = v_t
    if adex:
        exp_on = hp.enabled["V_exp"][nrn]
        out["v_thresh"] = np.where(exp_on, from_hw("v_thresh", real["V_exp"], s), v_t)
        out["delta_T"] = np.where(exp_on, from_hw("delta_T", real["I_rexp"], s), 0.0)
        out["a"] = np.where(hp.enabled["I_gladapt"][nrn],
                            from_hw("a", real["I_gladapt"], s, cm_i) * 1e-3, 0.0)   # nS->µS
        out["b"] = np.where(hp.enabled["I_fire"][nrn], from_hw("b", real["I_fire"], s, cm_i),
                            0.0)
        out["tau_w"] = from_hw("tau_w", real["I_radapt"], s)
    else:
        out["v_thresh"] = v_t
        n = layout.size
        out.update(a=np.zeros(n), b=np.zeros(n), tau_w=np.ones(n), delta_T=np.zeros(n))
        for cname in ("V_exp", "I_rexp", "I_gladapt", "I_fire", "I_radapt"):
            dac[cname] = np.full(n, DISABLED_DAC[cname], dtype=np.int64)
    return Realisation(out, layout, dac, vinfo, mode, hp.cell_type, s, hp.clipped, dac_clipped,
                       hp.clipped_details)
