"""Spike-timing-dependent plasticity in the engine: tables (flat arrays) and compiled kernels.

Two rules, chosen per synapse by the backend (the engine does not know why):

* **Pair rule** (:class:`PairSTDP`): NEST's ``stdp_synapse``, all-to-all spike pairing with a
  presynaptic trace ``K+`` per synapse and a postsynaptic trace ``K-`` per neuron; the whole
  delay counts as dendritic; weights change only when a presynaptic spike is delivered, first
  facilitated by every postsynaptic spike in ``(t_last - d, t - d]``, then depressed by
  ``K-(t - d)``; the spike carries the new weight.  Weight dependence with NEST's
  ``mu_plus``/``mu_minus`` (0: additive, 1: multiplicative), clipped to ``[w_min, w_max]``.
* **Wafer rule** (:class:`HardwareSTDP`): the synapse array's correlation sensors and its
  weight-update controllers, as NEST's ``stdp_facetshw_synapse_hom`` describes them, but with the
  wafer's timing: per synapse a causal and an acausal accumulator (reduced symmetric
  nearest-neighbour pairing: the first postsynaptic spike after a presynaptic arrival charges
  the causal one with ``exp(-dt/tau_plus)``, the last postsynaptic spike before an arrival the
  acausal one with ``exp(-dt/tau_minus)``); the presynaptic spike *arrives* at the synapse after
  the routed (axonal) delay, the postsynaptic spike at once.  One controller per synapse array
  sweeps its rows continuously, one row per ``t_row`` ms; a row's evaluation compares each
  synapse's accumulators with its two thresholds through the two 4-bit evaluation patterns,
  picks one of three 16-entry lookup tables (causal, acausal, both; neither: unchanged), writes
  the new 4-bit weight and resets the accumulators as the reset pattern says.  Weights are
  table values: ``levels[j, digital]`` (µS, what the row's gmax, the fixed pattern and the
  synaptic input make of each level).

The wafer rule needs no history: a postsynaptic spike reaches the sensors of the neuron's
plastic synapses at once (an incoming list per neuron), as on the chip, and the synapse keeps
what the nearest-neighbour pairing needs (last arrival, pending arrival, last postsynaptic
spike before it).  For the pair rule, postsynaptic spikes are kept in a ring per neuron
(times and ``K-`` after each spike), back to the oldest time a plastic synapse onto the
neuron may still pair with (as NEST's archiving neurons keep their history): its last
presynaptic spike minus the delay.  ``hist_need`` holds a lower bound of that time per neuron; a ring that would
overwrite a younger entry stops the time loop, which recomputes the bound and, if it must,
grows the ring, and continues (bit-identical).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

#: no arrival (time sentinel, ms)
NONE = -1e300
#: tolerance of spike-time comparisons (ms), NEST's stdp_eps order
STDP_EPS = 1e-6
#: columns of PairSTDP parameters
PP_TAU_PLUS, PP_A_PLUS, PP_A_MINUS, PP_MU_PLUS, PP_MU_MINUS, PP_W_MIN, PP_W_MAX = range(7)
N_PP = 7
#: columns of the pair rule's state: presynaptic trace, last presynaptic spike (ms)
PS_KPLUS, PS_TLAST = range(2)
#: columns of HardwareSTDP parameters
HP_TAU_PLUS, HP_TAU_MINUS, HP_TH_HIGH, HP_TH_LOW = range(4)
N_HP = 4
#: columns of the wafer rule's state
#: (the sensor's time constants are kept with the state: a spike touches one 64-byte row)
HS_CAUSAL, HS_ACAUSAL, HS_TA_PREV, HS_TA_PEND, HS_CAUSAL_DONE, HS_LPB, HS_TAU_PLUS, \
    HS_TAU_MINUS = range(8)
N_HS = 8
#: the 4-bit weight
N_LEVELS = 16
#: initial ring length (entries per neuron)
HISTORY_START = 16


def _per_synapse(synapses, columns) -> np.ndarray:
    """(n, len(columns)) float table, each column a scalar or an array per synapse."""
    n = np.asarray(synapses).size
    return np.ascontiguousarray(np.column_stack(
        [np.broadcast_to(np.asarray(c, dtype=float), (n,)) for c in columns]
    ).reshape(n, len(columns)))


@dataclass
class PairSTDP:
    """NEST ``stdp_synapse`` on the synapses ``synapses`` (indices into the network's synapse
    table, creation order); per synapse ``tau_plus`` (ms), ``A_plus``, ``A_minus`` (NEST's
    lambda and alpha*lambda), ``mu_plus``, ``mu_minus``, ``w_min``, ``w_max`` (µS)."""
    synapses: np.ndarray
    tau_plus: np.ndarray
    A_plus: np.ndarray
    A_minus: np.ndarray
    mu_plus: np.ndarray
    mu_minus: np.ndarray
    w_min: np.ndarray
    w_max: np.ndarray

    def parameters(self) -> np.ndarray:
        """(n, N_PP) in the PP_* column order."""
        return _per_synapse(self.synapses, (self.tau_plus, self.A_plus, self.A_minus,
                                            self.mu_plus, self.mu_minus, self.w_min,
                                            self.w_max))


@dataclass
class HardwareSTDP:
    """The wafer rule on the synapses ``synapses`` (indices into the synapse table).

    Per synapse: ``digital`` (initial 4-bit weight 0..15), ``levels_uS`` (n, 16) the weight of
    each level (µS), ``tau_plus``/``tau_minus`` (ms), ``th_high``/``th_low`` (thresholds in
    accumulator units: one pairing at dt = 0 adds 1), ``controller`` (index) and ``row`` (the
    synapse's row as position in its controller's sweep, 0..n_rows-1).
    Per controller c: ``lut`` (C, 3, 16) tables (causal, acausal, both), ``configbit`` (C, 2, 4)
    the evaluation patterns (e_cc, e_ca, e_ac, e_aa), ``reset`` (C, 6) reset bits (causal,
    acausal per table), ``t_row`` (ms per row), ``n_rows`` (rows swept), ``phase`` (ms; the
    first row is evaluated at ``phase + t_row``)."""
    synapses: np.ndarray
    digital: np.ndarray
    levels_uS: np.ndarray
    tau_plus: np.ndarray
    tau_minus: np.ndarray
    th_high: np.ndarray
    th_low: np.ndarray
    controller: np.ndarray
    row: np.ndarray
    lut: np.ndarray
    configbit: np.ndarray
    reset: np.ndarray
    t_row: np.ndarray
    n_rows: np.ndarray
    phase: np.ndarray

    def parameters(self) -> np.ndarray:
        """(n, N_HP) in the HP_* column order."""
        return _per_synapse(self.synapses, (self.tau_plus, self.tau_minus, self.th_high,
                                            self.th_low))

    def row_table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Controllers' rows as CSR: ``ctl_row_ptr`` (C+1) into the rows, ``row_syn_ptr``
        (rows+1) into ``row_syn`` (wafer-rule synapse positions, by row)."""
        n_rows = np.asarray(self.n_rows, dtype=np.int64)
        ctl_row_ptr = np.concatenate([[0], np.cumsum(n_rows)]).astype(np.int64)
        glob_row = ctl_row_ptr[np.asarray(self.controller, dtype=np.int64)] + \
            np.asarray(self.row, dtype=np.int64)
        order = np.argsort(glob_row, kind="stable")
        counts = np.bincount(glob_row, minlength=int(ctl_row_ptr[-1]))
        row_syn_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return ctl_row_ptr, row_syn_ptr, order.astype(np.int64)

    def check(self, n_synapses: int) -> None:
        """Shapes and ranges (clear errors naming the field)."""
        n = np.asarray(self.synapses).size
        C = np.asarray(self.t_row).size
        if np.asarray(self.levels_uS).shape != (n, N_LEVELS):
            raise ValueError(f"levels_uS: shape {np.shape(self.levels_uS)}, expected ({n}, 16)")
        d = np.asarray(self.digital)
        if d.shape != (n,) or np.any((d < 0) | (d > 15)):
            raise ValueError("digital: one 4-bit weight 0..15 per synapse")
        lut = np.asarray(self.lut)
        if lut.shape != (C, 3, N_LEVELS) or np.any((lut < 0) | (lut > 15)):
            raise ValueError(f"lut: shape {lut.shape}, expected ({C}, 3, 16) with entries 0..15")
        if np.asarray(self.configbit).shape != (C, 2, 4):
            raise ValueError("configbit: shape (controllers, 2, 4)")
        if np.asarray(self.reset).shape != (C, 6):
            raise ValueError("reset: shape (controllers, 6)")
        if np.any(np.asarray(self.t_row) <= 0):
            raise ValueError("t_row: the time per row must be > 0 ms")
        ctl = np.asarray(self.controller)
        if n and (ctl.min() < 0 or ctl.max() >= C):
            raise ValueError("controller: index out of range")
        row = np.asarray(self.row)
        if n and (row.min() < 0 or np.any(row >= np.asarray(self.n_rows)[ctl])):
            raise ValueError("row: outside its controller's sweep")
        syn = np.asarray(self.synapses)
        if n and (syn.min() < 0 or syn.max() >= n_synapses):
            raise ValueError("synapses: index out of range")


