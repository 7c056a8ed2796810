"""Hardware model: wafer geometry (wafer.py), coordinates and defect maps.

Expected numbers are taken from shared/reference/brainscales1.md (sections cited per test),
i.e. from halco / the guidebook, never from the code under test.
"""
from __future__ import annotations

import json
import pickle
from dataclasses import FrozenInstanceError

import numpy as np
import pytest

from pyNN_bss_emu.hardware import wafer as w
from pyNN_bss_emu.hardware.coordinates import (
    DNCMergerOnHICANN, Enum, HICANNOnWafer, HLineOnHICANN, L1Address, LogicalNeuron,
    NeuronBlockOnHICANN, NeuronOnHICANN, NeuronOnWafer, SynapseDriverOnHICANN, VLineOnHICANN,
    X, Y)
from pyNN_bss_emu.hardware.defects import DEFAULT_RATES, PRESETS, RATE_KEYS, DefectMap

# ---------------------------------------------------------------- reference tables
#: section 1.2: valid x range per row y (halco lookup_tables.cpp HICANNOnWaferGrid)
ROWS = {0: (12, 23), 1: (12, 23), 2: (8, 27), 3: (8, 27), 4: (4, 31), 5: (4, 31),
        6: (0, 35), 7: (0, 35), 8: (0, 35), 9: (0, 35), 10: (4, 31), 11: (4, 31),
        12: (8, 27), 13: (8, 27), 14: (12, 23), 15: (12, 23)}
ROW_COUNTS = {0: 12, 1: 12, 2: 20, 3: 20, 4: 28, 5: 28, 6: 36, 7: 36, 8: 36, 9: 36,
              10: 28, 11: 28, 12: 20, 13: 20, 14: 12, 15: 12}
#: section 6.2: tree node feeding each DNC merger, as (level, index)
DNC_MERGER_NODE = {0: (0, 0), 1: (1, 0), 2: (0, 2), 3: (3, 0), 4: (0, 4), 5: (2, 1),
                   6: (1, 3), 7: (0, 7)}
#: section 6.2: sending repeaters sit on these H-buses
SENDING_HLINES = {6, 14, 22, 30, 38, 46, 54, 62}
#: section 5: reserved addresses
RESERVED = {0, 1, 17, 33, 49}


def blocks_under(level, index):
    """Neuron blocks under merger tree node Merger<level>[index] (binary tree, section 6.2:
    Merger0[b] <- block b; Merger1[k] <- Merger0[2k], Merger0[2k+1]; ...)."""
    span = 2 ** level
    return set(range(index * span, (index + 1) * span))


# ================================================================ wafer geometry
def test_384_hicanns_on_36x16_grid():
    assert w.N_HICANN == 384
    assert (w.GRID_WIDTH, w.GRID_HEIGHT) == (36, 16)
    all_h = HICANNOnWafer.all()
    assert len(all_h) == 384
    assert len({(h.x, h.y) for h in all_h}) == 384


def test_row_extents():
    by_row = {}
    for h in HICANNOnWafer.all():
        by_row.setdefault(h.y, []).append(h.x)
    assert sorted(by_row) == list(range(16))
    for y, xs in by_row.items():
        assert len(xs) == ROW_COUNTS[y], y
        assert (min(xs), max(xs)) == ROWS[y], y
        assert sorted(xs) == list(range(ROWS[y][0], ROWS[y][1] + 1))
    assert sum(ROW_COUNTS.values()) == 384


def test_enum_order_and_round_trip():
    assert (HICANNOnWafer(0).x, HICANNOnWafer(0).y) == (12, 0)
    assert (HICANNOnWafer(383).x, HICANNOnWafer(383).y) == (23, 15)
    # row by row from the top, left to right
    assert [(h.y, h.x) for h in HICANNOnWafer.all()] == sorted((y, x) for y, (x0, x1)
                                                               in ROWS.items()
                                                               for x in range(x0, x1 + 1))
    for e in range(384):
        h = HICANNOnWafer(e)
        assert h.enum == e
        assert HICANNOnWafer(X(h.x), Y(h.y)) == h
        assert HICANNOnWafer(x=h.x, y=h.y).enum == e
        assert HICANNOnWafer(h.x, h.y).enum == e
        assert HICANNOnWafer(Enum(e)) == h
        assert w.hicann_enum(h.x, h.y) == e
    # the first HICANN of each row (cumulative row counts)
    start = 0
    for y in range(16):
        assert HICANNOnWafer(start) == HICANNOnWafer(ROWS[y][0], y)
        start += ROW_COUNTS[y]


