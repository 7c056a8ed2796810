"""The HICANN current stimulus (halbe ``FGStimulus``, sthal ``HICANN::setCurrentStimulus``).

The only current injection of a BrainScaleS-1 neuron (``shared/reference/brainscales1.md``,
"Current stimulus (FGStimulus)" in the 2026-12 audit, and sections 3.4, 3.5, 10.1, 10.2):

* **one stimulus per FG block**, 4 per HICANN.  The FG controller plays **129 values of 10 bits**
  from its RAM, one per *slot*, and starts again after the last one (continuous mode, the mode
  marocco uses); a **slot lasts (pulselength + 1) * 4 / f_PLL** (sthal ``getStimTimestamps``),
  pulse length a 4-bit field 0..15, f_PLL = 125 MHz: 32 ns .. 512 ns hardware, 0.32 .. 5.12 ms
  biological at speed-up 1e4 (periods 41.3 .. 660.5 ms).
* **amplitude**: ``DAC * 2.5 µA / 1023`` (sthal ``getStimCurrents``); no calibration exists.
* **one denmem per block**: sthal enables the current input of exactly one denmem of the
  block and disables it on all others (``enable_current_stimulus``), because every enabled
  denmem hangs on the same stimulus line: two enabled denmems would short their membranes.
  The block of a denmem is ``toSharedFGBlockOnHICANN`` (:func:`stimulus_block`: 2 * row +
  column % 2, 128 denmems each).  The current flows into the whole membrane of the logical
  neuron the denmem belongs to (its denmems are connected).
* **bio <-> hardware**: a current scales like the offset current b (section 10.2) with the
  logical neuron's total capacitance: ``I_hw = I_bio * alpha * speedup * C_neuron / cm``.

[E] (estimates, where the reference has nothing): the stimulus only *sources* current (its
10-bit value has no sign), so negative values are clipped to 0; the uncalibrated output has
a fixed-pattern gain error per FG block of :data:`STIMULUS_GAIN_SIGMA` (5 %), drawn from the
wafer seed.

Everything here is a pure function of arrays (the backend chooses what to play,
:mod:`pyNN_bss_emu.backend.current_sources`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .parameter_transform import (BIG_CAP_NF, DAC_MAX, I_FULL_SCALE, SMALL_CAP_NF,
                                  round_dac, shared_fg_block)
from .wafer import DEFAULT_SPEEDUP

__all__ = [
    "N_SLOTS", "PLL_HZ", "PULSE_LENGTHS", "DEFAULT_PULSE_LENGTH", "STIMULI_PER_HICANN",
    "STIMULUS_GAIN_SIGMA", "SINE_SLOTS_MIN", "PHASE_TOLERANCE", "slot_ms", "period_ms",
    "stimulus_block", "reachable_blocks", "stimulus_denmem", "WaveformShape", "PulseChoice",
    "choose_pulse_length", "resample", "hw_per_bio_current", "quantise", "dac_to_current",
    "block_gain",
]

#: values of one stimulus pattern (halbe ``FGBlock::fg_columns``)
N_SLOTS = 129
#: the HICANN's PLL frequency (Hz) that clocks the FG controller
PLL_HZ = 125e6
#: the 4-bit pulse length field of ``FGConfig``
PULSE_LENGTHS = np.arange(16)
#: halbe's default, and marocco's fixed choice
DEFAULT_PULSE_LENGTH = 15
#: FG blocks, hence current stimuli, per HICANN
STIMULI_PER_HICANN = 4
#: [E] relative sigma of the fixed-pattern gain error of an (uncalibrated) stimulus output
STIMULUS_GAIN_SIGMA = 0.05
#: a sine needs at least this many slots per period to be played as a sine (not aliased)
SINE_SLOTS_MIN = 8
#: phase mismatch (in sine periods) between the stimulus period and a whole number of sine
#: periods below which a periodic AC source counts as exact
PHASE_TOLERANCE = 0.01


def slot_ms(pulse_length, speedup: float = DEFAULT_SPEEDUP):
    """Biological length (ms) of one slot at ``pulse_length`` (0..15): (pl + 1) * 4 / f_PLL
    hardware seconds times the speed-up."""
    pl = np.asarray(pulse_length)
    out = (pl + 1) * 4.0 / PLL_HZ * speedup * 1e3
    return float(out) if out.ndim == 0 else out


def period_ms(pulse_length, speedup: float = DEFAULT_SPEEDUP):
    """Biological period (ms) of the continuous playback: 129 slots."""
    return N_SLOTS * slot_ms(pulse_length, speedup)


# ---------------------------------------------------------------- FG blocks and denmems
def stimulus_block(denmem) -> np.ndarray:
    """FG block (0..3) whose stimulus can reach a denmem (``NeuronOnHICANN`` enum
    y * 256 + x): sthal's ``toSharedFGBlockOnHICANN``, 2 y + x % 2."""
    return shared_fg_block(denmem)


