"""Mapper stages 1-4: neuron placement, merger routing, L1 addresses, input placement.

Expected numbers are derived from the BSS-1 geometry (reference sections 3.2, 5, 6.2, 7.2,
14.3-14.6), not copied from outputs: 8 blocks x floor(32 / (s/2)) neurons per HICANN,
59 usable addresses per L1 bus, 17.8 MHz x 0.8 per HICANN and 125 MHz x 0.8 per FPGA.
"""
from __future__ import annotations


import numpy as np
import pytest

from pyNN_bss_emu.hardware import wafer
from pyNN_bss_emu.mapping.addresses import assign_addresses
from pyNN_bss_emu.mapping.input_placement import place_inputs
from pyNN_bss_emu.mapping.merger_routing import DriverDemand, route_mergers
from pyNN_bss_emu.mapping.placement import place_neurons
from pyNN_bss_emu.mapping.synapse_drivers import driver_requirements
from pyNN_bss_emu.mapping.types import (BioGraph, MappingError, MergerRouting,
                                        NeuronPlacement, ResourceExhaustedError)

from mapping_graphs import all_ok, graph, placement_from_counts

N_H = wafer.N_HICANN
HCAP = 17.8e6 * 0.8      # Hz hw per HICANN
FCAP = 125e6 * 0.8       # Hz hw per FPGA
RESERVED = {0, 1, 17, 33, 49}


def occupancy(pl: NeuronPlacement) -> np.ndarray:
    """Number of neurons on each column of each HICANN (both rows are taken together)."""
    occ = np.zeros((N_H, wafer.DENMEM_COLUMNS), np.int64)
    n = pl.hicann >= 0
    w = pl.width[n]
    cols = np.repeat(pl.x0[n], w) + (np.arange(w.sum()) - np.repeat(np.cumsum(w) - w, w))
    np.add.at(occ, (np.repeat(pl.hicann[n], w), cols), 1)
    return occ


# ====================================================================== neuron placement
@pytest.mark.parametrize("size, per_hicann", [(2, 256), (4, 128), (6, 80), (8, 64),
                                              (16, 32), (32, 16), (64, 8)])
