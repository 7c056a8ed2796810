"""Synapse stage of the mapper: half-row configuration and synapse allocation (marocco's
``SynapseManager`` and ``SynapseRouting``; ``shared/reference/brainscales1.md`` sections 4.1,
4.3, 5, 14.8-14.10).  :func:`allocate_synapses` runs the whole synapse-driver and synapse
routing for all target HICANNs: requirements and Fieres packing
(:mod:`.synapse_drivers`), then

Row classes
    Every connection has an STP key (:mod:`.stp`: 0 static, 1..8 depression, 9..16
    facilitation with the 3-bit cap); the keys present among the routed connections are
    compressed to *STP classes* ``s`` (ascending key) and a row serves one row class
    ``k = s * 2 + receptor`` (see :mod:`.synapse_drivers`).  A driver carries one STP
    setting, so drivers needed = sum over STP classes of ceil(rows / 2).

Half-row distribution (per request, marocco ``SynapseManager::init``)
    The route's assigned drivers (ascending, rows ``2d, 2d+1``) are handed to the STP
    classes in ascending order, each class on whole drivers of its own (so a driver never
    carries two STP settings; ``driver_stp`` records the key per driver).  If fewer drivers
    were assigned than needed, the reduction is spread in proportion to synapse counts:
    first drivers per STP class, then rows per receptor within each class (from twice the
    class's drivers), then half rows per decoder within each (row class, parity) (each key
    keeps at least one if possible and never gets more than it needs).  Within a class's
    drivers the rows go to excitatory rows first, then inhibitory rows; in each receptor's
    rows the even half rows go to decoders 0..3 in turn, and likewise the odd half rows.  A
    row's ``syn_in`` (receptor) is thus the same for both halves; its two half rows may
    decode different 2-MSB values.

Synapse allocation (per synapse, marocco ``SynapseStepper``)
    The synapses of one (request, target neuron, row class, decoder) group step through the
    neuron's columns of the route's half rows with that row class and decoder: even half rows
    first, rows in order, columns ascending; defect synapses are skipped.  The group's
    synapses take the slots in ascending source address (ties: connection order).  Each synapse gets
    its own (row, column) and the synapse decoder ``address & 15``; when the slots run out
    the rest of the group is lost.  Slots never collide: rows belong to one route, half rows
    to one (row class, decoder), columns to one neuron.

Simplifications and choices (vs marocco)
    * Standard cells only: excitatory -> left synaptic input, inhibitory -> right input, so
      the input side of a receptor is fixed.
    * **Multapses** (connections repeating a (source, target neuron, receptor, STP key)
      on one route): with ``allow_multapses=True`` (the default; ``multapses="realise"``
      of the mapping options) each is an ordinary synapse of its group: it takes another
      free column of the target neuron in the group's half rows (another column of the
      same half row, or a half row of another row or driver of the route; a neuron of
      ``w`` columns offers ``w / 2`` columns of each parity per row), so the driver
      requirement counts it, and
      it is lost only when no slot is left (``lost_drivers`` or ``lost_synapse_array``
      like any synapse).  With ``allow_multapses=False`` one synapse per pair is kept and
      the repeats are lost (``lost_multapse``): per pair and projection when
      ``conn_projection`` is given (marocco's per-projection weight matrix holds one
      synapse per (pre, post) pair, so a repeat in another projection is realised, which
      is why the 2022 microcircuit demo split its multapses into extra projections), per
      pair and route otherwise.
    * Proportional reductions never give a key more than it needs (marocco's may).
    * Loss attribution: synapses on failed routes -> ``lost_l1``; synapses on a route that
      got fewer drivers than it needed (chain length, oversubscription, rejection) ->
      ``lost_drivers``; synapses on fully served routes that still found no slot (defect
      synapses) -> ``lost_synapse_array``.
    * Synapse weights are not chosen here (the parameter transform does that).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from ..hardware import synapse_switch as sw
from ..hardware import wafer
from . import stp as _stp
from .synapse_drivers import (N_DECODERS, N_RECEPTORS, DriverAssignment, assign_drivers,
                              driver_requirements)

#: synapse decoder value that marks a disabled synapse (addresses 1, 17, 33, 49 undecodable)
DISABLED_SYNAPSE_DECODER = 1


@dataclass
class SynapseAllocation:
    """Where every bio connection landed on the wafer.

    Per connection ``k`` (``-1`` where not realised): ``realized[k]``, ``hicann[k]``,
    ``driver[k]`` (driver line 0..223 whose row carries it: the route's primary or a chained
    driver), ``row[k]`` (synapse row 0..447, ``row // 2 == driver``), ``column[k]`` (0..255;
    top array rows 0..223 feed top denmems, bottom rows the bottom ones),
    ``synapse_decoder[k]`` (4-LSB decoder = ``address & 15``).

    Per request ``q``: ``drivers_requested[q]``, ``drivers_assigned[q]``,
    ``primary_driver[q]``, ``synapses_requested[q]`` (synapses the route represents: every
    connection, or without ``allow_multapses`` those left after dropping the repeats).

    Per HICANN: ``driver_request[h, d]`` request owning driver d (-1 free, -2 defect);
    ``driver_stp[h, d]`` the STP key the driver is configured for (-1 unused, 0 static,
    1..8 depression, 9..16 facilitation; :mod:`.stp`); ``row_request[h, row]`` request
    owning a row (-1 unused); ``row_receptor[h, row]`` (0 exc, 1 inh, -1 unused);
    ``row_decoder[h, row, parity]`` 2-MSB driver decoder of the even/odd half row (-1
    unused).

    Counters: ``n_requested == n_realized + lost_l1 + lost_drivers + lost_synapse_array +
    lost_multapse``.
    """
    realized: np.ndarray
    hicann: np.ndarray
    driver: np.ndarray
    row: np.ndarray
    column: np.ndarray
    synapse_decoder: np.ndarray
    drivers_requested: np.ndarray
    drivers_assigned: np.ndarray
    primary_driver: np.ndarray
    synapses_requested: np.ndarray
    driver_request: np.ndarray
    row_request: np.ndarray
    row_receptor: np.ndarray
    row_decoder: np.ndarray
    driver_stp: np.ndarray
    n_requested: int
    n_realized: int
    lost_l1: int
    lost_drivers: int
    lost_synapse_array: int
    lost_multapse: int
    timings: dict = field(default_factory=dict)

    @property
    def n_lost(self) -> int:
        return self.n_requested - self.n_realized


# ---------------------------------------------------------------- half-row distribution
@njit(cache=True)
def _reduce(required, priority, available):
    """Share ``available`` units among keys needing ``required`` in proportion to
    ``priority``: unchanged if everything fits; otherwise at least 1 per needing key where
    possible, never more than required, rounding by largest remainder."""
    k = required.size
    out = required.copy()
    total = 0
    for i in range(k):
        total += required[i]
    if total <= available:
        return out
    ptot = 0.0
    for i in range(k):
        if required[i] > 0:
            ptot += max(priority[i], 1e-12)
    rel = np.zeros(k)
    s = 0
    for i in range(k):
        if required[i] > 0:
            rel[i] = max(priority[i], 1e-12) / ptot * available
            out[i] = min(required[i], max(1, int(np.floor(rel[i]))))
        else:
            out[i] = 0
        s += out[i]
    while s > available:
        best = -1
        for i in range(k):
            if out[i] > 0 and (best < 0 or out[i] - rel[i] > out[best] - rel[best]):
                best = i
        out[best] -= 1
        s -= 1
    while s < available:
        best = -1
        for i in range(k):
            if out[i] < required[i] and (best < 0 or rel[i] - out[i] > rel[best] - out[best]):
                best = i
        if best < 0:
            break
        out[best] += 1
        s += 1
    return out


@njit(cache=True)
def _distribute(assigned, rows, half_rows, syn_counts, drv_out, rows_out, half_out):
    """Drivers per STP class, rows per row class ``k = s * 2 + r`` and half rows per (row
    class, decoder, parity) that each request actually gets from its ``assigned`` drivers
    (marocco ``SynapseManager::init``: reductions first per STP class, then per receptor,
    then per decoder)."""
    n = assigned.size
    n_stp = rows.shape[1] // N_RECEPTORS
    for q in range(n):
        a = assigned[q]
        if a <= 0:
            continue
        need_s = np.zeros(n_stp, dtype=np.int64)
        syn_s = np.zeros(n_stp)
        for s in range(n_stp):
            need_s[s] = (rows[q, 2 * s] + rows[q, 2 * s + 1] + 1) // 2
            for r in range(N_RECEPTORS):
                for d in range(N_DECODERS):
                    syn_s[s] += syn_counts[q, 2 * s + r, d]
        got_drv = _reduce(need_s, syn_s, a)
        for s in range(n_stp):
            drv_out[q, s] = got_drv[s]
            if got_drv[s] <= 0:
                continue
            req_r = np.empty(N_RECEPTORS, dtype=np.int64)
            syn_r = np.zeros(N_RECEPTORS)
            for r in range(N_RECEPTORS):
                req_r[r] = rows[q, 2 * s + r]
                for d in range(N_DECODERS):
                    syn_r[r] += syn_counts[q, 2 * s + r, d]
            got_rows = _reduce(req_r, syn_r, 2 * got_drv[s])
            for r in range(N_RECEPTORS):
                k = 2 * s + r
                rows_out[q, k] = got_rows[r]
                for p in range(2):
                    req = np.empty(N_DECODERS, dtype=np.int64)
                    prio = np.empty(N_DECODERS)
                    for d in range(N_DECODERS):
                        req[d] = half_rows[q, k, d, p]
                        both = half_rows[q, k, d, 0] + half_rows[q, k, d, 1]
                        prio[d] = syn_counts[q, k, d] * (req[d] / both) if both > 0 else 0.0
                    got = _reduce(req, prio, got_rows[r])
                    for d in range(N_DECODERS):
                        half_out[q, k, d, p] = got[d]


@njit(cache=True)
def _configure_rows(req_target, drivers_ptr, drivers_flat, drv_got, rows_got, half_got,
                    class_key, hr_ptr, hr_rows, row_request, row_receptor, row_decoder,
                    driver_stp):
    """Write the row and driver configuration of every served request and list the half
    rows of every (request, row class, decoder, parity) key in
    ``hr_rows[hr_ptr[key]:hr_ptr[key+1]]``.  Each STP class takes whole drivers of the
    route's chain (in class order), so a driver carries one STP key."""
    n = req_target.size
    n_stp = drv_got.shape[1]
    n_cls = rows_got.shape[1]
    for q in range(n):
        n_drv = drivers_ptr[q + 1] - drivers_ptr[q]
        if n_drv == 0:
            continue
        h = req_target[q]
        rows = np.empty(2 * n_drv, dtype=np.int64)
        for i in range(n_drv):
            dline = drivers_flat[drivers_ptr[q] + i]
            rows[2 * i] = 2 * dline
            rows[2 * i + 1] = 2 * dline + 1
        first_drv = 0
        for s in range(n_stp):
            nd = drv_got[q, s]
            if nd <= 0:
                continue
            for i in range(first_drv, first_drv + nd):
                driver_stp[h, drivers_flat[drivers_ptr[q] + i]] = class_key[s]
            start = 2 * first_drv
            for r in range(N_RECEPTORS):
                k = s * N_RECEPTORS + r
                nr = rows_got[q, k]
                for i in range(start, start + nr):
                    row_request[h, rows[i]] = q
                    row_receptor[h, rows[i]] = r
                for p in range(2):
                    pos = start
                    for d in range(N_DECODERS):
                        key = ((q * n_cls + k) * N_DECODERS + d) * 2 + p
                        base = hr_ptr[key]
                        for i in range(half_got[q, k, d, p]):
                            row = rows[pos]
                            pos += 1
                            hr_rows[base + i] = row
                            row_decoder[h, row, p] = d
                start += nr
            first_drv += nd


