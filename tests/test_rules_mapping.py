"""Exact references for the mapper's hardware rules that the other mapping tests leave open
(found by mutation testing of ``mapping/merger_routing.py``, ``synapse_drivers.py``,
``synapses.py`` and ``input_placement.py``).

Every expected value is worked out by hand in the comments from the hardware description in
``shared/reference/brainscales1.md`` (section numbers given), never by calling the function
under test.
"""
from __future__ import annotations

import numpy as np
import pytest

from pyNN_bss_emu.hardware import synapse_switch as sw
from pyNN_bss_emu.hardware import wafer
from pyNN_bss_emu.mapping import merger_routing as mrt
from pyNN_bss_emu.mapping.input_placement import place_inputs
from pyNN_bss_emu.mapping.merger_routing import (DriverDemand, input_capable_mergers,
                                                 route_mergers)
from pyNN_bss_emu.mapping.placement import place_neurons
from pyNN_bss_emu.mapping.synapse_drivers import (assign_drivers, driver_requirements,
                                                  fieres_lengths)
from pyNN_bss_emu.mapping.synapses import allocate_synapses
from pyNN_bss_emu.mapping.types import (MappingError, NeuronPlacement,
                                        ResourceExhaustedError)

from mapping_graphs import all_ok, graph, placement_from_counts

N_H = 384                      # HICANNs per wafer (brainscales1.md 0)
H = 100                        # an interior HICANN for the synapse-stage tests


# ====================================================================== merger tree (6.2, 14.4)
def test_merger_tree_path_table_follows_the_wiring():
    # 6.2: DNC merger i taps i=0:Merger0[0] 1:Merger1[0] 2:Merger0[2] 3:Merger3[0]
    # 4:Merger0[4] 5:Merger2[1] 6:Merger1[3] 7:Merger0[7]; Merger<l>[k] has inputs
    # Merger<l-1>[2k], [2k+1], so block b lies under Merger<l>[b >> l].  Node numbers:
    # Merger0[0..7] = 0..7, Merger1[0..3] = 8..11, Merger2[0..1] = 12, 13, Merger3 = 14.
    tap = {0: (0, 0), 1: (1, 0), 2: (0, 2), 3: (3, 0), 4: (0, 4), 5: (2, 1), 6: (1, 3),
           7: (0, 7)}
    offset = (0, 8, 12, 14)
    reach = np.zeros((8, 8), bool)
    path = np.zeros((8, 8, 15), bool)
    for m, (level, k) in tap.items():
        for b in range(8):
            if b >> level == k:
                reach[m, b] = True
                for lvl in range(level + 1):
                    path[m, b, offset[lvl] + (b >> lvl)] = True
    got_reach, got_path = mrt._path_table()          # called here, not only at import
    assert np.array_equal(got_reach, reach) and np.array_equal(got_path, path)
    assert np.array_equal(mrt.REACH, reach) and np.array_equal(mrt.PATH, path)
    # spot checks written out: block 5 -> DNC 3 passes Merger0[5], Merger1[2], Merger2[1],
    # Merger3; block 7 -> DNC 6 passes Merger0[7], Merger1[3]
    assert set(np.flatnonzero(path[3, 5])) == {5, 10, 13, 14}
    assert set(np.flatnonzero(path[6, 7])) == {7, 11}