def test_capacity_per_neuron_size(size, per_hicann):
    assert per_hicann == 8 * (32 // (size // 2))          # the table follows the geometry
    dok, hok = all_ok()
    pl = place_neurons(graph([per_hicann * N_H], size), dok, hok)
    assert np.all(np.bincount(pl.hicann, minlength=N_H) == per_hicann)
    assert np.all(pl.width == size // 2)
    with pytest.raises(ResourceExhaustedError, match="short by 1 neurons"):
        place_neurons(graph([per_hicann * N_H + 1], size), dok, hok)


def test_wafer_totals_size_4_and_2():
    dok, hok = all_ok()
    assert place_neurons(graph([49152], 4), dok, hok).hicann.max() == N_H - 1
    assert (place_neurons(graph([98304], 2), dok, hok).hicann >= 0).all()


def test_neurons_are_contiguous_inside_one_block_and_never_overlap():
    dok, hok = all_ok()
    g = graph([37, 500, 3, 1000, 11], neuron_size=[2, 6, 64, 4, 10])
    pl = place_neurons(g, dok, hok)
    n = pl.hicann >= 0
    assert n.all()
    assert np.all(pl.width == np.repeat(g.neuron_size // 2, g.size))
    assert np.all(pl.block == pl.x0 // 32)
    assert np.all((pl.x0 + pl.width - 1) // 32 == pl.block)        # never crosses a block
    assert occupancy(pl).max() == 1


def test_fill_order_is_enum_then_block_then_column():
    dok, hok = all_ok()
    pl = place_neurons(graph([300, 20], 4), dok, hok, strategy="enum_asc")
    key = pl.hicann * 256 + pl.x0
    assert np.all(np.diff(key) > 0)          # population 0 first, then population 1
    assert pl.hicann[0] == 0 and pl.x0[0] == 0
    # 300 neurons of width 2: HICANN 0 holds 128, HICANN 1 128, HICANN 2 the last 44
    assert np.bincount(pl.hicann[:300]).tolist() == [128, 128, 44]
    assert pl.hicann[300] == 2 and pl.x0[300] == 88


def test_spike_sources_get_minus_one():
    dok, hok = all_ok()
    g = graph([5, 10, 3], neuron_size=[4, 0, 8], source=[False, True, False])
    pl = place_neurons(g, dok, hok)
    src = slice(5, 15)
    for arr in (pl.hicann, pl.block, pl.x0, pl.width):
        assert np.all(arr[src] == -1)
        assert np.all(np.delete(arr, np.r_[5:15]) >= 0)


def test_defective_denmems_are_never_used():
    rng = np.random.default_rng(1)
    dok, hok = all_ok()
    dok &= rng.random(dok.shape) > 0.03
    pl = place_neurons(graph([20000], 4), dok, hok)
    occ = occupancy(pl) > 0
    assert not np.any(occ[:, None, :] & ~dok)


def test_defect_fragments_a_block_as_expected():
    # size 8 (w = 4): a defect at column c of a block leaves floor(c/4) + floor((31-c)/4)
    dok, hok = all_ok()
    c = 5
    dok[0, 1, c] = False                      # bottom-row denmem of HICANN 0, block 0
    block_cap = c // 4 + (31 - c) // 4       # 1 + 6 = 7 instead of 8
    total = N_H * 64 - (8 - block_cap)
    pl = place_neurons(graph([total], 8), dok, hok)
    assert np.sum((pl.hicann == 0) & (pl.block == 0)) == block_cap
    assert not np.any((pl.hicann == 0) & (pl.x0 <= c) & (pl.x0 + pl.width > c))
    with pytest.raises(ResourceExhaustedError):
        place_neurons(graph([total + 1], 8), dok, hok)


def test_defective_hicann_is_skipped():
    dok, hok = all_ok()
    hok[[0, 3]] = False
    pl = place_neurons(graph([600], 4), dok, hok, strategy="enum_asc")
    assert not np.isin(pl.hicann, [0, 3]).any()
    assert np.bincount(pl.hicann, minlength=7)[[1, 2, 4, 5, 6]].tolist() == [128] * 4 + [88]


def test_manual_placement_is_honoured_in_given_order():
    dok, hok = all_ok()
    g = graph([200, 10], 4, manual=[(100, 5), None])
    pl = place_neurons(g, dok, hok, strategy="enum_asc")
    assert np.all(pl.hicann[:128] == 100) and np.all(pl.hicann[128:200] == 5)
    # auto placement starts at HICANN 0 and does not touch the manual neurons' denmems
    assert np.all(pl.hicann[200:] == 0)
    assert occupancy(pl).max() == 1


def test_manual_and_auto_share_a_hicann():
    dok, hok = all_ok()
    g = graph([100, 60], 4, manual=[(0,), None])
    pl = place_neurons(g, dok, hok, strategy="enum_asc")
    assert np.all(pl.hicann[:100] == 0)
    assert np.sum(pl.hicann[100:] == 0) == 28 and occupancy(pl).max() == 1


@pytest.mark.parametrize("bad", [400, -1, 2.5])
def test_manual_placement_invalid_hicann(bad):
    dok, hok = all_ok()
    with pytest.raises(MappingError, match=str(bad)):
        place_neurons(graph([10], 4, manual=[(bad,)]), dok, hok)


def test_manual_placement_defective_hicann():
    dok, hok = all_ok()
    hok[7] = False
    with pytest.raises(MappingError, match="HICANN 7"):
        place_neurons(graph([10], 4, manual=[(3, 7)], labels=["exc"]), dok, hok)


def test_manual_placement_without_room():
    dok, hok = all_ok()
    with pytest.raises(ResourceExhaustedError, match=r"'exc'.*128 of 129"):
        place_neurons(graph([129], 4, manual=[(3,)], labels=["exc"]), dok, hok)


def test_oversized_network_names_the_shortfall():
    dok, hok = all_ok()
    hok[:10] = False
    usable = (N_H - 10) * 512
    fits = (N_H - 10) * 128
    with pytest.raises(ResourceExhaustedError) as err:
        place_neurons(graph([60000], 4, labels=["big"]), dok, hok)
    msg = str(err.value)
    assert "60000 neurons of size 4" in msg
    assert f"{60000 * 4} denmems needed" in msg and f"only {usable} usable" in msg
    assert f"{N_H - 10} HICANNs" in msg
    assert f"short by {60000 - fits} neurons" in msg


# (0 is not among them: it stands for neuron_size "auto", issue 14)
@pytest.mark.parametrize("bad", [3, 1, 66, -4, 4.5])
def test_bad_neuron_sizes(bad):
    dok, hok = all_ok()
    with pytest.raises(ValueError, match=rf"'weird'.*{bad}.*2\.\.64"):
        place_neurons(graph([3, 3], [4, bad], labels=["ok", "weird"]), dok, hok)


def test_unknown_strategy():
    dok, hok = all_ok()
    with pytest.raises(ValueError, match="enum_asc"):
        place_neurons(graph([3], 4), dok, hok, strategy="spiral")


def test_full_wafer_placement_fills_every_hicann():
    """49,152 neurons of size 4 fill the wafer (384 HICANNs x 128 neurons); wall time in
    benchmarks/stage_timings.py."""
    dok, hok = all_ok()
    g = graph([49152], 4)
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl)
    assign_addresses(pl, mr)
    assert np.all(np.bincount(pl.hicann, minlength=N_H) == 128)


# ====================================================================== merger routing
def tree_path(m, b):
    """Tree nodes (level, index) from block b up to DNC merger m's tap."""
    top = int(np.log2(len(wafer.DNC_MERGER_BLOCKS[m])))
    return [(lvl, b >> lvl) for lvl in range(top + 1)]


def check_routing(counts, b2m):
    for h in range(counts.shape[0]):
        assert np.all((b2m[h] >= 0) == (counts[h] > 0))
        nodes = []
        for m in np.unique(b2m[h][b2m[h] >= 0]):
            blocks = np.nonzero(b2m[h] == m)[0]
            assert set(blocks) <= set(wafer.DNC_MERGER_BLOCKS[m])           # reachable
            assert counts[h, blocks].sum() <= 59                            # address pool
            span = np.arange(blocks.min(), blocks.max() + 1)
            assert np.all((b2m[h, span] == m) | (counts[h, span] == 0))    # adjacent only
            nodes += list({node for b in span for node in tree_path(m, b)})
        assert len(nodes) == len(set(nodes))      # no merger-tree node serves two DNC mergers


def test_minimize_full_hicann_size_4():
    # 16 neurons per block: 3 blocks = 48 <= 59 < 64.  DNC 5 takes 4 (left), then 6 (right);
    # DNC 3 takes 2, 1; block 0 and 7 stay on their own mergers.
    dok, hok = all_ok()
    g = graph([128], 4)
    pl = place_neurons(g, dok, hok, strategy="enum_asc")
    mr = route_mergers(g, pl)
    assert mr.block_to_merger[0].tolist() == [0, 3, 3, 3, 5, 5, 5, 7]
    assert np.all(mr.block_to_merger[1:] == -1)
    assert np.all(mr.dnc_merger == mr.block_to_merger[0][pl.block])


def test_minimize_small_hicann_goes_onto_merger_3():
    dok, hok = all_ok()
    g = graph([40], 4)                      # 40 <= 59: everything on DNC merger 3
    mr = route_mergers(g, place_neurons(g, dok, hok, strategy="enum_asc"))
    assert mr.block_to_merger[0].tolist() == [3, 3, 3, -1, -1, -1, -1, -1]
    g = graph([59], 2)                      # 32 + 27 neurons, still one bus
    pl = place_neurons(g, dok, hok, strategy="enum_asc")
    assert np.all(route_mergers(g, pl).dnc_merger == 3)


def test_minimize_random_occupancy_is_valid():
    rng = np.random.default_rng(7)
    counts = rng.integers(0, 33, size=(N_H, 8)) * (rng.random((N_H, 8)) < 0.6)
    g, pl = placement_from_counts(counts)
    mr = route_mergers(g, pl)
    check_routing(counts, mr.block_to_merger)
    n_buses = [len(set(r[r >= 0])) for r in mr.block_to_merger]
    assert sum(n_buses) < np.count_nonzero(counts)          # merging saved buses


def test_one_to_one():
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 33, size=(N_H, 8)) * (rng.random((N_H, 8)) < 0.5)
    g, pl = placement_from_counts(counts)
    mr = route_mergers(g, pl, strategy="one_to_one")
    assert np.all(mr.block_to_merger == np.where(counts > 0, np.arange(8), -1))
    assert np.all(mr.dnc_merger == pl.block)


def test_unknown_merger_strategy():
    g, pl = placement_from_counts(np.ones((N_H, 8), np.int64))
    with pytest.raises(ValueError, match="one_to_one"):
        route_mergers(g, pl, strategy="maxSPL1")


# ====================================================================== addresses
def test_addresses_one_to_one_size_2():
    dok, hok = all_ok()
    g = graph([98304], 2)
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl, strategy="one_to_one")
    addr = assign_addresses(pl, mr)
    assert not np.isin(addr, list(RESERVED)).any() and addr.min() >= 2 and addr.max() <= 63
    grp = pl.hicann * 8 + mr.dnc_merger
    # 32 neurons per merger, all distinct
    assert np.all(np.bincount(grp) == 32)
    assert np.unique(grp * 64 + addr).size == addr.size
    # high_first: the first neuron of every merger gets 63, the 16th skips 49
    first = addr.reshape(-1, 32)
    assert np.all(first[:, 0] == 63) and np.all(first[:, 14] == 48)


def test_address_pool_has_59_and_strategies():
    counts = np.zeros((N_H, 8), np.int64)
    counts[0, [0, 1]] = [32, 27]             # 59 neurons -> all on DNC 3
    g, pl = placement_from_counts(counts)
    mr = route_mergers(g, pl)
    expected = sorted(set(range(64)) - RESERVED)
    assert len(expected) == 59
    hi = assign_addresses(pl, mr)
    assert hi.tolist() == expected[::-1]
    assert assign_addresses(pl, mr, "low_first").tolist() == expected
    alt = assign_addresses(pl, mr, "alternating").tolist()
    assert alt[:4] == [2, 63, 3, 62] and sorted(alt) == expected
    with pytest.raises(ValueError, match="high_first"):
        assign_addresses(pl, mr, "random")


def test_more_than_59_on_one_merger_is_an_error():
    counts = np.zeros((N_H, 8), np.int64)
    counts[4, [2, 3]] = [30, 30]
    g, pl = placement_from_counts(counts)
    b2m = np.full((N_H, 8), -1)
    b2m[4, [2, 3]] = 3
    mr = MergerRouting(dnc_merger=np.full(60, 3), block_to_merger=b2m)
    with pytest.raises(ResourceExhaustedError, match="HICANN 4.*60 neurons.*59"):
        assign_addresses(pl, mr)


def test_addresses_minimize_full_wafer():
    dok, hok = all_ok()
    g = graph([49152], 4)
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl)
    addr = assign_addresses(pl, mr)
    grp = pl.hicann * 8 + mr.dnc_merger
    assert np.bincount(grp).max() <= 59
    assert np.unique(grp * 64 + addr).size == addr.size
    assert not np.isin(addr, list(RESERVED)).any()


# ====================================================================== input placement
def network_with_sources(n_src, rate_bio, n_neurons=16, neuron_size=4, manual=None):
    """Population 0: neurons (placed at HICANN 0 unless manual); population 1: n_src sources
    each connected to neuron 0 (so their only target HICANN is the neurons' HICANN)."""
    g = graph([n_neurons, n_src], neuron_size=[neuron_size, 0], source=[False, True],
              manual=[manual, None], labels=["nrn", "stim"],
              rate=np.r_[np.zeros(n_neurons), np.full(n_src, float(rate_bio))],
              pre=n_neurons + np.arange(n_src), post=np.zeros(n_src, np.int64))
    dok, hok = all_ok()
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl)
    return g, pl, mr, hok


def loads(sp, g, speedup=1e4):
    on = sp.hicann >= 0
    hw = g.rate[on] * speedup
    per_h = np.bincount(sp.hicann[on], weights=hw, minlength=N_H)
    per_f = np.bincount(wafer.FPGA_OF[sp.hicann[on]], weights=hw, minlength=wafer.N_RETICLES)
    return per_h, per_f


def check_sources_on_input_mergers(sp, pl, mr):
    on = sp.hicann >= 0
    h, m = sp.hicann[on], sp.dnc_merger[on]
    # never on a merger that carries neurons of that HICANN
    assert not np.any(mr.block_to_merger[h] == m[:, None])
    neuron_pairs = set(zip(pl.hicann[pl.hicann >= 0], mr.dnc_merger[pl.hicann >= 0]))
    assert not (set(zip(h, m)) & neuron_pairs)
    grp = h * 8 + m
    assert np.bincount(grp).max() <= 59
    assert np.unique(grp * 64 + sp.address[on]).size == grp.size
    assert not np.isin(sp.address[on], list(RESERVED)).any()


def test_high_rate_sources_spread_over_hicanns():
    # 100 sources x 1 kHz bio x 1e4 = 1e9 Hz hw >> 14.24 MHz; one 10 MHz source per HICANN
    g, pl, mr, hok = network_with_sources(100, 1000.0, manual=(200,))
    sp = place_inputs(g, pl, mr, hok)
    src = sp.hicann[16:]
    assert np.all(src >= 0)
    per_h, per_f = loads(sp, g)
    assert per_h.max() <= HCAP and per_f.max() <= FCAP
    assert np.unique(src).size == 100
    # the walk starts at the target HICANN and moves outwards
    assert src[0] == 200
    d = np.hypot(wafer.HICANN_X[src] - wafer.HICANN_X[200], wafer.HICANN_Y[src] - wafer.HICANN_Y[200])
    assert np.all(np.diff(d) >= -1e-9)
    check_sources_on_input_mergers(sp, pl, mr)


def test_fpga_cap():
    # 2 MHz hw per source: 7 fit a HICANN (14 <= 14.24 MHz) but only 50 an FPGA (100 MHz)
    g, pl, mr, hok = network_with_sources(400, 200.0, manual=(200,))
    sp = place_inputs(g, pl, mr, hok)
    per_h, per_f = loads(sp, g)
    assert per_h.max() <= HCAP + 1 and per_f.max() <= FCAP + 1
    assert np.bincount(sp.hicann[16:], minlength=N_H).max() == 7
    f0 = wafer.FPGA_OF[200]
    assert np.sum(wafer.FPGA_OF[sp.hicann[16:]] == f0) == 50
    check_sources_on_input_mergers(sp, pl, mr)


def test_bandwidth_utilization_scales_caps():
    g, pl, mr, hok = network_with_sources(30, 100.0)        # 1 MHz hw each
    sp = place_inputs(g, pl, mr, hok, bandwidth_utilization=0.5)
    per_h, _ = loads(sp, g)
    assert per_h.max() <= 17.8e6 * 0.5
    assert np.bincount(sp.hicann[16:]).max() == 8            # floor(8.9 MHz / 1 MHz)


def test_sources_only_on_input_mergers_of_a_full_hicann_neighbourhood():
    dok, hok = all_ok()
    n_nrn = 128 * 40                                         # HICANNs 0..39 completely full
    g = graph([n_nrn, 300], neuron_size=[4, 0], source=[False, True],
              rate=np.r_[np.zeros(n_nrn), np.full(300, 5.0)],
              pre=n_nrn + np.arange(300), post=np.arange(300) * 17)
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl)
    sp = place_inputs(g, pl, mr, hok)
    assert np.all(sp.hicann[n_nrn:] >= 0)
    # a full HICANN (mergers {0}, {1,2,3}, {4,5,6}, {7}) has no merger with a free own path
    assert not np.isin(sp.hicann[n_nrn:], np.arange(40)).any()
    check_sources_on_input_mergers(sp, pl, mr)


