"""Compiled (numba) kernels of the emulation engine.

Units everywhere: time ms, voltage mV, conductance µS, current nA, capacitance nF
(so µS·mV = nA and nA/nF = mV/ms).

The neuron model is the conductance-based AdEx (``EIF_cond_exp_isfa_ista``) of which
``IF_cond_exp`` is the special case ``delta_T = a = b = 0``.  The update order inside one time
step follows NEST's ``aeif_cond_exp``/``iaf_cond_exp`` so that the ideal engine can be
cross-checked against NEST spike by spike:

0. set the injected currents of the step (current sources, :mod:`.currents`; a constant
   over the step, like NEST's current generators),
1. integrate [t_s, t_s+dt] with the membrane clamped to v_reset while refractory:

   - LIF neurons (no exponential or adaptation term) with an exponential integrator: within a
     step the membrane relaxes exponentially towards the conductance-weighted reversal
     potential, using each conductance's exact mean over the step (one exp per neuron-step;
     error ~1e-4 mV per spike interval against NEST's adaptive RKF45);
   - AdEx neurons with RK4 (ten sub-steps during the upswing), detecting a crossing of v_peak
     after each sub-step (reset, w += b, refractory),

2. decrement the refractory counter,
3. add the synaptic input arriving at t_s+dt (conductance jumps from the ring buffer),
4. emit the spikes of this step (stamped t_s+dt) into the ring buffer at their delays,
5. write the recorded samples that fall on t_s+dt.

Delays: the ring buffers have ``L`` rows (arrival steps), at most a memory-bounded horizon (see
``network.Network``); a delivery ``delay >= L`` steps ahead waits in the *far queue*, a binary
min-heap of (arrival step, sequence number, neuron, receptor) rows plus weights.  After each
step's input has been taken from the ring, the far events that arrive within the next ``L - 1``
steps move into their (just emptied or still empty) ring rows, in heap order, i.e. by arrival
and, for one arrival, in the order they were emitted.  Every far event of an arrival was emitted
before any event that reaches the same arrival through the ring directly (its delay is longer),
so each ring cell sums its inputs in exactly the order a ring spanning all delays would:
the result is bit-identical whatever ``L`` is.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from .currents import inject
from .fastexp import exp_vec
from .plasticity import hw_pre, pair_pre, post_spikes, sweep_controllers

#: LLVM may fuse a multiplication and the addition that uses it into one fused multiply-add
#: (one rounding instead of two; the CPU's FMA units).  Only contraction: no reassociation,
#: no reciprocal tricks, no assumptions about NaN, so the result of every expression stays
#: determined by the source and is the same in the vectorised loops, their scalar remainders
#: and the serial AdEx path (bit-identical spikes for any number of MPI ranks).  It made the
#: LIF membrane pass ~25 % faster (the degree-13 polynomial of ``exp_vec`` is a chain of
#: multiply-adds).
FASTMATH = {"contract"}

# column indices of the per-neuron parameter matrix ``P`` (shape (n_neurons, N_PARAMS))
P_CM, P_GL, P_EL, P_VRESET, P_VTHRESH, P_VPEAK, P_TAUE, P_TAUI, P_EE, P_EI, P_A, P_B, \
    P_TAUW, P_DELTAT, P_IOFFSET = range(15)
N_PARAMS = 15
PARAM_COLUMNS = ("cm", "g_l", "e_l", "v_reset", "v_thresh", "v_peak", "tau_syn_E", "tau_syn_I",
                 "e_rev_E", "e_rev_I", "a", "b", "tau_w", "delta_T", "i_offset")

# recorded state variables
VAR_V, VAR_GE, VAR_GI, VAR_W = 0, 1, 2, 3

# sub-steps used while the exponential spike current is non-negligible (AdEx upswing)
_N_SUB_UPSWING = 10
# exp() argument where the upswing sub-stepping starts: exp(-4) ≈ 2 % of the leak slope
_UPSWING_ARG = -4.0


#: tolerance (ms) of time comparisons in the event paths, far below the 4 ns (0.04 ms bio)
#: hardware timestamps; keeps grid-aligned coincidences independent of the absolute time
TIME_EPS = 1e-7


@njit(cache=True, inline="always", fastmath=FASTMATH)
def register_free(wait: float, service: float) -> bool:
    """Whether an event that must wait ``wait`` ms for a server of ``service`` ms per event
    finds the one waiting register free: only when at most the event in service is ahead.
    A wait of exactly one service time (simultaneous arrivals on the time grid) is accepted
    whatever the float rounding of the absolute time."""
    return wait <= service + TIME_EPS


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _dvdt(v, w, ge, gi, p, i, i_ext, refractory):
    if refractory:
        return 0.0
    vv = min(v, p[P_VPEAK, i])
    i_spike = 0.0
    if p[P_DELTAT, i] > 0.0:
        i_spike = p[P_GL, i] * p[P_DELTAT, i] * np.exp((vv - p[P_VTHRESH, i]) / p[P_DELTAT, i])
    return (-p[P_GL, i] * (vv - p[P_EL, i]) + i_spike - ge * (vv - p[P_EE, i])
            - gi * (vv - p[P_EI, i]) - w + p[P_IOFFSET, i] + i_ext) / p[P_CM, i]


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _dwdt(v, w, p, i, refractory, v_reset):
    vv = v_reset if refractory else min(v, p[P_VPEAK, i])
    return (p[P_A, i] * (vv - p[P_EL, i]) - w) / p[P_TAUW, i]


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _substep(v, w, ge0, gi0, h, p, i, i_ext, refractory, dec_e_half, dec_i_half):
    """One RK4 step of (v, w) over ``h`` with exponentially decaying conductances ``ge0, gi0``
    (``dec_*_half`` = their decay over h/2).

    The conductances are solved exactly (they only decay between input events), so RK4 only
    carries the membrane and the adaptation current.  Returns the new (v, w).
    """
    v_reset = p[P_VRESET, i]
    if refractory:
        v = v_reset
    ge_m = ge0 * dec_e_half
    gi_m = gi0 * dec_i_half
    ge_1 = ge_m * dec_e_half
    gi_1 = gi_m * dec_i_half
    k1v = _dvdt(v, w, ge0, gi0, p, i, i_ext, refractory)
    k1w = _dwdt(v, w, p, i, refractory, v_reset)
    k2v = _dvdt(v + 0.5 * h * k1v, w + 0.5 * h * k1w, ge_m, gi_m, p, i, i_ext, refractory)
    k2w = _dwdt(v + 0.5 * h * k1v, w + 0.5 * h * k1w, p, i, refractory, v_reset)
    k3v = _dvdt(v + 0.5 * h * k2v, w + 0.5 * h * k2w, ge_m, gi_m, p, i, i_ext, refractory)
    k3w = _dwdt(v + 0.5 * h * k2v, w + 0.5 * h * k2w, p, i, refractory, v_reset)
    k4v = _dvdt(v + h * k3v, w + h * k3w, ge_1, gi_1, p, i, i_ext, refractory)
    k4w = _dwdt(v + h * k3v, w + h * k3w, p, i, refractory, v_reset)
    v_new = v + h / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v)
    w_new = w + h / 6.0 * (k1w + 2.0 * k2w + 2.0 * k3w + k4w)
    if refractory:
        v_new = v_reset
    return v_new, w_new


@njit(cache=True, fastmath=FASTMATH)
def decay_factors(PT, dt):
    """Per-neuron conductance factors for one step ``dt`` (rows: decay exp(-dt/tau) for exc and
    inh, the exact step means (tau/dt)(1 - exp(-dt/tau)), decay over half a step and over an
    upswing sub-step, and dt / C_m (ms/nF) of the LIF step); ``PT`` is the parameter matrix
    transposed (N_PARAMS, n)."""
    n = PT.shape[1]
    out = np.empty((9, n))
    for i in range(n):
        out[8, i] = dt / PT[P_CM, i]
        for j in range(2):
            tau = PT[P_TAUE + j, i]
            d = np.exp(-dt / tau)
            out[j, i] = d
            out[2 + j, i] = tau / dt * (1.0 - d)
            out[4 + j, i] = np.exp(-0.5 * dt / tau)
            out[6 + j, i] = np.exp(-dt / (_N_SUB_UPSWING * tau))
    return out


@njit(cache=True, _nrt=False, fastmath=FASTMATH)
def _adex_step(i, dt, p, D, ref_steps, v, w, ge, gi, refrac, i_ext):
    """RK4 step of an AdEx neuron (sub-stepped during the upswing); returns True on a spike
    and leaves the refractory counter as it should be at the end of the step."""
    refr = refrac[i] > 0
    vi = v[i]
    wi = w[i]
    nsub = 1
    if p[P_DELTAT, i] > 0.0 and not refr:
        if (vi - p[P_VTHRESH, i]) / p[P_DELTAT, i] > _UPSWING_ARG:
            nsub = _N_SUB_UPSWING
    h = dt / nsub
    if nsub == 1:
        half_e, half_i, sub_e, sub_i = D[4, i], D[5, i], D[0, i], D[1, i]
    else:
        sub_e, sub_i = D[6, i], D[7, i]
        half_e, half_i = np.sqrt(sub_e), np.sqrt(sub_i)
    spiked = False
    ge_k = ge[i]
    gi_k = gi[i]
    for _ in range(nsub):
        vi, wi = _substep(vi, wi, ge_k, gi_k, h, p, i, i_ext[i], refr, half_e, half_i)
        ge_k *= sub_e
        gi_k *= sub_i
        if (not refr) and vi >= p[P_VPEAK, i]:
            spiked = True
            vi = p[P_VRESET, i]
            wi += p[P_B, i]
            if ref_steps[i] > 0:
                refr = True
                refrac[i] = ref_steps[i] + 1  # +1: decremented below
            else:
                # NEST may fire again within one step if t_ref == 0; we allow one spike per
                # step and neuron, which only matters for pathological parameter sets
                break
    if refrac[i] > 0:
        refrac[i] -= 1
    v[i] = vi
    w[i] = wi
    return spiked


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _lif_step(i, dt, p, D, ref_steps, v, ge, gi, refrac, i_ext, spiked):
    """Step 1-2 of LIF neuron ``i``: the membrane relaxes exponentially towards the
    conductance-weighted reversal potential (exact step means of the conductances), clamped
    while refractory; a crossing of v_peak is a spike."""
    g_e = ge[i] * D[2, i]
    g_i = gi[i] * D[3, i]
    g_l = p[P_GL, i]
    g_tot = g_l + g_e + g_i
    v_inf = (g_l * p[P_EL, i] + g_e * p[P_EE, i] + g_i * p[P_EI, i] + p[P_IOFFSET, i]
             + i_ext[i]) / g_tot
    v_new = v_inf + (v[i] - v_inf) * exp_vec(-g_tot * D[8, i])
    r = refrac[i]
    s = (v_new >= p[P_VPEAK, i]) and r == 0
    v[i] = p[P_VRESET, i] if (s or r > 0) else v_new
    refrac[i] = ref_steps[i] if s else max(r - 1, 0)
    spiked[i] = s


#: conductances (µS) below this are set to 0: a conductance left to decay for seconds without
#: input would otherwise become a subnormal float, and every arithmetic operation on one costs
#: ~100x more (microcode assist): a silent 106-neuron network ran at 14 µs instead of 0.5 µs
#: per step.  1e-300 µS is 290 orders of magnitude below any synaptic conductance.
G_FLUSH = 1e-300


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _flush_tiny(g):
    return g if abs(g) >= G_FLUSH else 0.0


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _conductance_step(i, slot, D, ge, gi, ring_e, ring_i):
    """Step 3 of neuron ``i``: its conductances decay and take the input arriving now."""
    ge[i] = _flush_tiny(ge[i] * D[0, i] + ring_e[slot, i])
    gi[i] = _flush_tiny(gi[i] * D[1, i] + ring_i[slot, i])
    ring_e[slot, i] = 0.0
    ring_i[slot, i] = 0.0


# The passes below compile with numba's "numpy" error model: the default ("python") guards
# every float division with a ZeroDivisionError branch, and a loop with such an exit cannot be
# vectorised.  Divisors here are conductances and capacitances, positive by validation.
# The passes index with unsigned integers: with an index that numba cannot prove
# non-negative (a range start read from memory) it emits Python's wrap-around for every
# access, which keeps the loops from vectorising (23 instead of 6 ns per neuron-step); views
# of the range would avoid that too, but each view costs reference counting per call, which
# dominated small networks (2 µs per step for 106 neurons).
@njit(cache=True, _nrt=False, error_model="numpy", fastmath=FASTMATH)
def _lif_membranes(lo, hi, p, D, v, ge, gi, i_ext):
    """Step 1 (all LIF) for neurons ``lo..hi-1``: v <- the exponential relaxation of
    :func:`_lif_step` towards the conductance-weighted reversal potential, before the
    threshold and refractory clamp.  Writes one array only, so that the compiler can prove
    the loop vectorisable with a few runtime overlap checks."""
    for k in range(hi - lo):
        i = np.uint64(lo + k)
        g_e = ge[i] * D[2, i]
        g_i = gi[i] * D[3, i]
        g_l = p[P_GL, i]
        g_tot = g_l + g_e + g_i
        v_inf = (g_l * p[P_EL, i] + g_e * p[P_EE, i] + g_i * p[P_EI, i] + p[P_IOFFSET, i]
                 + i_ext[i]) / g_tot
        v[i] = v_inf + (v[i] - v_inf) * exp_vec(-g_tot * D[8, i])


@njit(cache=True, _nrt=False, error_model="numpy", fastmath=FASTMATH)
def _lif_thresholds(lo, hi, p, ref_steps, v, refrac, spiked):
    """Step 1-2 (rest) for neurons ``lo..hi-1``: a crossing of v_peak outside the refractory
    period is a spike (``spiked``); spiking and refractory neurons are clamped to v_reset.
    Selects instead of branches, so that the loop vectorises: a spike or the end of a
    refractory period is a branch the CPU cannot predict."""
    for k in range(hi - lo):
        i = np.uint64(lo + k)
        r = refrac[i]
        s = (v[i] >= p[P_VPEAK, i]) & (r == 0)
        v[i] = p[P_VRESET, i] if (s | (r > 0)) else v[i]
        refrac[i] = ref_steps[i] if s else max(r - 1, 0)
        spiked[i] = s


@njit(cache=True, _nrt=False, error_model="numpy", fastmath=FASTMATH)
def _list_spikes(lo, hi, spiked, spike_list, m):
    """Append the indices of the spiking neurons among ``lo..hi-1`` to ``spike_list`` from
    position ``m`` on, in ascending order; returns the new length.  Eight flags are tested
    at a time (few neurons spike in a step); within a group the compaction is branch-free."""
    j = lo
    while j + 8 <= hi:
        hit = False
        for q in range(8):
            hit |= spiked[np.uint64(j + q)]
        if hit:
            for q in range(8):
                spike_list[np.uint64(m)] = j + q
                m += spiked[np.uint64(j + q)]
        j += 8
    while j < hi:
        spike_list[np.uint64(m)] = j
        m += spiked[np.uint64(j)]
        j += 1
    return m


@njit(cache=True, _nrt=False, error_model="numpy", fastmath=FASTMATH)
def _decay_and_arrive(lo, hi, g, D, receptor, ring, slot):
    """Step 3 for one receptor (0 exc, 1 inh) of neurons ``lo..hi-1``: g <- g decay + input
    arriving now; the ring row is emptied for its next arrival step."""
    row = np.uint64(slot)
    d = np.uint64(receptor)
    for k in range(hi - lo):
        i = np.uint64(lo + k)
        g[i] = _flush_tiny(g[i] * D[d, i] + ring[row, i])
        ring[row, i] = 0.0


@njit(cache=True, _nrt=False, error_model="numpy", fastmath=FASTMATH)
def _lif_range(lo, hi, slot, dt, p, D, ref_steps, v, ge, gi, refrac, i_ext, ring_e, ring_i,
               spiked, spike_list, m):
    """Steps 1-3 for the LIF neurons ``lo..hi-1`` (the vectorised passes); appends the
    spiking ones to ``spike_list`` from position ``m``; returns the new length."""
    _lif_membranes(lo, hi, p, D, v, ge, gi, i_ext)
    _lif_thresholds(lo, hi, p, ref_steps, v, refrac, spiked)
    m = _list_spikes(lo, hi, spiked, spike_list, m)
    _decay_and_arrive(lo, hi, ge, D, 0, ring_e, slot)
    _decay_and_arrive(lo, hi, gi, D, 1, ring_i, slot)
    return m


@njit(cache=True, _nrt=False, error_model="numpy", fastmath=FASTMATH)
def _update_neurons(slot, dt, p, D, all_lif, ranges, lif, adex, local, ref_steps, v, w, ge, gi,
                    refrac, i_ext, ring_e, ring_i, spiked, spike_list):
    """Steps 1-3 for the neurons this process updates: all of them in one process; under MPI
    its own (:mod:`.distributed`).  Flags the spiking neurons in ``spiked``, lists them in
    ascending order in ``spike_list`` and returns their number.

    When every neuron is LIF (``all_lif``, the usual case) the update runs as four simple
    passes over the index ranges ``ranges`` (rows lo, hi) that the compiler vectorises (SIMD;
    ~3x faster than one fused scalar pass, with the same arithmetic per neuron).  Otherwise
    ``lif``/``adex`` list the neurons of each integrator and ``local`` all of them, in
    ascending order."""
    m = 0
    if all_lif:
        for r in range(ranges.shape[0]):
            m = _lif_range(ranges[r, 0], ranges[r, 1], slot, dt, p, D, ref_steps, v, ge, gi,
                           refrac, i_ext, ring_e, ring_i, spiked, spike_list, m)
        return m
    for k in range(lif.shape[0]):
        _lif_step(lif[k], dt, p, D, ref_steps, v, ge, gi, refrac, i_ext, spiked)
    for k in range(adex.shape[0]):
        i = adex[k]
        spiked[i] = _adex_step(i, dt, p, D, ref_steps, v, w, ge, gi, refrac, i_ext)
    for k in range(local.shape[0]):
        i = local[k]
        _conductance_step(i, slot, D, ge, gi, ring_e, ring_i)
        spike_list[m] = i
        m += spiked[i]
    return m


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _record_samples(step_end, grp_every, grp_ptr, grp_out_offset, grp_nsamp, ch_neuron,
                    ch_var, v, w, ge, gi, out):
    """Step 5: channel group ``g`` samples at every ``grp_every[g]``-th step the channels
    ``grp_ptr[g]..grp_ptr[g+1]`` (neuron ``ch_neuron``, variable ``ch_var``) into ``out``."""
    for g in range(grp_every.shape[0]):
        if step_end % grp_every[g] == 0:
            c0 = grp_ptr[g]
            nch = grp_ptr[g + 1] - c0
            base = grp_out_offset[g] + grp_nsamp[g] * nch
            for c in range(nch):
                j = ch_neuron[c0 + c]
                var = ch_var[c0 + c]
                if var == VAR_V:
                    out[base + c] = v[j]
                elif var == VAR_GE:
                    out[base + c] = ge[j]
                elif var == VAR_GI:
                    out[base + c] = gi[j]
                else:
                    out[base + c] = w[j]
            grp_nsamp[g] += 1


#: short-term plasticity models (column ``STP_MODEL`` of the parameters)
STP_TSODYKS, STP_DRIVER_DEPRESSION, STP_DRIVER_FACILITATION = 0, 1, 2
STP_MODEL = 4


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _driver_stp(j, t, par, state):
    """The synapse driver's short-term plasticity (ESS ``syndriver::pulse``) of synapse
    ``j`` at a presynaptic spike at ``t`` (ms): the inactive fraction I recovers with the
    driver's one time constant, the weight factor is computed from the I *before* this
    spike (so the first spike carries the full weight), then I <- I + U (1 - I).
    ``par[j]`` = (U, tau, lambda, N, model), ``state[j]`` = (I, -, -, t_last).
    Depression: 1 - lambda (I - N); facilitation: 1 + lambda (I - N); never below 0."""
    U, tau, lam, N = par[j, 0], par[j, 1], par[j, 2], par[j, 3]
    inactive = state[j, 0] * np.exp(-(t - state[j, 3]) / tau)
    if par[j, STP_MODEL] == STP_DRIVER_DEPRESSION:
        factor = 1.0 - lam * (inactive - N)
    else:
        factor = 1.0 + lam * (inactive - N)
    state[j, 0] = inactive + U * (1.0 - inactive)
    state[j, 3] = t
    return factor if factor > 0.0 else 0.0


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _stp_factor(j, t, par, state):
    """Weight factor of short-term plasticity synapse ``j`` at a spike at ``t``: NEST's
    Tsodyks-Markram model or the synapse driver's equations, per synapse."""
    if par[j, STP_MODEL] == STP_TSODYKS:
        return _tsodyks(j, t, par, state)
    return _driver_stp(j, t, par, state)


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _tsodyks(j, t, par, state):
    """Tsodyks-Markram short-term plasticity of synapse ``j`` at a presynaptic spike at ``t``
    (ms), in NEST's ``tsodyks_synapse`` form (resources x, active y, use u; the inactive
    fraction recovers with tau_rec, the active one decays with the postsynaptic tau_psc).
    ``par[j]`` = (U, tau_rec, tau_fac, tau_psc), ``state[j]`` = (x, y, u, t_last).
    Returns the factor the synaptic weight is multiplied with."""
    U, tau_rec, tau_fac, tau_psc = par[j, 0], par[j, 1], par[j, 2], par[j, 3]
    x, y, u, t_last = state[j, 0], state[j, 1], state[j, 2], state[j, 3]
    h = t - t_last
    p_uu = np.exp(-h / tau_fac) if tau_fac > 0.0 else 0.0
    p_yy = np.exp(-h / tau_psc)
    p_zz = np.exp(-h / tau_rec) if tau_rec > 0.0 else 0.0
    if abs(tau_psc - tau_rec) > 1e-12:
        p_xy = ((p_zz - 1.0) * tau_rec - (p_yy - 1.0) * tau_psc) / (tau_psc - tau_rec)
    else:
        p_xy = 1.0 - p_yy - h / tau_psc * p_yy   # limit tau_rec -> tau_psc
    p_xz = 1.0 - p_zz
    z = 1.0 - x - y
    u = u * p_uu
    x = x + p_xy * y + p_xz * z
    y = y * p_yy
    u = u + U * (1.0 - u)
    dy = u * x
    state[j, 0] = x - dy
    state[j, 1] = y + dy
    state[j, 2] = u
    state[j, 3] = t
    return dy