def test_minimize_drops_trailing_empty_blocks_so_a_later_merger_can_use_them():
    # One HICANN, neurons of size 2 (one column each): 40 neurons in block 5, 30 in block 7,
    # all other blocks empty.  marocco order [3*, 5, 3, 6, ...] (14.4):
    #  step 0, DNC 3 (all 8 blocks or nothing): 40 + 30 = 70 > 59 -> nothing.
    #  step 1, DNC 5 (blocks 4..7) starts at block 5, grows left over empty block 4 and right
    #    over empty block 6; block 7 would make 70 > 59.  Selected 4, 5, 6, but the empty
    #    blocks at both ends are dropped: only block 5 -> DNC 5 (nodes Merger0[5], Merger1[2],
    #    Merger2[1] taken).
    #  step 2, DNC 3: its path to blocks 4..7 crosses Merger2[1]; blocks 0..3 are empty.
    #  step 3, DNC 6 (blocks 6, 7 via Merger1[3]): block 6 is still free because it was
    #    dropped, so DNC 6 starts there and takes block 7 (30 <= 59).
    # Keeping the empty block 6 on DNC 5 would block DNC 6 and leave block 7 to DNC 7.
    counts = np.zeros((N_H, 8), np.int64)
    counts[0, 5], counts[0, 7] = 40, 30
    g, pl = placement_from_counts(counts)
    for strategy in ("minimize", "minimize_as_possible"):      # no connections: same result
        mr = route_mergers(g, pl, strategy=strategy)
        assert mr.block_to_merger[0].tolist() == [-1, -1, -1, -1, -1, 5, -1, 6], strategy
        assert np.all(mr.block_to_merger[1:] == -1)
        assert np.all(mr.dnc_merger == np.where(pl.block == 5, 5, 6))
    # input mode (14.5, 6.2): DNC 5 and 6 carry neurons; DNC 7's own path Merger0[7] is used
    # by block 7; DNC 0..4 own paths (Merger0[0]; Merger0[1]+Merger1[0]; Merger0[2];
    # Merger0[3]+Merger1[1]+Merger2[0]+Merger3; Merger0[4]) are all free.
    free = input_capable_mergers(mr.block_to_merger)
    assert free[0].tolist() == [True] * 5 + [False] * 3
    assert np.all(free[1:])


def test_driver_demand_counts_each_multapse_once():
    # Cell 0: a neuron on HICANN 5, x0 = 0, width 1 (a single even column).  Cells 1..3:
    # sources.  Connections 1->0, 2->0 twice, 3->0 twice (two multapses that are not the
    # first connection).  Multapses count once (14.8, as the synapse stage keeps one):
    # 3 synapses of decoder 3 (addresses 63, 62, 61) onto one even column -> 3 even half rows
    # -> 3 rows -> ceil(3 / 2) = 2 drivers.  Counting the multapses would give 5 -> 3
    # (multapses="per_projection", marocco's rule; the default "realise" counts them).
    g = graph([1, 3], neuron_size=[2, 0], source=[False, True],
              pre=[1, 2, 2, 3, 3], post=[0, 0, 0, 0, 0])
    pl = NeuronPlacement(hicann=np.array([5, -1, -1, -1]), block=np.array([0, -1, -1, -1]),
                         x0=np.array([0, -1, -1, -1]), width=np.array([1, -1, -1, -1]))
    dd = DriverDemand(g, pl, multapses="per_projection")
    assert dd.out_degree(np.array([1, 2, 3])).tolist() == [1, 1, 1]
    assert dd.max_drivers(np.array([1, 2, 3]), np.array([63, 62, 61]), np.zeros(3, np.int64),
                          1).tolist() == [2]
    dd = DriverDemand(g, pl)
    assert dd.out_degree(np.array([1, 2, 3])).tolist() == [1, 2, 2]
    assert dd.max_drivers(np.array([1, 2, 3]), np.array([63, 62, 61]), np.zeros(3, np.int64),
                          1).tolist() == [3]


# ====================================================================== requirements (14.8)
def test_even_parity_is_chosen_when_it_needs_fewer_half_rows():
    # one inhibitory neuron, columns 4, 5, 6 (2 even, 1 odd), 4 synapses of decoder 0:
    # even ceil(4 / 2) = 2 half rows < odd ceil(4 / 1) = 4 -> 2 even half rows, none odd
    # -> 2 rows -> 1 driver (not "either parity", which would give 1 + 1 -> 1 row)
    req = driver_requirements([0], [4], [3], [1], [0], [4], 1)
    assert req.half_rows[0, 1, 0].tolist() == [2, 0]
    assert req.rows[0].tolist() == [0, 2] and req.drivers.tolist() == [1]
    # mirrored: columns 9, 10, 11 (1 even, 2 odd), 3 synapses: odd ceil(3/2) = 2 < even 3
    req = driver_requirements([0], [9], [3], [1], [0], [3], 1)
    assert req.half_rows[0, 1, 0].tolist() == [0, 2] and req.rows[0].tolist() == [0, 2]