def test_grid_points_without_hicann():
    for y, (x0, x1) in ROWS.items():
        for x in range(36):
            if not x0 <= x <= x1:
                assert w.ENUM_AT[x, y] == -1
                with pytest.raises(ValueError, match=rf"x={x}, y={y}.*{x0}\.\.{x1}"):
                    HICANNOnWafer(x, y)
    assert int((w.ENUM_AT >= 0).sum()) == 384


def test_hicann_enum_arrays_outside_grid():
    xs = np.array([-1, 36, 12, 0, 5])
    ys = np.array([0, 0, 0, 16, -1])
    assert w.hicann_enum(xs, ys).tolist() == [-1, -1, 0, -1, -1]


def test_hicann_enum_scalar_outside_grid():
    assert w.hicann_enum(36, 0) == -1
    assert w.hicann_enum(5, 16) == -1


def test_reticles():
    assert w.N_RETICLES == 48
    members = {}
    for h in HICANNOnWafer.all():
        members.setdefault(h.reticle, []).append(h)
        assert h.fpga == h.reticle   # one FPGA per reticle (section 1.3)
        assert h.dnc == h.reticle
    assert sorted(members) == list(range(48))
    for r, hs in members.items():
        assert len(hs) == 8, r
        xs = sorted({h.x for h in hs})
        ys = sorted({h.y for h in hs})
        assert len(xs) == 4 and len(ys) == 2, r            # 4 wide x 2 tall
        assert xs == list(range(xs[0], xs[0] + 4)) and xs[0] % 4 == 0
        assert ys == [ys[0], ys[0] + 1] and ys[0] % 2 == 0
    # reticle enum runs row by row like halco's DNCOnWafer (3, 5, 7, 9, 9, 7, 5, 3 per row)
    assert HICANNOnWafer(0).reticle == 0
    assert HICANNOnWafer(x=20, y=1).reticle == 2
    assert HICANNOnWafer(x=8, y=2).reticle == 3
    assert HICANNOnWafer(x=23, y=15).reticle == 47


def test_neighbours_at_edges():
    assert HICANNOnWafer(x=12, y=0).neighbour("north") is None
    assert HICANNOnWafer(x=12, y=0).neighbour("west") is None
    assert HICANNOnWafer(x=23, y=0).neighbour("east") is None
    assert HICANNOnWafer(x=0, y=6).neighbour("west") is None
    assert HICANNOnWafer(x=35, y=9).neighbour("east") is None
    assert HICANNOnWafer(x=8, y=2).neighbour("north") is None      # (8, 1) is off the wafer
    assert HICANNOnWafer(x=0, y=9).neighbour("south") is None      # (0, 10) is off the wafer
    assert HICANNOnWafer(x=12, y=15).neighbour("south") is None
    assert HICANNOnWafer(x=12, y=0).neighbour("south") == HICANNOnWafer(x=12, y=1)
    assert HICANNOnWafer(x=12, y=0).neighbour("east") == HICANNOnWafer(x=13, y=0)


def test_neighbours_consistent():
    opposite = {"north": "south", "south": "north", "east": "west", "west": "east"}
    step = {"north": (0, -1), "south": (0, 1), "east": (1, 0), "west": (-1, 0)}
    pairs = {"ew": 0, "ns": 0}
    for h in HICANNOnWafer.all():
        for d, (dx, dy) in step.items():
            n = h.neighbour(d)
            x, y = h.x + dx, h.y + dy
            exists = y in ROWS and ROWS[y][0] <= x <= ROWS[y][1]
            assert (n is not None) == exists == h.has_neighbour(d)
            if n is not None:
                assert (n.x, n.y) == (x, y)
                assert n.neighbour(opposite[d]) == h
        pairs["ew"] += h.neighbour("east") is not None
        pairs["ns"] += h.neighbour("south") is not None
    # east-west links: sum over rows of (n - 1) = 384 - 16; north-south: overlaps of rows
    assert pairs["ew"] == 368
    assert pairs["ns"] == 12 + 12 + 20 + 20 + 28 + 28 + 36 + 36 + 36 + 28 + 28 + 20 + 20 + 12 + 12
    # direction constants and short names work too
    h = HICANNOnWafer(x=20, y=8)
    assert h.neighbour(w.EAST) == h.neighbour("E") == h.neighbour("east")


