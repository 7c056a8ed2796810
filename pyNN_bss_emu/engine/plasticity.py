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

Postsynaptic spikes of neurons with plastic input are kept in a ring per neuron (times and
``K-`` after each spike), back to the oldest time a plastic synapse onto the neuron may still
pair with (as NEST's archiving neurons keep their history): for the pair rule the last
presynaptic spike minus the delay, for the wafer rule the last arrival whose causal pairing
is open.  ``hist_need`` holds a lower bound of that time per neuron; a ring that would
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
HS_CAUSAL, HS_ACAUSAL, HS_TA_PREV, HS_TA_PEND, HS_CAUSAL_DONE = range(5)
N_HS = 5
#: the 4-bit weight
N_LEVELS = 16
#: initial ring length (entries per neuron)
HISTORY_START = 16


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
        cols = (self.tau_plus, self.A_plus, self.A_minus, self.mu_plus, self.mu_minus,
                self.w_min, self.w_max)
        n = np.asarray(self.synapses).size
        return np.ascontiguousarray(np.column_stack(
            [np.broadcast_to(np.asarray(c, dtype=float), (n,)) for c in cols]).reshape(n, N_PP))


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
        n = np.asarray(self.synapses).size
        cols = (self.tau_plus, self.tau_minus, self.th_high, self.th_low)
        return np.ascontiguousarray(np.column_stack(
            [np.broadcast_to(np.asarray(c, dtype=float), (n,)) for c in cols]).reshape(n, N_HP))

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
def register_post(r, t, hist_t, hist_k, hist_n, hist_tau_inv):
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


@njit(cache=True, inline="always")
def _newest_at_or_before(r, t, hist_t, hist_n):
    """Ring position (absolute count index) of the newest spike with time <= t + eps, or
    one below the oldest kept index if none."""
    H = hist_t.shape[1]
    n = hist_n[r]
    lo = max(0, n - H)
    q = n - 1
    while q >= lo and hist_t[r, q % H] > t + STDP_EPS:
        q -= 1
    return q


@njit(cache=True, inline="always")
def _oldest_after(r, t, q_start, hist_t, hist_n):
    """Absolute index of the oldest spike with time > t + eps among those up to ``q_start``
    (``q_start + 1`` if none)."""
    H = hist_t.shape[1]
    lo = max(0, hist_n[r] - H)
    q = q_start
    while q >= lo and hist_t[r, q % H] > t + STDP_EPS:
        q -= 1
    return q + 1


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
@njit(cache=True)
def pair_pre(j, t, d, r, w, pp_par, pp_state, hist_t, hist_k, hist_n, hist_tau_inv,
             hist_need):
    """Presynaptic spike of pair-rule synapse ``j`` at ``t`` (ms) with dendritic delay ``d``
    onto neuron row ``r``, current weight ``w`` (µS); returns the new weight."""
    tau_p = pp_par[j, PP_TAU_PLUS]
    a_p = pp_par[j, PP_A_PLUS]
    a_m = pp_par[j, PP_A_MINUS]
    mu_p = pp_par[j, PP_MU_PLUS]
    mu_m = pp_par[j, PP_MU_MINUS]
    w_min = pp_par[j, PP_W_MIN]
    w_max = pp_par[j, PP_W_MAX]
    k_plus = pp_state[j, PS_KPLUS]
    t_last = pp_state[j, PS_TLAST]
    H = hist_t.shape[1]
    t2 = t - d
    last_in = _newest_at_or_before(r, t2, hist_t, hist_n)
    first_in = _oldest_after(r, t_last - d, last_in, hist_t, hist_n)
    # facilitation by every postsynaptic spike since the last presynaptic one, oldest first
    for q in range(first_in, last_in + 1):
        kp = k_plus * np.exp((t_last - (hist_t[r, q % H] + d)) / tau_p)
        norm = w / w_max + a_p * (1.0 - w / w_max) ** mu_p * kp
        w = norm * w_max if norm < 1.0 else w_max
    # depression by the postsynaptic trace just before t - d (strictly before, as NEST)
    lo = max(0, hist_n[r] - H)
    q = last_in
    while q >= lo and not (t2 - hist_t[r, q % H] > STDP_EPS):
        q -= 1
    if q >= lo:
        k_minus = hist_k[r, q % H] * np.exp((hist_t[r, q % H] - t2) * hist_tau_inv[r])
        norm = w / w_max - a_m * (w / w_max) ** mu_m * k_minus
        w = norm * w_max if norm > 0.0 else 0.0
    if w < w_min:
        w = w_min
    pp_state[j, PS_KPLUS] = k_plus * np.exp((t_last - t) / tau_p) + 1.0
    pp_state[j, PS_TLAST] = t
    # the next spike's facilitation pairs with postsynaptic spikes after t - d
    if t - d < hist_need[r]:
        hist_need[r] = t - d
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


@njit(cache=True)
def hw_settle(jj, r, hp_par, hs, hist_t, hist_n, hist_need):
    """Pair the pending presynaptic arrival of wafer-rule synapse ``jj`` (if any) with the
    postsynaptic spikes since the previous arrival: the first one charges the causal
    accumulator (unless done already), the last one the acausal accumulator."""
    ta = hs[jj, HS_TA_PEND]
    if ta == NONE:
        return
    tp = hs[jj, HS_TA_PREV]
    H = hist_t.shape[1]
    lo = max(0, hist_n[r] - H)
    last = _newest_at_or_before(r, ta, hist_t, hist_n)
    if last >= lo:
        # postsynaptic spikes in (tp, ta]; before the first arrival every earlier one counts
        first = _oldest_after(r, tp, last, hist_t, hist_n) if tp != NONE else lo
        if last >= first:
            if hs[jj, HS_CAUSAL_DONE] == 0.0 and tp != NONE:
                hs[jj, HS_CAUSAL] += np.exp(-(hist_t[r, first % H] - tp)
                                            / hp_par[jj, HP_TAU_PLUS])
            hs[jj, HS_ACAUSAL] += np.exp(-(ta - hist_t[r, last % H])
                                         / hp_par[jj, HP_TAU_MINUS])
    hs[jj, HS_TA_PREV] = ta
    hs[jj, HS_TA_PEND] = NONE
    hs[jj, HS_CAUSAL_DONE] = 0.0
    # the causal pairing of this arrival needs the first postsynaptic spike after it
    if ta < hist_need[r]:
        hist_need[r] = ta


@njit(cache=True)
def hw_evaluate(jj, T, r, c, hp_par, hs, digital, levels, lut, cfg, reset,
                hist_t, hist_n, hist_need):
    """The controller evaluates wafer-rule synapse ``jj`` at ``T`` (ms); returns its weight
    (µS) afterwards."""
    if hs[jj, HS_TA_PEND] != NONE and hs[jj, HS_TA_PEND] <= T + STDP_EPS:
        hw_settle(jj, r, hp_par, hs, hist_t, hist_n, hist_need)
    tp = hs[jj, HS_TA_PREV]
    if hs[jj, HS_CAUSAL_DONE] == 0.0 and tp != NONE:
        # the first postsynaptic spike after the last arrival has charged the causal
        # accumulator already, whether or not the next arrival has come
        H = hist_t.shape[1]
        last = _newest_at_or_before(r, T, hist_t, hist_n)
        first = _oldest_after(r, tp, last, hist_t, hist_n)
        if last >= first and first >= max(0, hist_n[r] - H):
            hs[jj, HS_CAUSAL] += np.exp(-(hist_t[r, first % H] - tp) / hp_par[jj, HP_TAU_PLUS])
            hs[jj, HS_CAUSAL_DONE] = 1.0
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


@njit(cache=True)
def sweep_controllers(t_end, ctl_next_t, ctl_next_row, ctl_t_row, ctl_row_ptr,
                      row_syn_ptr, row_syn, hw_csr, hw_post_row, hp_par, hs, digital, levels,
                      lut, cfg, reset, hist_t, hist_n, hist_need, weight, counters):
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
                weight[hw_csr[jj]] = hw_evaluate(jj, T, hw_post_row[jj], c, hp_par, hs,
                                                 digital, levels, lut, cfg, reset,
                                                 hist_t, hist_n, hist_need)
                counters[1] += 1
                if digital[jj] != before:
                    counters[2] += 1
            counters[0] += 1
            ctl_next_row[c] = (ctl_next_row[c] + 1) % n_rows
            ctl_next_t[c] = T + ctl_t_row[c]


@njit(cache=True)
def hw_pre(jj, t, d, r, hp_par, hs, hist_t, hist_n, hist_need):
    """Presynaptic spike of wafer-rule synapse ``jj`` emitted at ``t`` (ms); it arrives at
    the synapse ``d`` ms later.  The previous arrival is paired first (exactly, unless it is
    still in flight: then with the postsynaptic spikes known so far)."""
    if hs[jj, HS_TA_PEND] != NONE:
        hw_settle(jj, r, hp_par, hs, hist_t, hist_n, hist_need)
    hs[jj, HS_TA_PEND] = t + d
    # its acausal pairing needs the last postsynaptic spike before the arrival: the newest
    # one now or one still to come
    n = hist_n[r]
    if n > 0:
        t_newest = hist_t[r, (n - 1) % hist_t.shape[1]]
        if t_newest < hist_need[r]:
            hist_need[r] = t_newest


@njit(cache=True)
def plastic_pre(k, t, d, r, plast, w, pp_par, pp_state, hp_par, hs, hist_t, hist_k, hist_n,
                hist_tau_inv, hist_need):
    """Plasticity at the presynaptic spike of CSR synapse ``k`` (``plast[k]``: -1 static,
    j >= 0 pair rule, -2 - j wafer rule); returns the weight the spike carries."""
    j = plast[k]
    if j >= 0:
        return pair_pre(j, t, d, r, w, pp_par, pp_state, hist_t, hist_k, hist_n,
                        hist_tau_inv, hist_need)
    if j <= -2:
        hw_pre(-2 - j, t, d, r, hp_par, hs, hist_t, hist_n, hist_need)
    return w


@njit(cache=True)
def history_need(pp_state, pp_delay, pp_post_row, hs, hw_post_row, hist_t, hist_n, need):
    """The exact horizon per postsynaptic ring (``need``, written): the oldest time any
    plastic synapse onto the neuron may still pair with -- pair rule: last presynaptic spike
    minus the delay (synapses that spiked); wafer rule: the last arrival while its causal
    pairing is open, and for an arrival still to be paired the last postsynaptic spike
    before it."""
    need[:] = np.inf
    for j in range(pp_state.shape[0]):
        if pp_state[j, PS_KPLUS] > 0.0:
            r = pp_post_row[j]
            need[r] = min(need[r], pp_state[j, PS_TLAST] - pp_delay[j])
    H = hist_t.shape[1]
    for jj in range(hs.shape[0]):
        r = hw_post_row[jj]
        if hs[jj, HS_TA_PREV] != NONE and hs[jj, HS_CAUSAL_DONE] == 0.0:
            need[r] = min(need[r], hs[jj, HS_TA_PREV])
        if hs[jj, HS_TA_PEND] != NONE:
            q = _newest_at_or_before(r, hs[jj, HS_TA_PEND], hist_t, hist_n)
            if q >= max(0, hist_n[r] - H):
                need[r] = min(need[r], hist_t[r, q % H])