# ====================================================================== Fieres (14.9)
def test_fieres_repair_adds_only_to_real_deficits_and_never_beyond_the_chain():
    # 2 routes requesting 5 drivers each, synapses 1 : 3, 8 drivers, chain length 3.
    # 10 > 8 -> shares 8/4 = 2.0 and 24/4 = 6.0; assign = min(3, max(1, min(5, floor)))
    # = 2 and 3 (5 in total).  Deficits (assign - share): 0.0 and -3.0.  Only route 1 has a
    # deficit, and it is already at the chain length: the repair stops with 5 of 8 drivers.
    # Route 0 (no deficit) gets nothing extra; nobody exceeds the chain length.
    length, last = fieres_lengths(np.array([5, 5]), np.array([1, 3]), 8, 3)
    assert length.tolist() == [2, 3] and last.tolist() == [False, False]


def test_assign_drivers_record_of_served_skipped_and_rejected_routes():
    # q0: V-bus 5 -> left drivers of H, needs 3.  Candidates (sw.REACHABLE[0, 5]) 3, 19, ...
    #     all in free quadrants (gap 56): best fit = top array, lowest position: driver 3 at
    #     top-left quadrant position 1; the chain takes position 0 above it, then position 2:
    #     positions [0, 3) = drivers 1, 3, 5 (top-left quadrant = odd lines 1, 3, 5, ...).
    # q1: a failed route (nothing requested) with meaningless V-bus / side: skipped, no error.
    # q2: V-bus 5 on the right side, all 14 drivers it reaches there defect: rejected.
    ok = np.ones((N_H, 224), bool)
    ok[H, sw.REACHABLE[1, 5]] = False
    a = assign_drivers(np.array([H, H, H]), np.array([5, -1, 5]), np.array([0, 7, 1]),
                       np.array([3, 0, 2]), np.array([100, 0, 50]), driver_ok=ok)
    assert a.requested.tolist() == [3, 0, 2]
    assert a.assigned.tolist() == [3, 0, 0]
    assert a.primary.tolist() == [3, -1, -1]
    assert a.chain_array.tolist() == [0, -1, -1]
    assert a.chain_begin.tolist() == [0, -1, -1]
    assert a.chain_end.tolist() == [3, -1, -1]
    assert a.drivers_of(0, 0).tolist() == [1, 3, 5]
    assert a.drivers_of(2, 1).size == 0
    assert np.flatnonzero(a.driver_request[H] == 0).tolist() == [1, 3, 5]
    assert np.all(a.driver_request[H, sw.REACHABLE[1, 5]] == -2)
    assert not np.any(a.driver_request[H] == 2)


def test_fieres_ties_go_to_the_lower_request_on_both_sides():
    # 120 routes onto HICANN H, alternating left / right side (60 per side), each needing 2
    # drivers with 100 synapses.  Per side: 120 > 112 drivers -> share 112 / 60 = 1.87 ->
    # 1 each (60), equal deficits -> one more driver to each route in request order until
    # 112: the first 52 routes of a side get 2, the last 8 get 1.  The last 8 use V-buses
    # 0..7 (V-bus = 59 - index on the side), so they are packed first and get exactly their
    # length.  The result must not depend on how the routes were grouped per side.
    n = 120
    side = np.arange(n) % 2
    local = np.arange(n) // 2
    a = assign_drivers(np.full(n, H), 59 - local, side, np.full(n, 2), np.full(n, 100))
    for s in (0, 1):
        got = a.assigned[side == s]
        assert got[52:].tolist() == [1] * 8, s
        assert np.all(got[:52] <= 2) and got.sum() <= 112


