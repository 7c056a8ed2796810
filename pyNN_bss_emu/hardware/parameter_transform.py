"""Bio <-> hardware <-> floating-gate (FG) DAC transformation of neuron parameters.

This is the *default* (ideal, un-calibrated) parameter transformation of the BSS-1 software
stack (calibtic ``NeuronCalibration::populateWithDefault`` and ``scale*`` functions, marocco
``ParamTrafo``), as documented in ``shared/reference/brainscales1.md`` sections 3.3-3.5 and
10.  Everything is vectorised over neurons; the per-denmem mismatch and the calibration live in
:mod:`.calibration`.

Three unit domains:

* **bio** (PyNN units): voltages mV, times ms, ``a`` nS, ``b`` nA, ``cm`` nF.
* **hw** (SI units on the chip): voltages V, times s, conductances S, currents A.
* **DAC**: the 10-bit FG value, integer 0..1023 (voltage cells: 1.8 V full scale, current
  cells 2.5 µA full scale).

Bio -> hw scaling (section 10.2, calibtic ``scale*``)::

    V_hw  [V] = alpha * V_bio[mV] * 1e-3 + shift        (alpha = 10, shift = 1.2 V default)
    dT_hw [V] = alpha * dT_bio[mV] * 1e-3               (no shift for delta_T)
    t_hw  [s] = t_bio[ms] * 1e-3 / speedup              (speedup 1e3..1e5, default 1e4)
    g_hw  [S] = g_bio[nS] * 1e-9 * speedup * C / cm     (a)
    I_hw  [A] = I_bio[nA] * 1e-9 * alpha * speedup * C / cm   (b)

``C`` is the capacitance of *one* denmem (big 2.16456 pF or small 0.1642 pF, calibtic) and
``cm`` the logical neuron's bio capacitance: marocco transforms every denmem of a logical neuron
with ``hw_neuron_size = 1`` and programs each denmem with the same values, so N denmems carry N
times the conductance and N times the capacitance and all time constants are preserved.

HW -> DAC default transforms (table 10.3; ``x`` in hw SI units):

============  ==========================  ====================================================
FG cell       bio parameter               default transform (hw -> DAC)
============  ==========================  ====================================================
E_l           v_rest                      568.33 * V
V_t           v_thresh (IF) / v_spike     568.33 * V   (AdEx with delta_T = 0 uses
                                                         min(v_spike, v_thresh))
V_exp         v_thresh (AdEx)             568.33 * V   (1023 = disabled when delta_T = 0)
E_synx        e_rev_E                     -16 + 614 * V   (warning above 1.4 V: saturation)
E_syni        e_rev_I                     568.33 * V
V_reset       v_reset (shared, 3.5)       568.33 * V
I_gl          tau_m                       sum_i c_i tau^-i (variant per capacitor/leak mode)
I_pl          tau_refrac                  calibtic lookup table, DAC 10..1022 -> 1.73 µs..14.7 ns
V_syntcx/i    tau_syn_E / tau_syn_I       calibtic lookup table, DAC 226..1022 -> 1.51..0.13 µs
I_gladapt     a                           -0.2701 + 1.06392e8 a + 2.01736e13 a^2
I_radapt      tau_w                       1 / (-1.222e-3 + 782.014 t + 1.07527e7 t^2)
I_rexp        delta_T                     -38.5688 + 27164.6 dT + 3.7804e6 dT^2
I_fire        b                           22.4037 + 1.8414e10 b - 5.7288e16 b^2
============  ==========================  ====================================================

The lookup tables of I_pl and V_syntcx/V_syntci are calibtic's own
(``include/calibtic/data/HMF/{i_pl,v_syntcx,v_syntci}_lookup.dat``, one hw time constant per
DAC value), bundled unchanged in ``hardware/data/calibtic_*_lookup.txt``.  calibtic's
``Lookup`` clips the input to the table's range and takes the last DAC whose value is still
>= the request (no interpolation); here the table is interpolated (log-linear between DAC
values) and rounded to the *nearest* DAC like every other cell, so a request can land one
DAC higher than calibtic would put it (5 ms at 1e4: calibtic DAC 320, here 321, the nearer
one: 0.504 vs 0.4995 µs).  The reverse transform at integer DACs is the table itself; a
plateau (equal values at neighbouring DACs: 16 DACs of V_syntc repeat the value of the next
one) inverts to one of its DACs, all of which realise the same value.

The *allowed hardware range* of a parameter is the transform's domain (calibtic) intersected
with the DAC range of the cell.  Values outside raise :class:`ParameterRangeError` (a
``ValueError`` naming the parameter, the value and the allowed *bio* range at the given
settings) unless ``clip=True``, which clips and warns once per parameter
(:class:`HardwareParameterWarning`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal, Mapping

import numpy as np

from .wafer import DEFAULT_SPEEDUP, SPEEDUP_RANGE

__all__ = [
    "BIG_CAP_NF", "SMALL_CAP_NF", "DAC_MAX", "V_FULL_SCALE", "I_FULL_SCALE",
    "LEAK_MODES", "CELL_TYPES", "ParameterRangeError", "HardwareParameterWarning",
    "TransformSettings", "FGCell", "FG_CELLS", "i_gl_cell", "cell_for", "shared_fg_block",
    "HardwareParameters", "transform_parameters", "dac_to_bio", "parameter_ranges",
    "to_hw", "from_hw", "round_dac", "DISABLED_DAC", "TECHNICAL_DAC", "voltage_to_dac",
    "LookupTable", "load_calibtic_lookup",
]

# ---------------------------------------------------------------- constants (calibtic)
BIG_CAP_NF = 2.16456e-3        #: big membrane capacitor of one denmem, nF (2.16456 pF)
SMALL_CAP_NF = 164.2e-6        #: small membrane capacitor of one denmem, nF (0.1642 pF)
DAC_MAX = 1023                 #: 10-bit FG cells
V_FULL_SCALE = 1.8             #: V, voltage cells: V = DAC * 1.8 / 1023
I_FULL_SCALE = 2.5e-6          #: A, current cells: I = DAC * 2.5 µA / 1023
LEAK_MODES = ("slow", "normal", "fast")
CELL_TYPES = ("IF_cond_exp", "EIF_cond_exp_isfa_ista")

#: DAC values that switch a feature off (section 10.3 disabling rules)
DISABLED_DAC = {"V_exp": DAC_MAX, "I_rexp": DAC_MAX, "I_bexp": DAC_MAX, "I_gladapt": 0,
                "I_fire": 0, "I_radapt": DAC_MAX}
#: technical per-denmem cells with constant default values (table 10.3)
TECHNICAL_DAC = {"I_convx": 1023, "I_convi": 1023, "V_convoffx": 1023, "V_convoffi": 1023,
                 "I_spikeamp": 1023, "I_bexp": 1023, "I_intbbx": 511, "I_intbbi": 511,
                 "V_synx": 511, "V_syni": 511}
#: E_synx saturates above this hardware voltage (calibtic warning, marocco ParamTrafo.h)
E_SYNX_SATURATION = 1.4


class ParameterRangeError(ValueError):
    """A bio parameter value lies outside what the hardware can realise at these settings."""


class HardwareParameterWarning(UserWarning):
    """A parameter was changed to fit the hardware (clipped, shared, saturating)."""


def round_dac(x: np.ndarray) -> np.ndarray:
    """Round to the nearest DAC integer (halves away from zero, like C++ ``round``)."""
    x = np.asarray(x, dtype=float)
    return (np.sign(x) * np.floor(np.abs(x) + 0.5)).astype(np.int64)


def voltage_to_dac(v_hw: np.ndarray) -> np.ndarray:
    """The "ideal" voltage transform ``DAC = round(V / 1.8 * 1023)``, clipped to 0..1023."""
    return np.clip(round_dac(np.asarray(v_hw, dtype=float) / V_FULL_SCALE * DAC_MAX), 0,
                   DAC_MAX)


# ---------------------------------------------------------------- settings
@dataclass(frozen=True)
class TransformSettings:
    """Settings of the bio <-> hw scaling (marocco ``ParamTrafo`` + experiment speed-up).

    * ``speedup``: hardware acceleration, 1e3..1e5 (default 1e4).
    * ``alpha``: voltage scale, V_hw = alpha * V_bio[mV] * 1e-3 + shift (default 10).
    * ``shift``: voltage shift in V (default 1.2 V).
    * ``bigcap``: big (2.16 pF, default) or small (0.164 pF) membrane capacitor per denmem.
    * ``leak_mode``: I_gl current-mirror setting, 'slow' (divisor 27), 'normal' (3, default)
      or 'fast' (1); selects the I_gl transform (section 3.3).
    """
    speedup: float = DEFAULT_SPEEDUP
    alpha: float = 10.0
    shift: float = 1.2
    bigcap: bool = True
    leak_mode: Literal["slow", "normal", "fast"] = "normal"

    def __post_init__(self) -> None:
        lo, hi = SPEEDUP_RANGE
        if not (lo <= self.speedup <= hi):
            raise ValueError(f"speedup={self.speedup:g}: the hardware supports {lo:g}..{hi:g}")
        if not (np.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError(f"alpha={self.alpha!r}: the voltage scale must be > 0")
        if not np.isfinite(self.shift):
            raise ValueError(f"shift={self.shift!r} V must be finite")
        if self.leak_mode not in LEAK_MODES:
            raise ValueError(f"leak_mode={self.leak_mode!r}: allowed are {LEAK_MODES}")

    @classmethod
    def from_voltage_range(cls, max_bio: float, min_bio: float, max_hw: float = 1.4,
                           min_hw: float = 0.3, **kwargs) -> "TransformSettings":
        """Map the bio span [min_bio, max_bio] (mV) linearly onto [min_hw, max_hw] (V), like
        marocco's ``set_trafo_with_bio_to_hw_ratio``: alpha = 1000 (max_hw - min_hw) /
        (max_bio - min_bio), shift = (max_bio min_hw - min_bio max_hw) / (max_bio - min_bio)."""
        if not max_bio > min_bio:
            raise ValueError(f"max_bio={max_bio} mV must be > min_bio={min_bio} mV")
        alpha = 1000.0 * (max_hw - min_hw) / (max_bio - min_bio)
        shift = (max_bio * min_hw - min_bio * max_hw) / (max_bio - min_bio)
        return cls(alpha=alpha, shift=shift, **kwargs)

    @property
    def cap_nF(self) -> float:
        """Capacitance of one denmem in nF."""
        return BIG_CAP_NF if self.bigcap else SMALL_CAP_NF

    @property
    def leak_variant(self) -> str:
        """Key of the I_gl transform variant, e.g. ``'I_gl_bigcap_normal'``."""
        return f"I_gl_{'bigcap' if self.bigcap else 'smallcap'}_{self.leak_mode}"

    def describe(self) -> str:
        return (f"speedup {self.speedup:g}, alpha {self.alpha:g}, shift {self.shift:g} V, "
                f"{'big' if self.bigcap else 'small'} capacitor, leak mode '{self.leak_mode}'")


# ---------------------------------------------------------------- FG cells
@dataclass(frozen=True)
class FGCell:
    """One per-denmem (or shared) FG parameter with its default transform.

    ``kind`` is what the FG cell stores ('voltage' or 'current'; decides the programming
    noise), ``log`` whether mismatch acts multiplicatively (time constants, conductances,
    currents) or additively (potentials); ``unit`` the hw SI unit; ``domain`` the transform's
    hw domain; ``dac_range`` the DAC values the transform can produce.
    """
    name: str
    kind: Literal["voltage", "current"]
    log: bool
    unit: str
    domain: tuple[float, float]
    dac_range: tuple[int, int]
    form: str
    coeffs: tuple[float, ...]
    lookup: "LookupTable | None" = field(default=None, compare=False, repr=False)

    # -- forward: hw -> (unrounded) DAC
    def to_dac(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        c = self.coeffs
        if self.form == "poly":          # sum c_i x^i
            return sum(ci * x ** i for i, ci in enumerate(c))
        if self.form == "negpow":        # sum c_i x^-i
            y = 1.0 / x
            return sum(ci * y ** i for i, ci in enumerate(c))
        if self.form == "onepoly":       # 1 / sum c_i x^i
            return 1.0 / sum(ci * x ** i for i, ci in enumerate(c))
        if self.form == "lookup":        # calibtic table, inverted
            return self.lookup.dac(x)
        raise AssertionError(self.form)

    # -- reverse: (continuous) DAC -> hw
    def from_dac(self, d: np.ndarray) -> np.ndarray:
        d = np.asarray(d, dtype=float)
        c = self.coeffs
        if self.form == "poly":
            return _solve_poly2(c, d)
        if self.form == "onepoly":
            return _solve_poly2(c, 1.0 / d)
        if self.form == "negpow":
            return 1.0 / _solve_negpow(c, d, 1.0 / self.domain[1], 1.0 / self.domain[0])
        if self.form == "lookup":
            return self.lookup.value(d)
        raise AssertionError(self.form)

    # -- natural coordinate of the mismatch model
    def natural(self, x: np.ndarray) -> np.ndarray:
        return np.log(x) if self.log else np.asarray(x, dtype=float)

    def from_natural(self, u: np.ndarray) -> np.ndarray:
        return np.exp(u) if self.log else np.asarray(u, dtype=float)

    @property
    def usable(self) -> tuple[float, float]:
        """hw range that the transform's domain and the DAC range both allow."""
        return _usable_range(self)

    @property
    def lsb(self) -> float:
        """Voltage (V) or relative current step of one DAC unit (for the programming noise)."""
        return V_FULL_SCALE / DAC_MAX if self.kind == "voltage" else 1.0 / DAC_MAX


