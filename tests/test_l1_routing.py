"""Tests of the L1 bus router (``pyNN_bss_emu.mapping.l1_routing.route_l1``).

Returned routes are re-checked *independently* against the bus formulas of
``hardware/wafer.py`` (repeater shift, crossbar switches, sending H-bus): the checker below
only uses the paths as (hicann, vertical, bus) rows, never the router's graph tables.
"""
from __future__ import annotations


import numpy as np
import pytest

from pyNN_bss_emu.hardware import wafer
from pyNN_bss_emu.mapping.l1_routing import ALGORITHMS, route_l1

ALL = list(ALGORITHMS)


def H(x, y):
    h = int(wafer.hicann_enum(x, y))
    assert h >= 0
    return h


# ---------------------------------------------------------------- independent checker
def _edge_kind(a, b):
    """'repeater', 'crossbar' or None (illegal) for two consecutive path rows
    (hicann, vertical, bus), by the wafer formulas."""
    ha, va, ba = (int(t) for t in a)
    hb, vb, bb = (int(t) for t in b)
    if ha == hb and va != vb:
        hline, vline = (ba, bb) if not va else (bb, ba)
        ok = vline in set(wafer.crossbar_vlines(hline).tolist())
        ok2 = hline in set(wafer.crossbar_hlines(vline).tolist())
        assert ok == ok2
        return "crossbar" if ok else None
    if va != vb or ha == hb:
        return None
    xa, ya = wafer.HICANN_X[ha], wafer.HICANN_Y[ha]
    xb, yb = wafer.HICANN_X[hb], wafer.HICANN_Y[hb]
    if not va:
        if ya != yb or abs(int(xb) - int(xa)) != 1:
            return None
        d = wafer.EAST if xb > xa else wafer.WEST
        return "repeater" if int(wafer.hline_towards(ba, d)) == bb else None
    if xa != xb or abs(int(yb) - int(ya)) != 1:
        return None
    d = wafer.SOUTH if yb > ya else wafer.NORTH
    return "repeater" if int(wafer.vline_towards(ba, d)) == bb else None


def check_routes(routes, trees, hicann_ok=None, hline_ok=None, vline_ok=None):
    """Re-check every routed request: legal path, exclusivity, crossbar limit, defects,
    target/vline/side/hops consistency.  Returns the set of segments used per source."""
    used_by = {}                                   # segment -> source
    xbar = {}                                      # (source, segment) -> set of crossbar peers
    for q in np.flatnonzero(routes.req_ok):
        s = int(routes.req_source[q])
        path = trees.path(q)
        assert path.shape[0] >= 2
        # starts on the sending H-bus of the source
        assert tuple(path[0]) == (routes.source_hicann[s], 0,
                                  int(wafer.sending_hline(routes.source_merger[s])))
        # ends on a V-bus of the target
        assert path[-1, 0] == routes.req_target[q] and path[-1, 1] == 1
        assert path[-1, 2] == routes.req_vline[q]
        assert routes.req_side[q] == (1 if routes.req_vline[q] >= 128 else 0)
        n_rep = 0
        for a, b in zip(path[:-1], path[1:]):
            kind = _edge_kind(a, b)
            assert kind is not None, (a, b)
            if kind == "repeater":
                n_rep += 1
            else:
                xbar.setdefault((s, tuple(a)), set()).add(tuple(b))
                xbar.setdefault((s, tuple(b)), set()).add(tuple(a))
        assert routes.req_hops[q] == n_rep + 1
        assert len({tuple(r) for r in path}) == path.shape[0]      # simple path
        for row in path:
            seg = tuple(int(t) for t in row)
            assert used_by.setdefault(seg, s) == s, f"segment {seg} shared"
            h, vert, bus = seg
            if hicann_ok is not None:
                assert hicann_ok[h]
            if hline_ok is not None and not vert:
                assert hline_ok[h, bus]
            if vline_ok is not None and vert:
                assert vline_ok[h, bus]
    # crossbar limit: each segment is connected through at most one switch
    assert all(len(peers) <= 1 for peers in xbar.values())
    # failed requests carry -1
    bad = ~routes.req_ok
    assert np.all(routes.req_vline[bad] == -1) and np.all(routes.req_hops[bad] == -1)
    assert np.all(routes.req_side[bad] == -1)
    return used_by


