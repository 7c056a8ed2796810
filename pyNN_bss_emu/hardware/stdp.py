"""The synapse array's STDP circuit and how a PyNN rule is translated onto it.

The circuit (``shared/reference/brainscales1.md``, "Audit 2026-12", STDP hardware; Pfeil et
al. 2012; NEST ``stdp_facetshw_synapse_hom``):

* every synapse has a correlation sensor with a causal and an acausal accumulator; reduced
  symmetric nearest-neighbour pairing charges them with ``exp(-dt/tau)`` per pair;
* one weight-update controller per synapse array (2 per HICANN) sweeps its rows
  continuously; per row it reads the evaluation bits of all synapses, looks the new 4-bit
  weights up and writes them back, then resets the accumulators;
* two 4-bit evaluation patterns (e_cc, e_ca, e_ac, e_aa) compare the accumulators with two
  thresholds (``V_thigh``/``V_tlow``); the two bits select one of three 16-entry lookup
  tables (causal (1, 0), acausal (0, 1), both (1, 1)); (0, 0) leaves the weight as it is;
* the thresholds, the reset voltages and the sensor's time constants are floating-gate
  voltages shared by one FG block (a quadrant of the HICANN's synapse arrays); the tables and
  the evaluation patterns belong to the controller (one synapse array).

Translation of PyNN's ``STDPMechanism(SpikePairRule, <weight dependence>)`` (docs/plasticity.md):

* ``tau_plus``/``tau_minus`` -> the sensor's time constants (range :data:`TAU_RANGE_MS` [E]);
* the 4-bit levels stand for the weights between the row's g(0) and g(15), programmed so
  that ``w_max`` is a level (the row's gmax includes it); one level is ``w_max / 15``;
* an additive rule moves ``A_plus * w_max`` per causal pair at dt = 0: a level needs
  ``1 / (15 A_plus)`` pairs.  The evaluation patterns compare a weighted difference of the
  accumulators, ``a_c - rho a_a``, with the threshold (:data:`CONFIGBIT`; rho = 1/2, 1 or 2,
  the nearest to ``A_minus / A_plus``); the controller moves ``s_plus`` levels when the
  causal side leads by more than the threshold, ``s_minus`` levels when the acausal side
  does: the integer steps (1..:data:`MAX_STEP`) whose ratio is nearest to what rho leaves
  of ``A_plus / A_minus``, and the threshold ``s_plus / (15 A_plus)`` pairs (range
  :data:`THRESHOLD_RANGE` [E]), so the causal branch is exact on average and the acausal one
  acts as ``A_plus rho s_minus / s_plus``;
* the weight dependence shapes the tables: causal ``d + round(s_plus f+(d))``, acausal
  ``d - round(s_minus f-(d))``, both ``d + round(s_plus f+ - s_minus f-)``, with NEST's
  ``f+ = (1 - w/w_max)^mu_plus`` and ``f- = (w/w_max)^mu_minus`` (mu = 0 additive, 1
  multiplicative, Gutig's mu in between), clipped to 0..15.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: HICANN clock of the synapse controller (Hz; marocco's PLL default, 125 MHz) [V]
CONTROLLER_CLOCK_HZ = 125e6
#: clock cycles of the controller's commands (halbe ``SynapseController::cycles_synarray``) [V]
CYCLES = {"START_READ": 34, "READ": 18, "WRITE": 6, "RST_CORR": 21, "CLOSE_ROW": 3}
#: column sets of 32 synapses per row (256 synapses)
COLUMN_SETS = 8
#: cycles per row: open the row, read, write and reset each column set, close it [E] (the
#: command sequence of the AUTO sweep is our reading of halbe; the sweep time per row on
#: BSS-1 was never published)
CYCLES_PER_ROW = CYCLES["START_READ"] + COLUMN_SETS * (
    CYCLES["READ"] + CYCLES["WRITE"] + CYCLES["RST_CORR"]) + CYCLES["CLOSE_ROW"]
#: rows per synapse array
ROWS_PER_ARRAY = 224
#: sensor time constants realisable (bio ms at speed-up 1e4) [E]
TAU_RANGE_MS = (2.0, 200.0)
#: accumulator thresholds realisable, in pairs at dt = 0 [E]
THRESHOLD_RANGE = (0.5, 100.0)
#: the largest LUT step (levels) the translation uses
MAX_STEP = 3
#: spread of a synapse's comparator thresholds (relative, fixed pattern) [E]
THRESHOLD_MISMATCH = 0.05
#: evaluation patterns (e_cc, e_ca, e_ac, e_aa) the translation programs, by the weight rho
#: of the acausal accumulator: the comparators take a weighted *difference* of the
#: accumulators, bit 0 = (a_c - rho a_a > T), bit 1 = (rho a_a - a_c > T), so a synapse moves
#: by the net correlation of its pairs, as an additive rule with A_minus = rho A_plus does
#: (NEST's default patterns (0,0,1,0)/(0,1,0,0) test each accumulator alone, and a synapse
#: with many pairs of both signs sets both bits).  The averaging comparator
#: (V_tlow + e_ac a_c + e_ca a_a) / (1 + e_ac + e_ca) > (V_thigh + e_cc a_c + e_aa a_a) /
#: (1 + e_cc + e_aa) offers rho = 1/2, 1 and 2.
CONFIGBIT = {0.5: np.array([[0, 1, 1, 1], [1, 1, 0, 1]], dtype=np.int64),
             1.0: np.array([[0, 0, 1, 1], [1, 1, 0, 0]], dtype=np.int64),
             2.0: np.array([[1, 0, 1, 1], [1, 1, 1, 0]], dtype=np.int64)}


def pattern_form(pattern) -> tuple[int, int, int, int]:
    """An evaluation pattern (e_cc, e_ca, e_ac, e_aa) as a linear test
    ``c_c a_c + c_a a_a > k_h V_thigh - k_l V_tlow``: returns (c_c, c_a, k_h, k_l)."""
    e_cc, e_ca, e_ac, e_aa = (int(x) for x in pattern)
    left, right = 1 + e_ac + e_ca, 1 + e_cc + e_aa
    return right * e_ac - left * e_cc, right * e_ca - left * e_aa, left, right


def thresholds_for(rho: float, T: float) -> tuple[float, float]:
    """(V_thigh, V_tlow) in accumulator units (0 = the capacitors' reset level) for which
    the patterns of ``rho`` test a_c - rho a_a > T and rho a_a - a_c > T."""
    rows, rhs = [], []
    for bit, pattern in enumerate(CONFIGBIT[rho]):
        c_c, c_a, k_h, k_l = pattern_form(pattern)
        g = c_c if bit == 0 else -c_c          # the factor the test carries
        rows.append([k_h, -k_l])
        rhs.append(g * T)
    A = np.array(rows, dtype=float)
    if abs(np.linalg.det(A)) < 1e-12:          # both tests alike (rho = 1): V_tlow = 0
        return float(rhs[0] / A[0, 0]), 0.0
    th, tl = np.linalg.solve(A, np.array(rhs, dtype=float))
    return float(th), float(tl)
#: reset both accumulators after any table was applied (hardware: all or nothing)
RESET = np.ones(6, dtype=np.int64)
#: columns of a projection's STDP request (user units for the weights)
STDP_NAMES = ("tau_plus", "tau_minus", "A_plus", "A_minus", "w_min", "w_max",
              "mu_plus", "mu_minus")


def row_time_ms(speedup: float) -> float:
    """Biological time the controller needs per row (ms) at ``speedup``."""
    return CYCLES_PER_ROW / CONTROLLER_CLOCK_HZ * 1e3 * speedup


def lut_steps(A_plus: float, A_minus: float) -> tuple[int, int]:
    """Integer steps (s_plus, s_minus), 1..MAX_STEP, whose ratio is nearest to
    ``A_plus / A_minus`` (ties: the smaller steps); a zero amplitude gives step 0."""
    if A_plus <= 0 or A_minus <= 0:
        return (0 if A_plus <= 0 else 1), (0 if A_minus <= 0 else 1)
    best = None
    ratio = np.log(A_plus / A_minus)
    for sp in range(1, MAX_STEP + 1):
        for sm in range(1, MAX_STEP + 1):
            err = abs(np.log(sp / sm) - ratio)
            key = (round(err, 12), sp + sm)
            if best is None or key < best[0]:
                best = (key, sp, sm)
    return best[1], best[2]


def lookup_tables(s_plus: int, s_minus: int, mu_plus: float, mu_minus: float) -> np.ndarray:
    """The three 16-entry tables (causal, acausal, both) of a weight dependence."""
    d = np.arange(16, dtype=float)
    x = d / 15.0
    with np.errstate(divide="ignore", invalid="ignore"):
        f_plus = np.power(1.0 - x, mu_plus)
        f_minus = np.power(x, mu_minus)
    up = np.rint(s_plus * f_plus)
    down = np.rint(s_minus * f_minus)
    both = np.rint(s_plus * f_plus - s_minus * f_minus)
    return np.clip(np.stack([d + up, d - down, d + both]), 0, 15).astype(np.int64)


@dataclass
class CircuitRequest:
    """What one STDP request (one distinct parameter set) needs of the circuit, and how far
    it differs from the PyNN rule (``adaptations``: readable phrases, empty if none).
    ``threshold`` T (pairs), ``rho`` the acausal weight of the comparators, ``configbit``
    their two patterns and ``th_high``/``th_low`` the voltages that realise T."""
    tau_plus: float
    tau_minus: float
    threshold: float
    lut: np.ndarray
    s_plus: int
    s_minus: int
    A_minus_realised: float
    adaptations: list
    rho: float = 1.0
    configbit: np.ndarray = None
    th_high: float = 0.0
    th_low: float = 0.0


#: cost (in log units of the A_minus/A_plus error) of each table step beyond one level: a
#: coarser step makes learning jumpier for the same mean drift [E]
STEP_PENALTY = 0.15


def comparator_and_steps(A_plus: float, A_minus: float) -> tuple[float, int, int]:
    """The comparators' acausal weight rho (1/2, 1, 2) and the table steps (s_plus, s_minus)
    whose ``rho s_minus / s_plus`` is nearest to ``A_minus / A_plus`` (in log), each step
    beyond one level costing :data:`STEP_PENALTY`; ties: rho 1, smaller steps.  A zero
    amplitude: rho 1 and :func:`lut_steps`."""
    if A_plus <= 0 or A_minus <= 0:
        return (1.0, *lut_steps(A_plus, A_minus))
    r = np.log(A_minus / A_plus)
    best = None
    for rho in (1.0, 0.5, 2.0):
        for sp in range(1, MAX_STEP + 1):
            for sm in range(1, MAX_STEP + 1):
                score = abs(np.log(rho * sm / sp) - r) + STEP_PENALTY * (sp + sm - 2)
                if best is None or round(score, 12) < round(best[0], 12):
                    best = (score, rho, sp, sm)
    return best[1], best[2], best[3]


def circuit_request(tau_plus: float, tau_minus: float, A_plus: float, A_minus: float,
                    w_min: float, mu_plus: float, mu_minus: float) -> CircuitRequest:
    """Translate one parameter set of PyNN's pair rule (see the module docstring)."""
    notes = []
    tp = float(np.clip(tau_plus, *TAU_RANGE_MS))
    tm = float(np.clip(tau_minus, *TAU_RANGE_MS))
    for name, asked, got in (("tau_plus", tau_plus, tp), ("tau_minus", tau_minus, tm)):
        if got != asked:
            notes.append(f"{name} {asked:g} ms -> {got:g} ms (sensor range "
                         f"{TAU_RANGE_MS[0]:g}..{TAU_RANGE_MS[1]:g} ms)")
    # the comparators weigh the acausal accumulator by rho; the tables' steps carry what
    # remains of the ratio
    rho, s_plus, s_minus = comparator_and_steps(A_plus, A_minus)
    a_ref = A_plus if A_plus > 0 else A_minus
    s_ref = s_plus if A_plus > 0 else s_minus
    threshold = s_ref / (15.0 * a_ref) if a_ref > 0 else THRESHOLD_RANGE[1]
    th = float(np.clip(threshold, *THRESHOLD_RANGE))
    if a_ref > 0 and th != threshold:
        notes.append(f"threshold for A = {a_ref:g} needs {threshold:.3g} pairs, the "
                     f"comparators take {THRESHOLD_RANGE[0]:g}..{THRESHOLD_RANGE[1]:g}: "
                     f"weight changes are {threshold / th:.3g}x as large")
    A_minus_real = (A_plus * rho * s_minus / s_plus) if (A_plus > 0 and s_plus > 0) \
        else A_minus
    if A_plus > 0 and A_minus > 0 and abs(A_minus_real / A_minus - 1) > 1e-9:
        notes.append(f"A_minus/A_plus {A_minus / A_plus:.3g} -> {rho * s_minus / s_plus:.3g} "
                     f"(comparator weight {rho:g}, 4-bit steps +{s_plus}/-{s_minus}: A_minus "
                     f"acts as {A_minus_real:.3g})")
    if w_min > 0:
        notes.append(f"w_min {w_min:g} is not a circuit setting: weights can fall to the "
                     "lowest level")
    lut = lookup_tables(s_plus, s_minus, mu_plus, mu_minus)
    if (mu_plus, mu_minus) != (0.0, 0.0):
        fixed = [int(d) for d in range(16) if lut[0, d] == d and lut[1, d] == d]
        notes.append(f"weight dependence (mu_plus={mu_plus:g}, mu_minus={mu_minus:g}) "
                     f"rounded onto 4-bit tables (levels that no branch moves: {fixed})")
    th_high, th_low = thresholds_for(rho, th)
    return CircuitRequest(tp, tm, th, lut, s_plus, s_minus, A_minus_real, notes, rho,
                          CONFIGBIT[rho], th_high, th_low)


def share_per_group(group: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One value per group: ``key`` (ints per synapse) most frequent in each group (ties: the
    smaller key).  Returns the chosen key per synapse and the groups that had conflicts."""
    group = np.asarray(group, dtype=np.int64)
    key = np.asarray(key, dtype=np.int64)
    if group.size == 0:
        return key.copy(), np.zeros(0, dtype=np.int64)
    pair = np.stack([group, key], axis=1)
    uniq, counts = np.unique(pair, axis=0, return_counts=True)
    order = np.lexsort((uniq[:, 1], -counts, uniq[:, 0]))
    best = uniq[order]
    first = np.r_[True, best[1:, 0] != best[:-1, 0]]
    groups, chosen = best[first, 0], best[first, 1]
    n_keys = np.bincount(np.searchsorted(groups, uniq[:, 0]), minlength=groups.size)
    out = chosen[np.searchsorted(groups, group)]
    return out, groups[n_keys > 1]