# ============================================================ postsynaptic history
@njit(cache=True, inline="always")
def check_row(r, hist_need, hist_t, hist_n, hist_block):
    """Flag (``hist_block[0] = 1``) if row ``r``'s ring is full and its oldest entry is
    younger than ``hist_need[r]``: its next spike would overwrite an entry still needed, so
    the time loop stops before the next step (the rings grow from Python)."""
    H = hist_t.shape[1]
    n = hist_n[r]
    if n >= H and hist_t[r, n % H] > hist_need[r] - STDP_EPS:
        hist_block[0] = 1


@njit(cache=True, inline="always")
def register_post(r, t, hist_t, hist_k, hist_n, hist_tau_inv, hist_need, hist_block):
    """Neuron row ``r`` spiked at ``t`` (ms): append (t, K-) to its ring."""
    H = hist_t.shape[1]
    n = hist_n[r]
    km = 1.0
    if n > 0:
        q = (n - 1) % H
        km = hist_k[r, q] * np.exp((hist_t[r, q] - t) * hist_tau_inv[r]) + 1.0
    hist_t[r, n % H] = t
    hist_k[r, n % H] = km
    hist_n[r] = n + 1
    check_row(r, hist_need, hist_t, hist_n, hist_block)


@njit(cache=True, inline="always")
def _newest_at_or_before(r, t, hist_t, hist_n):
    """Ring position (absolute count index) of the newest spike with time <= t + eps, or
    one below the oldest kept index if none (binary search: a ring is sorted in time)."""
    H = hist_t.shape[1]
    n = hist_n[r]
    lo = max(0, n - H)
    if n == 0 or hist_t[r, (n - 1) % H] <= t + STDP_EPS:
        return n - 1                       # the common case: nothing after t yet
    a, b = lo, n - 1                       # invariant: entry b is after t
    if hist_t[r, a % H] > t + STDP_EPS:
        return lo - 1
    while b - a > 1:                       # entry a is at or before t
        m = (a + b) >> 1
        if hist_t[r, m % H] <= t + STDP_EPS:
            a = m
        else:
            b = m
    return a


