"""Synapse switches, synapse-driver requirements, Fieres driver packing and synapse allocation
(``hardware/synapse_switch.py``, ``mapping/synapse_drivers.py``, ``mapping/synapses.py``).

Expected numbers are worked out by hand in the comments (brainscales1.md 4.1-4.3, 6.6,
14.8-14.10): a neuron of width w owns w columns in every row; a half row (even or odd
columns of a row) serves one 2-MSB decoder; one driver = 2 rows; the chain extends first to
lower quadrant positions.
"""
from __future__ import annotations

import numpy as np
import pytest

from pyNN_bss_emu.hardware import synapse_switch as sw
from pyNN_bss_emu.hardware import wafer
from pyNN_bss_emu.mapping.synapse_drivers import (assign_drivers, driver_requirements,
                                                  fieres_lengths)
from pyNN_bss_emu.mapping.synapses import allocate_synapses

H = 100                      # target HICANN used by the small tests (an interior one)
DEC3 = np.array([a for a in range(63, 47, -1) if a != 49])   # 15 usable addresses, 2 MSB = 3


def run(pre_addr, post_x0, post_w, receptor=None, request=None, vline=(5,), side=(0,),
        ok=(True,), target=(H,), **kw):
    """allocate_synapses for connections onto HICANN(s) ``target`` (default one request)."""
    n = len(pre_addr)
    request = np.zeros(n, int) if request is None else np.asarray(request)
    receptor = np.zeros(n, int) if receptor is None else np.asarray(receptor)
    target = np.asarray(target)
    post_h = np.where(request >= 0, target[np.maximum(request, 0)], H)
    alloc = allocate_synapses(request, np.asarray(pre_addr), post_h, np.asarray(post_x0),
                              np.broadcast_to(np.asarray(post_w), (n,)).copy(), receptor,
                              target, np.asarray(vline), np.asarray(side), np.asarray(ok), **kw)
    check_invariants(alloc, request, np.asarray(pre_addr), post_h, np.asarray(post_x0),
                     np.broadcast_to(np.asarray(post_w), (n,)), receptor, target,
                     np.asarray(vline), np.asarray(side), kw.get("driver_ok"),
                     kw.get("synapse_ok"))
    return alloc