#: columns of the far queue's integer rows
FAR_ARRIVAL, FAR_SEQ, FAR_POST, FAR_RECEPTOR = range(4)
#: rows of the far queue's counters: number of queued events, next sequence number
FAR_COUNT, FAR_NEXT_SEQ = range(2)


@njit(cache=True, _nrt=False, fastmath=FASTMATH)
def far_push(far_i, far_w, far_meta, arrival, post, receptor, w):
    """Queue input ``w`` (µS) for neuron ``post`` / ``receptor`` arriving at step ``arrival``.

    ``far_i`` (rows: arrival, sequence, neuron, receptor) and ``far_w`` form a binary min-heap
    on (arrival, sequence); ``far_meta`` holds the count and the next sequence number.  The
    caller guarantees a free row (the arrays are grown from Python: reallocating them inside
    the time loop would make numba reference-count them there and cost the vectorised neuron
    update a factor of ~3)."""
    n = far_meta[FAR_COUNT]
    seq = far_meta[FAR_NEXT_SEQ]
    far_meta[FAR_NEXT_SEQ] = seq + 1
    # sift up; the new event has the largest sequence number, so it only passes parents that
    # arrive later
    j = n
    while j > 0:
        parent = (j - 1) >> 1
        if far_i[parent, FAR_ARRIVAL] <= arrival:
            break
        for c in range(4):
            far_i[j, c] = far_i[parent, c]
        far_w[j] = far_w[parent]
        j = parent
    far_i[j, FAR_ARRIVAL] = arrival
    far_i[j, FAR_SEQ] = seq
    far_i[j, FAR_POST] = post
    far_i[j, FAR_RECEPTOR] = receptor
    far_w[j] = w
    far_meta[FAR_COUNT] = n + 1