# ================================================================ per-HICANN resources
def test_per_hicann_and_wafer_totals():
    assert len(NeuronOnHICANN.all()) == w.DENMEMS_PER_HICANN == 512
    assert len(SynapseDriverOnHICANN.all()) == w.N_SYNAPSE_DRIVERS == 224
    assert w.SYNAPSE_ROWS == 448
    assert w.SYNAPSES_PER_HICANN == 114_688
    assert len(NeuronBlockOnHICANN.all()) == 8
    assert len(HLineOnHICANN.all()) == 64 and len(VLineOnHICANN.all()) == 256
    assert len(DNCMergerOnHICANN.all()) == 8
    # section 1.5
    assert w.N_HICANN * w.DENMEMS_PER_HICANN == 196_608
    assert w.N_HICANN * w.SYNAPSES_PER_HICANN == 44_040_192
    assert w.N_HICANN * w.N_SYNAPSE_DRIVERS == 86_016
    assert w.N_HICANN * w.N_HLINES == 24_576 and w.N_HICANN * w.N_VLINES == 98_304
    # every driver drives 2 rows, all 448 rows exactly once
    rows = [r for d in SynapseDriverOnHICANN.all() for r in d.rows]
    assert sorted(rows) == list(range(448))
    assert SynapseDriverOnHICANN(5).rows == (10, 11)


def test_neuron_blocks():
    for b in NeuronBlockOnHICANN.all():
        assert b.columns == range(32 * b.value, 32 * b.value + 32)
        dm = b.denmems()
        assert len(dm) == 64 and all(n.block == b for n in dm)
    assert NeuronOnHICANN(X(31), Y(1)).block == NeuronBlockOnHICANN(0)
    assert NeuronOnHICANN(X(32), Y(0)).block == NeuronBlockOnHICANN(1)
    assert NeuronOnHICANN(X(255), Y(1)).block == NeuronBlockOnHICANN(7)
    for e in range(512):
        n = NeuronOnHICANN.from_enum(e)
        assert n.enum == e and NeuronOnHICANN(n.x, n.y) == n


def test_driver_sides():
    # section 4.2: top half odd = left, even = right; bottom half mirrored
    assert SynapseDriverOnHICANN(1).side == 0 and SynapseDriverOnHICANN(1).is_left
    assert SynapseDriverOnHICANN(0).side == 1
    assert SynapseDriverOnHICANN(111).side == 0
    assert SynapseDriverOnHICANN(112).side == 0      # bottom, even -> left
    assert SynapseDriverOnHICANN(113).side == 1      # bottom, odd -> right
    assert SynapseDriverOnHICANN(223).side == 1
    counts = {}
    for d in SynapseDriverOnHICANN.all():
        top = d.value < 112
        assert d.array == (0 if top else 1)
        expect_left = (d.value % 2 == 1) if top else (d.value % 2 == 0)
        assert d.is_left == expect_left, d
        counts[(d.array, d.side)] = counts.get((d.array, d.side), 0) + 1
    assert counts == {(0, 0): 56, (0, 1): 56, (1, 0): 56, (1, 1): 56}   # 56 per quadrant


# ================================================================ L1 addresses
def test_59_usable_addresses():
    usable = [a.value for a in L1Address.usable()]
    assert len(usable) == 59 == len(set(usable))
    assert not set(usable) & RESERVED
    assert set(usable) | RESERVED == set(range(64))
    assert usable[:3] == [63, 62, 61] and usable[-1] == 2        # high_first
    for a in L1Address.all():
        assert a.is_usable == (a.value not in RESERVED)
        assert a.value == (a.driver_decoder << 4) | a.synapse_decoder
    # synapse decoder 1 never usable; per driver decoder 15 usable (14 for group 0)
    per_group = [sum(1 for a in usable if a >> 4 == g) for g in range(4)]
    assert per_group == [14, 15, 15, 15]
    assert not any(a & 0xF == 1 for a in usable)


# ================================================================ L1 buses
def test_crossbar_degree_and_totals():
    switches = set()
    for h in HLineOnHICANN.all():
        vs = [v.value for v in h.vlines()]
        assert len(set(vs)) == 8
        assert sum(v < 128 for v in vs) == 4 and sum(v >= 128 for v in vs) == 4
        switches |= {(h.value, v) for v in vs}
    assert len(switches) == 512
    for v in VLineOnHICANN.all():
        hs = [h.value for h in v.hlines()]
        assert len(set(hs)) == 2
        assert hs[0] // 2 == hs[1] // 2 and hs[0] % 2 == 0     # a pair 2k, 2k+1
        assert sum(1 for (hh, vv) in switches if vv == v.value) == 2
    # v in crossbar_vlines(h) <=> h in crossbar_hlines(v), all 64 x 256 pairs
    for h in range(64):
        for v in range(256):
            assert (v in w.crossbar_vlines(h)) == (h in w.crossbar_hlines(v)), (h, v)


