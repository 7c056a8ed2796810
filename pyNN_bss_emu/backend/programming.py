"""Parameter programming on the wafer (marocco's ``parameter/`` stage): what the placed
neurons, the 4-bit synapses, the synapse drivers' STP circuits and the routed L1 paths realise.

Functions of arrays: the :class:`~.wafer.WaferBackend` calls them in the order of
:mod:`.invalidation` (neurons before weights: a weight's bio value depends on the realised
membrane capacitance) and gives the results to the engine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..hardware import wafer
from ..hardware.calibration import DenmemLayout, realise_neuron_parameters
from ..hardware.event_paths import DELAY_JITTER_MS
from ..hardware.parameter_transform import TransformSettings
from ..hardware.synapse_weights import (FixedPattern, GmaxConfig, neuron_capacitance_pF,
                                        realise_weights, row_key)
from ..mapping.pipeline import MappingResult
from ..mapping.stp import (FACILITATION, fg_block_of_driver, realised_u,
                           share_time_constants, stp_keys)
from .records import PopulationRecord

#: the end of an out-of-range parameter error: how a user of setup() switches clipping on
CLIP_REMEDY = "setup(clip_parameters=True)"


def program_neurons(pop: PopulationRecord, result: MappingResult,
                    settings: TransformSettings, *, wafer_seed: int, trial_seed: int,
                    calibration: str, clip: bool, mismatch: bool = True,
                    trial_noise: bool = True, v_reset_sharing: str = "fg_block",
                    i_offset: str = "fold"
                    ) -> tuple[dict[str, np.ndarray], list, dict[str, int]]:
    """Per-neuron engine parameters of a placed population, as its denmems realise the bio
    request: parameter transformation and calibration, FG quantisation, hardware ranges
    (error, or clipping with ``clip``), the shared V_reset of each FG block, the residual
    mismatch of this wafer and the FG programming noise of this trial; compound neurons
    combine their denmems, the firing denmem supplies threshold, reset and refractory time.
    ``mismatch=False`` drops the fixed pattern, ``trial_noise=False`` the FG noise (ablations).

    Returns the engine parameters and the clipped parameters
    (:class:`~pyNN_bss_emu.hardware.parameter_transform.ClippedParameter`, for the caller's
    warning)."""
    cells = pop.cells
    layout = DenmemLayout.from_placement(result.placement.hicann[cells],
                                         result.placement.x0[cells],
                                         result.placement.width[cells])
    params = {k: np.asarray(v, dtype=float) for k, v in pop.request.items()}
    realisation = realise_neuron_parameters(
        params, layout, settings=settings, cell_type=pop.cell_type, wafer_seed=wafer_seed,
        mode=calibration, trial_seed=trial_seed, clip=clip, clip_remedy=CLIP_REMEDY,
        warn_clipped=False, neuron_labels=[pop.label] * pop.size, mismatch=mismatch,
        trial_noise=trial_noise, v_reset_sharing=v_reset_sharing, i_offset=i_offset,
        warn_dac_clipped=False)
    return realisation.neuron_parameters(), realisation.clipped_details, \
        realisation.dac_clipped


@dataclass
class RealisedWeights:
    """:func:`program_weights`' result: per synapse the realised bio weight (µS, NaN where
    the mapping lost the synapse), whether it was clipped at the top of its row's range,
    rounded to the lowest level (digital 0 of a non-zero weight) or requested below its row's
    floor (the synaptic input realises less than half of it), the floor in µS (NaN where
    lost), and the counts of the realisation's compromises."""
    weight_uS: np.ndarray
    statistics: dict
    clipped: np.ndarray
    rounded_to_zero: np.ndarray
    below_floor: np.ndarray
    floor_uS: np.ndarray