@njit(cache=True, fastmath=FASTMATH)
def far_push_many(far_i, far_w, far_meta, arrival, post, receptor, w):
    """:func:`far_push` for arrays of events, in their order (room for all of them given)."""
    for k in range(arrival.shape[0]):
        far_push(far_i, far_w, far_meta, arrival[k], post[k], receptor[k], w[k])


@njit(cache=True, _nrt=False, fastmath=FASTMATH)
def far_migrate(until, ring_e, ring_i, far_i, far_w, far_meta):
    """Move the far events arriving at or before step ``until`` into the ring buffers (rows
    ``arrival % L``), in (arrival, sequence) order.  The caller guarantees that those rows
    hold nothing but earlier far input of the same arrivals: ``until`` is at most
    (last consumed step) + L - 1 and no direct delivery to these arrivals has happened yet."""
    L = ring_e.shape[0]
    while far_meta[FAR_COUNT] > 0 and far_i[0, FAR_ARRIVAL] <= until:
        slot = far_i[0, FAR_ARRIVAL] % L
        if far_i[0, FAR_RECEPTOR] == 0:
            ring_e[slot, far_i[0, FAR_POST]] += far_w[0]
        else:
            ring_i[slot, far_i[0, FAR_POST]] += far_w[0]
        n = far_meta[FAR_COUNT] - 1
        far_meta[FAR_COUNT] = n
        if n == 0:
            break
        # pop the root: sift the last row down from the top
        la = far_i[n, FAR_ARRIVAL]
        ls = far_i[n, FAR_SEQ]
        j = 0
        while True:
            c = 2 * j + 1
            if c >= n:
                break
            r = c + 1
            if r < n and (far_i[r, FAR_ARRIVAL] < far_i[c, FAR_ARRIVAL]
                          or (far_i[r, FAR_ARRIVAL] == far_i[c, FAR_ARRIVAL]
                              and far_i[r, FAR_SEQ] < far_i[c, FAR_SEQ])):
                c = r
            if far_i[c, FAR_ARRIVAL] < la or (far_i[c, FAR_ARRIVAL] == la
                                              and far_i[c, FAR_SEQ] < ls):
                for k in range(4):
                    far_i[j, k] = far_i[c, k]
                far_w[j] = far_w[c]
                j = c
            else:
                break
        for k in range(4):
            far_i[j, k] = far_i[n, k]
        far_w[j] = far_w[n]


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _deliver_static(node, step_emit, ptr, post, weight, delay, receptor, ring_e, ring_i, L,
                    far_i, far_w, far_meta):
    """:func:`_deliver` of one event for networks without STP and STDP, inlined into the
    time loop: a call passing the thirty arrays of the general one costs more than the
    delivery to a few dozen targets."""
    # ring row of delay 0; a delay d < L lands in row base + d, wrapped once: an integer
    # division per synapse would cost more than the addition into the ring itself
    base = step_emit % L
    for k in range(ptr[node], ptr[node + 1]):
        d = delay[k]
        if d < L:
            slot = base + d
            if slot >= L:
                slot -= L
            if receptor[k] == 0:
                ring_e[slot, post[k]] += weight[k]
            else:
                ring_i[slot, post[k]] += weight[k]
        else:
            far_push(far_i, far_w, far_meta, step_emit + d, post[k], receptor[k], weight[k])