def test_unconnected_sources_and_zero_rate():
    # 200 silent sources (e.g. empty spike arrays) need addresses, not bandwidth; 20 are
    # not connected and stay unplaced
    n = 220
    g = graph([4, n], neuron_size=[4, 0], source=[False, True], manual=[(9,), None],
              rate=np.zeros(4 + n), pre=4 + np.arange(200), post=np.zeros(200, np.int64))
    dok, hok = all_ok()
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl)
    # all 200 sources hit neuron 0: the driver chain rule would split them into mergers of
    # <= 12 sources (see test_sources_split_by_driver_chain_length); this test is about
    # addresses and bandwidth, so it switches the rule off
    sp = place_inputs(g, pl, mr, hok, chain_length=None)
    assert np.all(sp.hicann[4:204] >= 0) and np.all(sp.hicann[204:] == -1)
    assert np.all(sp.hicann[:4] == -1) and np.all(sp.address[:4] == -1)
    # HICANN 9 holds 4 neurons in block 0, routed to DNC merger 3 through Merger0[0], Merger1[0]:
    # input mergers 2, 4, 5, 6, 7 remain (their own paths are free) = 295 addresses
    assert np.all(sp.hicann[4:204] == 9)
    assert np.unique(sp.dnc_merger[4:204]).size == int(np.ceil(200 / 59))
    check_sources_on_input_mergers(sp, pl, mr)
    # with the default chain length (3) the silent, unconnected ones still stay unplaced
    sp3 = place_inputs(g, pl, mr, hok)
    assert np.all(sp3.hicann[4:204] >= 0) and np.all(sp3.hicann[204:] == -1)
    check_sources_on_input_mergers(sp3, pl, mr)