def random_sources(n, n_targets, radius, seed):
    rng = np.random.default_rng(seed)
    pairs = rng.choice(wafer.N_HICANN * 8, n, replace=False)
    sh, sm = pairs // 8, pairs % 8
    targets = []
    for h in sh:
        d = np.abs(wafer.HICANN_X - wafer.HICANN_X[h]) + np.abs(wafer.HICANN_Y - wafer.HICANN_Y[h])
        cand = np.flatnonzero(d <= radius)
        targets.append(rng.choice(cand, min(n_targets, cand.size), replace=False))
    return sh, sm, targets


# ---------------------------------------------------------------- basic routes
@pytest.mark.parametrize("algorithm", ALL)
def test_own_hicann_and_neighbours(algorithm):
    s = H(18, 8)
    tg = np.array([s, H(19, 8), H(17, 8), H(18, 7), H(18, 9)])
    routes, trees = route_l1([s], [3], [tg], algorithm=algorithm, return_paths=True)
    assert routes.req_ok.all()
    assert list(routes.req_target) == list(tg)
    assert list(routes.req_source) == [0] * 5
    assert list(routes.req_hops) == [1, 2, 2, 2, 2]
    check_routes(routes, trees)
    # the own-HICANN route is sending H-bus -> one crossbar switch -> V-bus
    p = trees.path(0)
    assert p.shape[0] == 2 and p[1, 2] in wafer.crossbar_vlines(wafer.sending_hline(3))


@pytest.mark.parametrize("algorithm", ALL)
@pytest.mark.parametrize("dx", [5, -5, 11])
def test_straight_east_west_hops(algorithm, dx):
    s = H(12, 7)
    t = H(12 + dx, 7)
    routes, trees = route_l1([s], [0], [[t]], algorithm=algorithm, return_paths=True)
    assert routes.req_ok[0]
    assert routes.req_hops[0] == abs(dx) + 1
    path = trees.path(0)
    check_routes(routes, trees)
    # straight: all on row 7, each column once, last step a crossbar onto the V-bus
    hs = path[:, 0]
    assert np.all(wafer.HICANN_Y[hs] == 7)
    assert len(np.unique(hs)) == abs(dx) + 1
    assert np.all(path[:-1, 1] == 0) and path[-1, 1] == 1
    # hline shifts by +-2 per hop (wafer.hline_towards)
    hl = path[:-1, 2]
    assert np.all((hl[1:] - hl[:-1]) % 64 == (2 if dx > 0 else 62))


@pytest.mark.parametrize("algorithm", ALL)
def test_random_scenario_rules(algorithm):
    sh, sm, tg = random_sources(150, 8, 5, seed=3)
    routes, trees = route_l1(sh, sm, tg, algorithm=algorithm, return_paths=True)
    assert routes.req_ok.mean() > 0.9
    check_routes(routes, trees)
    # the trees bookkeeping agrees with the paths
    for q in np.flatnonzero(routes.req_ok)[:50]:
        v = trees.req_vertex[q]
        assert trees.owner[v] == routes.req_source[q]


# ---------------------------------------------------------------- exclusivity, crossbar limit
@pytest.mark.parametrize("algorithm", ALL)
def test_exclusivity_and_crossbar_limit_under_load(algorithm):
    sh, sm, tg = random_sources(600, 10, 4, seed=11)
    routes, trees = route_l1(sh, sm, tg, algorithm=algorithm, return_paths=True)
    used_by = check_routes(routes, trees)          # asserts no segment is shared
    # the reserved sending H-buses of the other sources are never used
    sending = {(int(h), 0, int(wafer.sending_hline(m))): s
               for s, (h, m) in enumerate(zip(sh, sm))}
    for seg, s in used_by.items():
        if seg in sending:
            assert sending[seg] == s
    # independent crossbar count on the union of every tree (trees.owner/parent)
    owner = trees.owner
    v = np.flatnonzero(owner >= 0)
    p = trees.parent[v]
    is_x = (p >= 0) & ((v % 320 >= 64) != (p % 320 >= 64))
    count = np.bincount(np.concatenate([v[is_x], p[is_x]]), minlength=owner.size)
    assert count.max() <= 1
    assert np.all(owner[p[p >= 0]] == owner[v[p >= 0]])


