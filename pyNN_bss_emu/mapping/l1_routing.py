"""Layer-1 (wafer) bus routing: routes from sending DNC mergers to target HICANNs.

Reference: ``shared/reference/brainscales1.md`` sections 6.2-6.8 (L1 network), 8 (delays)
and 14.7 (marocco's ``L1Routing``).  Entry point: :func:`route_l1`.

Bus graph
---------
One vertex per bus segment of the wafer: vertex ``h * 320 + k`` is H-bus ``k`` (0..63) of
HICANN ``h`` and vertex ``h * 320 + 64 + v`` is V-bus ``v`` (0..255) of HICANN ``h``
(384 x 320 = 122,880 vertices).  Edges (undirected):

* repeater: H-bus ``k`` of ``h`` -- H-bus ``k + 2`` of the east neighbour (``wafer.hline_towards``);
  V-bus ``v`` of ``h`` -- ``wafer.vline_towards(v, NORTH)`` of the north neighbour;
* crossbar: H-bus ``k`` -- its 8 V-buses ``wafer.crossbar_vlines(k)`` on the same HICANN.

The static graph of the whole wafer (CSR arrays plus padded neighbour tables) is built once
and cached; missing HICANNs, defective buses, reserved sending H-buses and buses taken by
earlier routes are handled with a per-vertex ``free`` mask.

Routing rules enforced for every route tree
--------------------------------------------
* a tree starts on the sending H-bus ``wafer.sending_hline(merger)`` of its source HICANN;
* bus exclusivity: a segment belongs to at most one tree (the whole tree of a routed source is
  removed for all later sources); the sending H-buses of all sources are reserved for their
  own source from the start (marocco's "avoid", here a hard block);
* crossbar limit (calibtic default): a segment carries at most one crossbar switch, i.e. an
  H-bus segment branches into at most one V-bus on its HICANN and a V-bus segment connects to
  at most one H-bus (so a path never takes two crossbar edges in a row either);
* a request (source, target HICANN ``t``) is routed when the tree holds a V-bus segment *on*
  ``t``; that V-bus feeds ``t``'s synapse drivers on its side (V-bus < 128: left, side 0;
  >= 128: right, side 1).  The hardware also lets a V-bus feed the facing drivers of the
  neighbour HICANN; **that option is not used** here (a route always ends on a V-bus of the
  target itself), which is slightly pessimistic;
* driver groups: the 16 V-buses of one side with equal ``(v % 32) // 4`` reach the same 14
  local synapse drivers, and every route needs its own primary driver, so at most
  ``group_capacity`` (14) requests end on one group of a target HICANN (further V-buses of a
  full group may still be passed through).  Groups with >= 12 routes count as contested;
* ``req_hops`` = number of HICANNs on the tree path from the source bus to the target V-bus,
  both ends included (1 + number of repeater edges on the path); one tree path per target.

Algorithms (``ALGORITHMS``)
---------------------------
``"backbone"`` (marocco's default router, Jeltsch's "iterative horizontal growth"): walk along
the source H-bus east to the easternmost and west to the westernmost target column; where
the next H segment is taken, missing or defective, take the detour (crossbar -> V-bus ->
north/south neighbour -> crossbar -> H-bus) whose straight continuation gets furthest.  Then,
in every backbone column holding targets (source column first, then outwards east, then
west), branch into one vertical rib: try each free crossbar V-bus of the backbone H segment,
walk it north and south towards the extreme target rows of that column, score 3 per target
reached (2 if the V-bus's driver group on it is contested) and keep the best candidate
(segments beyond its last target are not taken).  Targets the backbone misses fail, as in
marocco.

``"dijkstra"``: Steiner-like tree growth.  Starting from the sending H-bus, repeatedly run a
shortest-path search from the *whole current tree* to the nearest not yet reached target
HICANN, add that path to the tree and repeat.  Search cost: ``H_COST`` (3) per H-bus segment
and 1 per V-bus segment entered (H-buses are the scarce resource: 64 against 256 per HICANN;
marocco uses uniform weights), plus 1 for ending on a contested driver group.  The search is
an A* with the weighted distance on the grid of available HICANNs as consistent heuristic, a
bucket queue, LIFO tie-breaking and a per-vertex label "entered through a crossbar switch" so
that the crossbar limit holds (each vertex is settled once, with its first label; a vertex
entered through a repeater is preferred on ties).  ``max_detour`` (default unbounded) can
reject targets whose path would cost more than the grid lower bound plus the given slack.

``"backbone+dijkstra"`` (default of :func:`route_l1`; least loss in our tests): the backbone,
then the tree-growth search for the targets the backbone missed.

Routing order: ``priority`` (higher first), then number of distinct targets (more first),
then source HICANN enum, then DNC merger.  Everything is deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

from ..hardware import wafer
from .types import L1Routes

__all__ = ["route_l1", "ALGORITHMS", "L1Trees", "vertex_of", "bus_of_vertex",
           "N_VERTICES", "VERTICES_PER_HICANN"]

#: allowed values of ``route_l1(algorithm=...)``
ALGORITHMS = ("backbone", "dijkstra", "backbone+dijkstra")
_ALGO_CODE = {"backbone": 0, "dijkstra": 1, "backbone+dijkstra": 2}

VERTICES_PER_HICANN = wafer.N_HLINES + wafer.N_VLINES          # 320
N_VERTICES = wafer.N_HICANN * VERTICES_PER_HICANN              # 122,880

#: routes ending on one driver group (16 V-buses sharing 14 drivers) before it counts as
#: contested (marocco backbone scoring, Jeltsch thesis)
CONTENTION_THRESHOLD = 12
#: at most this many routes end on the V-buses of one driver group of a target HICANN: the
#: group's 16 V-buses reach the same 14 local synapse drivers and every route needs its own
#: primary driver, so further routes could not be used (section 6.6)
GROUP_CAPACITY = 14

#: search cost of one H-bus segment (a V-bus segment costs 1): H-buses are the scarce
#: resource (64 per HICANN against 256 V-buses)
H_COST = 3

#: default detour bound of the tree-growth search, in search-cost units (H segment
#: ``H_COST``, V segment 1) above the grid lower bound; -1 = unbounded
MAX_DETOUR = -1

_INF = 1 << 30


def vertex_of(hicann, vertical, bus):
    """Graph vertex of H-bus (``vertical`` False) or V-bus ``bus`` of ``hicann``."""
    hicann = np.asarray(hicann, dtype=np.int64)
    bus = np.asarray(bus, dtype=np.int64)
    return hicann * VERTICES_PER_HICANN + np.where(vertical, wafer.N_HLINES, 0) + bus


def bus_of_vertex(v):
    """(hicann, vertical, bus) of graph vertices ``v``."""
    v = np.asarray(v, dtype=np.int64)
    hicann = v // VERTICES_PER_HICANN
    local = v % VERTICES_PER_HICANN
    vertical = local >= wafer.N_HLINES
    bus = np.where(vertical, local - wafer.N_HLINES, local)
    return hicann, vertical, bus


# ------------------------------------------------------------------------ static graph
_STATIC = None


def _static_graph():
    """Static bus graph of the full wafer (cached): see module docstring.

    Returns a dict with
    ``rep`` (NV, 2): repeater neighbours (H: east, west; V: north, south), -1 if none;
    ``xb`` (NV, 8): crossbar neighbours (H: 8 V-buses; V: 2 H-buses, rest -1);
    ``indptr``, ``indices``, ``etype`` CSR adjacency (etype 0 repeater, 1 crossbar);
    ``vh`` HICANN of each vertex, ``isv`` 1 for V-bus vertices, ``grp`` driver group
    (side * 8 + (v % 32) // 4) of V-bus vertices (-1 for H-buses).
    """
    global _STATIC
    if _STATIC is not None:
        return _STATIC
    nh, npv, nhl = wafer.N_HICANN, VERTICES_PER_HICANN, wafer.N_HLINES
    nv = nh * npv
    hh = np.arange(nh, dtype=np.int64)[:, None]
    k = np.arange(nhl, dtype=np.int64)[None, :]
    v = np.arange(wafer.N_VLINES, dtype=np.int64)[None, :]
    hid = (hh * npv + k).ravel()
    vid = (hh * npv + nhl + v).ravel()

    rep = np.full((nv, 2), -1, dtype=np.int64)
    for col, d in enumerate((wafer.EAST, wafer.WEST)):
        nb = wafer.NEIGHBOUR[d][:, None]
        tgt = np.where(nb >= 0, nb * npv + wafer.hline_towards(k, d), -1)
        rep[hid, col] = tgt.ravel()
    for col, d in enumerate((wafer.NORTH, wafer.SOUTH)):
        nb = wafer.NEIGHBOUR[d][:, None]
        tgt = np.where(nb >= 0, nb * npv + nhl + wafer.vline_towards(v, d), -1)
        rep[vid, col] = tgt.ravel()

    xb = np.full((nv, 8), -1, dtype=np.int64)
    xb[hid, :] = (hh[:, :, None] * npv + nhl + wafer.crossbar_vlines(k)).reshape(-1, 8)
    xb[vid, :2] = (hh[:, :, None] * npv + wafer.crossbar_hlines(v)).reshape(-1, 2)

    nbr = np.concatenate([rep, xb], axis=1)
    et = np.broadcast_to(np.array([0, 0] + [1] * 8, dtype=np.int64), nbr.shape)
    valid = nbr >= 0
    indptr = np.zeros(nv + 1, dtype=np.int64)
    np.cumsum(valid.sum(axis=1), out=indptr[1:])
    indices = nbr[valid].astype(np.int64)
    etype = et[valid].astype(np.int64)

    vh = np.repeat(np.arange(nh, dtype=np.int64), npv)
    local = np.tile(np.arange(npv, dtype=np.int64), nh)
    isv = (local >= nhl).astype(np.int64)
    vl = local - nhl
    grp = np.where(isv == 1, (vl >= 128) * 8 + (vl % 32) // 4, -1).astype(np.int64)
    _STATIC = dict(rep=rep, xb=xb, indptr=indptr, indices=indices, etype=etype,
                   vh=vh, isv=isv, grp=grp)
    return _STATIC


# ------------------------------------------------------------------------ numba kernels
@njit(cache=True)
def _grid_distance(hd, srcs, nsrc, hicann_ok, nbr4, queue, inq, w_h):
    """Shortest distance from the HICANNs ``srcs[:nsrc]`` on the grid of available HICANNs,
    east/west steps costing ``w_h`` (one H-bus segment) and north/south steps 1 (one V-bus
    segment): a lower bound of the search cost between two HICANNs.  Label-correcting search
    with a circular queue (384 nodes)."""
    nh = hd.shape[0]
    for h in range(nh):
        hd[h] = _INF
        inq[h] = 0
    qh = 0
    qn = 0
    for i in range(nsrc):
        t = srcs[i]
        if hicann_ok[t] and hd[t] == _INF:
            hd[t] = 0
            queue[(qh + qn) % nh] = t
            qn += 1
            inq[t] = 1
    while qn > 0:
        h = queue[qh]
        qh = (qh + 1) % nh
        qn -= 1
        inq[h] = 0
        for d in range(4):
            n = nbr4[d, h]
            if n >= 0 and hicann_ok[n]:
                nd = hd[h] + (1 if d < 2 else w_h)
                if nd < hd[n]:
                    hd[n] = nd
                    if inq[n] == 0:
                        queue[(qh + qn) % nh] = n
                        qn += 1
                        inq[n] = 1


@njit(cache=True)
def _add_vertex(u, p, via, r, owner, parent, viax, depth, free, xbar, tree, ntree,
                vh, isv, grp, tmark, treached, tvert, cont, cap):
    """Put vertex ``u`` into the tree of source ``r`` (parent ``p``, edge crossbar if
    ``via``); mark a target reached when ``u`` is a V-bus on it.  Returns the new tree size."""
    owner[u] = r
    parent[u] = p
    viax[u] = via
    free[u] = 0
    if p >= 0:
        depth[u] = depth[p] + (1 - via)
        if via == 1:
            xbar[u] = 1
            xbar[p] = 1
    else:
        depth[u] = 0
    tree[ntree] = u
    ntree += 1
    if isv[u] == 1:
        i = tmark[vh[u]]
        if i >= 0 and treached[i] == 0 and cont[vh[u] * 16 + grp[u]] < cap:
            treached[i] = 1
            tvert[i] = u
            cont[vh[u] * 16 + grp[u]] += 1
    return ntree


@njit(cache=True)
def _push(b, v, g, s, p, heads, nxt, ev, eg, es, ep, nent):
    ev[nent] = v
    eg[nent] = g
    es[nent] = s
    ep[nent] = p
    nxt[nent] = heads[b]
    heads[b] = nent
    return nent + 1


@njit(cache=True)
def _grow(r, tree, ntree, free, xbar, owner, parent, viax, depth,
          indptr, indices, etype, vh, isv, grp, hicann_ok, nbr4,
          tgt, n_t, tmark, treached, tvert, cont,
          hd, hqueue, hinq, stamp_arr, closed, gst, gval, gsv, pred, pstate, deferred,
          heads, nxt, ev, eg, es, ep, w_h, hsrc, lbd, acc, max_detour, cap):
    """Tree growth ("dijkstra"): connect the unreached targets one by one, nearest first."""
    while True:
        remaining = 0
        for i in range(n_t):
            if treached[i] == 0:
                remaining += 1
        if remaining == 0:
            return ntree
        # heuristic: grid distance to the nearest unreached target
        nsrc = 0
        for i in range(n_t):
            if treached[i] == 0:
                hsrc[nsrc] = tgt[i]
                nsrc += 1
        _grid_distance(hd, hsrc, nsrc, hicann_ok, nbr4, hqueue, hinq, w_h)
        # detour bound: accept target i only at cost <= (lower bound from the tree) + max_detour
        fmax = _INF
        if max_detour >= 0:
            for i in range(ntree):
                hsrc[i] = vh[tree[i]]
            _grid_distance(lbd, hsrc, ntree, hicann_ok, nbr4, hqueue, hinq, w_h)
            fmax = 0
            for i in range(n_t):
                if treached[i] == 0:
                    acc[i] = lbd[tgt[i]] + 1 + max_detour
                    if acc[i] > fmax:
                        fmax = acc[i]
                else:
                    acc[i] = _INF
        stamp_arr[0] += 1
        stamp = stamp_arr[0]
        nent = 0
        bmin = heads.shape[0]
        bmax = -1
        for i in range(ntree):
            v = tree[i]
            hv = hd[vh[v]]
            if hv >= _INF:
                continue
            f = hv + 1 - isv[v]
            s = xbar[v]
            b = 2 * f + s
            nent = _push(b, v, 0, s, -1, heads, nxt, ev, eg, es, ep, nent)
            gst[v] = stamp
            gval[v] = 0
            gsv[v] = s
            if b < bmin:
                bmin = b
            if b > bmax:
                bmax = b
        goal = -1
        cur = bmin
        while True:
            while cur <= bmax and heads[cur] == -1:
                cur += 1
            if cur > bmax or cur // 2 > fmax:
                break
            e = heads[cur]
            heads[cur] = nxt[e]
            v = ev[e]
            if closed[v] == stamp:
                continue
            g = eg[e]
            s = es[e]
            p = ep[e]
            if p >= 0 and isv[v] == 1:
                i = tmark[vh[v]]
                if i >= 0 and treached[i] == 0 and cont[vh[v] * 16 + grp[v]] >= cap:
                    pass                     # driver group of this V-bus is full: no goal
                elif i >= 0 and treached[i] == 0 and g > acc[i]:
                    treached[i] = 3          # only reachable with a too long detour: failed
                elif i >= 0 and treached[i] == 0:
                    if cont[vh[v] * 16 + grp[v]] >= CONTENTION_THRESHOLD and \
                            deferred[v] != stamp:
                        # contested driver group: accept only one hop later
                        deferred[v] = stamp
                        b = cur + 2
                        nent = _push(b, v, g, s, p, heads, nxt, ev, eg, es, ep, nent)
                        if b > bmax:
                            bmax = b
                        continue
                    closed[v] = stamp
                    pred[v] = p
                    pstate[v] = s
                    goal = v
                    break
            closed[v] = stamp
            pred[v] = p
            pstate[v] = s
            for j in range(indptr[v], indptr[v + 1]):
                w = indices[j]
                if free[w] == 0 or closed[w] == stamp:
                    continue
                t = etype[j]
                if t == 1 and s == 1:
                    continue
                hw = hd[vh[w]]
                if hw >= _INF:
                    continue
                ng = g + (1 if isv[w] == 1 else w_h)
                if gst[w] == stamp:
                    if gval[w] < ng or (gval[w] == ng and gsv[w] <= t):
                        continue
                gst[w] = stamp
                gval[w] = ng
                gsv[w] = t
                b = 2 * (ng + hw + 1 - isv[w]) + t
                nent = _push(b, w, ng, t, v, heads, nxt, ev, eg, es, ep, nent)
                if b < cur:
                    cur = b
                if b < bmin:
                    bmin = b
                if b > bmax:
                    bmax = b
        # clear the bucket heads used by this search
        for b in range(bmin, bmax + 1):
            heads[b] = -1
        if goal < 0:
            return ntree
        # collect the path goal -> tree, then add it tree -> goal
        n = 0
        u = goal
        while pred[u] >= 0 and owner[u] != r:
            hqueue[n] = u
            n += 1
            u = pred[u]
        for k in range(n - 1, -1, -1):
            u = hqueue[k]
            ntree = _add_vertex(u, pred[u], pstate[u], r, owner, parent, viax, depth, free,
                                xbar, tree, ntree, vh, isv, grp, tmark, treached, tvert, cont, cap)


@njit(cache=True)
def _bb_walk(start, d, x_end, r, tree, ntree, free, xbar, owner, parent, viax, depth,
             rep, xb, vh, isv, grp, hx, tmark, treached, tvert, cont, bbcol, cap):
    """Backbone walk along H-buses from ``start`` in direction ``d`` (0 east, 1 west) to
    column ``x_end``, with north/south detours.  Records the rib candidates in ``bbcol``."""
    cur = start
    while hx[vh[cur]] != x_end:
        nx = rep[cur, d]
        if nx >= 0 and free[nx] == 1:
            ntree = _add_vertex(nx, cur, 0, r, owner, parent, viax, depth, free, xbar, tree,
                                ntree, vh, isv, grp, tmark, treached, tvert, cont, cap)
            cur = nx
            if bbcol[hx[vh[cur]]] < 0:
                bbcol[hx[vh[cur]]] = cur
            continue
        if xbar[cur] == 1:
            break
        best_v = -1
        best_v2 = -1
        best_h = -1
        best_prog = 0
        for i in range(8):
            v1 = xb[cur, i]
            if v1 < 0 or free[v1] == 0:
                continue
            for vd in range(2):
                v2 = rep[v1, vd]
                if v2 < 0 or free[v2] == 0:
                    continue
                for j in range(2):
                    h2 = xb[v2, j]
                    if h2 < 0 or free[h2] == 0:
                        continue
                    prog = 0
                    c = h2
                    while hx[vh[c]] != x_end:
                        n2 = rep[c, d]
                        if n2 < 0 or free[n2] == 0:
                            break
                        prog += 1
                        c = n2
                    if prog > best_prog:
                        best_prog = prog
                        best_v = v1
                        best_v2 = v2
                        best_h = h2
        if best_h < 0:
            break
        ntree = _add_vertex(best_v, cur, 1, r, owner, parent, viax, depth, free, xbar, tree,
                            ntree, vh, isv, grp, tmark, treached, tvert, cont, cap)
        ntree = _add_vertex(best_v2, best_v, 0, r, owner, parent, viax, depth, free, xbar,
                            tree, ntree, vh, isv, grp, tmark, treached, tvert, cont, cap)
        ntree = _add_vertex(best_h, best_v2, 1, r, owner, parent, viax, depth, free, xbar,
                            tree, ntree, vh, isv, grp, tmark, treached, tvert, cont, cap)
        cur = best_h
    return ntree


@njit(cache=True)
def _rib_score(c, vh, tmark, treached, cont, grp, cap):
    i = tmark[vh[c]]
    if i >= 0 and treached[i] == 0:
        n = cont[vh[c] * 16 + grp[c]]
        if n >= cap:
            return 0
        if n < CONTENTION_THRESHOLD:
            return 3
        return 2
    return 0


@njit(cache=True)
def _backbone(r, src, tree, ntree, free, xbar, owner, parent, viax, depth,
              rep, xb, vh, isv, grp, hx, hy, tgt, n_t, tmark, treached, tvert, cont,
              bbcol, walkbuf, cap):
    """marocco-like backbone router (see module docstring)."""
    xs = hx[vh[src]]
    x_east = xs
    x_west = xs
    for i in range(n_t):
        if treached[i] == 0:
            x = hx[tgt[i]]
            if x > x_east:
                x_east = x
            if x < x_west:
                x_west = x
    for x in range(bbcol.shape[0]):
        bbcol[x] = -1
    bbcol[xs] = src
    ntree = _bb_walk(src, 0, x_east, r, tree, ntree, free, xbar, owner, parent, viax, depth,
                     rep, xb, vh, isv, grp, hx, tmark, treached, tvert, cont, bbcol, cap)
    ntree = _bb_walk(src, 1, x_west, r, tree, ntree, free, xbar, owner, parent, viax, depth,
                     rep, xb, vh, isv, grp, hx, tmark, treached, tvert, cont, bbcol, cap)
    # ribs: source column, then east columns outwards, then west columns outwards
    ncols = x_east - x_west + 1
    for kcol in range(ncols):
        if kcol == 0:
            x = xs
        elif kcol <= x_east - xs:
            x = xs + kcol
        else:
            x = xs - (kcol - (x_east - xs))
        b = bbcol[x]
        if b < 0 or xbar[b] == 1:
            continue
        ymin = 1 << 20
        ymax = -1
        for i in range(n_t):
            if treached[i] == 0 and hx[tgt[i]] == x:
                y = hy[tgt[i]]
                if y < ymin:
                    ymin = y
                if y > ymax:
                    ymax = y
        if ymax < 0:
            continue
        best = -1
        best_score = 0
        for i in range(8):
            v1 = xb[b, i]
            if v1 < 0 or free[v1] == 0:
                continue
            score = _rib_score(v1, vh, tmark, treached, cont, grp, cap)
            for d in range(2):
                c = v1
                while (d == 0 and hy[vh[c]] > ymin) or (d == 1 and hy[vh[c]] < ymax):
                    n2 = rep[c, d]
                    if n2 < 0 or free[n2] == 0:
                        break
                    c = n2
                    score += _rib_score(c, vh, tmark, treached, cont, grp, cap)
            if score > best_score:
                best_score = score
                best = v1
        if best < 0:
            continue
        ntree = _add_vertex(best, b, 1, r, owner, parent, viax, depth, free, xbar, tree,
                            ntree, vh, isv, grp, tmark, treached, tvert, cont, cap)
        for d in range(2):
            # walk again, keep the segments up to the last one that reaches a target
            n = 0
            last = 0
            c = best
            while (d == 0 and hy[vh[c]] > ymin) or (d == 1 and hy[vh[c]] < ymax):
                n2 = rep[c, d]
                if n2 < 0 or free[n2] == 0:
                    break
                c = n2
                walkbuf[n] = c
                n += 1
                if _rib_score(c, vh, tmark, treached, cont, grp, cap) > 0:
                    last = n
            p = best
            for k in range(last):
                c = walkbuf[k]
                ntree = _add_vertex(c, p, 0, r, owner, parent, viax, depth, free, xbar,
                                    tree, ntree, vh, isv, grp, tmark, treached, tvert, cont, cap)
                p = c
    return ntree


@njit(cache=True)
def _route_all(order, src_vertex, tptr, tlist, algo,
               free, owner, parent, viax, depth, xbar,
               indptr, indices, etype, rep, xb, vh, isv, grp, hx, hy, hicann_ok, nbr4,
               out_vert, w_h, max_detour, cap):
    """Route every source in ``order``; ``out_vert[j]`` = V-bus vertex reaching target
    ``tlist[j]`` (-1 if failed)."""
    nv = free.shape[0]
    nh = hicann_ok.shape[0]
    tree = np.empty(nv, dtype=np.int64)
    tmark = np.full(nh, -1, dtype=np.int64)
    cont = np.zeros(nh * 16, dtype=np.int64)
    hd = np.empty(nh, dtype=np.int64)
    hqueue = np.empty(nv, dtype=np.int64)
    hinq = np.zeros(nh, dtype=np.int64)
    hsrc = np.empty(nv, dtype=np.int64)
    lbd = np.empty(nh, dtype=np.int64)
    acc = np.full(nh, _INF, dtype=np.int64)
    stamp_arr = np.zeros(1, dtype=np.int64)
    closed = np.zeros(nv, dtype=np.int64)
    gst = np.zeros(nv, dtype=np.int64)
    gval = np.zeros(nv, dtype=np.int64)
    gsv = np.zeros(nv, dtype=np.int64)
    pred = np.full(nv, -1, dtype=np.int64)
    pstate = np.zeros(nv, dtype=np.int64)
    deferred = np.zeros(nv, dtype=np.int64)
    heads = np.full(2 * (w_h * nv + w_h * nh + 64), -1, dtype=np.int64)
    npool = 12 * nv + 64
    nxt = np.empty(npool, dtype=np.int64)
    ev = np.empty(npool, dtype=np.int64)
    eg = np.empty(npool, dtype=np.int64)
    es = np.empty(npool, dtype=np.int64)
    ep = np.empty(npool, dtype=np.int64)
    bbcol = np.full(64, -1, dtype=np.int64)
    walkbuf = np.empty(64, dtype=np.int64)
    for oi in range(order.shape[0]):
        r = order[oi]
        t0 = tptr[r]
        n_t = tptr[r + 1] - t0
        if n_t == 0:
            continue
        src = src_vertex[r]
        if src < 0 or owner[src] != -1 or hicann_ok[vh[src]] == 0:
            continue
        tgt = tlist[t0:t0 + n_t]
        treached = np.zeros(n_t, dtype=np.int64)
        tvert = np.full(n_t, -1, dtype=np.int64)
        for i in range(n_t):
            if hicann_ok[tgt[i]]:
                tmark[tgt[i]] = i
            else:
                treached[i] = 2          # unavailable target: never reachable
        ntree = _add_vertex(src, -1, 0, r, owner, parent, viax, depth, free, xbar, tree, 0,
                            vh, isv, grp, tmark, treached, tvert, cont, cap)
        if algo == 0 or algo == 2:
            ntree = _backbone(r, src, tree, ntree, free, xbar, owner, parent, viax, depth,
                              rep, xb, vh, isv, grp, hx, hy, tgt, n_t, tmark, treached,
                              tvert, cont, bbcol, walkbuf, cap)
        if algo == 1 or algo == 2:
            ntree = _grow(r, tree, ntree, free, xbar, owner, parent, viax, depth,
                          indptr, indices, etype, vh, isv, grp, hicann_ok, nbr4,
                          tgt, n_t, tmark, treached, tvert, cont,
                          hd, hqueue, hinq, stamp_arr, closed, gst, gval, gsv, pred, pstate,
                          deferred, heads, nxt, ev, eg, es, ep, w_h, hsrc, lbd, acc,
                          max_detour, cap)
        for i in range(n_t):
            out_vert[t0 + i] = tvert[i]
            tmark[tgt[i]] = -1


# ------------------------------------------------------------------------ Python API
@dataclass
class L1Trees:
    """Bus usage of all routes (returned with ``route_l1(..., return_paths=True)``).

    Per graph vertex (see :func:`vertex_of` / :func:`bus_of_vertex`): ``owner[v]`` route
    source using the segment (-1 free), ``parent[v]`` the vertex it is fed from (-1 for a
    tree root = sending H-bus), ``via_crossbar[v]`` whether that edge is a crossbar switch.
    ``req_vertex[q]`` the V-bus vertex ending request ``q`` (-1 if failed); ``order`` the
    routing order of the sources.
    """
    owner: np.ndarray
    parent: np.ndarray
    via_crossbar: np.ndarray
    req_vertex: np.ndarray
    order: np.ndarray

    def path(self, q: int) -> np.ndarray:
        """Bus segments of request ``q`` from the sending H-bus to the target V-bus, as rows
        ``(hicann, vertical, bus)``; empty if the request failed."""
        v = int(self.req_vertex[q])
        chain = []
        while v >= 0:
            chain.append(v)
            v = int(self.parent[v])
        chain = np.array(chain[::-1], dtype=np.int64)
        h, vert, bus = bus_of_vertex(chain)
        return np.stack([h, vert.astype(np.int64), bus], axis=1).reshape(-1, 3)

    def segments(self, source: int) -> np.ndarray:
        """All graph vertices used by route source ``source``."""
        return np.flatnonzero(self.owner == source)


def _check_mask(mask, shape, name):
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {mask.shape}")
    return mask


def route_l1(source_hicann, source_merger, targets, hicann_ok=None, hline_ok=None,
             vline_ok=None, algorithm="backbone+dijkstra", priority=None, return_paths=False,
             max_detour=None, group_capacity=GROUP_CAPACITY):
    """Route L1 buses from sending DNC mergers to their target HICANNs.

    .. rubric:: Parameters

    source_hicann, source_merger : int arrays (n_sources,)
        Route sources: HICANN enum and DNC merger (0..7); the route starts on H-bus
        ``wafer.sending_hline(merger)`` of that HICANN.
    targets : list of int arrays
        ``targets[r]``: target HICANN enums of source ``r`` (may contain the source HICANN;
        duplicates get identical rows).
    hicann_ok, hline_ok, vline_ok : bool arrays (384,), (384, 64), (384, 256)
        Available HICANNs and non-defective buses (default: all).
    algorithm : str
        ``"backbone+dijkstra"`` (default), ``"backbone"`` (marocco-like, no second chance)
        or ``"dijkstra"`` (tree growth only); see the module docstring.
    priority : float (n_sources,)
        Routing order: higher priority first, then more (distinct) targets first, then lower
        HICANN enum, then lower merger.
    return_paths : bool
        Also return an :class:`L1Trees` with the bus segments of every route.
    max_detour : int or None
        Tree-growth search only: reject a target whose path costs more than its grid lower
        bound plus this slack (cost units: H segment ``H_COST``, V segment 1); None uses
        ``MAX_DETOUR`` (-1 = unbounded).
    group_capacity : int
        Most requests ending on one driver group (16 V-buses, 14 drivers) of a target HICANN.

    .. rubric:: Returns

    L1Routes, or (L1Routes, L1Trees) with ``return_paths=True``
        One request row per (source, entry of ``targets[source]``), sources in input order
        and targets in the given order.  Unroutable requests have ``req_ok`` False and
        ``req_vline = req_side = req_hops = -1``; nothing is raised for them.
    """
    if max_detour is None:
        max_detour = MAX_DETOUR
    if algorithm not in _ALGO_CODE:
        raise ValueError(f"unknown L1 routing algorithm {algorithm!r}; "
                         f"allowed: {', '.join(ALGORITHMS)}")
    nh = wafer.N_HICANN
    source_hicann = np.asarray(source_hicann, dtype=np.int64).ravel()
    source_merger = np.asarray(source_merger, dtype=np.int64).ravel()
    ns = source_hicann.size
    if source_merger.size != ns:
        raise ValueError("source_hicann and source_merger must have the same length")
    if len(targets) != ns:
        raise ValueError(f"targets must have one entry per source ({ns}), got {len(targets)}")
    if ns and (source_hicann.min() < 0 or source_hicann.max() >= nh):
        raise ValueError("source_hicann out of range 0..383")
    if ns and (source_merger.min() < 0 or source_merger.max() >= wafer.N_DNC_MERGERS):
        raise ValueError("source_merger out of range 0..7")
    tgt_arrays = [np.asarray(t, dtype=np.int64).ravel() for t in targets]
    n_req = np.array([t.size for t in tgt_arrays], dtype=np.int64)
    req_source = np.repeat(np.arange(ns, dtype=np.int64), n_req)
    req_target = (np.concatenate(tgt_arrays) if ns else np.zeros(0, dtype=np.int64))
    if req_target.size and (req_target.min() < 0 or req_target.max() >= nh):
        raise ValueError("target HICANN out of range 0..383")
    if priority is None:
        priority = np.ones(ns)
    priority = np.asarray(priority, dtype=float).ravel()
    if priority.size != ns:
        raise ValueError("priority must have one value per source")
    hicann_ok = _check_mask(hicann_ok, (nh,), "hicann_ok")
    hline_ok = _check_mask(hline_ok, (nh, wafer.N_HLINES), "hline_ok")
    vline_ok = _check_mask(vline_ok, (nh, wafer.N_VLINES), "vline_ok")

    # distinct targets per source (CSR), sorted by HICANN enum
    key = req_source * nh + req_target
    ukey = np.unique(key)
    u_src = ukey // nh
    u_tgt = ukey % nh
    tptr = np.zeros(ns + 1, dtype=np.int64)
    np.cumsum(np.bincount(u_src, minlength=ns), out=tptr[1:])
    n_distinct = np.diff(tptr)

    order = np.lexsort((source_merger, source_hicann, -n_distinct, -priority)).astype(np.int64)

    g = _static_graph()
    sending = wafer.sending_hline(source_merger).astype(np.int64)
    src_vertex = source_hicann * VERTICES_PER_HICANN + sending
    bus_ok = np.concatenate([hline_ok, vline_ok], axis=1) & hicann_ok[:, None]
    free = bus_ok.ravel().astype(np.uint8)
    free[src_vertex] = 0       # sending H-buses reserved ("avoid") for their own source
    owner = np.full(N_VERTICES, -1, dtype=np.int64)
    owner[~bus_ok.ravel()] = -2     # defective / missing: never a tree root
    parent = np.full(N_VERTICES, -1, dtype=np.int64)
    viax = np.zeros(N_VERTICES, dtype=np.int64)
    depth = np.zeros(N_VERTICES, dtype=np.int64)
    xbar = np.zeros(N_VERTICES, dtype=np.int64)
    out_vert = np.full(u_tgt.size, -1, dtype=np.int64)

    _route_all(order, src_vertex, tptr, u_tgt, _ALGO_CODE[algorithm],
               free, owner, parent, viax, depth, xbar,
               g["indptr"], g["indices"], g["etype"], g["rep"], g["xb"], g["vh"], g["isv"],
               g["grp"], wafer.HICANN_X.astype(np.int64), wafer.HICANN_Y.astype(np.int64),
               hicann_ok.astype(np.int64), wafer.NEIGHBOUR.astype(np.int64), out_vert,
               int(H_COST), int(max_detour), int(group_capacity))
    owner[owner == -2] = -1

    # map the distinct results back to the request rows
    pos = np.searchsorted(ukey, key)
    req_vertex = out_vert[pos] if key.size else np.zeros(0, dtype=np.int64)
    req_ok = req_vertex >= 0
    req_vline = np.where(req_ok, req_vertex % VERTICES_PER_HICANN - wafer.N_HLINES, -1)
    req_side = np.where(req_ok, (req_vline >= wafer.N_VLINES // 2).astype(np.int64), -1)
    req_hops = np.where(req_ok, depth[np.maximum(req_vertex, 0)] + 1, -1)
    routes = L1Routes(source_hicann=source_hicann, source_merger=source_merger,
                      req_source=req_source, req_target=req_target, req_ok=req_ok,
                      req_vline=req_vline.astype(np.int64), req_side=req_side.astype(np.int64),
                      req_hops=req_hops.astype(np.int64))
    if return_paths:
        return routes, L1Trees(owner=owner, parent=parent, via_crossbar=viax.astype(bool),
                               req_vertex=req_vertex, order=order)
    return routes