@njit(cache=True)
def history_blocked(hist_need, hist_t, hist_n):
    """Whether some ring is full and its oldest entry is younger than ``hist_need`` of its
    row (a lower bound of the oldest time a plastic synapse onto the neuron may still pair
    with): one more spike could overwrite an entry a weight update still needs."""
    H = hist_t.shape[1]
    for r in range(hist_n.shape[0]):
        n = hist_n[r]
        if n >= H and hist_t[r, n % H] > hist_need[r] - STDP_EPS:
            return True
    return False


# ============================================================ pair rule (NEST stdp_synapse)
@njit(cache=True, inline="always")
def pair_pre(j, t, d, r, w, pp_set, pp_par, pp_state, hist_t, hist_k, hist_n, hist_tau_inv,
             hist_need, hist_block):
    """Presynaptic spike of pair-rule synapse ``j`` (parameter set ``pp_set[j]``) at ``t``
    (ms) with dendritic delay ``d`` onto neuron row ``r``, current weight ``w`` (µS);
    returns the new weight."""
    p = pp_set[j]
    tau_p = pp_par[p, PP_TAU_PLUS]
    a_p = pp_par[p, PP_A_PLUS]
    a_m = pp_par[p, PP_A_MINUS]
    mu_p = pp_par[p, PP_MU_PLUS]
    mu_m = pp_par[p, PP_MU_MINUS]
    w_max = pp_par[p, PP_W_MAX]
    k_plus = pp_state[j, PS_KPLUS]
    t_last = pp_state[j, PS_TLAST]
    H = hist_t.shape[1]
    t2 = t - d
    last_in = _newest_at_or_before(r, t2, hist_t, hist_n)
    # a ring is sorted in time: the oldest spike after t_last - d follows the newest one at
    # or before it (t_last - d < t2, so it is at most last_in + 1)
    first_in = _newest_at_or_before(r, t_last - d, hist_t, hist_n) + 1
    # facilitation by every postsynaptic spike since the last presynaptic one, oldest first
    for q in range(first_in, last_in + 1):
        kp = k_plus * np.exp((t_last - (hist_t[r, q % H] + d)) / tau_p)
        x = w / w_max
        # (1 - x)^mu without pow for the additive (0) and multiplicative (1) rules
        f = 1.0 if mu_p == 0.0 else (1.0 - x if mu_p == 1.0 else (1.0 - x) ** mu_p)
        norm = x + a_p * f * kp
        w = norm * w_max if norm < 1.0 else w_max
    # depression by the postsynaptic trace just before t - d (strictly before, as NEST)
    lo = max(0, hist_n[r] - H)
    q = last_in
    while q >= lo and not (t2 - hist_t[r, q % H] > STDP_EPS):
        q -= 1
    if q >= lo:
        k_minus = hist_k[r, q % H] * np.exp((hist_t[r, q % H] - t2) * hist_tau_inv[r])
        x = w / w_max
        f = 1.0 if mu_m == 0.0 else (x if mu_m == 1.0 else x ** mu_m)
        norm = x - a_m * f * k_minus
        w = norm * w_max if norm > 0.0 else 0.0
    w_min = pp_par[p, PP_W_MIN]
    if w < w_min:
        w = w_min
    pp_state[j, PS_KPLUS] = k_plus * np.exp((t_last - t) / tau_p) + 1.0
    pp_state[j, PS_TLAST] = t
    # the next spike's facilitation pairs with postsynaptic spikes after t - d
    if t2 < hist_need[r]:
        hist_need[r] = t2
        check_row(r, hist_need, hist_t, hist_n, hist_block)
    return w