@njit(cache=True, _nrt=False, fastmath=FASTMATH)
def _deliver(node, step_emit, ptr, post, weight, delay, receptor, ring_e, ring_i, L, dt,
             stp_index, stp_par, stp_state, far_i, far_w, far_meta, plast, pp_par, pp_set,
             pp_state, hp_par, hs, post_last, plast_row, hist_t, hist_k, hist_n, hist_tau_inv,
             hist_need, hist_block):
    """Add the outgoing synapses of presynaptic ``node`` (emitted at ``step_emit``) to the ring
    buffers, or to the far queue for delays of ``L`` steps or more.  Synapses with
    ``stp_index[k] >= 0`` scale their weight by their short-term plasticity state
    (``_tsodyks``).  Static synapses (no STP, no STDP in the network) take
    :func:`_deliver_static`, without the plasticity branches."""
    plastic = stp_par.shape[0] > 0
    learning = plast.shape[0] > 0
    if not (plastic or learning):
        _deliver_static(node, step_emit, ptr, post, weight, delay, receptor, ring_e, ring_i,
                        L, far_i, far_w, far_meta)
        return
    base = step_emit % L
    for k in range(ptr[node], ptr[node + 1]):
        if learning:
            j = plast[k]
            if j >= 0:         # NEST's pair rule: the spike carries the updated weight
                weight[k] = pair_pre(j, step_emit * dt, delay[k] * dt, plast_row[k],
                                     weight[k], pp_set, pp_par, pp_state, hist_t, hist_k,
                                     hist_n, hist_tau_inv, hist_need, hist_block)
            elif j <= -2:      # the wafer's sensor: the spike will arrive after its delay
                hw_pre(-2 - j, step_emit * dt, delay[k] * dt, post[k], post_last, hp_par, hs)
        w = weight[k]
        if plastic:   # only networks with STP synapses pay for the lookup
            j = stp_index[k]
            if j >= 0:
                w *= _stp_factor(j, step_emit * dt, stp_par, stp_state)
        d = delay[k]
        if d < L:
            slot = base + d
            if slot >= L:
                slot -= L
            if receptor[k] == 0:
                ring_e[slot, post[k]] += w
            else:
                ring_i[slot, post[k]] += w
        else:
            # beyond the ring's horizon: wait in the far queue (same weight, same arrival)
            far_push(far_i, far_w, far_meta, step_emit + d, post[k], receptor[k], w)