def test_crossbar_values_and_pairs():
    # section 6.5 (halco l1.cpp): left 31 - h//2 + 32 n, right 128 + h//2 + 32 n
    assert [v.value for v in HLineOnHICANN(0).vlines()] == [31, 63, 95, 127, 128, 160, 192,
                                                            224]
    assert sorted(v.value for v in HLineOnHICANN(63).vlines()) == [0, 32, 64, 96, 159, 191,
                                                                   223, 255]
    assert [h.value for h in VLineOnHICANN(0).hlines()] == [62, 63]
    assert [h.value for h in VLineOnHICANN(128).hlines()] == [0, 1]
    assert [h.value for h in VLineOnHICANN(255).hlines()] == [62, 63]
    for k in range(32):
        assert HLineOnHICANN(2 * k).vlines() == HLineOnHICANN(2 * k + 1).vlines()
    # vectorised form agrees with the scalar one
    allv = w.crossbar_vlines(np.arange(64))
    assert allv.shape == (64, 8)
    assert all(list(allv[h]) == [v.value for v in HLineOnHICANN(h).vlines()] for h in range(64))


def test_bus_shifting():
    # section 6.4
    for h in range(64):
        e = HLineOnHICANN(h).east()
        assert e.value == (h + 2) % 64
        assert e.west().value == h
    assert HLineOnHICANN(62).east() == HLineOnHICANN(0)
    assert HLineOnHICANN(0).west() == HLineOnHICANN(62)
    for v in range(256):
        n = VLineOnHICANN(v).north()
        s = VLineOnHICANN(v).south()
        assert n.south().value == v and s.north().value == v
        assert (n.value < 128) == (s.value < 128) == (v < 128)          # stays in its half
        if v < 128:
            assert n.value == (v + 2) % 128
        else:
            assert n.value == 128 + (v - 128 - 2) % 128
    assert VLineOnHICANN(127).north().value == 1
    assert VLineOnHICANN(0).south().value == 126
    assert VLineOnHICANN(128).north().value == 254
    assert VLineOnHICANN(255).north().value == 253
    assert VLineOnHICANN(254).south().value == 128


def test_sending_hlines_and_dnc_mergers():
    got = {m.value: m.sending_hline.value for m in DNCMergerOnHICANN.all()}
    assert set(got.values()) == SENDING_HLINES
    assert got[0] == 62 and got[7] == 6
    for m, h in got.items():
        assert h == 6 + 8 * (7 - m)
        assert HLineOnHICANN(h).is_sending and HLineOnHICANN(h).dnc_merger.value == m
    assert sum(h.is_sending for h in HLineOnHICANN.all()) == 8
    assert HLineOnHICANN(7).dnc_merger is None


def test_merger_tree_reach():
    for m, (level, index) in DNC_MERGER_NODE.items():
        got = {b.value for b in DNCMergerOnHICANN(m).neuron_blocks}
        assert got == blocks_under(level, index), m
        assert set(w.DNC_MERGER_BLOCKS[m]) == got
    assert {b.value for b in DNCMergerOnHICANN(3).neuron_blocks} == set(range(8))
    # default one-to-one: block b reaches DNC merger b
    for b in NeuronBlockOnHICANN.all():
        assert DNCMergerOnHICANN(b.value) in b.dnc_mergers
    assert {m.value for m in NeuronBlockOnHICANN(5).dnc_mergers} == {3, 5}
    assert {m.value for m in NeuronBlockOnHICANN(0).dnc_mergers} == {0, 1, 3}


# ================================================================ coordinate types
def test_logical_neuron():
    ln = LogicalNeuron(HICANNOnWafer(283), NeuronBlockOnHICANN(1), 34, 2)
    assert ln.size == 4
    assert ln.front() == NeuronOnHICANN(X(34), Y(0))
    assert set(ln.denmems()) == {NeuronOnHICANN(34, 0), NeuronOnHICANN(35, 0),
                                 NeuronOnHICANN(34, 1), NeuronOnHICANN(35, 1)}
    full = LogicalNeuron(0, 7, 224, 32)
    assert full.size == 64 and len(set(full.denmems())) == 64
    assert all(n.block.value == 7 for n in full.denmems())
    assert LogicalNeuron(5, 0, 0, 1).hicann == HICANNOnWafer(5)
    assert len(ln.denmems_on_wafer()) == 4
    assert ln.denmems_on_wafer()[0] == NeuronOnWafer(NeuronOnHICANN(34, 0), HICANNOnWafer(283))


@pytest.mark.parametrize("args, pattern", [
    ((0, 0, 30, 4), r"width 4 from x0 30.*block 0 \(columns 0\.\.31\)"),
    ((0, 1, 30, 1), r"x0 30 is not in neuron block 1 \(columns 32\.\.63\)"),
    ((0, 0, 0, 0), r"width 0 out of range 1\.\.32"),
    ((0, 0, 0, 33), r"width 33 out of range 1\.\.32"),
    ((0, 8, 0, 1), r"block.*8 out of range 0\.\.7"),
    ((384, 0, 0, 1), r"hicann.*384 out of range 0\.\.383"),
    ((0, 0, 256, 1), r"x0 256 out of range 0\.\.255"),
])
def test_logical_neuron_errors(args, pattern):
    with pytest.raises(ValueError, match=pattern):
        LogicalNeuron(*args)