@pytest.mark.parametrize("kw, match", [
    (dict(req_side=[2]), r"^req_side must be 0 \(left\) or 1 \(right\)$"),
    (dict(req_vline=[256]), r"^req_vline must be in 0\.\.255$"),
    (dict(req_target=[384]), r"^req_target must be a HICANN enum 0\.\.383$"),
])
def test_assign_drivers_rejects_bad_routes(kw, match):
    args = dict(req_target=[H], req_vline=[5], req_side=[0], requested=[1], synapses=[1])
    args.update(kw)
    with pytest.raises(ValueError, match=match):
        assign_drivers(*(np.asarray(args[k]) for k in ("req_target", "req_vline", "req_side",
                                                         "requested", "synapses")))


# ====================================================================== synapses (14.10)
def test_neuron_on_the_last_columns_and_the_record_of_unused_rows():
    # one route (V-bus 5, left) onto a neuron with columns 254 (even) and 255 (odd), the last
    # two of the 256 (4.1).  Sources with addresses 63, 62 (2-MSB decoder 3) and a multapse
    # of 63.  After dropping the multapse: 2 synapses, 1 even + 1 odd column -> 2 half rows
    # "either parity" -> 1 even + 1 odd -> 1 row -> 1 driver = driver 3 (rows 6, 7; see
    # test_assign_drivers_record...).  The excitatory row is row 6; slots in ascending
    # address: 62 -> (6, 254), 63 -> (6, 255).  Row 7 stays unused (-1 everywhere).
    al = allocate_synapses(np.zeros(3, int), np.array([63, 62, 63]), np.full(3, H),
                           np.full(3, 254), np.full(3, 2), np.zeros(3, int), np.array([H]),
                           np.array([5]), np.array([0]), np.array([True]),
                           allow_multapses=False)
    assert al.synapses_requested.tolist() == [2] and al.drivers_requested.tolist() == [1]
    assert al.realized.tolist() == [True, True, False] and al.lost_multapse == 1
    assert al.row.tolist() == [6, 6, -1] and al.column.tolist() == [255, 254, -1]
    assert al.synapse_decoder.tolist() == [15, 14, -1]          # address & 15
    assert al.primary_driver.tolist() == [3]
    assert al.row_decoder[H, 6].tolist() == [3, 3]
    assert al.row_decoder[H, 7].tolist() == [-1, -1]
    assert al.row_receptor[H, 7] == -1 and al.row_request[H, 7] == -1
    assert np.all(np.delete(al.row_decoder[H], 6, axis=0) == -1)
    # one column further is outside the HICANN
    with pytest.raises(ValueError, match=r"^target neuron columns out of range$"):
        allocate_synapses(np.zeros(1, int), np.array([63]), np.array([H]), np.array([255]),
                          np.array([2]), np.zeros(1, int), np.array([H]), np.array([5]),
                          np.array([0]), np.array([True]))


def _alloc_args(n=2):
    return dict(conn_request=np.zeros(n, int), conn_pre_address=np.array([63, 62][:n]),
                conn_post_hicann=np.full(n, H), conn_post_x0=np.zeros(n, int),
                conn_post_width=np.full(n, 2), conn_receptor=np.zeros(n, int),
                req_target=np.array([H]), req_vline=np.array([5]), req_side=np.array([0]),
                req_ok=np.array([True]))


@pytest.mark.parametrize("change, match", [
    (dict(conn_post_hicann=np.full(3, H)), r"^conn_post_hicann must have shape \(2,\), got \(3,\)$"),
    (dict(conn_stp=np.zeros(1, int)), r"^conn_stp must have shape \(2,\), got \(1,\)$"),
    (dict(req_vline=np.array([5, 6])), r"^req_vline must have shape \(1,\), got \(2,\)$"),
    (dict(conn_request=np.array([0, 1])), r"^conn_request must be -1 or a request index$"),
    (dict(conn_pre_address=np.array([63, 64])), r"^L1 addresses must be in 0\.\.63$"),
    (dict(conn_receptor=np.array([0, 2])),
     r"^conn_receptor must be 0 \(excitatory\) or 1 \(inhibitory\)$"),
])
def test_allocate_synapses_rejects_bad_input(change, match):
    args = _alloc_args()
    args.update(change)
    with pytest.raises(ValueError, match=match):
        allocate_synapses(**args)