@njit(cache=True, inline="always", fastmath=FASTMATH)
def _passes_encoders(i, t_end, neuron_block, block_busy, encoder_service, encoder_sent,
                     encoder_lost, neuron_merger, merger_busy, merger_service, merger_lost):
    """Whether the spike of neuron ``i`` at ``t_end`` (ms) gets through its block's priority
    encoder and its DNC merger (both: one event in service, one waiting register; busy and
    register taken -> the event is lost, for its targets and the recording).  Neurons
    without a block (``neuron_block[i] < 0``, the ideal engine) always pass."""
    blk = neuron_block[i]
    if blk >= 0 and encoder_service > 0.0:
        start = max(t_end, block_busy[blk])
        if not register_free(start - t_end, encoder_service):
            encoder_lost[0] += 1
            return False
        block_busy[blk] = start + encoder_service
        # the DNC merger collecting this block's (and merged neighbours') events
        mrg = neuron_merger[i]
        if mrg >= 0 and merger_service > 0.0:
            t_in = start + encoder_service
            m_start = max(t_in, merger_busy[mrg])
            if not register_free(m_start - t_in, merger_service):
                merger_lost[0] += 1
                return False
            merger_busy[mrg] = m_start + merger_service
        encoder_sent[0] += 1
    return True


# ---------------------------------------------------------------- off-wafer relays (issue 16)
# A neuron with targets on other wafers sends each spike (once it passed its encoder and
# merger) up its HICANN link and FPGA, then for every target wafer down that wafer's FPGA
# and the HICANN link its virtual source was placed on.  Every stage is a FIFO channel of
# ``rl_depth`` entries serving one event per ``ch_spacing[c]`` ms (event_loss.InputBandwidth
# has the same rule): a full FIFO drops the event.  The fixed latency of the path is part of
# the relayed synapses' delays, so the down channels are queued at the up release time (a
# common shift of all their events leaves the queueing unchanged).  Counted in
# ``rl_counts``: [delivered, lost going up, lost going down] per relayed event.

@njit(cache=True, inline="always", fastmath=FASTMATH)
def _fifo_pass(t, c, ch_spacing, ch_last, depth):
    """Release time of an event entering channel ``c`` at ``t`` (ms), or -1 when the FIFO
    is full; ``c < 0``: no channel, released at once."""
    if c < 0:
        return t
    sp = ch_spacing[c]
    start = max(t, ch_last[c] + sp)
    if start - t > depth * sp + TIME_EPS:
        return -1.0
    ch_last[c] = start
    return start


# ---------------------------------------------------------------- the relay queue
# Relayed input waits in a calendar queue of its own, not in the ring or the far queue: a
# bucket per arrival step (``rq_head/rq_tail``, indexed by arrival modulo their length, a
# power of two longer than any relayed delay plus FIFO wait), each a list in the order the
# events were queued.  Just before a step's neuron update the bucket of that step is added
# to its ring row, after all direct input.  So a sum never depends on *when* a relayed spike
# was queued, only on the order of the relayed spikes, and an MPI rank holding whole wafers
# may queue them at the end of a communication window as long as the shortest relayed
# delay: one process queues them at once, and both give the same bits.  Queuing and taking
# an event cost O(1) (the far queue's heap took ~10 sifts per event).
#: columns of the relay queue's integer rows
RQ_ARRIVAL, RQ_POST, RQ_RECEPTOR, RQ_NEXT = range(4)
#: the relay queue's counters: events queued, first free row (-1: none), rows ever used, and
#: (set from Python) the most events one step's spikes can queue on this rank
RQ_COUNT, RQ_FREE, RQ_USED, RQ_STEP_MAX = range(4)


@njit(cache=True, inline="always")
def rq_push(rq_head, rq_tail, rq_i, rq_w, rq_meta, arrival, post, receptor, w):
    """Queue relayed input ``w`` (µS) for neuron ``post`` / ``receptor`` at step ``arrival``
    (the caller guarantees a free row, :meth:`Network._rq_reserve`)."""
    e = rq_meta[RQ_FREE]
    if e >= 0:
        rq_meta[RQ_FREE] = rq_i[e, RQ_NEXT]
    else:
        e = rq_meta[RQ_USED]
        rq_meta[RQ_USED] = e + 1
    rq_i[e, RQ_ARRIVAL] = arrival
    rq_i[e, RQ_POST] = post
    rq_i[e, RQ_RECEPTOR] = receptor
    rq_i[e, RQ_NEXT] = -1
    rq_w[e] = w
    b = arrival & (rq_head.shape[0] - 1)
    if rq_head[b] < 0:
        rq_head[b] = e
    else:
        rq_i[rq_tail[b], RQ_NEXT] = e
    rq_tail[b] = e
    rq_meta[RQ_COUNT] += 1


@njit(cache=True, _nrt=False, fastmath=FASTMATH)
def rq_arrive(step, ring_e, ring_i, rq_head, rq_tail, rq_i, rq_w, rq_meta):
    """Add the relayed input arriving at ``step`` to its ring row (``step`` modulo the ring's
    length), in the order it was queued, and free its rows."""
    b = step & (rq_head.shape[0] - 1)
    e = rq_head[b]
    if e < 0:
        return
    slot = step % ring_e.shape[0]
    while e >= 0:
        if rq_i[e, RQ_ARRIVAL] != step:
            # the queue is sized so that this cannot happen; a wrong sum must not pass
            raise RuntimeError("relay queue: an event of another step in this bucket")
        if rq_i[e, RQ_RECEPTOR] == 0:
            ring_e[slot, rq_i[e, RQ_POST]] += rq_w[e]
        else:
            ring_i[slot, rq_i[e, RQ_POST]] += rq_w[e]
        nxt = rq_i[e, RQ_NEXT]
        rq_i[e, RQ_NEXT] = rq_meta[RQ_FREE]
        rq_meta[RQ_FREE] = e
        rq_meta[RQ_COUNT] -= 1
        e = nxt
    rq_head[b] = -1
    rq_tail[b] = -1


@njit(cache=True, fastmath=FASTMATH)
def rq_rebucket(rq_head, rq_i, new_head, new_tail):
    """Move the queued events into the buckets ``new_head/new_tail`` (a longer calendar),
    keeping each step's order."""
    new_head[:] = -1
    new_tail[:] = -1
    m = new_head.shape[0] - 1
    for b in range(rq_head.shape[0]):
        e = rq_head[b]
        while e >= 0:
            nxt = rq_i[e, RQ_NEXT]
            rq_i[e, RQ_NEXT] = -1
            nb = rq_i[e, RQ_ARRIVAL] & m
            if new_head[nb] < 0:
                new_head[nb] = e
            else:
                rq_i[new_tail[nb], RQ_NEXT] = e
            new_tail[nb] = e
            e = nxt