def test_input_shortfall_message():
    # 1 kHz bio -> 10 MHz hw per source: one per HICANN, 8 per FPGA -> 384 fit, 16 do not
    g, pl, mr, hok = network_with_sources(400, 1000.0)
    with pytest.raises(ResourceExhaustedError) as err:
        place_inputs(g, pl, mr, hok)
    msg = str(err.value)
    assert "cannot place 16 of 400 spike sources" in msg and "'stim'" in msg
    assert "4000 MHz hw" in msg and "input DNC mergers" in msg


def test_sources_too_fast_for_any_hicann():
    g, pl, mr, hok = network_with_sources(3, 2000.0)        # 20 MHz > 14.24 MHz each
    with pytest.raises(ResourceExhaustedError, match="3 sources each exceed"):
        place_inputs(g, pl, mr, hok)


def test_manual_input_placement():
    g, pl, mr, hok = network_with_sources(10, 1.0)
    sp = place_inputs(g, pl, mr, hok, manual={1: (300,)})
    assert np.all(sp.hicann[16:] == 300)
    with pytest.raises(MappingError, match="HICANN 999"):
        place_inputs(g, pl, mr, hok, manual={1: (999,)})
    g2, pl2, mr2, hok2 = network_with_sources(10, 1000.0)   # 10 MHz each: one per HICANN
    with pytest.raises(ResourceExhaustedError, match=r"'stim'.*1 of 10"):
        place_inputs(g2, pl2, mr2, hok2, manual={1: (300,)})