# ====================================================================== input placement (14.6)
def _one_target_network(n_src, rate_bio, n_neurons=16, manual=(0,)):
    """Population 0: neurons (on HICANN ``manual``), population 1: sources -> neuron 0."""
    g = graph([n_neurons, n_src], neuron_size=[4, 0], source=[False, True],
              manual=[manual, None], labels=["nrn", "stim"],
              rate=np.r_[np.zeros(n_neurons), np.full(n_src, float(rate_bio))],
              pre=n_neurons + np.arange(n_src), post=np.zeros(n_src, np.int64))
    dok, hok = all_ok()
    pl = place_neurons(g, dok, hok)
    return g, pl, route_mergers(g, pl), hok


def test_hicann_link_cap_is_inclusive_and_utilization_one_is_allowed():
    # speedup 1 (hw = bio), bandwidth_utilization 1.0: the per-HICANN cap is the full
    # 17.8 MHz (marocco max_rate_HICANN, brainscales1.md 14.6).  Two sources of 8.9 MHz sum
    # to exactly 17.8 MHz and both fit on the manual HICANN 300 ...
    g, pl, mr, hok = _one_target_network(2, 8.9e6)
    sp = place_inputs(g, pl, mr, hok, speedup=1.0, bandwidth_utilization=1.0,
                      manual={1: (300,)})
    assert sp.hicann[16:].tolist() == [300, 300]
    # ... the neuron cells keep -1 in every field
    assert np.all(sp.hicann[:16] == -1) and np.all(sp.dnc_merger[:16] == -1)
    assert np.all(sp.address[:16] == -1)
    # ... 0.5 Hz more does not: only 1 of 2 fits, the message states the 17.8 MHz cap
    g.rate[17] += 0.5
    with pytest.raises(ResourceExhaustedError, match=r"room for only 1 of 2 sources.*"
                                                     r"17\.8 MHz per HICANN"):
        place_inputs(g, pl, mr, hok, speedup=1.0, bandwidth_utilization=1.0,
                     manual={1: (300,)})


@pytest.mark.parametrize("kw, match", [
    (dict(speedup=0), r"^speedup must be > 0, got 0$"),
    (dict(speedup=-1e4), r"^speedup must be > 0, got -10000\.0$"),
    (dict(bandwidth_utilization=1.5), r"^bandwidth_utilization must be in \(0, 1\], got 1\.5$"),
    (dict(bandwidth_utilization=0.0), r"^bandwidth_utilization must be in \(0, 1\], got 0\.0$"),
])
def test_place_inputs_rejects_bad_parameters(kw, match):
    g, pl, mr, hok = _one_target_network(2, 1.0)
    with pytest.raises(ValueError, match=match):
        place_inputs(g, pl, mr, hok, **kw)


def test_manual_spike_source_placement_messages_and_empty_lists():
    g, pl, mr, hok = _one_target_network(3, 1.0)
    with pytest.raises(MappingError, match=r"^population 'stim': manual placement of spike "
                                           r"sources names HICANN 999, which is not a HICANN "
                                           r"enum \(0\.\.383\)$"):
        place_inputs(g, pl, mr, hok, manual={1: (999,)})
    # an empty manual HICANN list in the graph means "no manual placement": automatic
    # placement next to the target (HICANN 0, which has free input mergers 2, 4..7, 14.5)
    g.manual_hicanns[1] = ()
    sp = place_inputs(g, pl, mr, hok)
    assert sp.hicann[16:].tolist() == [0, 0, 0]
    assert sp.dnc_merger[16:].tolist() == [7, 7, 7]