def reachable_blocks(x0, width) -> np.ndarray:
    """Bool (n, 4): the FG blocks that the denmems of logical neurons (columns x0 ..
    x0 + width - 1, both rows) belong to.  A neuron of 2 denmems reaches the two blocks of
    its column's parity, a wider one all four."""
    x0 = np.atleast_1d(np.asarray(x0, dtype=np.int64))
    w = np.atleast_1d(np.asarray(width, dtype=np.int64))
    parity = np.arange(STIMULI_PER_HICANN) % 2
    own = (x0[:, None] % 2) == parity[None, :]
    return (own | (w[:, None] >= 2)) & (x0[:, None] >= 0)


def stimulus_denmem(x0, width, block) -> np.ndarray:
    """The denmem (``NeuronOnHICANN`` enum) of each logical neuron that block ``block``
    stimulates: its first column of the block's parity, in the block's row; -1 where the
    neuron does not reach the block (or ``block`` is -1)."""
    x0 = np.asarray(x0, dtype=np.int64)
    w = np.asarray(width, dtype=np.int64)
    b = np.asarray(block, dtype=np.int64)
    col = x0 + (b % 2 - x0) % 2
    ok = (b >= 0) & (x0 >= 0) & (col < x0 + w)
    return np.where(ok, (b // 2) * 256 + col, -1)


# ---------------------------------------------------------------- the pulse length
@dataclass(frozen=True)
class WaveformShape:
    """What the choice of the pulse length needs to know of a (summed) PyNN waveform; times
    in ms from t = 0.

    * ``constant``: the same value at every t >= 0;
    * ``first_change_ms``, ``last_change_ms``: its first and last change (``inf`` if it keeps
      changing: an AC or noise source without end);
    * ``returns``: its final value equals its value at t = 0 (a pulse);
    * ``sine_period_ms``: the period of an AC component (0: none);
    * ``noise_dt_ms``: the update interval of a noise component (0: none).
    """
    constant: bool = False
    first_change_ms: float = 0.0
    last_change_ms: float = math.inf
    returns: bool = True
    sine_period_ms: float = 0.0
    noise_dt_ms: float = 0.0


@dataclass(frozen=True)
class PulseChoice:
    """:func:`choose_pulse_length`' answer: the pulse length, slot and period (ms bio), the
    time until which the periodic playback follows the PyNN waveform (up to slot resolution
    and quantisation; ``inf``: always) and, if it does not, why (for the user's warning)."""
    pulse_length: int
    slot_ms: float
    period_ms: float
    exact_until_ms: float
    reason: str = ""


def _choice(pl: int, speedup: float, exact_until: float, reason: str = "") -> PulseChoice:
    return PulseChoice(int(pl), slot_ms(int(pl), speedup), period_ms(int(pl), speedup),
                       float(exact_until), reason)


def choose_pulse_length(shape: WaveformShape, speedup: float = DEFAULT_SPEEDUP
                        ) -> PulseChoice:
    """The pulse length that plays ``shape`` best as 129 periodic slots:

    * constant: 15 (halbe's default; any period plays it exactly);
    * a waveform that ends where it started (a pulse, steps back to 0, a noise or sine
      with a stop): the shortest slot whose period covers its last change; it recurs one
      period later;
    * a waveform that settles at another value: the longest period (15), which holds the
      final value longest; the playback restarts after 660.5 ms (at speed-up 1e4);
    * endless noise: the slot closest to the noise interval (the slots hold the noise's
      means over the slot, so the membrane sees the same fluctuations); the 129 values
      repeat;
    * an endless sine: the slot whose period holds the closest to a whole number of sine
      periods, with at least :data:`SINE_SLOTS_MIN` slots per sine period (else the
      shortest slot, and the sine is aliased).
    """
    periods = period_ms(PULSE_LENGTHS, speedup)
    slots = slot_ms(PULSE_LENGTHS, speedup)
    if shape.constant:
        return _choice(DEFAULT_PULSE_LENGTH, speedup, math.inf)

    def noise_note(pl: int) -> str:
        d = shape.noise_dt_ms
        if d > 0 and abs(slots[pl] - d) > 1e-9 * d:
            return (f"; its noise changes every {slots[pl]:.4g} ms instead of every {d:.4g} ms "
                    "(slot means: the same mean, and the same power at frequencies below "
                    "the slot rate)")
        return ""

    if math.isfinite(shape.last_change_ms):
        if not shape.returns:
            pl = DEFAULT_PULSE_LENGTH
            return _choice(pl, speedup, periods[pl],
                           f"the playback restarts after {periods[pl]:.4g} ms (the longest "
                           f"period at speed-up {speedup:g}), so its final value is held only "
                           "until then" + noise_note(pl))
        covers = np.flatnonzero(periods >= shape.last_change_ms)
        if covers.size:
            pl = int(covers[0])
            return _choice(pl, speedup, periods[pl] + shape.first_change_ms,
                           f"it recurs every {periods[pl]:.4g} ms (the continuous playback "
                           "restarts)" + noise_note(pl))
        pl = DEFAULT_PULSE_LENGTH
        return _choice(pl, speedup, periods[pl],
                       f"its last change at {shape.last_change_ms:.4g} ms lies beyond the "
                       f"longest period ({periods[pl]:.4g} ms at speed-up {speedup:g}): "
                       "what comes later is not played, and the pattern restarts"
                       + noise_note(pl))
    if shape.noise_dt_ms > 0:
        pl = int(np.argmin(np.abs(np.log(slots / shape.noise_dt_ms))))
        return _choice(pl, speedup, periods[pl],
                       f"its noise becomes a frozen pattern of {N_SLOTS} slot means that "
                       f"repeats every {periods[pl]:.4g} ms" + noise_note(pl))
    T = shape.sine_period_ms
    if T <= 0:       # (not reached by PyNN's sources: an endless waveform is a sine or noise)
        pl = DEFAULT_PULSE_LENGTH
        return _choice(pl, speedup, periods[pl], f"it restarts every {periods[pl]:.4g} ms")
    fine = slots <= T / SINE_SLOTS_MIN
    cycles = periods / T
    mismatch = np.abs(cycles - np.rint(cycles))
    if not np.any(fine):
        how = "aliased" if T < 2.0 * slots[0] else "played coarsely"
        return _choice(0, speedup, 0.0,
                       f"its sine ({1000.0 / T:.4g} Hz) gets only {T / slots[0]:.3g} slots of "
                       f"{slots[0]:.4g} ms per period ({how}; the shortest slot at speed-up "
                       f"{speedup:g})")
    cand = np.flatnonzero(fine)
    pl = int(cand[np.argmin(mismatch[cand])])     # first minimum: the shorter slot
    m = float(mismatch[pl])
    if m <= PHASE_TOLERANCE and shape.first_change_ms == 0:
        return _choice(pl, speedup, math.inf)
    reason = (f"its sine ({1000.0 / T:.4g} Hz) does not fit the slot grid: the "
              f"{periods[pl]:.4g} ms period holds {cycles[pl]:.3f} sine periods, so the phase "
              f"jumps by {360.0 * m:.3g} degrees at every restart") \
        if m > PHASE_TOLERANCE else \
        (f"the {shape.first_change_ms:.4g} ms before its start recur every "
         f"{periods[pl]:.4g} ms")
    return _choice(pl, speedup, periods[pl], reason)


# ---------------------------------------------------------------- resampling
def resample(values: np.ndarray, dt: float, slot: float, n_slots: int = N_SLOTS
             ) -> np.ndarray:
    """Slot means of piecewise-constant currents: ``values[..., k]`` holds during
    [k dt, (k + 1) dt) (the engine's steps); returns ``(..., n_slots)`` means over the slots
    [j slot, (j + 1) slot), i.e. the same charge per slot.  ``values`` must cover
    ``n_slots * slot``."""
    v = np.asarray(values, dtype=float)
    n = v.shape[-1]
    if n * dt < n_slots * slot * (1 - 1e-12):
        raise ValueError(f"{n} steps of {dt} ms do not cover {n_slots} slots of {slot} ms")
    grid = np.arange(n + 1) * dt
    charge = np.concatenate([np.zeros(v.shape[:-1] + (1,)), np.cumsum(v, axis=-1) * dt],
                            axis=-1)
    edges = np.minimum(np.arange(n_slots + 1) * slot, grid[-1])
    # the charge is piecewise linear in t: interpolating it at the slot edges is exact
    idx = np.clip(np.searchsorted(grid, edges, side="right") - 1, 0, n - 1)
    q = charge[..., idx] + v[..., idx] * (edges - grid[idx])
    return np.diff(q, axis=-1) / slot


# ---------------------------------------------------------------- amplitude
def hw_per_bio_current(cm_nF, neuron_size, big_capacitors: bool = True, alpha: float = 10.0,
                       speedup: float = DEFAULT_SPEEDUP) -> np.ndarray:
    """Hardware current (A) per biological nA into a logical neuron of ``neuron_size``
    denmems and bio capacitance ``cm_nF``: ``1e-9 * alpha * speedup * C_neuron / cm``."""
    c = (BIG_CAP_NF if big_capacitors else SMALL_CAP_NF) * np.asarray(neuron_size, float)
    return 1e-9 * alpha * speedup * c / np.asarray(cm_nF, dtype=float)


def quantise(current_A: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """10-bit stimulus values of hardware currents (A): nearest DAC of 2.5 µA / 1023 steps,
    clipped to 0..1023.  Returns (dac, negative, above): the masks of the values clipped at
    0 (the stimulus only sources current [E]) and at full scale."""
    x = np.asarray(current_A, dtype=float) / I_FULL_SCALE * DAC_MAX
    d = round_dac(x)
    negative = d < 0
    above = d > DAC_MAX
    return np.clip(d, 0, DAC_MAX), negative, above


def dac_to_current(dac) -> np.ndarray:
    """Hardware current (A) of stimulus values (sthal ``getStimCurrents``)."""
    return np.asarray(dac, dtype=float) * I_FULL_SCALE / DAC_MAX


def block_gain(wafer_seed: int, hicann, block, sigma: float = STIMULUS_GAIN_SIGMA
               ) -> np.ndarray:
    """[E] Fixed-pattern gain (1 + error) of the stimulus output of FG block ``block`` on
    HICANN ``hicann``: one Gaussian draw per block of the wafer, from ``wafer_seed``."""
    from .wafer import N_HICANN
    table = np.random.default_rng([int(wafer_seed), 0xC0551]).normal(
        0.0, 1.0, size=(N_HICANN, STIMULI_PER_HICANN))
    return 1.0 + sigma * table[np.asarray(hicann, dtype=np.int64),
                               np.asarray(block, dtype=np.int64)]