def test_more_targets_first():
    # pop 1 targets HICANN 51 only, pop 2 HICANNs 50, 51, 52 (mean = 51); pop 2 has more
    # targets, so it is placed first and takes the first address of HICANN 51's merger 7
    dok, hok = all_ok()
    g = graph([3, 1, 1], neuron_size=[4, 0, 0], source=[False, True, True],
              rate=np.zeros(5), pre=[3, 4, 4, 4], post=[1, 0, 1, 2])
    pl = NeuronPlacement(hicann=np.array([50, 51, 52, -1, -1]), block=np.array([0, 0, 0, -1, -1]),
                         x0=np.array([0, 0, 0, -1, -1]), width=np.array([2, 2, 2, -1, -1]))
    mr = route_mergers(g, pl)
    sp = place_inputs(g, pl, mr, hok)
    assert sp.hicann[4] == 51 and sp.dnc_merger[4] == 7 and sp.address[4] == 63
    assert sp.hicann[3] == 51 and sp.dnc_merger[3] == 7 and sp.address[3] == 62


# ====================================================================== driver chain length
def route_drivers(g: BioGraph, pl: NeuronPlacement, cell_h, cell_m, cell_a) -> dict:
    """Independent recount: drivers needed by every L1 source (hicann, merger) = max over its
    target HICANNs of driver_requirements(synapses per target neuron, receptor, 2-MSB
    decoder), multapses counted once."""
    pre, post, rec = (np.asarray(a, np.int64) for a in (g.pre, g.post, g.receptor))
    trip = np.unique(np.stack([pre, post, rec], axis=1), axis=0)
    pre, post, rec = trip.T
    route = cell_h[pre] * 8 + cell_m[pre]
    tgt = pl.hicann[post]
    req_keys, req = np.unique(np.stack([route, tgt], axis=1), axis=0, return_inverse=True)
    req = req.ravel()
    grp, cnt = np.unique(np.stack([req, post, rec, cell_a[pre] >> 4], axis=1), axis=0,
                         return_counts=True)
    q, p, r, d = grp.T
    drv = driver_requirements(q, pl.x0[p], pl.width[p], r, d, cnt, len(req_keys)).drivers
    out: dict = {}
    for (rt, _), n in zip(req_keys, drv):
        out[(int(rt) // 8, int(rt) % 8)] = max(out.get((int(rt) // 8, int(rt) % 8), 0), int(n))
    return out


def guidebook_graph(seed):
    """marocco's guidebook loss example: 50 Poisson sources (cells 50..99) -> 50 neurons of
    size 4 (cells 0..49) and neurons -> neurons, both FixedProbability(0.5); neurons on
    HICANN 0, sources on HICANN 1."""
    rng = np.random.default_rng(seed)
    s1, t1 = np.nonzero(rng.random((50, 50)) < 0.5)
    s2, t2 = np.nonzero(rng.random((50, 50)) < 0.5)
    return graph([50, 50], neuron_size=[4, 0], source=[False, True], manual=[(0,), (1,)],
                 rate=np.full(100, 5.0), pre=np.r_[50 + s1, s2], post=np.r_[t1, t2])


def map_front(g, chain, strategy="minimize_as_possible", in_chain="same"):
    dok, hok = all_ok()
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl, strategy=strategy, chain_length=chain)
    addr = assign_addresses(pl, mr)
    sp = place_inputs(g, pl, mr, hok, chain_length=chain if in_chain == "same" else in_chain)
    cell_h = np.where(pl.hicann >= 0, pl.hicann, sp.hicann)
    cell_m = np.where(mr.dnc_merger >= 0, mr.dnc_merger, sp.dnc_merger)
    cell_a = np.where(addr >= 0, addr, sp.address)
    return pl, mr, sp, route_drivers(g, pl, cell_h, cell_m, cell_a)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_guidebook_routes_respect_chain_length(seed):
    g = guidebook_graph(seed)
    pl, mr, sp, drivers = map_front(g, 5)
    assert max(drivers.values()) <= 5
    # neurons: 16 per block in blocks 0..3 (16, 16, 16, 2); two full blocks (32 sources on
    # 50 targets with p = 0.5) need more than 5 drivers, so no two full blocks share a bus
    b2m = mr.block_to_merger[0]
    assert len(set(b2m[:3])) == 3 and b2m[3] >= 0 and np.all(b2m[4:] == -1)
    check_routing(np.bincount(pl.block[pl.hicann == 0], minlength=8)[None, :],
                  mr.block_to_merger[:1])
    # sources: all on HICANN 1, split over several input mergers
    assert np.all(sp.hicann[50:] == 1)
    assert np.unique(sp.dnc_merger[50:]).size >= 2
    check_sources_on_input_mergers(sp, pl, mr)
    # the unconstrained strategies put everything on one bus per side, far beyond 5 drivers
    _, mr_old, sp_old, drv_old = map_front(g, None, strategy="minimize", in_chain=None)
    assert np.all(mr_old.block_to_merger[0, :4] == 3)
    assert np.unique(sp_old.dnc_merger[50:]).size == 1
    assert min(drv_old.values()) > 5


def test_chain_check_accepts_and_refuses_a_merge_exactly():
    # blocks 0 and 1 of HICANN 0 hold 16 size-4 neurons each, all connected to neuron 0
    # (width 2: one even, one odd column).  high_first addresses: block 0 -> 63..48 without
    # 49 (15 of decoder 3) + 47 (decoder 2); with block 1 merged: 15 + 15 + 2 sources of
    # decoders 3, 2, 1 -> 32 half rows -> 16 rows -> 8 drivers; each block alone needs 4.
    n = 32
    g = graph([n], 4, pre=np.arange(n), post=np.zeros(n, np.int64))
    dok, hok = all_ok()
    pl = place_neurons(g, dok, hok, strategy="enum_asc")
    assert pl.block.tolist() == [0] * 16 + [1] * 16
    for chain, expected in ((8, [3, 3]), (56, [3, 3]), (7, [0, 3]), (4, [0, 3])):
        mr = route_mergers(g, pl, chain_length=chain)
        assert mr.block_to_merger[0, :2].tolist() == expected, chain
        assert np.all(mr.block_to_merger[0, 2:] == -1)
        addr = assign_addresses(pl, mr)
        drv = route_drivers(g, pl, pl.hicann, mr.dnc_merger, addr)
        assert (max(drv.values()) == 8) == (expected == [3, 3])
    # "minimize" and chain_length=None ignore the chain
    assert route_mergers(g, pl, "minimize").block_to_merger[0, :2].tolist() == [3, 3]
    assert route_mergers(g, pl, chain_length=None).block_to_merger[0, :2].tolist() == [3, 3]


def test_minimize_as_possible_still_merges_when_the_chain_allows():
    # full wafer of size-4 neurons, 200k random connections spread over the wafer: every
    # route has few synapses per target HICANN, so the merging equals plain "minimize"
    dok, hok = all_ok()
    rng = np.random.default_rng(5)
    n = 49152
    pre, post = rng.integers(0, n, 200_000), rng.integers(0, n, 200_000)
    g = graph([n], 4, pre=pre, post=post)
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl, chain_length=3)
    assert np.array_equal(mr.block_to_merger, route_mergers(g, pl, "minimize").block_to_merger)
    assert np.all(mr.block_to_merger == [0, 3, 3, 3, 5, 5, 5, 7])
    # no connections at all: same as "minimize" too
    g0 = graph([n], 4)
    assert np.array_equal(route_mergers(g0, pl).block_to_merger, mr.block_to_merger)