@njit(cache=True)
def _place(order, g_start, g_count, g_key, g_hicann, g_x0, g_width, hr_ptr, hr_rows,
           check_defects, synapse_ok, out_row, out_col):
    """Step every group's synapses through its half rows' columns (see module doc)."""
    for g in range(g_start.size):
        count = g_count[g]
        s0 = g_start[g]
        k = 0
        h = g_hicann[g]
        x0 = g_x0[g]
        w = g_width[g]
        for p in range(2):
            if k >= count:
                break
            key = g_key[g] * 2 + p
            for j in range(hr_ptr[key], hr_ptr[key + 1]):
                if k >= count:
                    break
                row = hr_rows[j]
                first = x0 if x0 % 2 == p else x0 + 1
                for col in range(first, x0 + w, 2):
                    if check_defects and not synapse_ok[h, row, col]:
                        continue
                    c = order[s0 + k]
                    out_row[c] = row
                    out_col[c] = col
                    k += 1
                    if k >= count:
                        break


# ---------------------------------------------------------------- multapses
def _repeats(key: np.ndarray, projection: np.ndarray | None) -> np.ndarray:
    """True for every connection whose ``key`` (route, neuron, row class, address) -- and
    ``projection``, if given -- equals that of an earlier connection: the repeats of a pair
    that ``allow_multapses=False`` drops (the first connection of each pair is kept)."""
    order = np.lexsort((key,) if projection is None else (projection, key))
    k = key[order]
    same = k[1:] == k[:-1]
    if projection is not None:
        p = projection[order]
        same &= p[1:] == p[:-1]
    drop = np.zeros(key.size, dtype=bool)
    # lexsort is stable: within a run of equal keys the earliest connection comes first
    drop[order[1:][same]] = True
    return drop