def test_crossbar_limit_blocks_second_branch():
    """Only the sending H-bus of the source exists; its left V-buses continue only north,
    its right V-buses only south.  Serving both the north and the south neighbour would need
    two crossbar switches on the one H-bus segment: only one of the two can be routed."""
    s, north, south = H(18, 8), H(18, 7), H(18, 9)
    k = int(wafer.sending_hline(0))
    vl = wafer.crossbar_vlines(k)
    hok = np.zeros((wafer.N_HICANN, 64), bool)
    hok[s, k] = True
    vok = np.zeros((wafer.N_HICANN, 256), bool)
    vok[s, vl] = True
    vok[north, wafer.vline_towards(vl[:4], wafer.NORTH)] = True
    vok[south, wafer.vline_towards(vl[4:], wafer.SOUTH)] = True
    for alg in ALL:
        routes, trees = route_l1([s], [0], [[north, south]], hline_ok=hok, vline_ok=vok,
                                 algorithm=alg, return_paths=True)
        check_routes(routes, trees, hline_ok=hok, vline_ok=vok)
        assert routes.req_ok.sum() == 1, alg
        used = np.flatnonzero(trees.owner == 0)
        assert trees.via_crossbar[used].sum() == 1
    # either target alone is fine
    for t in (north, south):
        assert route_l1([s], [0], [[t]], hline_ok=hok, vline_ok=vok).req_ok.all()


