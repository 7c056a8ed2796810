"""Compiled (numba) kernels of the emulation engine.

Units everywhere: time ms, voltage mV, conductance µS, current nA, capacitance nF
(so µS·mV = nA and nA/nF = mV/ms).

The neuron model is the conductance-based AdEx (``EIF_cond_exp_isfa_ista``) of which
``IF_cond_exp`` is the special case ``delta_T = a = b = 0``.  The update order inside one time
step follows NEST's ``aeif_cond_exp``/``iaf_cond_exp`` so that the ideal engine can be
cross-checked against NEST spike by spike:

1. integrate [t_s, t_s+dt] (RK4 sub-steps; the membrane is clamped to v_reset while refractory),
   detecting a crossing of v_peak after each sub-step (reset, w += b, refractory),
2. decrement the refractory counter,
3. add the synaptic input arriving at t_s+dt (conductance jumps from the ring buffer),
4. emit the spikes of this step (stamped t_s+dt) into the ring buffer at their delays,
5. write the recorded samples that fall on t_s+dt.
"""
from __future__ import annotations

import numpy as np
from numba import njit

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


@njit(cache=True, inline="always")
def _dvdt(v, w, ge, gi, p, i_ext, refractory):
    if refractory:
        return 0.0
    vv = min(v, p[P_VPEAK])
    i_spike = 0.0
    if p[P_DELTAT] > 0.0:
        i_spike = p[P_GL] * p[P_DELTAT] * np.exp((vv - p[P_VTHRESH]) / p[P_DELTAT])
    return (-p[P_GL] * (vv - p[P_EL]) + i_spike - ge * (vv - p[P_EE]) - gi * (vv - p[P_EI])
            - w + p[P_IOFFSET] + i_ext) / p[P_CM]


@njit(cache=True, inline="always")
def _dwdt(v, w, p, refractory, v_reset):
    vv = v_reset if refractory else min(v, p[P_VPEAK])
    return (p[P_A] * (vv - p[P_EL]) - w) / p[P_TAUW]


@njit(cache=True)
def _substep(v, w, ge0, gi0, h, p, i_ext, refractory):
    """One RK4 step of (v, w) over ``h`` with exponentially decaying conductances ``ge0, gi0``.

    The conductances are solved exactly (they only decay between input events), so RK4 only
    carries the membrane and the adaptation current.  Returns the new (v, w).
    """
    v_reset = p[P_VRESET]
    if refractory:
        v = v_reset
    dec_e_half = np.exp(-0.5 * h / p[P_TAUE])
    dec_i_half = np.exp(-0.5 * h / p[P_TAUI])
    ge_m = ge0 * dec_e_half
    gi_m = gi0 * dec_i_half
    ge_1 = ge_m * dec_e_half
    gi_1 = gi_m * dec_i_half
    k1v = _dvdt(v, w, ge0, gi0, p, i_ext, refractory)
    k1w = _dwdt(v, w, p, refractory, v_reset)
    k2v = _dvdt(v + 0.5 * h * k1v, w + 0.5 * h * k1w, ge_m, gi_m, p, i_ext, refractory)
    k2w = _dwdt(v + 0.5 * h * k1v, w + 0.5 * h * k1w, p, refractory, v_reset)
    k3v = _dvdt(v + 0.5 * h * k2v, w + 0.5 * h * k2w, ge_m, gi_m, p, i_ext, refractory)
    k3w = _dwdt(v + 0.5 * h * k2v, w + 0.5 * h * k2w, p, refractory, v_reset)
    k4v = _dvdt(v + h * k3v, w + h * k3w, ge_1, gi_1, p, i_ext, refractory)
    k4w = _dwdt(v + h * k3v, w + h * k3w, p, refractory, v_reset)
    v_new = v + h / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v)
    w_new = w + h / 6.0 * (k1w + 2.0 * k2w + 2.0 * k3w + k4w)
    if refractory:
        v_new = v_reset
    return v_new, w_new


@njit(cache=True)
def _deliver(node, step_emit, ptr, post, weight, delay, receptor, ring_e, ring_i, L, count):
    """Add the outgoing synapses of presynaptic ``node`` (emitted at ``step_emit``) to the ring
    buffers; ``count`` is the event multiplicity."""
    for k in range(ptr[node], ptr[node + 1]):
        slot = (step_emit + delay[k]) % L
        if receptor[k] == 0:
            ring_e[slot, post[k]] += count * weight[k]
        else:
            ring_i[slot, post[k]] += count * weight[k]