class LookupTable:
    """A calibtic ``Lookup``: one hw value per DAC from ``first_dac`` on, monotone.

    ``value(d)`` interpolates ln(value) linearly between DACs (exact at integer DACs; the
    tables are close to exponential over a few DACs) and extrapolates the end segments, so
    that a calibrated request just outside the table still maps to a DAC beyond the FG range
    and is reported as clipped.  ``dac(x)`` is the inverse (continuous DAC); the value of a
    plateau (equal values at neighbouring DACs) inverts to one of its DACs (calibtic's search
    returns the last one; all realise the same value)."""

    def __init__(self, name: str, first_dac: int, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=float)
        step = np.diff(values)
        if values.size < 2 or not (np.all(step <= 0) or np.all(step >= 0)) or \
                np.any(values <= 0):
            raise ValueError(f"lookup table {name}: values must be positive and monotone")
        self.name = name
        self.first_dac = int(first_dac)
        self.values = values
        self.dacs = np.arange(values.size, dtype=float) + first_dac
        self._log = np.log(values)
        falling = values[0] > values[-1]
        # inverse: increasing ln(value); a plateau (equal values) keeps its two end DACs, so
        # a request between the plateau and a neighbour interpolates towards the plateau's
        # near end (np.interp never uses the zero-width segment between them)
        lv, dv = (self._log[::-1], self.dacs[::-1]) if falling else (self._log, self.dacs)
        new_value = np.diff(lv) > 0
        keep = np.r_[True, new_value] | np.r_[new_value, True]
        self._inv_log, self._inv_dac = lv[keep], dv[keep]

    @property
    def last_dac(self) -> int:
        return self.first_dac + self.values.size - 1

    @property
    def domain(self) -> tuple[float, float]:
        """(smallest, largest) value of the table, hw SI."""
        return float(self.values.min()), float(self.values.max())

    def value(self, d: np.ndarray) -> np.ndarray:
        """hw value at (continuous) DAC ``d``."""
        return np.exp(_interp_extrapolated(np.asarray(d, dtype=float), self.dacs, self._log))

    def dac(self, x: np.ndarray) -> np.ndarray:
        """Continuous DAC realising hw value ``x`` (> 0)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            lx = np.log(np.asarray(x, dtype=float))
        return _interp_extrapolated(lx, self._inv_log, self._inv_dac)


def _interp_extrapolated(x: np.ndarray, xp: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """``np.interp`` with the first and last segments continued linearly beyond the ends."""
    y = np.interp(x, xp, fp)
    lo_slope = (fp[1] - fp[0]) / (xp[1] - xp[0])
    hi_slope = (fp[-1] - fp[-2]) / (xp[-1] - xp[-2])
    y = np.where(x < xp[0], fp[0] + (x - xp[0]) * lo_slope, y)
    return np.where(x > xp[-1], fp[-1] + (x - xp[-1]) * hi_slope, y)


_DATA_DIR = Path(__file__).with_name("data")


def load_calibtic_lookup(name: str) -> LookupTable:
    """calibtic's default lookup table ``name`` ('i_pl', 'v_syntcx' or 'v_syntci') from the
    bundled copy ``hardware/data/calibtic_<name>_lookup.txt`` (its header names the source
    and the first DAC)."""
    path = _DATA_DIR / f"calibtic_{name}_lookup.txt"
    first = None
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("# first_dac"):
                first = int(line.split("=")[1])
                break
    if first is None:
        raise ValueError(f"{path}: header line '# first_dac = N' missing")
    return LookupTable(name, first, np.loadtxt(path, comments="#"))


def _lookup_cell(name: str, table: LookupTable, kind: Literal["voltage", "current"]
                 ) -> FGCell:
    return FGCell(name, kind, True, "s", table.domain, (table.first_dac, table.last_dac),
                  "lookup", (float(table.first_dac),), table)


def _solve_poly2(c: tuple[float, ...], d: np.ndarray) -> np.ndarray:
    """Root of c0 + c1 x + c2 x^2 = d on the branch through the linear solution."""
    c0, c1 = c[0], c[1]
    c2 = c[2] if len(c) > 2 else 0.0
    r = d - c0
    disc = np.maximum(c1 * c1 + 4.0 * c2 * r, 0.0)
    return 2.0 * r / (c1 + np.sqrt(disc))


def _solve_negpow(c: tuple[float, ...], d: np.ndarray, y_lo: float, y_hi: float) -> np.ndarray:
    """y with sum c_i y^i = d (monotone increasing on the domain), y = 1/tau."""
    grid = np.geomspace(y_lo / 4.0, y_hi * 1.5, 4096)
    vals = sum(ci * grid ** i for i, ci in enumerate(c))
    y = np.interp(d, vals, grid)
    for _ in range(3):               # Newton polish (the polynomial is smooth and monotone)
        p = sum(ci * y ** i for i, ci in enumerate(c))
        dp = sum(i * ci * y ** (i - 1) for i, ci in enumerate(c) if i)
        y = y - (p - d) / dp
    return np.clip(y, grid[0], grid[-1])


_USABLE_CACHE: dict[str, tuple[float, float]] = {}


def _usable_range(cell: FGCell) -> tuple[float, float]:
    key = f"{cell.name}:{cell.coeffs}:{cell.domain}"
    if key not in _USABLE_CACHE:
        lo, hi = cell.domain
        d_lo, d_hi = cell.to_dac(np.array([lo, hi]))
        dmin, dmax = cell.dac_range
        if d_lo > d_hi:        # decreasing transform: the low end hits dmax
            if d_lo > dmax:
                lo = float(cell.from_dac(dmax))
            if d_hi < dmin:
                hi = float(cell.from_dac(dmin))
        else:
            if d_lo < dmin:
                lo = float(cell.from_dac(dmin))
            if d_hi > dmax:
                hi = float(cell.from_dac(dmax))
        _USABLE_CACHE[key] = (float(lo), float(hi))
    return _USABLE_CACHE[key]


_VSCALE = DAC_MAX / V_FULL_SCALE        # 568.33 DAC per volt


def _linear(name: str, c0: float = 0.0, c1: float = _VSCALE) -> FGCell:
    return FGCell(name, "voltage", False, "V", (0.0, V_FULL_SCALE), (0, DAC_MAX), "poly",
                  (c0, c1))


#: I_gl: calibtic negative-power polynomial for big cap / normal (table 10.3); the other
#: variants scale the polynomial (fast x 1/3, slow x 9; small cap: c_i x (1/5)^i)
_I_GL_COEFFS = (0.0, 3.885e-5, 4.598e-10, -5.597e-16, 2.499e-22)
_I_GL_DOMAINS = {   # calibtic NeuronCalibration.cpp, seconds
    (True, "normal"): (5.41e-7, 4.82e-5), (True, "fast"): (4.23e-7, 2.01e-5),
    (True, "slow"): (1.50e-6, 2.00e-4), (False, "normal"): (1.083e-7, 9.63e-6),
    (False, "fast"): (1.00e-7, 4.02e-6), (False, "slow"): (3.00e-7, 7.22e-5)}
_MODE_FACTOR = {"normal": 1.0, "fast": 1.0 / 3.0, "slow": 9.0}


def i_gl_cell(bigcap: bool, leak_mode: str) -> FGCell:
    """The I_gl (tau_m) cell of the given capacitor / leak-mode variant."""
    f = _MODE_FACTOR[leak_mode]
    cap = 1.0 if bigcap else 0.2
    coeffs = tuple(ci * f * cap ** i for i, ci in enumerate(_I_GL_COEFFS))
    name = f"I_gl_{'bigcap' if bigcap else 'smallcap'}_{leak_mode}"
    return FGCell(name, "current", True, "s", _I_GL_DOMAINS[(bigcap, leak_mode)],
                  (0, DAC_MAX), "negpow", coeffs)


FG_CELLS: dict[str, FGCell] = {
    "E_l": _linear("E_l"),
    "V_t": _linear("V_t"),
    "V_exp": _linear("V_exp"),
    "E_synx": _linear("E_synx", -16.0, 614.0),
    "E_syni": _linear("E_syni"),
    "V_reset": _linear("V_reset"),
    # calibtic's lookup tables (NeuronCalibration.cpp: I_pl from DAC 10, V_syntc from 226)
    "I_pl": _lookup_cell("I_pl", load_calibtic_lookup("i_pl"), "current"),
    "V_syntcx": _lookup_cell("V_syntcx", load_calibtic_lookup("v_syntcx"), "voltage"),
    "V_syntci": _lookup_cell("V_syntci", load_calibtic_lookup("v_syntci"), "voltage"),
    "I_gladapt": FGCell("I_gladapt", "current", True, "S", (2.537e-9, 4958e-9), (0, DAC_MAX),
                        "poly", (-0.2701, 1.06392e8, 2.01736e13)),
    "I_radapt": FGCell("I_radapt", "current", True, "s", (2.93e-6, 35.4e-6), (1, DAC_MAX),
                       "onepoly", (-1.222e-3, 782.014, 1.07527e7)),
    "I_rexp": FGCell("I_rexp", "current", True, "V", (1.21e-3, 13.5e-3), (0, DAC_MAX),
                     "poly", (-38.5688, 27164.6, 3.7804e6)),
    "I_fire": FGCell("I_fire", "current", True, "A", (0.0324e-9, 69.26e-9), (0, DAC_MAX),
                     "poly", (22.4037, 18.414e9, -0.057288e18)),
}
for _big in (True, False):
    for _mode in LEAK_MODES:
        _c = i_gl_cell(_big, _mode)
        FG_CELLS[_c.name] = _c


# ---------------------------------------------------------------- bio <-> hw
#: bio parameter -> (scaling kind, bio unit)
_KIND = {"v_rest": "voltage", "v_reset": "voltage", "v_thresh": "voltage",
         "v_spike": "voltage", "e_rev_E": "voltage", "e_rev_I": "voltage",
         "tau_m": "time", "tau_refrac": "time", "tau_syn_E": "time", "tau_syn_I": "time",
         "tau_w": "time", "a": "conductance", "b": "current", "delta_T": "delta"}
_UNIT = {"voltage": "mV", "delta": "mV", "time": "ms", "conductance": "nS", "current": "nA"}


def to_hw(name: str, value: np.ndarray, s: TransformSettings,
          cm: np.ndarray | float | None = None) -> np.ndarray:
    """Scale bio parameter ``name`` (PyNN units) to its hw SI value (section 10.2)."""
    v = np.asarray(value, dtype=float)
    kind = _KIND[name]
    if kind == "voltage":
        return s.alpha * v * 1e-3 + s.shift
    if kind == "delta":
        return s.alpha * v * 1e-3
    if kind == "time":
        return v * 1e-3 / s.speedup
    if kind == "conductance":
        return v * 1e-9 * s.speedup * s.cap_nF / np.asarray(cm, dtype=float)
    return v * 1e-9 * s.alpha * s.speedup * s.cap_nF / np.asarray(cm, dtype=float)


def from_hw(name: str, value: np.ndarray, s: TransformSettings,
            cm: np.ndarray | float | None = None) -> np.ndarray:
    """Inverse of :func:`to_hw` (hw SI -> PyNN units)."""
    v = np.asarray(value, dtype=float)
    kind = _KIND[name]
    if kind == "voltage":
        return (v - s.shift) / (s.alpha * 1e-3)
    if kind == "delta":
        return v / (s.alpha * 1e-3)
    if kind == "time":
        return v * 1e3 * s.speedup
    if kind == "conductance":
        return v * np.asarray(cm, dtype=float) / (1e-9 * s.speedup * s.cap_nF)
    return v * np.asarray(cm, dtype=float) / (1e-9 * s.alpha * s.speedup * s.cap_nF)


def cell_for(name: str, s: TransformSettings, cell_type: str = "IF_cond_exp") -> FGCell:
    """The FG cell realising bio parameter ``name`` (for AdEx ``v_thresh`` is V_exp)."""
    if name == "tau_m":
        return FG_CELLS[s.leak_variant]
    if name == "v_thresh":
        return FG_CELLS["V_exp" if cell_type == CELL_TYPES[1] else "V_t"]
    return FG_CELLS[_CELL_OF[name]]


_CELL_OF = {"v_rest": "E_l", "v_spike": "V_t", "e_rev_E": "E_synx", "e_rev_I": "E_syni",
            "v_reset": "V_reset", "tau_refrac": "I_pl", "tau_syn_E": "V_syntcx",
            "tau_syn_I": "V_syntci", "a": "I_gladapt", "b": "I_fire", "tau_w": "I_radapt",
            "delta_T": "I_rexp"}
_IF_PARAMS = ("v_rest", "v_reset", "v_thresh", "e_rev_E", "e_rev_I", "tau_m", "tau_refrac",
              "tau_syn_E", "tau_syn_I", "cm")
_ADEX_PARAMS = _IF_PARAMS + ("v_spike", "a", "b", "tau_w", "delta_T")
#: parameters for which 0 switches the hardware feature off instead of being transformed
_ZERO_DISABLES = ("a", "b", "delta_T")


def parameter_ranges(settings: TransformSettings | None = None,
                     cell_type: str = "IF_cond_exp",
                     cm: float = 1.0) -> dict[str, tuple[float, float, str]]:
    """Allowed bio range (lo, hi, unit) of every transformed parameter at these settings.

    ``a`` and ``b`` scale with the neuron's ``cm`` (nF).  ``a``, ``b`` and ``delta_T`` may also
    be exactly 0 (feature switched off)."""
    s = settings or TransformSettings()
    names = _ADEX_PARAMS if cell_type == CELL_TYPES[1] else _IF_PARAMS
    out = {}
    for name in names:
        if name == "cm":
            continue
        lo, hi = cell_for(name, s, cell_type).usable
        b = sorted(from_hw(name, np.array([lo, hi]), s, cm).tolist())
        out[name] = (b[0], b[1], _UNIT[_KIND[name]])
    return out


def _fmt(x: float) -> str:
    return f"{x:.4g}"


# ---------------------------------------------------------------- clipping
@dataclass(frozen=True)
class ClippedParameter:
    """A bio parameter set to the nearest value the hardware realises (``clip=True``).

    ``n_clipped`` of ``n`` neurons were outside; ``requested`` is the first of them and
    ``realised`` what it became (bio units ``unit``); ``low``..``high`` the realisable range
    at these settings (``where``: FG cell and settings); ``remedy``: a transformation
    setting whose range contains ``requested`` (keyword=value of ``setup()``), or None."""
    name: str
    n_clipped: int
    n: int
    requested: float
    realised: float
    low: float
    high: float
    unit: str
    where: str
    remedy: str | None

    def describe(self) -> str:
        how = f"; setup({self.remedy}) would realise it" if self.remedy else \
            "; no setting of the transformation reaches it"
        return (f"'{self.name}' = {_fmt(self.requested)} {self.unit} realised as "
                f"{_fmt(self.realised)} {self.unit} ({self.n_clipped} of {self.n} values "
                f"outside the hardware range {_fmt(self.low)}..{_fmt(self.high)} {self.unit}, "
                f"{self.where}{how})")


#: setup() keyword of each TransformSettings field (for the remedy of a clipped parameter)
_SETTING_KEYWORD = {"speedup": "speedup", "alpha": "voltage_alpha", "shift": "voltage_shift",
                    "bigcap": "big_capacitors", "leak_mode": "leak_mode"}


def widening_setting(name: str, value: float, settings: TransformSettings,
                     cell_type: str = "IF_cond_exp", cm: float = 1.0) -> str | None:
    """A change of one transformation setting whose realisable range of parameter ``name``
    contains ``value`` (as ``setup()`` keyword=value), or None.  Tried in order: leak mode,
    capacitor, speed-up, voltage shift and scale."""
    candidates: list[dict] = [{"leak_mode": m} for m in LEAK_MODES if m != settings.leak_mode]
    candidates.append({"bigcap": not settings.bigcap})
    candidates += [{"speedup": v} for v in (1e3, 3e3, 3e4, 1e5) if v != settings.speedup]
    candidates += [{"shift": v} for v in (0.8, 1.0, 1.4, 1.6) if v != settings.shift]
    candidates += [{"alpha": v} for v in (5.0, 7.5, 15.0) if v != settings.alpha]
    for change in candidates:
        try:
            alt = replace(settings, **change)
            lo, hi = cell_for(name, alt, cell_type).usable
        except (ValueError, KeyError):
            continue
        blo, bhi = sorted(from_hw(name, np.array([lo, hi]), alt, cm).tolist())
        if blo <= value <= bhi:
            (field_name, v), = change.items()
            return f"{_SETTING_KEYWORD[field_name]}={v!r}"
    return None


# ---------------------------------------------------------------- bio -> DAC
@dataclass
class HardwareParameters:
    """Default-transform result for a set of neurons (one entry per neuron).

    * ``hw``: FG cell name -> hw SI value (NaN where the cell is switched off).
    * ``dac``: FG cell name -> int DAC of the *default* transform (disabled/technical
      constants included); ``V_reset`` here is per neuron, before block sharing.
    * ``enabled``: FG cell name -> bool per neuron for cells that can be switched off.
    * ``cm``: bio capacitance per neuron (nF).
    * ``i_offset``: offset current (nA) left for the neuron; always 0, the transform folds a
      requested i_offset into E_l (no such source).
    * ``clipped``: bio parameter names that were clipped (``clip=True``), with the details
      in ``clipped_details`` (:class:`ClippedParameter`).
    """
    cell_type: str
    settings: TransformSettings
    hw: dict[str, np.ndarray]
    dac: dict[str, np.ndarray]
    enabled: dict[str, np.ndarray]
    cm: np.ndarray
    i_offset: np.ndarray
    clipped: list[str] = field(default_factory=list)
    clipped_details: list[ClippedParameter] = field(default_factory=list)

    @property
    def size(self) -> int:
        return int(self.cm.size)


def _infer_cell_type(params: Mapping[str, np.ndarray], cell_type: str | None) -> str:
    if cell_type is None:
        cell_type = CELL_TYPES[1] if any(k in params for k in ("delta_T", "tau_w", "a", "b")) \
            else CELL_TYPES[0]
    if cell_type not in CELL_TYPES:
        raise ValueError(f"cell_type={cell_type!r}: the hardware offers {CELL_TYPES}")
    return cell_type


def transform_parameters(params: Mapping[str, np.ndarray],
                         settings: TransformSettings | None = None,
                         cell_type: str | None = None, clip: bool = False,
                         warn_e_synx: bool = True,
                         clip_remedy: str = "pass clip=True",
                         warn_clipped: bool = True, i_offset: str = "fold"
                         ) -> HardwareParameters:
    """Bio parameters (PyNN names/units, arrays per neuron) -> hw values and default DACs.

    Out-of-range values raise :class:`ParameterRangeError` naming the parameter, the first
    offending value and the allowed bio range at these settings, unless ``clip=True``: then
    they are clipped to the range and one :class:`HardwareParameterWarning` per parameter is
    issued (unless ``warn_clipped`` is False: the caller reports ``result.clipped_details``
    itself); ``result.clipped`` lists the clipped parameters.  ``clip_remedy`` ends the error
    message: how the caller's user switches clipping on.  ``i_offset``: 'fold' (a constant
    current becomes a leak-potential shift) or 'drop' (calibtic's behaviour: ignored, with a
    warning).
    """
    if i_offset not in ("fold", "drop"):
        raise ValueError(f"i_offset={i_offset!r}: expected 'fold' or 'drop'")
    i_offset_policy = i_offset
    s = settings or TransformSettings()
    cell_type = _infer_cell_type(params, cell_type)
    adex = cell_type == CELL_TYPES[1]
    needed = _ADEX_PARAMS if adex else _IF_PARAMS
    missing = [n for n in needed if n not in params]
    if missing:
        raise ValueError(f"{cell_type}: missing parameters {missing}")
    arrays = {n: np.atleast_1d(np.asarray(params[n], dtype=float)) for n in needed}
    n = max(max(a.size for a in arrays.values()), np.size(params.get("i_offset", 0.0)))
    arrays = {k: np.broadcast_to(v, (n,)).astype(float) for k, v in arrays.items()}
    for k, v in arrays.items():
        if not np.all(np.isfinite(v)):
            raise ParameterRangeError(f"parameter '{k}' has non-finite values")
    cm = arrays["cm"]
    if np.any(cm <= 0):
        raise ParameterRangeError(f"parameter 'cm' = {_fmt(cm[cm <= 0][0])} nF must be > 0")
    i_offset = np.broadcast_to(np.asarray(params.get("i_offset", 0.0), dtype=float),
                               (n,)).astype(float)
    if not np.all(np.isfinite(i_offset)):
        raise ParameterRangeError("parameter 'i_offset' has non-finite values")
    # The denmem has no offset-current source (brainscales1.md 3.4).  A constant current I
    # is the same as a leak towards E_l + I*tau_m/cm (nA*ms/nF = mV): exact for IF_cond_exp
    # and for AdEx with a = 0; with a != 0 the subthreshold adaptation follows the shifted E_l.
    if i_offset_policy == "drop" and np.any(i_offset != 0):
        warnings.warn(
            "i_offset is dropped: calibtic has no transformation for it and marocco ignored it "
            "(preset='marocco'); preset='default' realises it as a shift of the leak potential",
            HardwareParameterWarning, stacklevel=2)
        i_offset = np.zeros(n)
    folded = bool(np.any(i_offset != 0))
    if folded:
        arrays["v_rest"] = arrays["v_rest"] + i_offset * arrays["tau_m"] / cm
        warnings.warn(
            "i_offset: the wafer has no offset current; it is realised as a shift of the leak "
            "potential, v_rest + i_offset*tau_m/cm (exact for IF_cond_exp; for "
            "EIF_cond_exp_isfa_ista with a != 0 the adaptation follows the shifted v_rest)",
            HardwareParameterWarning, stacklevel=2)
        i_offset = np.zeros(n)

    hw: dict[str, np.ndarray] = {}
    enabled: dict[str, np.ndarray] = {}
    clipped: list[str] = []
    details: list[ClippedParameter] = []
    for name in needed:
        if name == "cm":
            continue
        if name == "v_thresh" and adex:
            cell = FG_CELLS["V_exp"]          # range check only; used below
        else:
            cell = cell_for(name, s, cell_type)
        x = to_hw(name, arrays[name], s, cm)
        on = arrays[name] != 0 if name in _ZERO_DISABLES else np.ones(n, dtype=bool)
        lo, hi = cell.usable
        tol = 1e-9 * (hi - lo)              # round-off of the bio -> hw scaling at the edges
        bad = on & ((x < lo - tol) | (x > hi + tol))
        x = np.where(on, np.clip(x, lo, hi), x)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            blo, bhi = sorted(from_hw(name, np.array([lo, hi]), s, cm[i]).tolist())
            unit = _UNIT[_KIND[name]]
            where = f" for cm = {_fmt(cm[i])} nF" if _KIND[name] in ("conductance",
                                                                      "current") else ""
            zero = " (or 0 to switch it off)" if name in _ZERO_DISABLES else ""
            rng = (f"{_fmt(blo)}..{_fmt(bhi)} {unit}{zero} ({cell.name}, {s.describe()}"
                   f"{where})")
            what = f"parameter '{name}' = {_fmt(arrays[name][i])} {unit}"
            if name == "v_rest" and folded:
                what = (f"v_rest + i_offset*tau_m/cm = {_fmt(arrays[name][i])} mV (i_offset is "
                        f"realised as a leak-potential shift; i_offset = "
                        f"{_fmt(float(np.broadcast_to(params['i_offset'], (n,))[i]))} nA)")
            if not clip:
                raise ParameterRangeError(
                    f"{what} is outside the hardware range {rng}; change the value or the "
                    f"settings, or {clip_remedy}")
            clipped.append(name)
            requested = float(arrays[name][i])
            details.append(ClippedParameter(
                name, int(bad.sum()), n, requested, float(np.clip(requested, blo, bhi)), blo,
                bhi, unit, f"{cell.name}, {s.describe()}{where}",
                widening_setting(name, requested, s, cell_type, float(cm[i]))))
            if warn_clipped:
                warnings.warn(
                    f"parameter '{name}': {int(bad.sum())} of {n} values outside the hardware "
                    f"range {rng} were clipped to it", HardwareParameterWarning, stacklevel=2)
        hw[name] = np.where(on, x, np.nan)
        if name in _ZERO_DISABLES:
            enabled[name] = on

    # -- assemble FG cells
    out_hw: dict[str, np.ndarray] = {
        "E_l": hw["v_rest"], "E_synx": hw["e_rev_E"], "E_syni": hw["e_rev_I"],
        "V_reset": hw["v_reset"], "I_pl": hw["tau_refrac"], "V_syntcx": hw["tau_syn_E"],
        "V_syntci": hw["tau_syn_I"], s.leak_variant: hw["tau_m"]}
    en = {k: np.ones(n, dtype=bool) for k in out_hw}
    if adex:
        exp_on = enabled["delta_T"]
        # effective spike threshold: min(v_spike, v_thresh) if delta_T == 0 (calibtic #1776)
        use_thresh = ~exp_on & (arrays["v_thresh"] < arrays["v_spike"])
        out_hw["V_t"] = np.where(use_thresh, hw["v_thresh"], hw["v_spike"])
        out_hw["V_exp"] = np.where(exp_on, hw["v_thresh"], np.nan)
        out_hw["I_rexp"] = hw["delta_T"]
        out_hw["I_gladapt"] = hw["a"]
        out_hw["I_fire"] = hw["b"]
        out_hw["I_radapt"] = hw["tau_w"]
        en.update(V_t=np.ones(n, dtype=bool), V_exp=exp_on, I_rexp=exp_on,
                  I_gladapt=enabled["a"], I_fire=enabled["b"],
                  I_radapt=np.ones(n, dtype=bool))
    else:
        out_hw["V_t"] = hw["v_thresh"]
        en["V_t"] = np.ones(n, dtype=bool)
    if warn_e_synx and np.any(out_hw["E_synx"] > E_SYNX_SATURATION):
        k = int(np.sum(out_hw["E_synx"] > E_SYNX_SATURATION))
        warnings.warn(
            f"e_rev_E maps to E_synx above {E_SYNX_SATURATION} V hardware for {k} neurons "
            f"(max {out_hw['E_synx'].max():.3f} V); calibration shows a saturation of the "
            f"excitatory reversal potential there (calibtic); consider other alpha/shift",
            HardwareParameterWarning, stacklevel=2)

    dac: dict[str, np.ndarray] = {}
    for cname, x in out_hw.items():
        cell = FG_CELLS[cname]
        d = np.full(n, DISABLED_DAC.get(cname, 0), dtype=np.int64)
        on = en[cname]
        if np.any(on):
            d[on] = np.clip(round_dac(cell.to_dac(x[on])), *cell.dac_range)
        dac[cname] = d
    if not adex:
        for cname in ("V_exp", "I_rexp", "I_gladapt", "I_fire", "I_radapt"):
            dac[cname] = np.full(n, DISABLED_DAC[cname], dtype=np.int64)
    for cname, v in TECHNICAL_DAC.items():
        dac.setdefault(cname, np.full(n, v, dtype=np.int64))
    return HardwareParameters(cell_type, s, out_hw, dac, en, cm, i_offset, clipped, details)


def dac_to_bio(dac: Mapping[str, np.ndarray], settings: TransformSettings | None = None,
               cm: np.ndarray | float = 1.0, cell_type: str = "IF_cond_exp"
               ) -> dict[str, np.ndarray]:
    """Reverse default transform (ESS-like, calibtic ``applyNeuronReverse``): DAC values
    (per neuron or denmem; may be non-integer) -> bio parameters in PyNN units.

    Disabled cells give a = 0 (I_gladapt 0), b = 0 (I_fire 0), delta_T = 0 (I_rexp 1023);
    for IF_cond_exp the adaptation cells are ignored."""
    s = settings or TransformSettings()
    adex = cell_type == CELL_TYPES[1]

    def rev(cname, bio_name):
        cell = FG_CELLS[cname]
        d = np.clip(np.asarray(dac[cname], dtype=float), *cell.dac_range)
        return from_hw(bio_name, cell.from_dac(d), s, cm)

    out = {"v_rest": rev("E_l", "v_rest"), "e_rev_E": rev("E_synx", "e_rev_E"),
           "e_rev_I": rev("E_syni", "e_rev_I"), "tau_refrac": rev("I_pl", "tau_refrac"),
           "tau_syn_E": rev("V_syntcx", "tau_syn_E"), "tau_syn_I": rev("V_syntci", "tau_syn_I"),
           "tau_m": rev(s.leak_variant, "tau_m")}
    if "V_reset" in dac:
        out["v_reset"] = rev("V_reset", "v_reset")
    if adex:
        out["v_spike"] = rev("V_t", "v_spike")
        d_rexp = np.asarray(dac["I_rexp"])
        exp_on = d_rexp != DISABLED_DAC["I_rexp"]
        out["delta_T"] = np.where(exp_on, rev("I_rexp", "delta_T"), 0.0)
        out["v_thresh"] = np.where(exp_on, rev("V_exp", "v_thresh"), out["v_spike"])
        out["a"] = np.where(np.asarray(dac["I_gladapt"]) > 0, rev("I_gladapt", "a"), 0.0)
        out["b"] = np.where(np.asarray(dac["I_fire"]) > 0, rev("I_fire", "b"), 0.0)
        out["tau_w"] = rev("I_radapt", "tau_w")
    else:
        out["v_thresh"] = rev("V_t", "v_thresh")
    return out


# ---------------------------------------------------------------- shared FG blocks
def shared_fg_block(denmem: np.ndarray) -> np.ndarray:
    """Shared FG block (0..3) serving a denmem (``NeuronOnHICANN`` enum = y * 256 + x):
    halco ``toSharedFGBlockOnHICANN`` = (x % 2, y), enum 2 y + x % 2 (left blocks serve even
    columns, right blocks odd ones; 128 denmems each, section 3.5)."""
    d = np.asarray(denmem)
    return 2 * (d // 256) + (d % 256) % 2
