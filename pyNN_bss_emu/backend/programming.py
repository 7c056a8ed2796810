"""Parameter programming on the wafer (marocco's ``parameter/`` stage): what the placed
neurons, the 4-bit synapses, the synapse drivers' STP circuits and the routed L1 paths realise.

Functions of arrays: the :class:`~.wafer.WaferBackend` calls them in the order of
:mod:`.invalidation` (neurons before weights: a weight's bio value depends on the realised
membrane capacitance) and gives the results to the engine.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..engine.plasticity import HardwareSTDP, unique_rows
from ..hardware import stdp as circuit
from ..hardware import wafer
from ..hardware.calibration import DenmemLayout, realise_neuron_parameters
from ..hardware.event_paths import DELAY_JITTER_MS
from ..hardware.parameter_transform import TransformSettings
from ..hardware.synapse_weights import (FixedPattern, GmaxConfig, level_table_bio_uS,
                                        neuron_capacitance_pF,
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
    #: (n_plastic, 16) the weight of each 4-bit level for the synapses ``levels_for`` asked
    #: for (in their order), None if none were asked for
    levels_uS: np.ndarray | None = None


def program_weights(requested_uS: np.ndarray, cm_nF: np.ndarray, neuron_size: np.ndarray,
                    result: MappingResult, *, speedup: float, big_capacitors: bool,
                    rounding: str, wafer_seed: int, gmax: GmaxConfig | None = None,
                    floor: bool = True, quantise: bool = True,
                    mismatch: bool = True,
                    levels_for: np.ndarray | None = None) -> RealisedWeights:
    """Realise every mapped synapse on the 4-bit array and its target's synaptic input: row
    gmax from the row's largest weight, nearest or stochastic rounding, fixed-pattern factors
    of this wafer, the input's offset (:mod:`~pyNN_bss_emu.hardware.synapse_weights`).

    ``requested_uS``, ``cm_nF`` (the realised capacitance of each synapse's target neuron)
    and ``neuron_size`` (its denmems) are per synapse in the mapping's order.  Rows are shared
    between projections, so all weights are realised together.  ``gmax`` is the row
    configuration table (None: the hardware table; ``GmaxConfig.marocco()`` for what
    marocco did); ``floor=False`` / ``quantise=False`` switch the synaptic input's offset /
    the 4-bit rounding off, ``mismatch=False`` the synapses' and drivers' fixed pattern
    (ablations).  ``levels_for`` (bool per synapse, realised ones): synapses whose 16 level
    weights are returned as well (STDP synapses; their request should be the largest weight
    they may learn, so the row's gmax covers it)."""
    real = np.asarray(result.realized, dtype=bool)
    levels = None
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
        if levels_for is not None:
            levels = level_table_bio_uS(rw, np.asarray(levels_for, dtype=bool)[real])
        stats = {"disabled": int(rw.n_disabled), "clipped": int(rw.n_clipped),
                 "rounded_to_zero": int(rw.n_rounded_to_zero), "below_min": int(rw.n_below_min),
                 "below_floor": int(rw.n_below_floor)}
    return RealisedWeights(out, stats, clipped, rounded, below_floor, floor_uS, levels)


def gather_weights(parts: list[tuple[np.ndarray, RealisedWeights]], n: int
                   ) -> RealisedWeights:
    """The :class:`RealisedWeights` of all connections from those of every wafer (each with
    the global connections it holds, in its order); counts are summed.  Without level
    tables (STDP stays on one wafer)."""
    out = RealisedWeights(np.full(n, np.nan), {}, np.zeros(n, dtype=bool),
                          np.zeros(n, dtype=bool), np.zeros(n, dtype=bool), np.full(n, np.nan))
    for conn, rw in parts:
        out.weight_uS[conn] = rw.weight_uS
        out.clipped[conn] = rw.clipped
        out.rounded_to_zero[conn] = rw.rounded_to_zero
        out.below_floor[conn] = rw.below_floor
        out.floor_uS[conn] = rw.floor_uS
        for key, v in rw.statistics.items():
            out.statistics[key] = out.statistics.get(key, 0) + v
    return out


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


@dataclass
class ProgrammedSTDP:
    """:func:`program_stdp`' result: the engine's wafer-rule table (synapse indices still in
    the order given; the backend sets the engine's indices), per synapse the chosen circuit
    parameters (``tau_plus``, ``tau_minus`` ms, ``threshold`` pairs, ``controller``), and the
    messages for the user: ``adaptations`` (parameter -> circuit compromises, by projection)
    and ``sharing`` (FG blocks / controllers whose synapses asked for different settings)."""
    table: HardwareSTDP
    adaptations: dict
    sharing: list


def _classes(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows ``values``: each row's class (index of its distinct value) and, per class,
    the first row that has it."""
    if values.shape[0] == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    _, first, cls = np.unique(values, axis=0, return_index=True, return_inverse=True)
    return cls.reshape(-1), first


def program_stdp(params: np.ndarray, projection_of: np.ndarray, labels: list[str],
                 hicann: np.ndarray, row: np.ndarray, column: np.ndarray,
                 digital: np.ndarray, levels_uS: np.ndarray, *, speedup: float,
                 wafer_seed: int, mismatch: bool = True) -> ProgrammedSTDP:
    """The synapse arrays' STDP circuits for realised plastic synapses
    (:mod:`~pyNN_bss_emu.hardware.stdp`): each distinct PyNN parameter set is translated;
    thresholds and sensor time constants are shared per FG block (the set most synapses of
    the block ask for), lookup tables per controller (one synapse array); thresholds get the
    comparators' fixed pattern.

    ``params`` (n, 7): tau_plus, tau_minus, A_plus, A_minus, w_min (µS), mu_plus, mu_minus;
    ``projection_of`` (n,) index into ``labels``; hardware coordinates per synapse; initial
    ``digital`` weights and ``levels_uS`` (n, 16)."""
    n = params.shape[0]
    sets, key = unique_rows(params)
    requests = [circuit.circuit_request(*s) for s in sets]
    adaptations: dict = {}
    for k, req in enumerate(requests):
        if req.adaptations:
            for p in np.unique(projection_of[key == k]):
                adaptations.setdefault(labels[int(p)], []).extend(
                    a for a in req.adaptations
                    if a not in adaptations.get(labels[int(p)], []))
    array = (np.asarray(row) >= circuit.ROWS_PER_ARRAY).astype(np.int64)
    block = np.asarray(hicann) * 4 + 2 * array + (np.asarray(column) >= 128)
    ctl_global = np.asarray(hicann) * 2 + array
    # what is shared: per FG block the voltages (tau_plus, tau_minus, threshold), per
    # controller the tables; parameter sets that agree on them do not conflict
    # (set_of_*: a parameter set that has each distinct shared value)
    fg_vals = np.array([(r.tau_plus, r.tau_minus, r.th_high, r.th_low) for r in requests])
    lut_vals = np.array([np.r_[r.lut.ravel(), r.configbit.ravel()] for r in requests])
    fg_of_set, set_of_fg = _classes(fg_vals)
    lut_of_set, set_of_lut = _classes(lut_vals)
    fg_key, bad_blocks = circuit.share_per_group(block, fg_of_set[key])
    lut_key, bad_ctl = circuit.share_per_group(ctl_global, lut_of_set[key])
    # per synapse: the parameter set whose shared values it gets
    block_key, ctl_key = set_of_fg[fg_key], set_of_lut[lut_key]
    sharing = []

    def conflict(kind: str, where: str, groups: np.ndarray, bad: np.ndarray, cls: np.ndarray,
                 chosen: np.ndarray, describe) -> str:
        """A message on the groups ``bad`` whose synapses ask for different classes."""
        members = groups == int(bad[0])
        asked = ", ".join(f"{describe(int(k))} ({int((cls[members] == k).sum())} synapses)"
                          for k in np.unique(cls[members]))
        changed = np.unique(projection_of[np.isin(groups, bad) & (cls != chosen)])
        names = ", ".join(repr(labels[int(p)]) for p in changed[:5])
        return (f"{kind} {bad.size} {where} hold plastic synapses whose rules differ there "
                f"(e.g. {asked}); each uses the setting most of its synapses ask for, so "
                f"synapses of {names}{' ...' if changed.size > 5 else ''} run with another one")

    if bad_blocks.size:
        r_of = lambda k: requests[int(set_of_fg[k])]    # noqa: E731
        sharing.append(conflict(
            "STDP thresholds and sensor time constants are floating-gate voltages shared by "
            "a quadrant of the synapse arrays:", "quadrant(s)", block, bad_blocks,
            fg_of_set[key], fg_key,
            lambda k: f"tau_plus {r_of(k).tau_plus:g} ms, tau_minus {r_of(k).tau_minus:g} ms, "
                      f"threshold {r_of(k).threshold:.3g} pairs"))
    if bad_ctl.size:
        sharing.append(conflict(
            "STDP lookup tables belong to the controller of a synapse array:", "array(s)",
            ctl_global, bad_ctl, lut_of_set[key], lut_key,
            lambda k: "tables of steps +{}/-{} with comparator weight {:g}".format(
                requests[int(set_of_lut[k])].s_plus, requests[int(set_of_lut[k])].s_minus,
                requests[int(set_of_lut[k])].rho)))
    th = np.array([r.th_high for r in requests])[block_key]
    tl = np.array([r.th_low for r in requests])[block_key]
    if mismatch and n:
        # the comparators' fixed pattern scales both voltages (their difference sets the
        # threshold)
        fp = FixedPattern((int(wafer_seed) * 7919 + 0x57D9) % 2 ** 31,
                          sigma_synapse=circuit.THRESHOLD_MISMATCH, sigma_driver=0.0)
        f = fp.synapse_factors(hicann, row, column)
        th, tl = th * f, tl * f
    ctl_ids, ctl = np.unique(ctl_global, return_inverse=True)
    ctl = ctl.reshape(-1)
    arow = np.asarray(row) % circuit.ROWS_PER_ARRAY
    first = np.full(ctl_ids.size, circuit.ROWS_PER_ARRAY)
    last = np.zeros(ctl_ids.size, dtype=np.int64)
    np.minimum.at(first, ctl, arow)
    np.maximum.at(last, ctl, arow)
    # the controller's lookup tables: those of the rule its synapses (mostly) ask for
    ctl_rule = np.zeros(ctl_ids.size, dtype=np.int64)
    ctl_rule[ctl] = ctl_key
    lut = np.stack([requests[k].lut for k in ctl_rule]) if n else np.zeros((0, 3, 16), int)
    t_row = circuit.row_time_ms(speedup)
    table = HardwareSTDP(
        synapses=np.arange(n), digital=np.asarray(digital, dtype=np.int64),
        levels_uS=np.asarray(levels_uS, dtype=float),
        tau_plus=np.array([r.tau_plus for r in requests])[block_key],
        tau_minus=np.array([r.tau_minus for r in requests])[block_key],
        th_high=th, th_low=tl, controller=ctl, row=arow - first[ctl], lut=lut,
        configbit=np.stack([requests[k].configbit for k in ctl_rule]) if n
        else np.zeros((0, 2, 4), dtype=np.int64),
        reset=np.broadcast_to(circuit.RESET, (ctl_ids.size, 6)).copy(),
        t_row=np.full(ctl_ids.size, t_row), n_rows=last - first + 1,
        phase=np.zeros(ctl_ids.size))
    return ProgrammedSTDP(table, adaptations, sharing)