def test_sources_avoid_defective_hicanns():
    # HICANN 200 (grid x 8, y 8) is full of neurons (128 of size 4: DNC mergers 0, 3, 5, 7
    # carry them and no input merger is left, 14.4/14.5).  The one source targets neuron 0
    # there; the walk goes by distance from (8, 8): next are the grid neighbours at distance
    # 1, ties by enum: 164 (8, 7), 199 (7, 8), 201 (9, 8), 236 (8, 9).  With 164 defect the
    # source goes to 199.
    d2 = (wafer.HICANN_X - 8) ** 2 + (wafer.HICANN_Y - 8) ** 2
    assert wafer.HICANN_X[200] == 8 and wafer.HICANN_Y[200] == 8
    assert np.flatnonzero(d2 == 1).tolist() == [164, 199, 201, 236]
    g, pl, mr, hok = _one_target_network(1, 10.0, n_neurons=128, manual=(200,))
    assert np.all(pl.hicann[:128] == 200)
    assert place_inputs(g, pl, mr, hok).hicann[128] == 164
    hok = hok.copy()
    hok[164] = False
    assert place_inputs(g, pl, mr, hok).hicann[128] == 199


def test_input_shortfall_message_states_the_usable_bandwidth():
    # 400 sources of 1 kHz bio x 1e4 = 10 MHz hw: one per HICANN (cap 17.8 x 0.8 = 14.24 MHz),
    # 8 x 10 = 80 MHz per FPGA (cap 125 x 0.8 = 100 MHz).  HICANNs 200..203 (4 of the 8 of
    # reticle 26) are defect: 380 HICANNs take 380 sources, 20 are left.
    # Usable bandwidth per FPGA = min(sum of its usable HICANN caps, FPGA cap):
    # 47 x min(8 x 14.24, 100) + min(4 x 14.24, 100) = 4700 + 56.96 = 4756.96 MHz.
    # No source alone exceeds 14.24 MHz, so no "each exceed" clause.
    g, pl, mr, hok = _one_target_network(400, 1000.0)
    off = np.flatnonzero(wafer.FPGA_OF == wafer.FPGA_OF[200])[:4]
    assert off.tolist() == [200, 201, 202, 203]
    hok = hok.copy()
    hok[off] = False
    with pytest.raises(ResourceExhaustedError) as err:
        place_inputs(g, pl, mr, hok)
    msg = str(err.value)
    assert "cannot place 20 of 400 spike sources ('stim': 20 unplaced)" in msg
    assert "total input rate 4000 MHz hw (400000 Hz bio x speedup 10000)" in msg
    assert "vs usable bandwidth 4756.96 MHz (380 HICANNs x 14.24 MHz, FPGAs x 100 MHz; " \
           "bandwidth_utilization 0.8); input DNC mergers" in msg
    assert "exceed" not in msg


# ====================================================================== mutation gaps, round 2
def test_drivers_of_a_route_with_exactly_one_driver():
    # q0: V-bus 5 -> left drivers of H, needs 1 driver.  As in
    # test_assign_drivers_record_of_served_skipped_and_rejected_routes the best fit is the top
    # array at the lowest position: primary driver 3 = top-left quadrant position 1.  A chain
    # of length 1 extends 0 drivers downwards and ends at the primary: positions [1, 2) =
    # driver 3 alone.  assigned == 1 must still give its driver line.
    a = assign_drivers(np.array([H]), np.array([5]), np.array([0]), np.array([1]),
                       np.array([10]))
    assert a.assigned.tolist() == [1] and a.primary.tolist() == [3]
    assert a.chain_begin.tolist() == [1] and a.chain_end.tolist() == [2]
    assert a.drivers_of(0, 0).tolist() == [3]