def test_minimize_as_possible_random_networks_are_valid():
    # random occupancy, local connectivity (targets on the same / next HICANN): some merges
    # are refused; every multi-block bus keeps the chain, routing rules hold, and merging
    # still saves buses
    rng = np.random.default_rng(11)
    counts = rng.integers(0, 33, size=(N_H, 8)) * (rng.random((N_H, 8)) < 0.6)
    g0, pl = placement_from_counts(counts)
    n = pl.hicann.size
    pre = rng.integers(0, n, 300_000)
    post = np.clip(pre + rng.integers(-200, 200, pre.size), 0, n - 1)
    g = graph([n], 2, pre=pre, post=post)
    g.receptor = rng.integers(0, 2, pre.size)
    for chain in (2, 3, 5):
        mr = route_mergers(g, pl, chain_length=chain)
        check_routing(counts, mr.block_to_merger)
        addr = assign_addresses(pl, mr)
        drv = route_drivers(g, pl, pl.hicann, mr.dnc_merger, addr)
        for h in range(N_H):
            row = mr.block_to_merger[h]
            for m in np.unique(row[row >= 0]):
                if np.count_nonzero(row == m) > 1:          # a merge happened
                    assert drv.get((h, int(m)), 0) <= chain
        n_buses = sum(len(set(r[r >= 0])) for r in mr.block_to_merger)
        assert n_buses < np.count_nonzero(counts)