# ---------------------------------------------------------------- the stage
def allocate_synapses(conn_request: np.ndarray, conn_pre_address: np.ndarray,
                      conn_post_hicann: np.ndarray, conn_post_x0: np.ndarray,
                      conn_post_width: np.ndarray, conn_receptor: np.ndarray,
                      req_target: np.ndarray, req_vline: np.ndarray, req_side: np.ndarray,
                      req_ok: np.ndarray, driver_ok: np.ndarray | None = None,
                      synapse_ok: np.ndarray | None = None,
                      chain_length: int = wafer.DEFAULT_CHAIN_LENGTH,
                      allow_multapses: bool = True,
                      conn_stp: np.ndarray | None = None,
                      conn_projection: np.ndarray | None = None) -> SynapseAllocation:
    """Synapse-driver assignment and synapse allocation on all target HICANNs.

    Per connection k: ``conn_request[k]`` request (L1 route) carrying it or -1,
    ``conn_pre_address[k]`` 6-bit L1 address of its source on that route, the target neuron
    (HICANN, first column, width), ``conn_receptor[k]`` 0 exc / 1 inh, ``conn_stp[k]`` its
    STP key (:mod:`.stp`; default all 0, static), ``conn_projection[k]`` its projection
    (used only without ``allow_multapses``: a repeated pair is dropped only within one
    projection; default None: within the route).  Per request q: target HICANN, V-bus and
    driver side it arrives on, routed flag.  ``driver_ok`` (384, 224) and
    ``synapse_ok`` (384, 448, 256) are defect masks (True = usable).  ``allow_multapses``:
    see "Multapses" in the module docstring.
    """
    t0 = time.perf_counter()
    timings = {}
    q_all = np.asarray(conn_request, dtype=np.int64)
    n_conn = q_all.size
    address = np.asarray(conn_pre_address, dtype=np.int64)
    post_h = np.asarray(conn_post_hicann, dtype=np.int64)
    x0_all = np.asarray(conn_post_x0, dtype=np.int64)
    w_all = np.asarray(conn_post_width, dtype=np.int64)
    rec_all = np.asarray(conn_receptor, dtype=np.int64)
    stp_all = None if conn_stp is None else np.asarray(conn_stp)
    req_target = np.asarray(req_target, dtype=np.int64)
    req_vline = np.asarray(req_vline, dtype=np.int64)
    req_side = np.asarray(req_side, dtype=np.int64)
    req_ok = np.asarray(req_ok, dtype=bool)
    n_req = req_target.size
    for name, arr in (("conn_pre_address", address), ("conn_post_hicann", post_h),
                      ("conn_post_x0", x0_all), ("conn_post_width", w_all),
                      ("conn_receptor", rec_all)) + (
                          () if stp_all is None else (("conn_stp", stp_all),)) + (
                          () if conn_projection is None else
                          (("conn_projection", np.asarray(conn_projection)),)):
        if arr.shape != (n_conn,):
            raise ValueError(f"{name} must have shape ({n_conn},), got {arr.shape}")
    for name, arr in (("req_vline", req_vline), ("req_side", req_side), ("req_ok", req_ok)):
        if arr.shape != (n_req,):
            raise ValueError(f"{name} must have shape ({n_req},), got {arr.shape}")
    if np.any(q_all >= n_req) or np.any(q_all < -1):
        raise ValueError("conn_request must be -1 or a request index")
    check_defects = synapse_ok is not None
    if check_defects:
        synapse_ok = np.ascontiguousarray(synapse_ok, dtype=bool)
        if synapse_ok.shape != (wafer.N_HICANN, wafer.SYNAPSE_ROWS, wafer.DENMEM_COLUMNS):
            raise ValueError("synapse_ok must have shape (384, 448, 256)")
    else:
        synapse_ok = np.ones((1, 1, 1), dtype=bool)

    routed = q_all >= 0
    routed[routed] = req_ok[q_all[routed]]
    lost_l1 = int(n_conn - routed.sum())
    idx = np.flatnonzero(routed)
    q = q_all[idx]
    a = address[idx]
    x0 = x0_all[idx]
    w = w_all[idx]
    rec = rec_all[idx]
    if idx.size:
        if np.any((a < 0) | (a > 63)):
            raise ValueError("L1 addresses must be in 0..63")
        if np.any(a % 16 == DISABLED_SYNAPSE_DECODER):
            raise ValueError("L1 addresses with low nibble 1 (1, 17, 33, 49) cannot be "
                             "decoded by a synapse (decoder 1 disables it)")
        if np.any(post_h[idx] != req_target[q]):
            raise ValueError("a connection's target HICANN differs from its request's target")
        if np.any((w < 1) | (x0 < 0) | (x0 + w > wafer.DENMEM_COLUMNS)):
            raise ValueError("target neuron columns out of range")
        if np.any((rec < 0) | (rec > 1)):
            raise ValueError("conn_receptor must be 0 (excitatory) or 1 (inhibitory)")

    # STP classes: the keys present among the routed connections, ascending
    class_key = np.zeros(1, dtype=np.int64)
    rcls = rec                                       # row class per connection
    if stp_all is not None:
        key = stp_all[idx].astype(np.int64)
        if np.any((key < 0) | (key >= _stp.N_KEYS)):
            raise ValueError(f"conn_stp must be an STP key 0..{_stp.N_KEYS - 1}")
        if key.size:
            class_key, stp_class = _stp.stp_classes(key)
            rcls = stp_class * N_RECEPTORS + rec
    n_stp = class_key.size
    n_cls = n_stp * N_RECEPTORS

    # sort by (request, neuron, row class, address): groups (request, neuron, row class,
    # 2-MSB decoder) become contiguous and multapses (same address, neuron, receptor and STP
    # key on one route) adjacent
    full_key = ((q * wafer.DENMEM_COLUMNS + x0) * n_cls + rcls) * 64 + a
    lost_multapse = 0
    if allow_multapses or not idx.size:
        order = np.argsort(full_key, kind="stable")
    else:
        proj = None if conn_projection is None else \
            np.asarray(conn_projection, dtype=np.int64)[idx]
        drop = _repeats(full_key, proj)
        lost_multapse = int(drop.sum())
        kept = np.flatnonzero(~drop)
        order = kept[np.argsort(full_key[kept], kind="stable")]
    sorted_key = full_key[order]
    group_key = sorted_key >> 4                      # drop the 4 LSBs: decoder = a >> 4
    if order.size:
        starts = np.concatenate([[0], np.flatnonzero(np.diff(group_key)) + 1])
    else:
        starts = np.zeros(0, dtype=np.int64)
    counts = np.diff(np.concatenate([starts, [order.size]]))
    first = order[starts]
    dec = a >> 4
    g_q, g_x0, g_w, g_d = q[first], x0[first], w[first], dec[first]
    g_k = rcls[first]
    # the per-connection keys are not needed any more: free them before the row
    # configuration and the placement (memory peak of large networks)
    full_key = sorted_key = group_key = rcls = dec = x0 = w = rec = key = stp_class = None
    timings["grouping"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    reqs = driver_requirements(g_q, g_x0, g_w, g_k % N_RECEPTORS, g_d, counts, n_req,
                               group_stp=g_k // N_RECEPTORS, n_stp=n_stp)
    timings["requirements"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    assignment: DriverAssignment = assign_drivers(req_target, req_vline, req_side,
                                                  reqs.drivers, reqs.synapses,
                                                  driver_ok=driver_ok,
                                                  chain_length=chain_length)
    timings["fieres"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    drv_got = np.zeros((n_req, n_stp), dtype=np.int64)
    rows_got = np.zeros((n_req, n_cls), dtype=np.int64)
    half_got = np.zeros((n_req, n_cls, N_DECODERS, 2), dtype=np.int64)
    _distribute(assignment.assigned, reqs.rows, reqs.half_rows,
                reqs.syn_counts.astype(np.float64), drv_got, rows_got, half_got)
    # drivers of every served request, ascending, as CSR
    served = np.flatnonzero(assignment.assigned > 0)
    drivers_ptr = np.zeros(n_req + 1, dtype=np.int64)
    drivers_ptr[1:] = np.cumsum(assignment.assigned)
    drivers_flat = np.zeros(int(drivers_ptr[-1]), dtype=np.int64)
    if served.size:
        s_side = req_side[served]
        s_arr = assignment.chain_array[served]
        s_beg = assignment.chain_begin[served]
        s_len = assignment.assigned[served]
        rep = np.repeat(np.arange(served.size), s_len)
        offs = np.arange(rep.size) - np.repeat(np.cumsum(s_len) - s_len, s_len)
        drivers_flat[:] = sw.QUADRANT_DRIVERS[s_side[rep], s_arr[rep], s_beg[rep] + offs]
    hr_ptr = np.zeros(half_got.size + 1, dtype=np.int64)
    hr_ptr[1:] = np.cumsum(half_got.ravel())
    hr_rows = np.full(int(hr_ptr[-1]), -1, dtype=np.int64)
    row_request = np.full((wafer.N_HICANN, wafer.SYNAPSE_ROWS), -1, dtype=np.int32)
    row_receptor = np.full((wafer.N_HICANN, wafer.SYNAPSE_ROWS), -1, dtype=np.int8)
    row_decoder = np.full((wafer.N_HICANN, wafer.SYNAPSE_ROWS, 2), -1, dtype=np.int8)
    driver_stp = np.full((wafer.N_HICANN, wafer.N_SYNAPSE_DRIVERS), -1, dtype=np.int8)
    _configure_rows(req_target, drivers_ptr, drivers_flat, drv_got, rows_got, half_got,
                    class_key, hr_ptr, hr_rows, row_request, row_receptor, row_decoder,
                    driver_stp)
    timings["rows"] = time.perf_counter() - t1

    t1 = time.perf_counter()
    out_row = np.full(idx.size, -1, dtype=np.int64)
    out_col = np.full(idx.size, -1, dtype=np.int64)
    g_key = ((g_q * n_cls + g_k) * N_DECODERS + g_d)
    _place(order.astype(np.int64, copy=False), starts.astype(np.int64, copy=False),
           counts.astype(np.int64, copy=False), g_key.astype(np.int64, copy=False),
           req_target[g_q], g_x0, g_w, hr_ptr, hr_rows,
           check_defects, synapse_ok, out_row, out_col)
    timings["synapses"] = time.perf_counter() - t1

    ok = out_row >= 0
    realized = np.zeros(n_conn, dtype=bool)
    realized[idx[ok]] = True
    hicann = np.full(n_conn, -1, dtype=np.int64)
    row = np.full(n_conn, -1, dtype=np.int64)
    column = np.full(n_conn, -1, dtype=np.int64)
    syn_dec = np.full(n_conn, -1, dtype=np.int8)
    hicann[idx[ok]] = req_target[q[ok]]
    row[idx[ok]] = out_row[ok]
    column[idx[ok]] = out_col[ok]
    syn_dec[idx[ok]] = (a[ok] & 15).astype(np.int8)
    driver = np.where(row >= 0, row // 2, -1)
    live = np.zeros(idx.size, dtype=bool)           # routed and not a dropped multapse
    live[order] = True
    short = assignment.assigned[q] < assignment.requested[q]
    lost_drivers = int(np.sum(~ok & live & short))
    lost_array = int(np.sum(~ok & live & ~short))
    n_realized = int(ok.sum())
    assert n_realized + lost_l1 + lost_drivers + lost_array + lost_multapse == n_conn
    timings["total"] = time.perf_counter() - t0
    return SynapseAllocation(
        realized=realized, hicann=hicann, driver=driver, row=row, column=column,
        synapse_decoder=syn_dec, drivers_requested=assignment.requested,
        drivers_assigned=assignment.assigned, primary_driver=assignment.primary,
        synapses_requested=reqs.synapses, driver_request=assignment.driver_request,
        row_request=row_request, row_receptor=row_receptor, row_decoder=row_decoder,
        driver_stp=driver_stp, n_requested=n_conn, n_realized=n_realized, lost_l1=lost_l1,
        lost_drivers=lost_drivers, lost_synapse_array=lost_array,
        lost_multapse=lost_multapse, timings=timings)