def test_neuron_on_wafer():
    n = NeuronOnWafer(NeuronOnHICANN(X(3), Y(1)), HICANNOnWafer(Enum(2)))
    assert n.enum == 2 * 512 + 256 + 3
    assert NeuronOnWafer(259, 2) == n
    with pytest.raises(ValueError, match=r"512 out of range 0\.\.511"):
        NeuronOnWafer(512, 2)
    with pytest.raises(ValueError, match=r"hicann.*400 out of range 0\.\.383"):
        NeuronOnWafer(0, 400)


@pytest.mark.parametrize("make, pattern", [
    (lambda: HICANNOnWafer(384), r"HICANNOnWafer: enum 384 out of range 0\.\.383"),
    (lambda: HICANNOnWafer(-1), r"enum -1 out of range 0\.\.383"),
    (lambda: HICANNOnWafer(0, 0), r"\(x=0, y=0\) is not on the wafer; row y=0 has x in 12\.\.23"),
    (lambda: HICANNOnWafer(36, 7), r"x 36 out of range 0\.\.35"),
    (lambda: HICANNOnWafer(x=5, y=16), r"y 16 out of range 0\.\.15"),
    (lambda: HICANNOnWafer(Y(3), X(15)), r"must be \(X, Y\)"),
    (lambda: HICANNOnWafer(X(15)), r"single X\(15\)"),
    (lambda: HICANNOnWafer(x=15), r"both x and y"),
    (lambda: HICANNOnWafer(3, x=1, y=2), r"both x and y|either enum"),
    (lambda: HICANNOnWafer(True), r"integer in 0\.\.383, got True"),
    (lambda: HICANNOnWafer(2.0), r"integer in 0\.\.383, got 2\.0"),
    (lambda: HICANNOnWafer("283"), r"integer in 0\.\.383, got '283'"),
    (lambda: NeuronOnHICANN(256, 0), r"NeuronOnHICANN: x 256 out of range 0\.\.255"),
    (lambda: NeuronOnHICANN(0, 2), r"NeuronOnHICANN: y 2 out of range 0\.\.1"),
    (lambda: NeuronOnHICANN.from_enum(512), r"enum 512 out of range 0\.\.511"),
    (lambda: NeuronBlockOnHICANN(8), r"NeuronBlockOnHICANN: value 8 out of range 0\.\.7"),
    (lambda: SynapseDriverOnHICANN(224), r"SynapseDriverOnHICANN: value 224 out of range 0\.\.223"),
    (lambda: HLineOnHICANN(64), r"HLineOnHICANN: value 64 out of range 0\.\.63"),
    (lambda: VLineOnHICANN(256), r"VLineOnHICANN: value 256 out of range 0\.\.255"),
    (lambda: VLineOnHICANN(-3), r"value -3 out of range 0\.\.255"),
    (lambda: DNCMergerOnHICANN(8), r"DNCMergerOnHICANN: value 8 out of range 0\.\.7"),
    (lambda: L1Address(64), r"L1Address: value 64 out of range 0\.\.63"),
    (lambda: L1Address(1.5), r"integer in 0\.\.63, got 1\.5"),
    (lambda: HICANNOnWafer(5).neighbour("up"), r"direction 'up'"),
    (lambda: HICANNOnWafer(5).neighbour(4), r"direction 4"),
])
def test_coordinate_errors(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make()


def test_coordinates_are_light_values():
    h = HICANNOnWafer(283)
    assert "283" in repr(h) and "HICANNOnWafer" in str(h)
    assert repr(HLineOnHICANN(6)) == "HLineOnHICANN(6)"
    with pytest.raises(FrozenInstanceError):
        h.enum = 3
    with pytest.raises(FrozenInstanceError):
        HLineOnHICANN(3).value = 4
    assert HLineOnHICANN(5) != VLineOnHICANN(5)
    assert len({HICANNOnWafer(3), HICANNOnWafer(x=15, y=0), HICANNOnWafer(4)}) == 2
    assert sorted([L1Address(9), L1Address(2)]) == [L1Address(2), L1Address(9)]
    arr = np.arange(400)
    assert arr[h] == 283 and arr[HLineOnHICANN(7)] == 7
    for obj in (h, NeuronOnHICANN(3, 1), HLineOnHICANN(3), LogicalNeuron(1, 0, 0, 2),
                NeuronOnWafer(3, 4)):
        assert pickle.loads(pickle.dumps(obj)) == obj
    assert HICANNOnWafer(np.int64(7)) == HICANNOnWafer(7)


# ================================================================ defects
def test_defects_none():
    d = DefectMap.none()
    shapes = {"hicann_ok": (384,), "denmem_ok": (384, 2, 256), "driver_ok": (384, 224),
              "hline_ok": (384, 64), "vline_ok": (384, 256)}
    for name, shape in shapes.items():
        m = getattr(d, name)
        assert m.shape == shape and m.dtype == bool and m.all()
        with pytest.raises(ValueError):
            m[0] = False                                   # read-only
    s = d.summary()
    assert s["hicanns"] == {"total": 384, "usable": 384, "blacklisted": 0}
    assert s["denmems"]["usable"] == 196_608 and s["drivers"]["usable"] == 86_016
    assert s["hlines"]["usable"] == 24_576 and s["vlines"]["usable"] == 98_304
    assert DefectMap.generate(7, "none") == d
    assert DefectMap.generate(7, dict.fromkeys(RATE_KEYS, 0.0)) == d


def test_defects_seeded():
    a, b, c = DefectMap.generate(1), DefectMap.generate(1), DefectMap.generate(2)
    assert a == b
    for name in ("hicann_ok", "denmem_ok", "driver_ok", "hline_ok", "vline_ok"):
        assert np.array_equal(getattr(a, name), getattr(b, name))
    assert a != c
    assert not np.array_equal(a.denmem_ok, c.denmem_ok)
    assert not np.array_equal(a.driver_ok, c.driver_ok)
    # changing one rate leaves the other components' draws alone
    r = {"hicanns": 0.0, "reticles": 0.0}
    x = DefectMap.generate(5, {**r, "denmems": 0.02})
    y = DefectMap.generate(5, {**r, "denmems": 0.10})
    assert np.array_equal(x.driver_ok, y.driver_ok)
    assert np.array_equal(x.vline_ok, y.vline_ok)
    assert (~y.denmem_ok).sum() > 3 * (~x.denmem_ok).sum()
    assert (y.denmem_ok <= x.denmem_ok).all()           # monotone in the rate


def _within(count, n, p, sigmas=6.0):
    sd = np.sqrt(n * p * (1 - p))
    return abs(count - n * p) <= sigmas * sd + 1


@pytest.mark.parametrize("seed", [0, 11])
def test_defect_rates_honoured(seed):
    rates = {"hicanns": 0.1, "reticles": 0.0, "denmems": 0.05, "drivers": 0.03,
             "hlines": 0.02, "vlines": 0.04}
    d = DefectMap.generate(seed, rates)
    ok = d.hicann_ok
    n_ok = int(ok.sum())
    assert _within(384 - n_ok, 384, 0.1)
    assert _within(int((~d.denmem_ok[ok]).sum()), n_ok * 512, 0.05)
    assert _within(int((~d.driver_ok[ok]).sum()), n_ok * 224, 0.03)
    # buses: with no dead HICANNs nothing is derived, so the raw rate shows
    nb = DefectMap.generate(seed, {**rates, "hicanns": 0.0})
    assert nb.hicann_ok.all()
    assert _within(int((~nb.hline_ok).sum()), 384 * 64, 0.02)
    assert _within(int((~nb.vline_ok).sum()), 384 * 256, 0.04)
    # and dead HICANNs have everything off
    assert not d.denmem_ok[~ok].any() and not d.driver_ok[~ok].any()
    assert not d.hline_ok[~ok].any() and not d.vline_ok[~ok].any()


def test_default_rates_small_and_documented():
    assert set(DEFAULT_RATES) == set(RATE_KEYS)
    assert 0.01 <= DEFAULT_RATES["hicanns"] <= 0.02
    assert DEFAULT_RATES["reticles"] == 0.0
    assert 0.01 <= DEFAULT_RATES["denmems"] <= 0.05
    assert 0.005 <= DEFAULT_RATES["drivers"] <= 0.03
    assert DEFAULT_RATES["hlines"] <= 0.02 and DEFAULT_RATES["vlines"] <= 0.02
    assert PRESETS["typical"] == DEFAULT_RATES == PRESETS["default"]
    s = DefectMap.generate(3).summary()
    assert s["hicanns"]["blacklisted"] <= 20                       # mean 5.8
    frac = s["denmems"]["blacklisted_on_usable_hicanns"] / (512 * s["hicanns"]["usable"])
    assert 0.01 < frac < 0.03


def test_reticle_defects_are_clustered():
    d = DefectMap.generate(4, {"hicanns": 0.0, "reticles": 0.25})
    dead = ~d.hicann_ok
    assert dead.sum() % 8 == 0 and dead.any()
    for r in range(48):
        members = dead[w.RETICLE_OF == r]
        assert members.all() or not members.any()
    assert not DefectMap.generate(4, {"reticles": 1.0}).hicann_ok.any()


def test_buses_driven_by_dead_neighbour_blacklisted():
    # section 6.4 + halco l1.h/l1.cpp: H-bus own repeater left if even, right if odd; V-bus
    # own repeater top for left-half odd / right-half even, bottom otherwise.  The far end of
    # each segment is driven from the neighbour there.
    dead = HICANNOnWafer(x=18, y=8)
    d = DefectMap.from_dict({"hicanns": [dead.enum]})
    west, east = dead.neighbour("west"), dead.neighbour("east")
    north, south = dead.neighbour("north"), dead.neighbour("south")
    h = np.arange(64)
    v = np.arange(256)
    assert (~d.hline_ok[west.enum] == (h % 2 == 0)).all()     # far end of even buses is east
    assert (~d.hline_ok[east.enum] == (h % 2 == 1)).all()
    assert d.vline_ok[west.enum].all() and d.vline_ok[east.enum].all()
    top_repeater = np.where(v < 128, v % 2 == 1, v % 2 == 0)
    assert (~d.vline_ok[north.enum] == top_repeater).all()    # its far (south) end is `dead`
    assert (~d.vline_ok[south.enum] == ~top_repeater).all()
    assert d.hline_ok[north.enum].all() and d.hline_ok[south.enum].all()
    s = d.summary()
    assert s["hlines"]["blacklisted_on_usable_hicanns"] == 2 * 32
    assert s["vlines"]["blacklisted_on_usable_hicanns"] == 2 * 128
    diag = HICANNOnWafer(x=19, y=9)
    assert d.hline_ok[diag.enum].all() and d.vline_ok[diag.enum].all()
    # a bus driven from a dead neighbour really ends on it: the continuation of an even
    # H-bus of `west` towards the east lies on `dead`
    assert west.neighbour("east") == dead


def test_combine_is_and():
    a = DefectMap.generate(1, "harsh")
    b = DefectMap.generate(2, "harsh")
    c = a.combine(b)
    assert c == b.combine(a) == (a & b)
    assert np.array_equal(c.denmem_ok, a.denmem_ok & b.denmem_ok)
    assert np.array_equal(c.hicann_ok, a.hicann_ok & b.hicann_ok)
    assert np.array_equal(c.driver_ok[c.hicann_ok], (a.driver_ok & b.driver_ok)[c.hicann_ok])
    assert a.combine(DefectMap.none()) == a
    with pytest.raises(TypeError):
        a.combine("x")


def test_rates_validation():
    with pytest.raises(ValueError, match=r"'denmem'.*valid keys: hicanns, reticles, denmems"):
        DefectMap.generate(0, {"denmem": 0.1})
    for key, bad in (("hicanns", -0.1), ("drivers", 1.5), ("hlines", float("nan")),
                     ("vlines", "0.1"), ("denmems", True)):
        with pytest.raises(ValueError, match=rf"{key!r} = {bad!r}.*\[0, 1\]"):
            DefectMap.generate(0, {key: bad})
    with pytest.raises(ValueError, match="unknown defect preset 'bad'"):
        DefectMap.generate(0, "bad")
    with pytest.raises(ValueError, match="seed"):
        DefectMap.generate(-1)
    with pytest.raises(ValueError, match="seed"):
        DefectMap.generate(1.5)
    assert DefectMap.generate(0, {"denmems": 0.0, "drivers": 1.0}).driver_ok.sum() == 0


def test_from_spec(tmp_path):
    assert DefectMap.from_spec(None) == DefectMap.none() == DefectMap.from_spec("none")
    assert DefectMap.from_spec("typical", seed=3) == DefectMap.generate(3)
    p = tmp_path / "d.json"
    DefectMap.generate(9).to_json(p)
    assert DefectMap.from_spec(str(p)) == DefectMap.generate(9)
    with pytest.raises(ValueError, match="defects spec"):
        DefectMap.from_spec(3.5)


def test_json_round_trip(tmp_path):
    for m in (DefectMap.none(), DefectMap.generate(1), DefectMap.generate(2, "harsh")):
        p = tmp_path / "defects.json"
        m.to_json(p)
        json.loads(p.read_text())                      # plain JSON
        assert DefectMap.from_json(p) == m
        assert DefectMap.from_dict(m.to_dict()) == m


def test_json_example_file(tmp_path):
    p = tmp_path / "user.json"
    p.write_text(json.dumps({
        "comment": "wafer 33, hand-made", "hicanns": [5, 17], "reticles": [47],
        "denmems": {"283": [[0, 10], [1, 11], 300]}, "drivers": {"283": [3, 4]},
        "hlines": {"283": [6]}, "vlines": {"100": [130, 130]}}))
    d = DefectMap.from_json(p)
    dead = set(np.flatnonzero(~d.hicann_ok))
    assert dead == {5, 17} | {h.enum for h in HICANNOnWafer.all() if h.reticle == 47}
    assert not d.denmem_ok[283, 0, 10] and not d.denmem_ok[283, 1, 11]
    assert not d.denmem_ok[283, 1, 300 - 256]
    assert int((~d.denmem_ok[283]).sum()) == 3
    assert set(np.flatnonzero(~d.driver_ok[283])) == {3, 4}
    assert not d.hline_ok[283, 6] and not d.vline_ok[100, 130]
    assert int((~d.vline_ok[100]).sum()) == 1


@pytest.mark.parametrize("content, pattern", [
    ([1, 2], r"top level must be a JSON object"),
    ({"hicann": [1]},
     r"unknown key\(s\) \['hicann'\]; valid keys: format, comment, reticles, hicanns"),
    ({"format": "v2"}, r"'format' = 'v2'"),
    ({"comment": 3}, r"'comment' must be a string"),
    ({"hicanns": 5}, r"'hicanns' must be a list of HICANN enums 0\.\.383"),
    ({"hicanns": [1, 384]}, r"hicanns\[1\] = 384 out of range: HICANN enum must be in 0\.\.383"),
    ({"hicanns": [-1]}, r"hicanns\[0\] = -1 out of range.*0\.\.383"),
    ({"hicanns": ["5"]}, r"hicanns\[0\] = '5' must be an integer HICANN enum 0\.\.383"),
    ({"hicanns": [True]}, r"hicanns\[0\] = True must be an integer"),
    ({"hicanns": [5.0]}, r"hicanns\[0\] = 5\.0 must be an integer"),
    ({"reticles": [48]}, r"reticles\[0\] = 48 out of range: reticle enum must be in 0\.\.47"),
    ({"denmems": [[0, 1]]}, r"'denmems' must be an object mapping HICANN enums"),
    ({"denmems": {"abc": []}}, r"denmems key 'abc' is not a HICANN enum.*'0'\.\.'383'"),
    ({"denmems": {"384": []}},
     r"denmems key '384' out of range: HICANN enum must be in 0\.\.383"),
    ({"denmems": {"-1": []}}, r"denmems key '-1' is not a HICANN enum"),
    ({"denmems": {"3": 5}}, r"denmems\['3'\] must be a list"),
    ({"denmems": {"3": [[0]]}}, r"denmems\['3'\]\[0\] = \[0\] must be a \[row, column\] pair"),
    ({"denmems": {"3": [[2, 10]]}},
     r"denmems\['3'\]\[0\] row = 2 out of range: denmem row must be in 0\.\.1"),
    ({"denmems": {"3": [[0, 256]]}}, r"denmems\['3'\]\[0\] column = 256 out of range.*0\.\.255"),
    ({"denmems": {"3": [[0, -1]]}}, r"column = -1 out of range.*0\.\.255"),
    ({"denmems": {"3": [512]}}, r"denmems\['3'\]\[0\] = 512 out of range: denmem enum.*0\.\.511"),
    ({"denmems": {"3": ["a"]}}, r"denmems\['3'\]\[0\] = 'a' must be a \[row, column\] pair"),
    ({"drivers": {"3": [224]}},
     r"drivers\['3'\]\[0\] = 224 out of range: synapse driver must be in 0\.\.223"),
    ({"drivers": {"3": [1.0]}},
     r"drivers\['3'\]\[0\] = 1\.0 must be an integer synapse driver 0\.\.223"),
    ({"hlines": {"3": [64]}}, r"hlines\['3'\]\[0\] = 64 out of range: H-bus must be in 0\.\.63"),
    ({"vlines": {"3": [0, 256]}},
     r"vlines\['3'\]\[1\] = 256 out of range: V-bus must be in 0\.\.255"),
    ({"vlines": {"3": None}}, r"vlines\['3'\] must be a list"),
])
def test_invalid_defect_files(tmp_path, content, pattern):
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(content))
    with pytest.raises(ValueError, match=pattern) as info:
        DefectMap.from_json(p)
    assert "bad.json" in str(info.value)                # names the file


def test_invalid_json_syntax(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{"hicanns": [1, 2,]}')
    with pytest.raises(ValueError, match=r"broken\.json.*not valid JSON"):
        DefectMap.from_json(p)
    with pytest.raises(FileNotFoundError):
        DefectMap.from_json(tmp_path / "missing.json")


def test_defect_map_immutable_and_picklable():
    d = DefectMap.generate(2)
    with pytest.raises(AttributeError):
        d.hicann_ok = np.ones(384, bool)
    assert pickle.loads(pickle.dumps(d)) == d
    with pytest.raises(ValueError,
                       match=r"denmem_ok must be a bool array of shape \(384, 2, 256\)"):
        DefectMap(np.ones(384, bool), np.ones((384, 256), bool), np.ones((384, 224), bool),
                  np.ones((384, 64), bool), np.ones((384, 256), bool))