def test_sources_split_by_driver_chain_length():
    # 59 sources, each connected to neuron 0 of HICANN 0 (width 2).  k sources on one bus
    # need k half rows -> ceil(k / 4) drivers, so a merger takes <= 4 * chain sources
    g, pl, mr, hok = network_with_sources(59, 1.0, manual=(0,))
    for chain, per_merger in ((None, [59]), (3, [12, 12, 12, 12, 11]), (1, [4] * 14 + [3])):
        sp = place_inputs(g, pl, mr, hok, chain_length=chain)
        assert np.all(sp.hicann[16:] >= 0)
        check_sources_on_input_mergers(sp, pl, mr)
        grp = sp.hicann[16:] * 8 + sp.dnc_merger[16:]
        # merger order 7..0 on each HICANN, HICANNs by distance from the target
        _, first = np.unique(grp, return_index=True)
        sizes = np.bincount(grp)[grp[np.sort(first)]]
        assert sizes.tolist() == per_merger, chain
        drv = route_drivers(g, pl, sp.hicann, sp.dnc_merger, sp.address)
        if chain is not None:
            assert max(drv.values()) <= chain


def test_source_split_respects_sources_already_on_the_merger():
    # two source populations with the same single target neuron: the second one only fills
    # what the first left within the chain length, then opens new mergers
    n_nrn = 16
    g = graph([n_nrn, 10, 10], neuron_size=[4, 0, 0], source=[False, True, True],
              manual=[(0,), (5,), (5,)], rate=np.zeros(n_nrn + 20),
              pre=n_nrn + np.arange(20), post=np.zeros(20, np.int64))
    dok, hok = all_ok()
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl)
    sp = place_inputs(g, pl, mr, hok, chain_length=3)       # <= 12 sources per merger
    assert np.all(sp.hicann[n_nrn:] == 5)
    assert sp.dnc_merger[n_nrn:].tolist() == [7] * 12 + [6] * 8
    drv = route_drivers(g, pl, sp.hicann, sp.dnc_merger, sp.address)
    assert max(drv.values()) <= 3
    # addresses keep counting within a merger, with any address strategy
    assert sp.address[n_nrn:n_nrn + 12].tolist() == sorted(set(range(64)) - RESERVED)[::-1][:12]
    low = place_inputs(g, pl, mr, hok, chain_length=3, address_strategy="low_first")
    assert low.address[n_nrn:n_nrn + 12].tolist() == sorted(set(range(64)) - RESERVED)[:12]
    assert max(route_drivers(g, pl, low.hicann, low.dnc_merger, low.address).values()) <= 3