# ============================================================ wafer rule
@njit(cache=True, inline="always")
def _evaluate(a_c, a_a, th_high, th_low, cfg, c, p):
    """One evaluation bit: the comparator of pattern ``p`` of controller ``c``
    (e_cc, e_ca, e_ac, e_aa) on the two accumulators and the two thresholds."""
    e_cc = cfg[c, p, 0]
    e_ca = cfg[c, p, 1]
    e_ac = cfg[c, p, 2]
    e_aa = cfg[c, p, 3]
    return (th_low + e_ac * a_c + e_ca * a_a) / (1 + e_ac + e_ca) > \
        (th_high + e_cc * a_c + e_aa * a_a) / (1 + e_cc + e_aa)


@njit(cache=True, inline="always")
def hw_settle(jj, hp_par, hs):
    """The pending presynaptic arrival of wafer-rule synapse ``jj`` has come: the last
    postsynaptic spike before it (if any since the previous arrival) charges the acausal
    accumulator; the arrival opens the causal pairing."""
    ta = hs[jj, HS_TA_PEND]
    lpb = hs[jj, HS_LPB]
    if lpb != NONE and (hs[jj, HS_TA_PREV] == NONE or lpb > hs[jj, HS_TA_PREV] + STDP_EPS):
        hs[jj, HS_ACAUSAL] += np.exp(-(ta - lpb) / hs[jj, HS_TAU_MINUS])
    hs[jj, HS_TA_PREV] = ta
    hs[jj, HS_TA_PEND] = NONE
    hs[jj, HS_LPB] = NONE
    hs[jj, HS_CAUSAL_DONE] = 0.0