@njit(cache=True, _nrt=False, fastmath=FASTMATH)
def _deliver_late(node, step_emit, extra, dt, ptr, post, weight, delay, receptor, stp_index,
                  stp_par, stp_state, rq_head, rq_tail, rq_i, rq_w, rq_meta):
    """``_deliver`` for a relayed event that the FIFOs released ``extra`` steps late (static
    and STP synapses; STDP does not cross wafers), into the relay queue."""
    plastic = stp_par.shape[0] > 0
    for k in range(ptr[node], ptr[node + 1]):
        w = weight[k]
        if plastic:
            j = stp_index[k]
            if j >= 0:
                w *= _stp_factor(j, (step_emit + extra) * dt, stp_par, stp_state)
        rq_push(rq_head, rq_tail, rq_i, rq_w, rq_meta, step_emit + delay[k] + extra, post[k],
                receptor[k], w)


@njit(cache=True, _nrt=False, fastmath=FASTMATH)
def _relay(i, step_end, dt, rl_ptr, rl_node, rl_up, rl_down, rl_mine, ch_spacing, ch_last,
           rl_depth, rl_counts, rq_head, rq_tail, rq_i, rq_w, rq_meta, ptr, post, weight,
           delay, receptor, stp_index, stp_par, stp_state):
    """Relay the spike of neuron ``i`` at ``step_end`` to its other wafers (see above): the
    relays with ``rl_mine`` (all in one process; an MPI rank holding whole wafers, those to
    its own wafers: it passes and counts only them)."""
    lo = rl_ptr[i]
    hi = rl_ptr[i + 1]
    t0 = step_end * dt
    t = _fifo_pass(t0, rl_up[i, 0], ch_spacing, ch_last, rl_depth)
    if t >= 0.0:
        t = _fifo_pass(t, rl_up[i, 1], ch_spacing, ch_last, rl_depth)
    if t < 0.0:
        for r in range(lo, hi):
            if rl_mine[r]:
                rl_counts[1] += 1
        return
    for r in range(lo, hi):
        if not rl_mine[r]:
            continue
        u = _fifo_pass(t, rl_down[r, 0], ch_spacing, ch_last, rl_depth)
        if u >= 0.0:
            u = _fifo_pass(u, rl_down[r, 1], ch_spacing, ch_last, rl_depth)
        if u < 0.0:
            rl_counts[2] += 1
            continue
        rl_counts[0] += 1
        extra = int(np.ceil((u - t0) / dt - 1e-9))
        _deliver_late(rl_node[r], step_end, extra, dt, ptr, post, weight, delay, receptor,
                      stp_index, stp_par, stp_state, rq_head, rq_tail, rq_i, rq_w, rq_meta)