def check_invariants(al, request, addr, post_h, x0, w, receptor, req_target, req_vline,
                     req_side, driver_ok=None, synapse_ok=None):
    """Hardware rules every allocation must obey."""
    n = request.size
    lost = al.lost_l1 + al.lost_drivers + al.lost_synapse_array + al.lost_multapse
    assert al.n_realized + lost == al.n_requested == n
    assert al.realized.sum() == al.n_realized
    r = al.realized
    k = np.flatnonzero(r)
    q = request[k]
    # realised synapses sit on the target HICANN, in a row of a driver of their own route
    assert np.all(al.hicann[k] == post_h[k])
    assert np.all(al.driver[k] == al.row[k] // 2)
    assert np.all(al.driver_request[al.hicann[k], al.driver[k]] == q)
    assert np.all(al.row_request[al.hicann[k], al.row[k]] == q)
    # the driver is on the side the route feeds, in the chain of a reachable primary
    assert np.all(wafer.driver_side(al.driver[k]) == req_side[q])
    served = np.flatnonzero(al.drivers_assigned > 0)
    for qq in served:
        assert al.primary_driver[qq] in sw.REACHABLE[req_side[qq], req_vline[qq]]
        drv = np.flatnonzero(al.driver_request[req_target[qq]] == qq)
        assert drv.size == al.drivers_assigned[qq] <= max(al.drivers_requested[qq], 0)
        assert al.primary_driver[qq] in drv
        pos = sw.quadrant_index(drv)
        arr, sd = sw.driver_quadrant(drv)
        assert np.all(arr == arr[0]) and np.all(sd == req_side[qq])
        assert np.all(np.diff(np.sort(pos)) == 1)          # contiguous chain in one quadrant
    assert np.all(al.drivers_assigned[al.drivers_requested == 0] == 0)
    # column belongs to the target neuron; no two synapses share a slot
    assert np.all((al.column[k] >= x0[k]) & (al.column[k] < x0[k] + w[k]))
    slot = (al.hicann[k] * wafer.SYNAPSE_ROWS + al.row[k]) * 256 + al.column[k]
    assert np.unique(slot).size == slot.size
    # row receptor (syn_in) matches; half-row 2-MSB decoder and 4-LSB synapse decoder match
    assert np.all(al.row_receptor[al.hicann[k], al.row[k]] == receptor[k])
    parity = al.column[k] % 2
    assert np.all(al.row_decoder[al.hicann[k], al.row[k], parity] == addr[k] >> 4)
    assert np.all(al.synapse_decoder[k] == addr[k] & 15)
    assert np.all(al.row[~r] == -1) and np.all(al.column[~r] == -1)
    # a row is either excitatory or inhibitory: one receptor per row by construction; rows
    # with synapses of both receptors would have failed the match above
    used_rows = np.unique(al.hicann[k] * wafer.SYNAPSE_ROWS + al.row[k])
    rec_per_row = np.zeros(used_rows.size, int)
    idx = np.searchsorted(used_rows, al.hicann[k] * wafer.SYNAPSE_ROWS + al.row[k])
    np.bitwise_or.at(rec_per_row, idx, 1 << receptor[k])
    assert np.all((rec_per_row == 1) | (rec_per_row == 2))
    if driver_ok is not None:
        assert np.all(driver_ok[al.hicann[k], al.driver[k]])
        assert np.all(al.driver_request[~driver_ok] == -2)
    if synapse_ok is not None:
        assert np.all(synapse_ok[al.hicann[k], al.row[k], al.column[k]])


# ---------------------------------------------------------------- synapse switches
def test_switch_rows_and_reachable_drivers_follow_halco():
    # V-bus 0 (left half, (0 % 32)//4 = 0): rows 0,1,16,17,...,96,97 and 126,127,...,222,223
    assert list(sw.switch_rows(0)[:4]) == [0, 1, 16, 17]
    assert list(sw.switch_rows(0)[14:16]) == [126, 127]
    assert list(sw.REACHABLE[0, 0]) == [1, 17, 33, 49, 65, 81, 97, 126, 142, 158, 174, 190,
                                        206, 222]
    assert list(sw.REACHABLE[1, 0]) == [0, 16, 32, 48, 64, 80, 96, 127, 143, 159, 175, 191,
                                        207, 223]
    # V-bus 5: offset 2 * (5 // 4) = 2; V-bus 200 (right half, 200 % 32 = 8): 14 - 4 = 10
    assert sw.REACHABLE[0, 5][0] == 3 and sw.REACHABLE[0, 5][7] == 124
    assert sw.REACHABLE[1, 200][0] == 10 and sw.REACHABLE[1, 200][7] == 117
    for side in (0, 1):
        d = sw.REACHABLE[side]
        assert d.shape == (256, 14)
        assert np.all(wafer.driver_side(d) == side)
        assert np.all((d[:, :7] < 112) & (d[:, 7:] >= 112))
        # 28 switches per V-bus; each driver hears exactly 16 V-buses of each half
        for half in (slice(0, 128), slice(128, 256)):
            counts = np.bincount(d[half].ravel(), minlength=224)
            assert set(counts[wafer.driver_side(np.arange(224)) == side]) == {16}
    assert sw.switch_rows(np.arange(256)).shape == (256, 28)
    assert np.all(sw.switch_exists(7, sw.switch_rows(7))) and not sw.switch_exists(7, 0)


def test_switch_matrix_matches_the_period_rule():
    # independent statement of halco's rule: V-bus v and switch row y are connected iff
    # (v % 32) // 4 == (y % 16) // 2 in the top-left and bottom-right matrix halves, and
    # 7 - (y % 16) // 2 == (v % 32) // 4 in the other two
    v, y = np.meshgrid(np.arange(256), np.arange(224), indexing="ij")
    vm, ym = (v % 32) // 4, (y % 16) // 2
    rule = np.where((v < 128) ^ (y >= 112), ym == vm, 7 - ym == vm)
    table = np.zeros((256, 224), bool)
    table[np.arange(256)[:, None], sw.switch_rows(np.arange(256))] = True
    assert np.array_equal(table, rule)


def test_switch_rows_feed_local_and_neighbour_drivers():
    rows = sw.switch_rows(0)                      # left matrix of HICANN H
    h, line = sw.switch_target(H, 0, rows)
    west = wafer.NEIGHBOUR[wafer.WEST][H]
    assert set(h) == {H, west}
    assert np.sum(h == H) == 14 and np.sum(h == west) == 14
    assert np.all(wafer.driver_side(line[h == H]) == 0)        # local left drivers
    assert np.all(wafer.driver_side(line[h == west]) == 1)     # west neighbour's right ones
    h, line = sw.switch_target(H, 130, sw.switch_rows(130))    # right matrix -> east
    assert set(h) == {H, wafer.NEIGHBOUR[wafer.EAST][H]}


def test_quadrant_coordinates_round_trip():
    d = np.arange(224)
    arr, side = sw.driver_quadrant(d)
    assert np.all(sw.quadrant_driver(arr, side, sw.quadrant_index(d)) == d)
    assert list(sw.QUADRANT_DRIVERS[0, 0, :3]) == [1, 3, 5]          # top-left: odd lines
    assert list(sw.QUADRANT_DRIVERS[0, 1, :3]) == [112, 114, 116]    # bottom-left: even
    assert list(sw.driver_rows(3)) == [6, 7]


# ---------------------------------------------------------------- requirements
def test_driver_requirements_by_hand():
    # neuron A: x0 = 0, w = 2 (1 even + 1 odd column); 10 exc synapses with decoder 3
    #   -> 10 half rows either parity.  Neuron B: x0 = 4, w = 3 (columns 4,5,6: 2 even,
    #   1 odd); 4 inh synapses with decoder 0 -> even ceil(4/2) = 2 < odd 4 -> 2 even.
    #   Neuron C: x0 = 9, w = 3 (9,10,11: 1 even, 2 odd); 3 inh decoder 0 -> odd 2.
    req = driver_requirements([0, 0, 0], [0, 4, 9], [2, 3, 3], [0, 1, 1], [3, 0, 0],
                              [10, 4, 3], 1)
    # exc: 10 "any" half rows -> 5 even + 5 odd -> 5 rows; inh: 2 even, 2 odd -> 2 rows;
    # drivers = ceil(7 / 2) = 4
    assert list(req.half_rows[0, 0, 3]) == [5, 5]
    assert list(req.half_rows[0, 1, 0]) == [2, 2]
    assert list(req.rows[0]) == [5, 2]
    assert req.drivers[0] == 4 and req.synapses[0] == 17


def test_any_parity_is_spread_over_decoders():
    # one w=2 neuron; 5 synapses decoder 2 and 5 decoder 3 (each: 5 half rows any parity)
    # decoder 2: even 3, odd 2; decoder 3: odd first to equalise (1), rest 4 -> 2 + 2
    req = driver_requirements([0, 0], [0, 0], [2, 2], [0, 0], [2, 3], [5, 5], 1)
    assert list(req.half_rows[0, 0, 2]) == [3, 2]
    assert list(req.half_rows[0, 0, 3]) == [2, 3]
    assert list(req.rows[0]) == [5, 0] and req.drivers[0] == 3


# ---------------------------------------------------------------- allocation
def test_single_route_all_to_all_10x10():
    # 10 sources (addresses 63..54, all 2-MSB decoder 3) x 10 neurons of size 4 (w = 2):
    # per neuron 10 synapses on 1 even + 1 odd column -> 10 half rows -> 5 rows -> 3 drivers.
    # V-bus 5, left side: primary candidates 3, 19, ...; best fit is driver 3 (quadrant
    # position 1), the chain takes position 0 above it, then 1 below: drivers 1, 3, 5.
    src = np.repeat(np.arange(10), 10)
    nrn = np.tile(np.arange(10), 10)
    al = run(DEC3[src], 2 * nrn, 2)
    assert al.drivers_requested[0] == 3 and al.drivers_assigned[0] == 3
    assert al.realized.all() and al.n_realized == 100
    assert al.primary_driver[0] == 3
    assert list(np.flatnonzero(al.driver_request[H] == 0)) == [1, 3, 5]
    # exc rows: the first 5 rows of the chain, 2, 3, 6, 7, 10; row 11 stays unused
    assert sorted(np.unique(al.row)) == [2, 3, 6, 7, 10]
    assert al.row_request[H, 11] == -1 and al.row_receptor[H, 11] == -1
    # each neuron uses both of its columns in each of the 5 rows: 10 synapses
    assert np.all(np.bincount(nrn, minlength=10) == 10)


def test_exc_and_inh_rows_are_separate():
    # 12 exc + 8 inh sources (decoder 3) all-to-all onto 5 neurons of size 8 (w = 4: 2 even,
    # 2 odd columns): exc 12 -> 6 half rows -> 3 rows; inh 8 -> 4 half rows -> 2 rows;
    # drivers ceil(5 / 2) = 3, so one driver carries an exc and an inh row.
    src = np.repeat(np.arange(20), 5)
    nrn = np.tile(np.arange(5), 20)
    rec = (src >= 12).astype(int)
    addr = np.where(src < 12, DEC3[src % 15], DEC3[(src - 12) % 15])
    al = run(addr, 4 * nrn, 4, receptor=rec, allow_multapses=False)
    assert al.drivers_requested[0] == 3 and al.realized.all()
    assert np.sum(al.row_receptor[H] == 0) == 3 and np.sum(al.row_receptor[H] == 1) == 2


def test_neuron_loses_exactly_the_excess():
    # neuron A (w = 2) gets all 15 decoder-3 sources, neuron B 3 of them.  A needs 15 half
    # rows -> 8 even + 7 odd -> 8 rows -> 4 drivers; chain length 3 gives 6 rows, i.e. 6 even
    # and 6 odd half rows: 12 slots for A (3 lost), B's 3 synapses fit.
    addr = np.concatenate([DEC3, DEC3[:3]])
    x0 = np.concatenate([np.zeros(15, int), np.full(3, 2)])
    al = run(addr, x0, 2, chain_length=3)
    assert al.drivers_requested[0] == 4 and al.drivers_assigned[0] == 3
    assert al.realized[:15].sum() == 12 and al.realized[15:].all()
    assert al.lost_drivers == 3 and al.lost_synapse_array == 0


def test_chain_length_limit_causes_loss():
    # one w = 2 neuron, 10 decoder-3 sources: 5 rows -> 3 drivers needed.  Chain length 1:
    # 1 driver = 2 rows = 2 even + 2 odd half rows = 4 slots -> 6 lost for want of drivers.
    al = run(DEC3[:10], np.zeros(10, int), 2, chain_length=1)
    assert al.drivers_requested[0] == 3 and al.drivers_assigned[0] == 1
    assert al.n_realized == 4 and al.lost_drivers == 6
    al = run(DEC3[:10], np.zeros(10, int), 2, chain_length=3)
    assert al.n_realized == 10 and al.lost_drivers == 0


def test_failed_routes_lose_all_their_synapses():
    # request 0 routed, request 1 failed, plus connections with no request at all (-1)
    req = np.array([0] * 5 + [1] * 7 + [-1] * 4)
    addr = DEC3[np.arange(16) % 15]
    x0 = 2 * (np.arange(16) % 3)
    al = run(addr, x0, 2, request=req, vline=(5, 9), side=(0, 0), ok=(True, False),
             target=(H, H))
    assert al.lost_l1 == 11 and al.n_realized == 5
    assert al.drivers_assigned[1] == 0 and not al.realized[5:].any()


def test_defective_drivers_are_avoided():
    # drivers 1 and 3 (top-left quadrant positions 0 and 1) defect.  V-bus 5's candidates:
    # 3 (defect), 19 (position 9: gap 47 below + 7 above = 54), 35, ... and the bottom ones
    # (gap 56).  Best fit = smallest gap >= 3 -> 19; chain takes positions 7, 8 above it:
    # drivers 15, 17, 19.
    ok = np.ones((wafer.N_HICANN, 224), bool)
    ok[H, [1, 3]] = False
    src = np.repeat(np.arange(10), 10)
    nrn = np.tile(np.arange(10), 10)
    al = run(DEC3[src], 2 * nrn, 2, driver_ok=ok)
    assert al.primary_driver[0] == 19
    assert list(np.flatnonzero(al.driver_request[H] == 0)) == [15, 17, 19]
    assert al.realized.all()
    # all 14 drivers V-bus 5 reaches on the left are defect: the route is rejected
    ok = np.ones((wafer.N_HICANN, 224), bool)
    ok[H, sw.REACHABLE[0, 5]] = False
    al = run(DEC3[src], 2 * nrn, 2, driver_ok=ok)
    assert al.drivers_assigned[0] == 0 and al.lost_drivers == 100


def test_defective_synapse_is_skipped():
    # one w = 2 neuron at x0 = 0, 2 sources: 2 half rows any -> 1 even + 1 odd -> 1 row ->
    # 1 driver (driver 3 on V-bus 5, rows 6/7; exc takes row 6).  Synapse (6, 0) defect: the
    # first synapse (lower address 62: slots go in address order) goes to (6, 1), the one
    # from address 63 finds no slot (route fully served -> lost in the synapse array).
    syn_ok = np.ones((wafer.N_HICANN, 448, 256), bool)
    syn_ok[H, 6, 0] = False
    al = run(DEC3[:2], np.zeros(2, int), 2, synapse_ok=syn_ok)
    assert al.drivers_assigned[0] == 1 == al.drivers_requested[0]
    assert al.n_realized == 1 and al.lost_synapse_array == 1
    assert list(al.realized) == [False, True]
    assert al.row[1] == 6 and al.column[1] == 1


def test_multapses_are_lost_unless_allowed():
    addr = np.array([DEC3[0], DEC3[0], DEC3[1]])
    al = run(addr, np.zeros(3, int), 2, allow_multapses=False)
    assert list(al.realized) == [True, False, True] and al.lost_multapse == 1
    al = run(addr, np.zeros(3, int), 2)              # default (issue 14): realised
    assert al.realized.all() and al.lost_multapse == 0
    # same pair but different receptor: not a multapse
    al = run(addr[:2], np.zeros(2, int), 2, receptor=[0, 1], allow_multapses=False)
    assert al.realized.all()


def test_neighbour_route_feeds_facing_drivers():
    # a route on V-bus 20 (left half) of the east neighbour feeds this chip's right drivers
    al = run(DEC3[:4], np.zeros(4, int), 2, vline=(20,), side=(1,))
    assert al.realized.all()
    assert al.primary_driver[0] in sw.REACHABLE[1, 20]
    assert wafer.driver_side(al.primary_driver[0]) == 1


def test_fieres_proportional_sharing():
    # 60 routes each needing 3 drivers, equal synapses, 112 drivers: 112/60 = 1.87 -> 1
    # each (60), deficits equal -> the first 52 routes get a second driver: 112 in total
    length, last = fieres_lengths(np.full(60, 3), np.full(60, 100), 112, 3)
    assert length.sum() == 112 and list(length[:52]) == [2] * 52 and list(length[52:]) == [1] * 8
    assert not last.any()
    # fits: every route gets min(requested, chain)
    length, last = fieres_lengths(np.array([5, 1, 2]), np.array([10, 1, 1]), 112, 3)
    assert list(length) == [3, 1, 2]
    # 200 routes needing 2 drivers, synapses 1..200 (total 20100), 112 drivers: shares
    # i * 112 / 20100 are < 1 for i <= 179, so every route starts at 1 (200 > 112); the
    # surplus is taken from the largest surplus (smallest share) first: routes 1..88 drop to
    # 0 and are packed last with their full request of 2
    length, last = fieres_lengths(np.full(200, 2), np.arange(1, 201), 112, 3)
    assert list(np.flatnonzero(last)) == list(range(88))
    assert np.all(length[last] == 2) and np.all(length[~last] == 1)
    # marocco only rescales when some share differs from the request: 200 one-driver
    # routes keep 1 each (the packing then rejects those that find no free driver)
    length, last = fieres_lengths(np.full(200, 1), np.arange(1, 201), 112, 3)
    assert np.all(length == 1) and not last.any()


def test_oversubscribed_side_never_double_books_drivers():
    # 40 routes arriving on the left side of one HICANN (V-buses 0..39), each with the 15
    # decoder-3 sources onto 16 w=2 neurons: each needs 15 half rows -> 8 rows -> 4 drivers;
    # 160 > 112.  Shares 112 * 240 / 9600 = 2.8 -> 2 each (80); the deficit is filled one
    # driver per route in turn up to the chain length 3: 32 routes get 3, 8 keep 2 (= 112).
    q, s, n = (g.ravel() for g in np.meshgrid(np.arange(40), np.arange(15), np.arange(16),
                                              indexing="ij"))
    length, _ = fieres_lengths(np.full(40, 4), np.full(40, 240), 112, 3)
    assert list(length) == [3] * 32 + [2] * 8
    al = run(DEC3[s], 2 * n, 2, request=q, vline=np.arange(40), side=np.zeros(40, int),
             ok=np.ones(40, bool), target=np.full(40, H))
    assert np.all(al.drivers_requested == 4)
    assert np.all(al.drivers_assigned <= length)
    used = np.flatnonzero(al.driver_request[H] >= 0)
    assert used.size == al.drivers_assigned.sum() <= 112
    assert np.all(wafer.driver_side(used) == 0)
    # 16 V-buses share each set of 14 primaries, so some routes find none free: rejected
    assert np.any(al.drivers_assigned == 0)
    # A drivers = 2A rows = 2A even + 2A odd half rows = 4A slots per neuron (needs 15)
    assert al.lost_drivers == np.sum(240 - 16 * np.minimum(15, 4 * al.drivers_assigned))


def test_random_wafer_scale_invariants():
    # many HICANNs, both receptors, all address groups, neurons of sizes 2..8, defects
    rng = np.random.default_rng(7)
    hicanns = np.arange(150, 170)
    usable = np.array(wafer.USABLE_ADDRESSES)
    reqs_per = 24
    req_target = np.repeat(hicanns, reqs_per)
    req_side = np.tile(np.arange(reqs_per) % 2, hicanns.size)
    req_vline = np.concatenate([
        np.where(np.arange(reqs_per) % 2 == 0, rng.choice(128, reqs_per, replace=False),
                 128 + rng.choice(128, reqs_per, replace=False)) for _ in hicanns])
    req_ok = rng.random(req_target.size) > 0.1
    # neurons: per HICANN 40 neurons of width 1..4 packed from column 0
    widths = rng.integers(1, 5, 40)
    x0s = np.concatenate([[0], np.cumsum(widths)[:-1]])
    n_conn = 60000
    q = rng.integers(0, req_target.size, n_conn)
    nrn = rng.integers(0, 40, n_conn)
    addr = usable[rng.integers(0, 59, n_conn)]
    rec = rng.integers(0, 2, n_conn)
    driver_ok = rng.random((wafer.N_HICANN, 224)) > 0.05
    synapse_ok = rng.random((wafer.N_HICANN, 448, 256)) > 0.01
    conn_q = np.where(rng.random(n_conn) < 0.02, -1, q)
    al = run(addr, x0s[nrn], widths[nrn], receptor=rec, request=conn_q, vline=req_vline,
             side=req_side, ok=req_ok, target=req_target, driver_ok=driver_ok,
             synapse_ok=synapse_ok)
    assert al.lost_l1 == np.sum((conn_q < 0) | ~req_ok[np.maximum(conn_q, 0)])
    assert al.n_realized > 0.3 * n_conn
    for h in hicanns:
        for side in (0, 1):
            drivers = np.flatnonzero(al.driver_request[h] >= 0)
            assert np.sum(wafer.driver_side(drivers) == side) <= 112


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="low nibble 1"):
        run(np.array([49]), np.zeros(1, int), 2)
    with pytest.raises(ValueError, match="target HICANN"):
        allocate_synapses(np.array([0]), np.array([63]), np.array([H + 1]), np.array([0]),
                          np.array([2]), np.array([0]), np.array([H]), np.array([5]),
                          np.array([0]), np.array([True]))
    with pytest.raises(ValueError, match="chain length"):
        assign_drivers(np.array([H]), np.array([5]), np.array([0]), np.array([1]),
                       np.array([1]), chain_length=0)