def program_weights(requested_uS: np.ndarray, cm_nF: np.ndarray, neuron_size: np.ndarray,
                    result: MappingResult, *, speedup: float, big_capacitors: bool,
                    rounding: str, wafer_seed: int, gmax: GmaxConfig | None = None,
                    floor: bool = True, quantise: bool = True,
                    mismatch: bool = True) -> RealisedWeights:
    """Realise every mapped synapse on the 4-bit array and its target's synaptic input: row
    gmax from the row's largest weight, nearest or stochastic rounding, fixed-pattern factors
    of this wafer, the input's offset (:mod:`~pyNN_bss_emu.hardware.synapse_weights`).

    ``requested_uS``, ``cm_nF`` (the realised capacitance of each synapse's target neuron)
    and ``neuron_size`` (its denmems) are per synapse in the mapping's order.  Rows are shared
    between projections, so all weights are realised together.  ``gmax`` is the row
    configuration table (None: the hardware table; ``GmaxConfig.marocco()`` for what
    marocco did); ``floor=False`` / ``quantise=False`` switch the synaptic input's offset /
    the 4-bit rounding off, ``mismatch=False`` the synapses' and drivers' fixed pattern
    (ablations)."""
    real = np.asarray(result.realized, dtype=bool)
    out = np.full(requested_uS.size, np.nan)
    floor_uS = np.full(requested_uS.size, np.nan)
    clipped = np.zeros(requested_uS.size, dtype=bool)
    rounded = np.zeros(requested_uS.size, dtype=bool)
    below_floor = np.zeros(requested_uS.size, dtype=bool)
    stats: dict = {}
    if np.any(real):
        h, row, col = result.syn_hicann[real], result.syn_row[real], result.syn_column[real]
        rw = realise_weights(requested_uS[real], row_key(h, row), cm_nF[real],
                             neuron_capacitance_pF(neuron_size[real], big_capacitors),
                             speedup=speedup, rounding=rounding,
                             rng=np.random.default_rng([wafer_seed, 0x3E1647]),
                             fixed_pattern=FixedPattern(wafer_seed) if mismatch else None,
                             coordinates=(h, row, col) if mismatch else None,
                             gmax=gmax, floor=floor, quantise=quantise)
        out[real] = rw.weight_bio_uS
        floor_uS[real] = rw.floor_bio_uS
        clipped[real] = rw.clipped
        rounded[real] = rw.enabled & (rw.digital == 0) if quantise else False
        below_floor[real] = rw.below_floor
        stats = {"disabled": int(rw.n_disabled), "clipped": int(rw.n_clipped),
                 "rounded_to_zero": int(rw.n_rounded_to_zero), "below_min": int(rw.n_below_min),
                 "below_floor": int(rw.n_below_floor)}
    return RealisedWeights(out, stats, clipped, rounded, below_floor, floor_uS)


@dataclass
class RealisedSTP:
    """:func:`program_stp`' result: (n, 3) realised U, tau_rec, tau_facil per synapse and,
    where the realised STP synapses of an FG block asked for different time constants, a
    message for the user (None if none did)."""
    stp: np.ndarray
    conflict: str | None


def program_stp(stp: np.ndarray, result: MappingResult, labels: list[str],
                projection_of: np.ndarray) -> RealisedSTP:
    """The STP parameters the synapse drivers realise: U on the 3-bit cap, and one time
    constant per floating-gate block (V_dtc, shared by the drivers of one quadrant for
    depression and facilitation; :mod:`~pyNN_bss_emu.mapping.stp`): where the realised STP
    synapses of a block request different values, all get the value most of them request.

    ``stp`` (n, 3) requested per synapse in the mapping's order (NaN rows: static);
    ``labels`` the projections' labels and ``projection_of`` each synapse's projection."""
    stp = stp.copy()
    plastic = ~np.isnan(stp[:, 0])
    stp[plastic, 0] = realised_u(stp[plastic, 0])
    fac = stp_keys(stp) >= FACILITATION
    tau = np.where(fac, stp[:, 2], stp[:, 1])
    row = np.asarray(result.syn_row)
    block = fg_block_of_driver(result.syn_hicann, np.where(row >= 0, row // 2, -1))
    shared = share_time_constants(tau, block, plastic & np.asarray(result.realized, bool))
    stp[plastic & ~fac, 1] = shared.tau[plastic & ~fac]
    stp[plastic & fac, 2] = shared.tau[plastic & fac]
    message = None
    if shared.conflict_blocks.size:
        changed = np.concatenate(shared.conflict_members)
        names = sorted({str(labels[j]) for j in np.unique(projection_of[changed])})
        b = int(shared.conflict_blocks[0])
        req = ", ".join(f"{v:g} ms ({c} synapses)" for v, c in
                        zip(shared.conflict_values[0], shared.conflict_counts[0]))
        message = (
            "the STP time constant (V_dtc) is a floating-gate voltage shared by all synapse "
            "drivers of one quadrant of a HICANN (tau_rec of depressing and tau_facil of "
            f"facilitating synapses alike): {shared.conflict_blocks.size} block(s) hold STP "
            f"synapses with different time constants (e.g. HICANN {b // 4} block {b % 4}: "
            f"requested {req}; using {shared.conflict_chosen[0]:g} ms, the value most of "
            f"them request); {changed.size} synapses changed, in projections "
            f"{', '.join(repr(x) for x in names[:10])}"
            f"{' ...' if len(names) > 10 else ''}; Projection.get shows the realised "
            "values")
    return RealisedSTP(stp, message)


def routed_delays(result: MappingResult, dt: float, wafer_seed: int) -> np.ndarray:
    """Delay (ms) of every synapse as the wafer realises it: the routed delay of its L1
    route (0.0397 ms per HICANN passed + 0.644 ms) plus a fixed Gaussian spread per synapse
    (sigma ``DELAY_JITTER_MS``, drawn from the wafer seed), at least one time step; NaN for
    lost synapses."""
    d = result.delay_ms
    rng = np.random.default_rng([wafer_seed, 0x0DE1A7])
    jitter = rng.normal(0.0, DELAY_JITTER_MS, size=d.size)
    return np.where(np.isnan(d), np.nan, np.maximum(d + jitter, dt))


def denmem_keys(result: MappingResult, cells: np.ndarray) -> np.ndarray:
    """``hicann * 512 + denmem`` of each cell's firing (first) denmem."""
    return result.placement.hicann[cells] * wafer.DENMEMS_PER_HICANN + \
        result.placement.x0[cells]