@njit(cache=True, fastmath=FASTMATH)
def run_steps(step0, n_steps, dt, PT, D, all_lif, ranges, lif, adex, local, ref_steps, v, w,
              ge, gi, refrac, i_ext,
              inj_neuron, inj_kind, inj_ipar, inj_fpar, inj_key, inj_tab_step, inj_tab_val,
              neuron_node, ptr, post, weight, delay, receptor, ring_e, ring_i,
              far_i, far_w, far_meta, far_out, neuron_far_out, stp_index, stp_par, stp_state,
              plast, plast_row, pp_set, pp_par, pp_state, hist_row, hist_t, hist_k, hist_n,
              hist_tau_inv, hist_need, hist_block, hp_par, hs, hw_digital, hw_levels, hw_csr,
              hw_in_ptr, hw_in, post_last, ctl_next_t, ctl_next_row, ctl_t_row, ctl_row_ptr,
              row_syn_ptr, row_syn, ctl_lut, ctl_cfg,
              ctl_reset, stdp_counters,
              ev_step, ev_node, spike_flag,
              spk_step, spk_node, spk_count,
              neuron_block, block_busy, encoder_service, encoder_sent, encoder_lost,
              neuron_merger, merger_busy, merger_service, merger_lost,
              rl_ptr, rl_node, rl_up, rl_down, rl_mine, rl_need, ch_spacing, ch_last, rl_depth,
              rl_counts, rq_head, rq_tail, rq_i, rq_w, rq_meta,
              grp_every, grp_ptr, grp_out_offset, grp_nsamp, ch_neuron, ch_var, out,
              defer_relays):
    """Advance the network from step ``step0`` by ``n_steps`` steps of ``dt``.

    The neurons updated are those of :func:`_update_neurons` (``all_lif``, ``ranges``,
    ``lif``, ``adex``, ``local``): all of them in one process, a rank's own wafers under MPI
    (:mod:`.distributed`; its synapse tables then hold its own synapses only).  With
    ``defer_relays`` the spikes of relayed neurons are not relayed here but listed with the
    recorded ones in ``spk_step/spk_node``, for :func:`relay_spikes` after the exchange.

    ``PT`` is the (N_PARAMS, n) parameter matrix, ``D`` the conductance factors of
    :func:`decay_factors`; ``lif``/``adex`` list the neurons of each integrator.  The
    injected currents ``inj_*`` (:class:`~.currents.Injections`) set ``i_ext`` of their neurons
    at every step (none: ``i_ext`` stays as it is, zero).  Neuron ``i`` is node
    ``neuron_node[i]`` of the synapse CSR
    (``ptr/post/weight/delay/receptor``, indexed by presynaptic node; ``post`` holds neuron
    indices; ``delay`` in steps).  Input travels in the ring buffers ``ring_e/ring_i`` (rows:
    arrival step modulo their length ``L``) or, for delays of ``L`` steps or more, in the far
    queue ``far_i/far_w/far_meta`` (:func:`far_push`); ``far_out[node]`` counts a node's
    synapses that go there, ``neuron_far_out`` those of all neurons together (the most that one
    step's neuron spikes can queue).  ``ev_step/ev_node`` are the external (source) events of
    this window, sorted by their emission step.  Spikes of neurons with ``spike_flag`` set are appended to
    ``spk_step/spk_node`` (capacity-limited: the kernel stops early and returns the number of
    steps done when the buffer could overflow; so it does when the far queue could overflow
    in the next step).

    Priority encoders: a spiking neuron with ``neuron_block[i] >= 0`` needs its block's encoder
    for ``encoder_service`` ms (``block_busy`` holds when each is free), then its DNC merger
    (``neuron_merger``) for ``merger_service`` ms; both have one waiting register.  Counted in
    ``encoder_sent`` (reached the L1 bus), ``encoder_lost`` and ``merger_lost``.

    Recording: channel group ``g`` samples every ``grp_every[g]`` steps the channels
    ``grp_ptr[g]..grp_ptr[g+1]`` (neuron ``ch_neuron``, variable ``ch_var``) into
    ``out[grp_out_offset[g] + j * n_channels_g + c]``; ``grp_nsamp[g]`` counts samples written.
    """
    n = v.shape[0]
    L = ring_e.shape[0]
    spiked = np.zeros(n, dtype=np.bool_)
    spike_list = np.empty(n, dtype=np.int64)
    ev_i = 0
    n_ev = ev_step.shape[0]
    # far-queue rows the rest of this window's external events can take (upper bound)
    ev_far_left = 0
    for k in range(n_ev):
        ev_far_left += far_out[ev_node[k]]
    # far input that has come within the ring's reach (after a rebuild or a reset of the
    # ring; otherwise the previous window's last step moved it already)
    far_migrate(step0 + L - 1, ring_e, ring_i, far_i, far_w, far_meta)
    # events emitted at (or before) the current time that have not been delivered yet
    while ev_i < n_ev and ev_step[ev_i] <= step0:
        _deliver(ev_node[ev_i], step0, ptr, post, weight, delay, receptor, ring_e, ring_i, L,
                 dt, stp_index, stp_par, stp_state, far_i, far_w, far_meta, plast,
                 pp_par, pp_set, pp_state, hp_par, hs, post_last, plast_row, hist_t, hist_k,
                 hist_n, hist_tau_inv, hist_need, hist_block)
        ev_far_left -= far_out[ev_node[ev_i]]
        ev_i += 1
    cap = spk_step.shape[0]
    far_cap = far_i.shape[0]
    n_rl = rl_ptr.shape[0]
    rq_cap = rq_i.shape[0]
    static = stp_par.shape[0] == 0 and plast.shape[0] == 0
    n_hist = hist_n.shape[0]
    n_ctl = ctl_next_t.shape[0]
    for s_rel in range(n_steps):
        s = step0 + s_rel
        if spk_count[0] + n > cap:
            return s_rel
        if far_meta[FAR_COUNT] + neuron_far_out + ev_far_left > far_cap:
            return s_rel
        if hist_block[0] != 0:
            return s_rel          # a postsynaptic ring must grow first (from Python)
        if n_rl > 0 and not defer_relays \
                and rq_meta[RQ_COUNT] + rq_meta[RQ_STEP_MAX] > rq_cap:
            return s_rel
        step_end = s + 1
        if rq_meta[RQ_COUNT] > 0:
            rq_arrive(step_end, ring_e, ring_i, rq_head, rq_tail, rq_i, rq_w, rq_meta)
        if inj_neuron.shape[0] > 0:
            # the current of step s holds during [s dt, (s + 1) dt), like NEST's generators
            inject(s, dt, inj_neuron, inj_kind, inj_ipar, inj_fpar, inj_key, inj_tab_step,
                   inj_tab_val, i_ext)
        n_spiking = _update_neurons(step_end % L, dt, PT, D, all_lif, ranges, lif, adex, local,
                                    ref_steps, v, w, ge, gi, refrac, i_ext, ring_e, ring_i,
                                    spiked, spike_list)
        # the row just taken now stands for arrival step_end + L: far input arriving up to
        # step_end + L - 1 enters the ring before this step's spikes add to those rows
        if far_meta[FAR_COUNT] > 0:
            far_migrate(step_end + L - 1, ring_e, ring_i, far_i, far_w, far_meta)
        # step 4, serially: outgoing spikes of neurons, then of sources, at t = step_end * dt
        t_end = step_end * dt
        if n_hist > 0 or hw_in_ptr.shape[0] > 0:
            # STDP sees every postsynaptic spike of this step before any presynaptic one
            # (a spike lost on its way to L1 still reached the neuron's own synapses)
            post_spikes(t_end, spiked, hist_row, hist_t, hist_k, hist_n, hist_tau_inv,
                        hist_need, hist_block, hw_in_ptr, hw_in, post_last, hp_par, hs)
        if n_ctl > 0:
            sweep_controllers(t_end, ctl_next_t, ctl_next_row, ctl_t_row, ctl_row_ptr,
                              row_syn_ptr, row_syn, hw_csr, hp_par, hs, hw_digital,
                              hw_levels, ctl_lut, ctl_cfg, ctl_reset, weight, stdp_counters)
        for q in range(n_spiking):
            i = spike_list[q]
            if not _passes_encoders(i, t_end, neuron_block, block_busy, encoder_service,
                                    encoder_sent, encoder_lost, neuron_merger, merger_busy,
                                    merger_service, merger_lost):
                continue
            if static:
                _deliver_static(neuron_node[i], step_end, ptr, post, weight, delay, receptor,
                                ring_e, ring_i, L, far_i, far_w, far_meta)
            else:
                _deliver(neuron_node[i], step_end, ptr, post, weight, delay, receptor,
                         ring_e, ring_i, L, dt, stp_index, stp_par, stp_state,
                         far_i, far_w, far_meta, plast, pp_par, pp_set, pp_state, hp_par,
                         hs, post_last, plast_row, hist_t, hist_k, hist_n, hist_tau_inv,
                         hist_need, hist_block)
            relayed = n_rl > 0 and rl_ptr[i + 1] > rl_ptr[i]
            if relayed and not defer_relays:
                _relay(i, step_end, dt, rl_ptr, rl_node, rl_up, rl_down, rl_mine, ch_spacing,
                       ch_last, rl_depth, rl_counts, rq_head, rq_tail, rq_i, rq_w, rq_meta,
                       ptr, post, weight, delay, receptor, stp_index, stp_par, stp_state)
            if spike_flag[i] or (relayed and defer_relays):
                c = spk_count[0]
                spk_step[c] = step_end
                spk_node[c] = i
                spk_count[0] = c + 1
        while ev_i < n_ev and ev_step[ev_i] <= step_end:
            if static:
                _deliver_static(ev_node[ev_i], step_end, ptr, post, weight, delay, receptor,
                                ring_e, ring_i, L, far_i, far_w, far_meta)
            else:
                _deliver(ev_node[ev_i], step_end, ptr, post, weight, delay, receptor,
                         ring_e, ring_i, L, dt, stp_index, stp_par, stp_state,
                         far_i, far_w, far_meta, plast, pp_par, pp_set, pp_state, hp_par,
                         hs, post_last, plast_row, hist_t, hist_k, hist_n, hist_tau_inv,
                         hist_need, hist_block)
            ev_far_left -= far_out[ev_node[ev_i]]
            ev_i += 1
        _record_samples(step_end, grp_every, grp_ptr, grp_out_offset, grp_nsamp, ch_neuron,
                        ch_var, v, w, ge, gi, out)
    return n_steps


@njit(cache=True)
def counting_order(keys, n_keys):
    """The stable sorting permutation of the integer ``keys`` (0 <= key < ``n_keys``) and the
    count of each key: a counting sort, O(n + n_keys).  Equal to
    ``np.argsort(keys, kind="stable")``, which for 64-bit integers runs a merge sort, ~20x
    slower on the millions of synapses of a wafer."""
    counts = np.zeros(n_keys, dtype=np.int64)
    for k in range(keys.shape[0]):
        counts[keys[k]] += 1
    start = np.empty(n_keys, dtype=np.int64)
    acc = 0
    for j in range(n_keys):
        start[j] = acc
        acc += counts[j]
    order = np.empty(keys.shape[0], dtype=np.int64)
    for k in range(keys.shape[0]):
        j = keys[k]
        order[start[j]] = k
        start[j] += 1
    return order, counts


@njit(cache=True, _nrt=False, fastmath=FASTMATH)
def relay_spikes(g_step, g_node, dt, spike_flag, rl_ptr, rl_node, rl_up, rl_down, rl_mine,
                 rl_need, ch_spacing, ch_last, rl_depth, rl_counts, rq_head, rq_tail, rq_i,
                 rq_w, rq_meta, ptr, post, weight, delay, receptor, stp_index, stp_par,
                 stp_state, rec_step, rec_node):
    """The deferred half of :func:`run_steps` (``defer_relays``) for the spikes of all ranks
    of a communication window (``g_step/g_node``, sorted by step, then neuron): relay the
    spikes of relayed neurons through the off-wafer FIFOs, in the serial engine's order, to
    this rank's synapses (the relay queue: relayed input arrives after the window), and list
    the spikes of recorded neurons in ``rec_step/rec_node``; returns their number."""
    n_rl = rl_ptr.shape[0]
    c = 0
    for q in range(g_step.shape[0]):
        i = g_node[q]
        # a rank holding whole wafers skips the spikes of wafers that send it nothing
        # (``rl_need``): their uplinks' FIFOs serve their own wafer's neurons only
        if n_rl > 0 and rl_need[i] and rl_ptr[i + 1] > rl_ptr[i]:
            _relay(i, g_step[q], dt, rl_ptr, rl_node, rl_up, rl_down, rl_mine, ch_spacing,
                   ch_last, rl_depth, rl_counts, rq_head, rq_tail, rq_i, rq_w, rq_meta, ptr,
                   post, weight, delay, receptor, stp_index, stp_par, stp_state)
        if spike_flag[i]:
            rec_step[c] = g_step[q]
            rec_node[c] = i
            c += 1
    return c