@njit(cache=True, inline="always")
def hw_post(jj, t, hp_par, hs):
    """The postsynaptic neuron of wafer-rule synapse ``jj`` spiked at ``t`` (ms): the
    sensor sees it at once.  After the pending arrival it settles that arrival first; it is
    the first spike after the last arrival (causal pairing, once); before a pending arrival
    it is, so far, the last spike before it."""
    ta = hs[jj, HS_TA_PEND]
    if ta != NONE and t > ta + STDP_EPS:
        hw_settle(jj, hp_par, hs)
        ta = NONE
    tp = hs[jj, HS_TA_PREV]
    if hs[jj, HS_CAUSAL_DONE] == 0.0 and tp != NONE and t > tp + STDP_EPS:
        hs[jj, HS_CAUSAL] += np.exp(-(t - tp) / hs[jj, HS_TAU_PLUS])
        hs[jj, HS_CAUSAL_DONE] = 1.0
    if ta != NONE:
        hs[jj, HS_LPB] = t


@njit(cache=True, inline="always")
def hw_pre(jj, t, d, i_post, post_last, hp_par, hs):
    """Presynaptic spike of wafer-rule synapse ``jj`` emitted at ``t`` (ms); it arrives at
    the synapse ``d`` ms later.  A previous arrival still pending is settled first (exact
    unless it is still in flight, i.e. spikes closer than the delay); the neuron's newest
    spike is the last one before the new arrival until another comes."""
    if hs[jj, HS_TA_PEND] != NONE:
        hw_settle(jj, hp_par, hs)
    hs[jj, HS_TA_PEND] = t + d
    hs[jj, HS_LPB] = post_last[i_post]


@njit(cache=True, _nrt=False)
def hw_evaluate(jj, T, c, hp_par, hs, digital, levels, lut, cfg, reset):
    """The controller evaluates wafer-rule synapse ``jj`` at ``T`` (ms); returns its weight
    (µS) afterwards."""
    if hs[jj, HS_TA_PEND] != NONE and hs[jj, HS_TA_PEND] <= T + STDP_EPS:
        hw_settle(jj, hp_par, hs)
    a_c = hs[jj, HS_CAUSAL]
    a_a = hs[jj, HS_ACAUSAL]
    th_h = hp_par[jj, HP_TH_HIGH]
    th_l = hp_par[jj, HP_TH_LOW]
    e0 = _evaluate(a_c, a_a, th_h, th_l, cfg, c, 0)
    e1 = _evaluate(a_c, a_a, th_h, th_l, cfg, c, 1)
    sel = -1
    if e0 and not e1:
        sel = 0
    elif e1 and not e0:
        sel = 1
    elif e0 and e1:
        sel = 2
    if sel >= 0:
        digital[jj] = lut[c, sel, digital[jj]]
        if reset[c, 2 * sel] != 0:
            hs[jj, HS_CAUSAL] = 0.0
        if reset[c, 2 * sel + 1] != 0:
            hs[jj, HS_ACAUSAL] = 0.0
    return levels[jj, digital[jj]]


