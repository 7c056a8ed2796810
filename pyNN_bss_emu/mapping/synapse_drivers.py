"""Synapse-driver stage of the mapper: driver requirements per incoming route and driver
assignment by Fieres bin packing (marocco's ``SynapseDriverRequirements`` and ``Fieres``;
``shared/reference/brainscales1.md`` sections 4.2, 4.3, 6.6, 14.8 and 14.9).

Terms
-----
*request* ``q``: one incoming L1 route (route source -> target HICANN) arriving on V-bus
``req_vline[q]`` and feeding the target's drivers on side ``req_side[q]``.
*half row*: the even or odd columns of one synapse row; the driver decodes the 2 MSBs of the
L1 address separately for each half row, so a half row serves one *decoder* value
``d = address >> 4`` (0..3).  The synaptic input (``receptor`` 0 exc / 1 inh) is set per
whole row.

Row classes
    A synapse row carries one receptor (its synaptic input) and, through its driver, one STP
    setting (``stp_enable``/``stp_mode``/``stp_cap`` are per driver, 4.6).  Connections are
    therefore sorted into *row classes* ``k = s * 2 + r``: ``s`` the STP class (an index into
    the STP keys present, see :mod:`.stp`; one class for an all-static network) and ``r`` the
    receptor.  With a single STP class the row classes are just the receptors.

Driver requirement (14.8), per request ``q``
    For every target neuron, row class ``k`` and decoder ``d`` count the synapses ``c``.  The
    neuron owns ``n_p`` columns of parity ``p`` (in every row of either array), so it needs
    ``ceil(c / n_p)`` half rows of parity ``p``; the parity with fewer half rows is chosen
    (equal -> "any" parity).  Half rows are shared by all neurons, so the demand of
    ``(k, d, parity)`` is the maximum over neurons; "any" demand is then spread one half row
    at a time onto the parity with fewer half rows so far (ties -> even).  Rows needed for
    row class ``k`` = max over parities of the half rows summed over decoders; drivers
    needed for STP class ``s`` = ceil((rows_exc + rows_inh) / 2) (exc and inh rows of one
    STP setting may share a driver, never one row), and the route needs the **sum over STP
    classes** (a driver carries one STP setting, so different settings never share one).

Driver assignment (14.9), per target HICANN and driver side
    112 drivers minus defects.  If the total request fits, every route gets
    ``min(requested, chain_length)``; otherwise drivers are shared in proportion to the
    routes' synapse counts (at least 1, at most the chain length), rounding repaired by
    adding to the routes with the largest deficit and removing from those with the largest
    surplus; routes that drop to 0 are packed last with their full request.  Packing: routes
    by synapses (descending), then V-bus; for each route the 14 drivers its V-bus reaches
    (:data:`~pyNN_bss_emu.hardware.synapse_switch.REACHABLE`) that are free are candidate
    primaries; the free gap of adjacent drivers in the primary's quadrant is measured and the
    smallest gap that holds the chain is taken (ties: top quadrant, then lower position); if
    no gap is large enough the largest gap is taken and the chain shortened.  The chain
    extends first towards lower quadrant positions (up to ``length - 1`` drivers), then
    upwards from the primary.  A route none of whose reachable drivers is free is rejected.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..hardware import synapse_switch as sw
from ..hardware import wafer

N_DECODERS = 4            # 2-MSB driver decoder values
N_RECEPTORS = 2           # 0 excitatory (left synaptic input), 1 inhibitory (right input)
_ANY = 2                  # tri-parity "either parity"


# ---------------------------------------------------------------- requirements (14.8)
@dataclass
class DriverRequirements:
    """Synapse-driver demand of every request.

    ``drivers[q]`` drivers needed, ``synapses[q]`` synapses the route represents,
    ``rows[q, k]`` rows needed per row class ``k = s * 2 + r`` (STP class ``s``, receptor
    ``r``; with one STP class simply per receptor), ``half_rows[q, k, d, p]`` half rows
    needed per row class, 2-MSB decoder and column parity (p 0 even, 1 odd),
    ``syn_counts[q, k, d]`` synapses per row class and decoder, ``stp_drivers[q, s]``
    drivers needed per STP class (``drivers`` is their sum).
    """
    drivers: np.ndarray
    synapses: np.ndarray
    rows: np.ndarray
    half_rows: np.ndarray
    syn_counts: np.ndarray
    stp_drivers: np.ndarray = None

    @property
    def n_stp(self) -> int:
        """Number of STP classes."""
        return self.rows.shape[1] // N_RECEPTORS


def neuron_parity_columns(x0, width):
    """Number of even and odd denmem columns of neurons with columns ``x0 .. x0+width-1``."""
    x0 = np.asarray(x0, dtype=np.int64)
    width = np.asarray(width, dtype=np.int64)
    n_even = (width + (x0 % 2 == 0)) // 2
    return n_even, width - n_even


def driver_requirements(group_request, group_x0, group_width, group_receptor, group_decoder,
                        group_count, n_requests: int, group_stp=None,
                        n_stp: int | None = None) -> DriverRequirements:
    """Driver requirements from synapse counts per (request, target neuron, STP class,
    receptor, decoder) group.  Each group appears once: ``group_count[g]`` synapses from
    sources with 2-MSB decoder ``group_decoder[g]`` on request ``group_request[g]`` onto the
    neuron with columns ``group_x0[g] .. + group_width[g] - 1`` on the request's target
    HICANN.  ``group_stp[g]`` is the group's STP class ``0 .. n_stp - 1`` (default: all 0,
    one class; ``n_stp`` defaults to ``max(group_stp) + 1``)."""
    q = np.asarray(group_request, dtype=np.int64)
    r = np.asarray(group_receptor, dtype=np.int64)
    d = np.asarray(group_decoder, dtype=np.int64)
    c = np.asarray(group_count, dtype=np.int64)
    if group_stp is None:
        s = np.zeros(q.size, dtype=np.int64)
    else:
        s = np.asarray(group_stp, dtype=np.int64)
    if n_stp is None:
        n_stp = int(s.max()) + 1 if s.size else 1
    n_stp = max(int(n_stp), 1)
    n_cls = n_stp * N_RECEPTORS
    k = s * N_RECEPTORS + r                          # row class
    n_even, n_odd = neuron_parity_columns(group_x0, group_width)
    big = np.iinfo(np.int64).max // 4
    h_even = np.where(n_even > 0, -(-c // np.maximum(n_even, 1)), big)
    h_odd = np.where(n_odd > 0, -(-c // np.maximum(n_odd, 1)), big)
    tri = np.where(h_even < h_odd, 0, np.where(h_odd < h_even, 1, _ANY))
    h = np.minimum(h_even, h_odd)

    # demand per (q, k, d, tri-parity) = max over neurons
    demand = np.zeros(n_requests * n_cls * N_DECODERS * 3, dtype=np.int64)
    np.maximum.at(demand, ((q * n_cls + k) * N_DECODERS + d) * 3 + tri, h)
    demand = demand.reshape(n_requests, n_cls, N_DECODERS, 3)

    # resolve "any" parity: one half row at a time onto the parity with fewer so far
    half_rows = demand[..., :2].copy()
    used_even = half_rows[..., 0].sum(axis=2)
    used_odd = half_rows[..., 1].sum(axis=2)
    for dec in range(N_DECODERS):
        a = demand[:, :, dec, _ANY]
        diff = used_even - used_odd
        to_odd = np.clip(diff, 0, a)
        to_even = np.clip(-diff, 0, a)
        rest = a - to_odd - to_even
        add_even = to_even + (rest + 1) // 2
        add_odd = to_odd + rest // 2
        half_rows[:, :, dec, 0] += add_even
        half_rows[:, :, dec, 1] += add_odd
        used_even += add_even
        used_odd += add_odd
    rows = np.maximum(used_even, used_odd)
    stp_drivers = (rows.reshape(n_requests, n_stp, N_RECEPTORS).sum(axis=2) + 1) // 2
    drivers = stp_drivers.sum(axis=1)
    syn_counts = np.bincount((q * n_cls + k) * N_DECODERS + d, weights=c,
                             minlength=n_requests * n_cls * N_DECODERS)
    syn_counts = syn_counts.astype(np.int64).reshape(n_requests, n_cls, N_DECODERS)
    synapses = syn_counts.sum(axis=(1, 2))
    return DriverRequirements(drivers=drivers, synapses=synapses, rows=rows,
                              half_rows=half_rows, syn_counts=syn_counts,
                              stp_drivers=stp_drivers)


# ---------------------------------------------------------------- assignment (14.9)
@dataclass
class DriverAssignment:
    """Result of the Fieres packing for all requests.

    Per request ``q``: ``requested[q]`` drivers needed, ``assigned[q]`` drivers obtained
    (0 if rejected or nothing needed), ``primary[q]`` the primary driver (the one on the
    V-bus's synapse switch; -1 if none), ``chain_array[q]`` (0 top / 1 bottom),
    ``chain_begin[q]``/``chain_end[q]`` the chain's quadrant positions ``[begin, end)``
    (quadrant = (chain_array, req_side)).  ``driver_request[h, d]``: request owning driver
    d of HICANN h (-1 free, -2 defect or disabled).
    """
    requested: np.ndarray
    assigned: np.ndarray
    primary: np.ndarray
    chain_array: np.ndarray
    chain_begin: np.ndarray
    chain_end: np.ndarray
    driver_request: np.ndarray

    def drivers_of(self, q: int, side: int) -> np.ndarray:
        """Driver lines of request ``q`` (on side ``side``), ascending."""
        if self.assigned[q] <= 0:
            return np.zeros(0, dtype=np.int64)
        return sw.QUADRANT_DRIVERS[side, self.chain_array[q],
                                   self.chain_begin[q]:self.chain_end[q]]


def fieres_lengths(requested, synapses, available: int, chain_length: int):
    """Chain lengths to pack, before placement (marocco ``Fieres`` constructor).

    Returns ``(length, last_resort)``: routes with ``last_resort`` are packed after all others
    with their length set to ``min(requested, chain_length)``.
    """
    requested = np.asarray(requested, dtype=np.int64)
    synapses = np.asarray(synapses, dtype=np.float64)
    capped = np.minimum(requested, chain_length)
    last_resort = np.zeros(requested.size, dtype=bool)
    if requested.sum() <= available:
        return capped, last_resort
    rel = synapses / synapses.sum() * available
    assign = np.minimum(chain_length, np.maximum(1, np.minimum(requested, np.floor(rel))))
    assign = assign.astype(np.int64)
    rescale = bool(np.any(assign != requested))
    delta = assign - rel
    total = int(assign.sum())
    if total != available and rescale:
        too_few = np.nonzero((delta < 0) & (assign < requested))[0]
        too_few = too_few[np.argsort(delta[too_few], kind="stable")]       # biggest deficit first
        while total < available:
            changed = False
            for i in too_few:
                if assign[i] < capped[i]:
                    assign[i] += 1
                    total += 1
                    changed = True
                if total == available:
                    break
            if not changed:
                break
        too_many = np.nonzero(delta > 0)[0]
        too_many = too_many[np.argsort(-delta[too_many], kind="stable")]   # biggest surplus first
        while total > available:
            changed = False
            for i in too_many:
                if assign[i] > 0:
                    assign[i] -= 1
                    total -= 1
                    changed = True
                if total <= available:
                    break
            if not changed:
                break
    last_resort = assign <= 0
    length = np.where(last_resort, capped, assign)
    return length, last_resort


@njit(cache=True)
def _pack(order, cand_array, cand_index, length, occ, out_array, out_begin, out_end,
          out_primary):
    """Best-fit packing of chains into the two quadrants of one side (``occ[array, pos]``:
    -1 free, otherwise taken).  ``cand_*[i]``: quadrant coordinates of the 14 primary
    candidates of route i, in switch order.  Writes the chosen chain per route (begin = end
    = -1 if rejected)."""
    n_pos = occ.shape[1]
    for oi in range(order.size):
        i = order[oi]
        want = length[i]
        # best fit: min (gap, array, pos) with gap >= want; fallback: max (gap, array, pos)
        fit_gap = -1
        fit_a = -1
        fit_p = -1
        any_gap = -1
        any_a = -1
        any_p = -1
        for k in range(cand_array.shape[1]):
            a = cand_array[i, k]
            p = cand_index[i, k]
            if occ[a, p] != -1:
                continue
            below = 0
            j = p
            while j < n_pos and occ[a, j] == -1:
                below += 1
                j += 1
            above = 0
            j = p - 1
            while j >= 0 and occ[a, j] == -1:
                above += 1
                j -= 1
            gap = below + above
            if gap >= want:
                if (fit_gap < 0 or gap < fit_gap or (gap == fit_gap and (
                        a < fit_a or (a == fit_a and p < fit_p)))):
                    fit_gap = gap
                    fit_a = a
                    fit_p = p
            if (gap > any_gap or (gap == any_gap and (
                    a > any_a or (a == any_a and p > any_p)))):
                any_gap = gap
                any_a = a
                any_p = p
            if gap == want:
                break
        if any_gap < 0:
            continue                     # rejected: no reachable driver is free
        if fit_gap >= 0:
            a = fit_a
            p = fit_p
            n = want
        else:
            a = any_a
            p = any_p
            n = any_gap
        above = 0
        j = p - 1
        while above < n - 1 and j >= 0 and occ[a, j] == -1:
            above += 1
            j -= 1
        begin = p - above
        end = begin + n
        for j in range(begin, end):
            occ[a, j] = i
        out_array[i] = a
        out_begin[i] = begin
        out_end[i] = end
        out_primary[i] = p


def assign_drivers(req_target, req_vline, req_side, requested, synapses,
                   driver_ok=None, chain_length: int = wafer.DEFAULT_CHAIN_LENGTH
                   ) -> DriverAssignment:
    """Fieres driver assignment for all requests with ``requested > 0`` (see module doc).

    ``requested``/``synapses`` come from :func:`driver_requirements`; requests with
    ``requested == 0`` (failed routes, nothing to realise) are skipped.  ``driver_ok`` is a
    (384, 224) bool mask (False = defect/blacklisted driver, never used).
    """
    if chain_length < 1:
        raise ValueError(f"driver chain length must be >= 1, got {chain_length}")
    req_target = np.asarray(req_target, dtype=np.int64)
    req_vline = np.asarray(req_vline, dtype=np.int64)
    req_side = np.asarray(req_side, dtype=np.int64)
    requested = np.asarray(requested, dtype=np.int64)
    synapses = np.asarray(synapses, dtype=np.int64)
    n_req = requested.size
    if driver_ok is None:
        driver_ok = np.ones((wafer.N_HICANN, sw.N_DRIVERS), dtype=bool)
    driver_ok = np.asarray(driver_ok, dtype=bool)
    if driver_ok.shape != (wafer.N_HICANN, sw.N_DRIVERS):
        raise ValueError(f"driver_ok must have shape {(wafer.N_HICANN, sw.N_DRIVERS)}")

    assigned = np.zeros(n_req, dtype=np.int64)
    primary = np.full(n_req, -1, dtype=np.int64)
    chain_array = np.full(n_req, -1, dtype=np.int64)
    chain_begin = np.full(n_req, -1, dtype=np.int64)
    chain_end = np.full(n_req, -1, dtype=np.int64)
    driver_request = np.where(driver_ok, -1, -2).astype(np.int32)

    active = np.nonzero(requested > 0)[0]
    if active.size:
        if np.any((req_side[active] < 0) | (req_side[active] > 1)):
            raise ValueError("req_side must be 0 (left) or 1 (right)")
        if np.any((req_vline[active] < 0) | (req_vline[active] >= wafer.N_VLINES)):
            raise ValueError("req_vline must be in 0..255")
        if np.any((req_target[active] < 0) | (req_target[active] >= wafer.N_HICANN)):
            raise ValueError("req_target must be a HICANN enum 0..383")
    key = req_target[active] * 2 + req_side[active]
    order = np.argsort(key, kind="stable")
    active = active[order]
    key = key[order]
    bounds = np.flatnonzero(np.diff(key)) + 1
    for grp in np.split(active, bounds) if active.size else []:
        h = int(req_target[grp[0]])
        side = int(req_side[grp[0]])
        quad = sw.QUADRANT_DRIVERS[side]                     # (2 arrays, 56)
        ok = driver_ok[h][quad]
        available = int(ok.sum())
        length, last = fieres_lengths(requested[grp], synapses[grp], available, chain_length)
        cand = sw.REACHABLE[side, req_vline[grp]]            # (n, 14) driver lines
        cand_array = wafer.driver_array(cand)
        cand_index = sw.quadrant_index(cand)
        occ = np.where(ok, -1, -2).astype(np.int64)
        # packing order: main list by synapses desc then V-bus, then the last-resort list
        pack = np.lexsort((req_vline[grp], -synapses[grp], last))
        out_a = np.full(grp.size, -1, dtype=np.int64)
        out_b = np.full(grp.size, -1, dtype=np.int64)
        out_e = np.full(grp.size, -1, dtype=np.int64)
        out_p = np.full(grp.size, -1, dtype=np.int64)
        _pack(pack.astype(np.int64), cand_array.astype(np.int64), cand_index.astype(np.int64),
              length.astype(np.int64), occ, out_a, out_b, out_e, out_p)
        got = out_b >= 0
        assigned[grp] = np.where(got, out_e - out_b, 0)
        chain_array[grp] = out_a
        chain_begin[grp] = out_b
        chain_end[grp] = out_e
        primary[grp] = np.where(got, quad[np.maximum(out_a, 0), np.maximum(out_p, 0)], -1)
        taken = occ >= 0
        driver_request[h, quad[taken]] = grp[occ[taken]]
    return DriverAssignment(requested=requested.copy(), assigned=assigned, primary=primary,
                            chain_array=chain_array, chain_begin=chain_begin,
                            chain_end=chain_end, driver_request=driver_request)