# ---------------------------------------------------------------- distributed (MPI) windows
# A rank updates its own neurons for a window of W steps without delivering anything (W is at
# most the smallest delay, so nothing emitted in the window arrives within it), the spikes of
# all ranks are exchanged, and every rank then delivers the window's spikes to its own
# neurons step by step in the serial order (far-queue migration, neuron spikes by index,
# external events): each ring cell sums its inputs in exactly the order of ``run_steps``.

@njit(cache=True, fastmath=FASTMATH)
def update_window(step0, n_steps, dt, PT, D, all_lif, ranges, lif, adex, local, ref_steps,
                  v, w, ge, gi, refrac, i_ext, inj_neuron, inj_kind, inj_ipar, inj_fpar,
                  inj_key, inj_tab_step, inj_tab_val, ring_e, ring_i, rq_head, rq_tail, rq_i,
                  rq_w, rq_meta, spk_step, spk_node,
                  grp_every, grp_ptr, grp_out_offset, grp_nsamp, ch_neuron, ch_var, out):
    """Steps 1-3 and the recording of ``n_steps`` steps from ``step0`` for this rank's
    neurons: the index ranges ``ranges`` (rows lo, hi) when ``all_lif``, else the listed
    ``lif``/``adex`` neurons and the conductances of ``local``.  Every spike is appended to
    ``spk_step/spk_node`` (room for ``n_steps`` x local neurons); returns their number."""
    L = ring_e.shape[0]
    n = v.shape[0]
    spiked = np.zeros(n, dtype=np.bool_)
    spike_list = np.empty(n, dtype=np.int64)
    c = 0
    for s_rel in range(n_steps):
        step_end = step0 + s_rel + 1
        if inj_neuron.shape[0] > 0:
            inject(step_end - 1, dt, inj_neuron, inj_kind, inj_ipar, inj_fpar, inj_key,
                   inj_tab_step, inj_tab_val, i_ext)
        if rq_meta[RQ_COUNT] > 0:
            rq_arrive(step_end, ring_e, ring_i, rq_head, rq_tail, rq_i, rq_w, rq_meta)
        m = _update_neurons(step_end % L, dt, PT, D, all_lif, ranges, lif, adex, local,
                            ref_steps, v, w, ge, gi, refrac, i_ext, ring_e, ring_i, spiked,
                            spike_list)
        for q in range(m):
            spk_step[c] = step_end
            spk_node[c] = spike_list[q]
            c += 1
        _record_samples(step_end, grp_every, grp_ptr, grp_out_offset, grp_nsamp, ch_neuron,
                        ch_var, v, w, ge, gi, out)
    return c


@njit(cache=True, _nrt=False, fastmath=FASTMATH)
def deliver_window(step0, n_steps, dt, g_step, g_node, ev_step, ev_node, ev_i, neuron_node,
                   ptr, post, weight, delay, receptor, ring_e, ring_i, far_i, far_w, far_meta,
                   stp_index, stp_par, stp_state, plast, plast_row, pp_set, pp_par, pp_state,
                   hist_t, hist_k, hist_n, hist_tau_inv, hist_need, hist_block, hp_par, hs,
                   post_last, spike_flag, spk_step, spk_node, spk_count,
                   neuron_block, block_busy, encoder_service, encoder_sent, encoder_lost,
                   neuron_merger, merger_busy, merger_service, merger_lost,
                   rl_ptr, rl_node, rl_up, rl_down, rl_mine, rl_need, ch_spacing, ch_last,
                   rl_depth, rl_counts, rq_head, rq_tail, rq_i, rq_w, rq_meta):
    """Deliver the spikes of all ranks (``g_step/g_node``, sorted by step, then neuron) and
    the external events ``ev_step/ev_node`` (sorted; from position ``ev_i``) of the steps
    ``step0 + 1 .. step0 + n_steps`` to this rank's synapses, in ``run_steps``' order; events
    emitted at or before ``step0`` that are still pending go first.  Recorded spikes (neurons
    with ``spike_flag``) are appended to ``spk_step/spk_node``.  Returns the new ``ev_i``."""
    L = ring_e.shape[0]
    n_ev = ev_step.shape[0]
    n_rl = rl_ptr.shape[0]
    far_migrate(step0 + L - 1, ring_e, ring_i, far_i, far_w, far_meta)
    while ev_i < n_ev and ev_step[ev_i] <= step0:
        _deliver(ev_node[ev_i], step0, ptr, post, weight, delay, receptor, ring_e, ring_i, L,
                 dt, stp_index, stp_par, stp_state, far_i, far_w, far_meta, plast,
                 pp_par, pp_set, pp_state, hp_par, hs, post_last, plast_row, hist_t, hist_k,
                 hist_n, hist_tau_inv, hist_need, hist_block)
        ev_i += 1
    q = 0
    n_g = g_step.shape[0]
    for s_rel in range(n_steps):
        step_end = step0 + s_rel + 1
        if far_meta[FAR_COUNT] > 0:
            far_migrate(step_end + L - 1, ring_e, ring_i, far_i, far_w, far_meta)
        t_end = step_end * dt
        while q < n_g and g_step[q] == step_end:
            i = g_node[q]
            q += 1
            if not _passes_encoders(i, t_end, neuron_block, block_busy, encoder_service,
                                    encoder_sent, encoder_lost, neuron_merger, merger_busy,
                                    merger_service, merger_lost):
                continue
            _deliver(neuron_node[i], step_end, ptr, post, weight, delay, receptor, ring_e,
                     ring_i, L, dt, stp_index, stp_par, stp_state, far_i, far_w,
                     far_meta, plast, pp_par, pp_set, pp_state, hp_par, hs, post_last,
                     plast_row, hist_t, hist_k, hist_n, hist_tau_inv, hist_need, hist_block)
            if n_rl > 0 and rl_ptr[i + 1] > rl_ptr[i]:
                _relay(i, step_end, dt, rl_ptr, rl_node, rl_up, rl_down, rl_mine, ch_spacing,
                       ch_last, rl_depth, rl_counts, rq_head, rq_tail, rq_i, rq_w, rq_meta,
                       ptr, post, weight, delay, receptor, stp_index, stp_par, stp_state)
            if spike_flag[i]:
                c = spk_count[0]
                spk_step[c] = step_end
                spk_node[c] = i
                spk_count[0] = c + 1
        while ev_i < n_ev and ev_step[ev_i] <= step_end:
            _deliver(ev_node[ev_i], step_end, ptr, post, weight, delay, receptor, ring_e,
                     ring_i, L, dt, stp_index, stp_par, stp_state, far_i, far_w,
                     far_meta, plast, pp_par, pp_set, pp_state, hp_par, hs, post_last,
                     plast_row, hist_t, hist_k, hist_n, hist_tau_inv, hist_need, hist_block)
            ev_i += 1
    return ev_i