def test_manual_sources_beyond_the_chain_rule_are_still_placed():
    # 100 sources onto one neuron, manual HICANN 300 (8 free mergers): with chain length 1
    # only 8 x 4 fit under the rule; the other 68 are placed anyway (they will lose synapses
    # for want of drivers), as before this rule existed
    g, pl, mr, hok = network_with_sources(100, 1.0)
    sp = place_inputs(g, pl, mr, hok, manual={1: (300,)}, chain_length=1)
    assert np.all(sp.hicann[16:] == 300)
    check_sources_on_input_mergers(sp, pl, mr)
    assert np.bincount(sp.dnc_merger[16:], minlength=8).sum() == 100
    # bandwidth and address errors are unchanged
    g2, pl2, mr2, hok2 = network_with_sources(10, 1000.0)
    with pytest.raises(ResourceExhaustedError, match=r"'stim'.*1 of 10"):
        place_inputs(g2, pl2, mr2, hok2, manual={1: (300,)}, chain_length=1)
    g3, pl3, mr3, hok3 = network_with_sources(8 * 59 + 1, 0.0)
    with pytest.raises(ResourceExhaustedError, match=r"472 of 473"):
        place_inputs(g3, pl3, mr3, hok3, manual={1: (300,)}, chain_length=3)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_chain_length(bad):
    g, pl, mr, hok = network_with_sources(5, 1.0)
    with pytest.raises(ValueError, match="chain length"):
        route_mergers(g, pl, chain_length=bad)
    with pytest.raises(ValueError, match="chain length"):
        place_inputs(g, pl, mr, hok, chain_length=bad)


def test_strategy_names():
    g, pl = placement_from_counts(np.ones((N_H, 8), np.int64))
    with pytest.raises(ValueError, match="minimize_as_possible.*minimize.*one_to_one"):
        route_mergers(g, pl, strategy="maxSPL1")
    a = route_mergers(g, pl, strategy="minimize_number_of_sending_repeaters")
    assert np.array_equal(a.block_to_merger, route_mergers(g, pl, "minimize").block_to_merger)


def test_driver_demand_matches_independent_count():
    g = guidebook_graph(4)
    dok, hok = all_ok()
    pl = place_neurons(g, dok, hok)
    dd = DriverDemand(g, pl)
    # all 50 neurons on one bus (high_first addresses), all 50 sources on another
    addr = np.array(sorted(set(range(64)) - RESERVED)[::-1][:50])
    cells = np.r_[np.arange(50), 50 + np.arange(50)]
    got = dd.max_drivers(cells, np.r_[addr, addr], np.repeat([0, 1], 50), 2)
    cell_h = np.r_[np.zeros(50, np.int64), np.ones(50, np.int64)]
    ref = route_drivers(g, pl, cell_h, np.full(100, 3), np.r_[addr, addr])
    assert got.tolist() == [ref[(0, 3)], ref[(1, 3)]]
    assert dd.max_drivers(np.zeros(0, np.int64), [], [], 3).tolist() == [0, 0, 0]


def test_full_wafer_chain_check():
    dok, hok = all_ok()
    rng = np.random.default_rng(0)
    n = 49152
    pre = rng.integers(0, n, 1_500_000)
    post = np.clip(pre + rng.integers(-300, 300, pre.size), 0, n - 1)   # local: many refusals
    g = graph([n], 4, pre=pre, post=post)
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl, chain_length=3)
    check_routing(np.bincount(pl.hicann * 8 + pl.block, minlength=N_H * 8).reshape(N_H, 8),
                  mr.block_to_merger)