def lane(hicann, hline):
    """The L1 network splits into 32 disjoint lanes: (hline // 2 - x - 2 y) mod 32 is kept by
    repeaters and crossbar switches (derived from the wafer.py formulas)."""
    return (np.asarray(hline) // 2 - wafer.HICANN_X[hicann] - 2 * wafer.HICANN_Y[hicann]) % 32


def lane_vlines(c, hicann):
    """The 8 V-buses of lane ``c`` on ``hicann``."""
    m = (c + wafer.HICANN_X[hicann] + 2 * wafer.HICANN_Y[hicann]) % 32
    return wafer.crossbar_vlines(2 * m)


def test_lanes_are_disjoint():
    """Routes never leave the lane of their sending H-bus (a consequence of the formulas,
    checked on routed trees)."""
    sh, sm, tg = random_sources(300, 10, 6, seed=8)
    routes, trees = route_l1(sh, sm, tg, return_paths=True)
    for q in np.flatnonzero(routes.req_ok)[:400]:
        p = trees.path(q)
        c = lane(p[0, 0], p[0, 2])
        hl = p[p[:, 1] == 0]
        assert np.all(lane(hl[:, 0], hl[:, 2]) == c)
        assert routes.req_vline[q] in lane_vlines(c, routes.req_target[q])


# ---------------------------------------------------------------- defects
@pytest.mark.parametrize("algorithm", ALL)
def test_defects_avoided(algorithm):
    rng = np.random.default_rng(5)
    hicann_ok = rng.random(wafer.N_HICANN) > 0.05
    hline_ok = rng.random((wafer.N_HICANN, 64)) > 0.1
    vline_ok = rng.random((wafer.N_HICANN, 256)) > 0.1
    sh, sm, tg = random_sources(200, 8, 5, seed=7)
    routes, trees = route_l1(sh, sm, tg, hicann_ok=hicann_ok, hline_ok=hline_ok,
                             vline_ok=vline_ok, algorithm=algorithm, return_paths=True)
    check_routes(routes, trees, hicann_ok, hline_ok, vline_ok)
    # targets on missing HICANNs and sources on missing HICANNs / defective sending buses fail
    assert not routes.req_ok[~hicann_ok[routes.req_target]].any()
    dead_src = ~hicann_ok[sh] | ~hline_ok[sh, wafer.sending_hline(sm)]
    assert dead_src.any()
    assert not routes.req_ok[dead_src[routes.req_source]].any()
    assert routes.req_ok.mean() > 0.7


@pytest.mark.parametrize("algorithm", ["dijkstra", "backbone+dijkstra", "backbone"])
def test_missing_hicann_on_the_way_is_bypassed(algorithm):
    s, t = H(10, 7), H(14, 7)
    hicann_ok = np.ones(wafer.N_HICANN, bool)
    hicann_ok[H(12, 7)] = False
    routes, trees = route_l1([s], [2], [[t]], hicann_ok=hicann_ok, algorithm=algorithm,
                             return_paths=True)
    assert routes.req_ok[0]
    check_routes(routes, trees, hicann_ok=hicann_ok)
    path = trees.path(0)
    assert H(12, 7) not in path[:, 0]
    assert routes.req_hops[0] > 5                  # longer than the straight 5


@pytest.mark.parametrize("algorithm", ALL)
def test_target_behind_wall_fails(algorithm):
    """Column x = 20 missing completely: the wafer is cut in two halves."""
    hicann_ok = wafer.HICANN_X != 20
    s = H(15, 7)
    tg = np.array([H(25, 7), H(16, 8), H(30, 9), H(14, 7)])
    routes, trees = route_l1([s], [1], [tg], hicann_ok=hicann_ok, algorithm=algorithm,
                             return_paths=True)
    assert list(routes.req_ok) == [False, True, False, True]
    check_routes(routes, trees, hicann_ok=hicann_ok)
    assert routes.req_vline[0] == -1 and routes.req_hops[0] == -1


def test_defective_target_vlines_and_source():
    s, t = H(18, 8), H(19, 8)
    vok = np.ones((wafer.N_HICANN, 256), bool)
    vok[t] = False
    routes = route_l1([s, s], [0, 1], [[t, s], [s]], vline_ok=vok)
    assert list(routes.req_ok) == [False, True, True]
    hok = np.ones((wafer.N_HICANN, 64), bool)
    hok[s, wafer.sending_hline(5)] = False
    routes = route_l1([s, s], [5, 4], [[s], [s]], hline_ok=hok)
    assert list(routes.req_ok) == [False, True]


# ---------------------------------------------------------------- congestion
@pytest.mark.parametrize("algorithm", ALL)
def test_congestion_same_target(algorithm):
    t = H(18, 8)
    d = np.abs(wafer.HICANN_X - 18) + np.abs(wafer.HICANN_Y - 8)
    near = np.argsort(d, kind="stable")
    # 60 sources (8 mergers on the 7 nearest HICANNs + 4) onto one HICANN with 20 V-buses
    sh = np.repeat(near[:8], 8)[:60]
    sm = np.tile(np.arange(8), 8)[:60]
    vok = np.ones((wafer.N_HICANN, 256), bool)
    vok[t] = False
    vok[t, ::13] = True                            # 20 usable V-buses on the target
    routes, trees = route_l1(sh, sm, [[t]] * 60, vline_ok=vok, algorithm=algorithm,
                             return_paths=True)
    check_routes(routes, trees, vline_ok=vok)
    n_ok = int(routes.req_ok.sum())
    assert n_ok <= 20 and n_ok >= 15
    assert np.unique(routes.req_vline[routes.req_ok]).size == n_ok
    # 320 sources (all mergers of the 40 nearest HICANNs) onto one intact HICANN:
    # at most 16 driver groups x 14 drivers = 224 routes can end there
    sh = np.repeat(near[:40], 8)
    sm = np.tile(np.arange(8), 40)
    routes, trees = route_l1(sh, sm, [[t]] * 320, algorithm=algorithm, return_paths=True)
    check_routes(routes, trees)
    n_ok = int(routes.req_ok.sum())
    assert 150 <= n_ok <= 224
    assert (~routes.req_ok).sum() >= 96
    vl = routes.req_vline[routes.req_ok]
    group = (vl >= 128) * 8 + (vl % 32) // 4
    assert np.bincount(group, minlength=16).max() <= 14


def test_priority_wins_scarce_resource():
    t = H(18, 8)
    sh = [H(16, 8), H(20, 8)]
    sm = [0, 7]
    c = lane(sh[0], wafer.sending_hline(0))
    assert c == lane(sh[1], wafer.sending_hline(7))           # same lane: they compete
    free_v = int(lane_vlines(c, t)[6])
    vok = np.ones((wafer.N_HICANN, 256), bool)
    vok[t] = False
    vok[t, free_v] = True                          # one V-bus of the lane left on the target
    assert route_l1(sh[:1], sm[:1], [[t]], vline_ok=vok).req_ok.all()
    assert route_l1(sh[1:], sm[1:], [[t]], vline_ok=vok).req_ok.all()
    for prio, winner in (([1, 2], 1), ([2, 1], 0)):
        routes = route_l1(sh, sm, [[t], [t]], vline_ok=vok, priority=prio)
        assert list(routes.req_ok) == [winner == 0, winner == 1]
        assert routes.req_vline[winner] == free_v
    # equal priority: the source with more targets goes first, then the lower HICANN enum
    routes = route_l1(sh, sm, [[t], [t, H(21, 8)]], vline_ok=vok)
    assert list(routes.req_ok) == [False, True, True]
    routes = route_l1(sh, sm, [[t], [t]], vline_ok=vok)
    assert list(routes.req_ok) == [True, False]


# ---------------------------------------------------------------- API details
def test_request_rows_order_duplicates_and_empty():
    s = H(18, 8)
    tg = [np.array([H(19, 8), s, H(19, 8)]), np.array([], dtype=int), [H(17, 8)]]
    routes = route_l1([s, s, H(17, 8)], [0, 1, 2], tg)
    assert list(routes.req_source) == [0, 0, 0, 2]
    assert list(routes.req_target) == [H(19, 8), s, H(19, 8), H(17, 8)]
    assert routes.req_ok.all()
    assert routes.req_vline[0] == routes.req_vline[2]
    assert routes.req_hops[0] == routes.req_hops[2] == 2
    assert routes.req_hops[3] == 1
    empty = route_l1([], [], [])
    assert empty.req_ok.size == 0


def test_unknown_algorithm_and_bad_input():
    with pytest.raises(ValueError, match="backbone.*dijkstra"):
        route_l1([0], [0], [[1]], algorithm="astar")
    with pytest.raises(ValueError):
        route_l1([0], [0], [[1], [2]])
    with pytest.raises(ValueError):
        route_l1([0], [9], [[1]])
    with pytest.raises(ValueError):
        route_l1([0], [0], [[384]])
    with pytest.raises(ValueError):
        route_l1([0], [0], [[1]], hline_ok=np.ones((384, 63), bool))


@pytest.mark.parametrize("algorithm", ALL)
def test_deterministic(algorithm):
    sh, sm, tg = random_sources(400, 10, 5, seed=21)
    a = route_l1(sh, sm, tg, algorithm=algorithm)
    b = route_l1(sh, sm, [t.copy() for t in tg], algorithm=algorithm)
    for name in ("req_source", "req_target", "req_ok", "req_vline", "req_side", "req_hops"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name


def test_default_algorithm_loses_least():
    sh, sm, tg = random_sources(1500, 10, 4, seed=2)
    ok = {alg: route_l1(sh, sm, tg, algorithm=alg).req_ok.mean() for alg in ALL}
    default = route_l1(sh, sm, tg).req_ok.mean()
    assert default == max(ok.values())
    assert ok["backbone+dijkstra"] > 0.97
    assert ok["backbone"] < ok["backbone+dijkstra"]


def test_wafer_scale_routing():
    """2,000 sources x 10 targets route with every algorithm (wall time in
    benchmarks/stage_timings.py)."""
    route_l1([0], [0], [[1]])                                  # compile / load cache
    sh, sm, tg = random_sources(2000, 10, 6, seed=4)
    for alg in ALL:
        routes = route_l1(sh, sm, tg, algorithm=alg)
        assert routes.req_ok.size == 20000