def test_fieres_repair_keeps_adding_over_several_passes():
    # 3 routes requesting 1, 10, 10 drivers, synapses 12 : 3 : 3, 9 drivers, chain length 10.
    # 21 > 9 -> shares 12/18*9 = 6, 1.5, 1.5; assign = min(10, max(1, min(req, floor)))
    # = 1 (capped by its request), 1, 1 -> 3 of 9.  Deficits (assign - share): -5, -0.5, -0.5;
    # route 0 is at its request, so only routes 1, 2 are repaired, in order 1, 2 (tie):
    # pass 1 -> 2, 2 (total 5), pass 2 -> 3, 3 (7), pass 3 -> 4, 4 (9 = available, stop).
    # A repair that stopped after one pass would leave 2, 2.
    length, last = fieres_lengths(np.array([1, 10, 10]), np.array([12, 3, 3]), 9, 10)
    assert length.tolist() == [1, 4, 4] and last.tolist() == [False, False, False]


@pytest.mark.parametrize("change, match", [
    # stp.N_KEYS = 18 keys (17: STDP rows, issue 15) -> valid keys 0..17; 18 is the first bad
    (dict(conn_stp=np.array([0, 18])), r"^conn_stp must be an STP key 0\.\.17$"),
    (dict(conn_stp=np.array([-1, 0])), r"^conn_stp must be an STP key 0\.\.17$"),
    # one request -> req_ok must have shape (1,)
    (dict(req_ok=np.array([True, False])), r"^req_ok must have shape \(1,\), got \(2,\)$"),
    (dict(req_side=np.array([0, 0])), r"^req_side must have shape \(1,\), got \(2,\)$"),
])
def test_allocate_synapses_rejects_bad_stp_keys_and_request_shapes(change, match):
    args = _alloc_args()
    args.update(change)
    with pytest.raises(ValueError, match=match):
        allocate_synapses(**args)


def test_bad_rate_message_names_the_later_source_and_its_population():
    # cells 0..15: neurons of 'nrn'; cells 16, 17, 18: sources of 'stim' (population 1).
    # The SECOND source (cell 17) has rate -1 Hz (rates must be finite and >= 0): the message
    # names cell 17 and population 'stim'.  (The rate is printed with repr, which numpy >= 2
    # writes as np.float64(-1.0).)
    g, pl, mr, hok = _one_target_network(3, 1.0)
    g.rate[17] = -1.0
    with pytest.raises(ValueError, match=r"^spike source 17 of population 'stim' has rate "
                                         r"(np\.float64\()?-1\.0\)? Hz; rates must be finite "
                                         r"and >= 0$"):
        place_inputs(g, pl, mr, hok)
    # non-finite is bad too: the third source with NaN
    g.rate[17] = 1.0
    g.rate[18] = np.nan
    with pytest.raises(ValueError, match=r"^spike source 18 of population 'stim' has rate "
                                         r"(np\.float64\()?nan\)? Hz; rates must be finite "
                                         r"and >= 0$"):
        place_inputs(g, pl, mr, hok)


def test_manual_input_overflow_message_scales_both_caps_by_the_utilization():
    # 2 sources of 1 kHz bio x speedup 1e4 = 10 MHz hw each, both manually on HICANN 300
    # (no neurons there: all 8 DNC mergers x 59 addresses free).  bandwidth_utilization 0.8:
    # HICANN cap 17.8 x 0.8 = 14.24 MHz, FPGA cap 125 x 0.8 = 100 MHz (= 10 kHz bio at
    # speedup 1e4) (brainscales1.md 14.6).  First source 10 <= 14.24 fits, the second would
    # make 20 > 14.24: room for only 1 of 2; requested 2 x 10 = 20 MHz.
    g, pl, mr, hok = _one_target_network(2, 1000.0)
    with pytest.raises(ResourceExhaustedError,
                       match=r"^spike-source population 'stim': manual placement on HICANN\(s\) "
                             r"300 has room for only 1 of 2 sources \(free input DNC mergers "
                             r"x 59 addresses, 14\.24 MHz per HICANN, 100 MHz per FPGA at "
                             r"speedup 10000; requested 20 MHz\)$"):
        place_inputs(g, pl, mr, hok, speedup=1e4, bandwidth_utilization=0.8,
                     manual={1: (300,)})