@njit(cache=True, _nrt=False)
def sweep_controllers(t_end, ctl_next_t, ctl_next_row, ctl_t_row, ctl_row_ptr,
                      row_syn_ptr, row_syn, hw_csr, hp_par, hs, digital, levels,
                      lut, cfg, reset, weight, counters):
    """Every controller evaluates the rows whose time has come by ``t_end`` (ms), in order;
    ``weight`` (CSR) receives the new weights.  ``counters``: [rows evaluated, synapses
    evaluated, weights changed]."""
    for c in range(ctl_next_t.shape[0]):
        n_rows = ctl_row_ptr[c + 1] - ctl_row_ptr[c]
        if n_rows == 0:
            continue
        while ctl_next_t[c] <= t_end + STDP_EPS:
            T = ctl_next_t[c]
            row = ctl_row_ptr[c] + ctl_next_row[c]
            for q in range(row_syn_ptr[row], row_syn_ptr[row + 1]):
                jj = row_syn[q]
                before = digital[jj]
                weight[hw_csr[jj]] = hw_evaluate(jj, T, c, hp_par, hs, digital, levels, lut,
                                                 cfg, reset)
                counters[1] += 1
                if digital[jj] != before:
                    counters[2] += 1
            counters[0] += 1
            ctl_next_row[c] = (ctl_next_row[c] + 1) % n_rows
            ctl_next_t[c] = T + ctl_t_row[c]


@njit(cache=True, _nrt=False)
def post_spikes(t, spiked, hist_row, hist_t, hist_k, hist_n, hist_tau_inv, hist_need,
                hist_block, hw_in_ptr, hw_in, post_last, hp_par, hs):
    """STDP's view of this step's postsynaptic spikes (at ``t`` ms): the pair rule's rings
    get them, the wafer rule's synapses onto the neuron see them at once."""
    for i in range(spiked.shape[0]):
        if spiked[i]:
            if hist_row[i] >= 0:
                register_post(hist_row[i], t, hist_t, hist_k, hist_n, hist_tau_inv, hist_need,
                              hist_block)
            if hw_in_ptr.shape[0] > 0:
                for q in range(hw_in_ptr[i], hw_in_ptr[i + 1]):
                    hw_post(hw_in[q], t, hp_par, hs)
                post_last[i] = t


@njit(cache=True)
def history_need(pp_state, pp_delay, pp_post_row, hist_t, hist_n, need):
    """The exact horizon per postsynaptic ring (``need``, written): the oldest time a
    pair-rule synapse onto the neuron may still pair with, its last presynaptic spike minus
    the delay (synapses that have spiked)."""
    need[:] = np.inf
    for j in range(pp_state.shape[0]):
        if pp_state[j, PS_KPLUS] > 0.0:
            r = pp_post_row[j]
            need[r] = min(need[r], pp_state[j, PS_TLAST] - pp_delay[j])


def unique_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a 2-D float array (sorted) and each row's index among them, like
    ``np.unique(a, axis=0, return_inverse=True)`` but by a lexsort (np.unique sorts rows as
    opaque bytes, ~40x slower for 10^5 rows)."""
    a = np.asarray(a, dtype=float)
    if a.shape[0] == 0:
        return a.copy(), np.zeros(0, dtype=np.int64)
    if np.all(a == a[0]):                       # the common case: one parameter set
        return a[:1].copy(), np.zeros(a.shape[0], dtype=np.int64)
    order = np.lexsort(a.T[::-1])
    s = a[order]
    new = np.r_[True, np.any(s[1:] != s[:-1], axis=1)]
    inverse = np.empty(a.shape[0], dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return s[new], inverse