@njit(cache=True)
def run_steps(step0, n_steps, dt, P, ref_steps, v, w, ge, gi, refrac, i_ext,
              neuron_node, ptr, post, weight, delay, receptor, ring_e, ring_i,
              ev_step, ev_node, spike_flag,
              spk_step, spk_node, spk_count,
              grp_every, grp_ptr, grp_out_offset, grp_nsamp, ch_neuron, ch_var, out):
    """Advance the network from step ``step0`` by ``n_steps`` steps of ``dt``.

    Neuron ``i`` is node ``neuron_node[i]`` of the synapse CSR (``ptr/post/weight/delay/
    receptor``, indexed by presynaptic node; ``post`` holds neuron indices).  ``ev_step/ev_node`` are the external (source) events of
    this window, sorted by their emission step.  Spikes of neurons with ``spike_flag`` set are
    appended to ``spk_step/spk_node`` (capacity-limited: the kernel stops early and returns the
    number of steps done when the buffer is full).

    Recording: channel group ``g`` samples every ``grp_every[g]`` steps the channels
    ``grp_ptr[g]..grp_ptr[g+1]`` (neuron ``ch_neuron``, variable ``ch_var``) into
    ``out[grp_out_offset[g] + j * n_channels_g + c]``; ``grp_nsamp[g]`` counts samples written.

    Returns the number of steps actually done (== n_steps unless the spike buffer filled up).
    """
    n = v.shape[0]
    L = ring_e.shape[0]
    n_groups = grp_every.shape[0]
    ev_i = 0
    n_ev = ev_step.shape[0]
    # events emitted at (or before) the current time that have not been delivered yet
    while ev_i < n_ev and ev_step[ev_i] <= step0:
        _deliver(ev_node[ev_i], step0, ptr, post, weight, delay, receptor, ring_e, ring_i, L, 1.0)
        ev_i += 1
    cap = spk_step.shape[0]
    for s_rel in range(n_steps):
        s = step0 + s_rel
        if spk_count[0] + n > cap:
            return s_rel
        step_end = s + 1
        slot = step_end % L
        for i in range(n):
            p = P[i]
            refr = refrac[i] > 0
            ge0 = ge[i]
            gi0 = gi[i]
            vi = v[i]
            wi = w[i]
            nsub = 1
            if p[P_DELTAT] > 0.0 and not refr:
                if (vi - p[P_VTHRESH]) / p[P_DELTAT] > _UPSWING_ARG:
                    nsub = _N_SUB_UPSWING
            h = dt / nsub
            spiked = False
            for k in range(nsub):
                # conductances at the start of this sub-step
                ge_k = ge0 * np.exp(-k * h / p[P_TAUE])
                gi_k = gi0 * np.exp(-k * h / p[P_TAUI])
                vi, wi = _substep(vi, wi, ge_k, gi_k, h, p, i_ext[i], refr)
                if (not refr) and vi >= p[P_VPEAK]:
                    spiked = True
                    vi = p[P_VRESET]
                    wi += p[P_B]
                    if ref_steps[i] > 0:
                        refr = True
                        refrac[i] = ref_steps[i] + 1  # +1: decremented at the end of this step
                    # NEST may fire again within one step if t_ref == 0; we do not (one spike per
                    # step and neuron), which only matters for pathological parameter sets
                    if ref_steps[i] == 0:
                        break
            if refrac[i] > 0:
                refrac[i] -= 1
            ge[i] = ge0 * np.exp(-dt / p[P_TAUE]) + ring_e[slot, i]
            gi[i] = gi0 * np.exp(-dt / p[P_TAUI]) + ring_i[slot, i]
            ring_e[slot, i] = 0.0
            ring_i[slot, i] = 0.0
            v[i] = vi
            w[i] = wi
            if spiked:
                _deliver(neuron_node[i], step_end, ptr, post, weight, delay, receptor, ring_e, ring_i, L, 1.0)
                if spike_flag[i]:
                    c = spk_count[0]
                    spk_step[c] = step_end
                    spk_node[c] = i
                    spk_count[0] = c + 1
        while ev_i < n_ev and ev_step[ev_i] <= step_end:
            _deliver(ev_node[ev_i], step_end, ptr, post, weight, delay, receptor,
                     ring_e, ring_i, L, 1.0)
            ev_i += 1
        for g in range(n_groups):
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
    return n_steps
