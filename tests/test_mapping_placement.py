"""Mapper stages 1-4: neuron placement, merger routing, L1 addresses, input placement.

Expected numbers are derived from the BSS-1 geometry (reference sections 3.2, 5, 6.2, 7.2,
14.3-14.6), not copied from outputs: 8 blocks x floor(32 / (s/2)) neurons per HICANN,
59 usable addresses per L1 bus, 17.8 MHz x 0.8 per HICANN and 125 MHz x 0.8 per FPGA.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

from pyNN_bss_emu.hardware import wafer
from pyNN_bss_emu.mapping.addresses import assign_addresses
from pyNN_bss_emu.mapping.input_placement import place_inputs
from pyNN_bss_emu.mapping.merger_routing import route_mergers
from pyNN_bss_emu.mapping.placement import place_neurons
from pyNN_bss_emu.mapping.types import (BioGraph, MappingError, MergerRouting,
                                        NeuronPlacement, ResourceExhaustedError)

N_H = wafer.N_HICANN
HCAP = 17.8e6 * 0.8      # Hz hw per HICANN
FCAP = 125e6 * 0.8       # Hz hw per FPGA
RESERVED = {0, 1, 17, 33, 49}


def graph(sizes, neuron_size=4, source=None, manual=None, rate=None, pre=(), post=(),
          labels=None) -> BioGraph:
    sizes = np.asarray(sizes, dtype=np.int64)
    n_pop = sizes.size
    ns = np.broadcast_to(np.asarray(neuron_size), (n_pop,)).copy()
    src = np.zeros(n_pop, bool) if source is None else np.asarray(source, bool)
    pre = np.asarray(pre, dtype=np.int64)
    return BioGraph(size=sizes, is_source=src, neuron_size=ns,
                    manual_hicanns=list(manual) if manual is not None else [None] * n_pop,
                    label=labels or [f"pop{i}" for i in range(n_pop)],
                    rate=np.zeros(int(sizes.sum())) if rate is None else np.asarray(rate, float),
                    pre=pre, post=np.asarray(post, dtype=np.int64),
                    receptor=np.zeros(pre.size, np.int64), projection=np.zeros(pre.size, np.int64))


def all_ok():
    return (np.ones((N_H, wafer.DENMEM_ROWS, wafer.DENMEM_COLUMNS), bool), np.ones(N_H, bool))


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
    pl = place_neurons(graph([300, 20], 4), dok, hok)
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
    pl = place_neurons(graph([600], 4), dok, hok)
    assert not np.isin(pl.hicann, [0, 3]).any()
    assert np.bincount(pl.hicann, minlength=7)[[1, 2, 4, 5, 6]].tolist() == [128] * 4 + [88]


def test_manual_placement_is_honoured_in_given_order():
    dok, hok = all_ok()
    g = graph([200, 10], 4, manual=[(100, 5), None])
    pl = place_neurons(g, dok, hok)
    assert np.all(pl.hicann[:128] == 100) and np.all(pl.hicann[128:200] == 5)
    # auto placement starts at HICANN 0 and does not touch the manual neurons' denmems
    assert np.all(pl.hicann[200:] == 0)
    assert occupancy(pl).max() == 1


def test_manual_and_auto_share_a_hicann():
    dok, hok = all_ok()
    g = graph([100, 60], 4, manual=[(0,), None])
    pl = place_neurons(g, dok, hok)
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


@pytest.mark.parametrize("bad", [3, 0, 1, 66, -4, 4.5])
def test_bad_neuron_sizes(bad):
    dok, hok = all_ok()
    with pytest.raises(ValueError, match=rf"'weird'.*{bad}.*2\.\.64"):
        place_neurons(graph([3, 3], [4, bad], labels=["ok", "weird"]), dok, hok)


def test_unknown_strategy():
    dok, hok = all_ok()
    with pytest.raises(ValueError, match="enum_asc"):
        place_neurons(graph([3], 4), dok, hok, strategy="spiral")


def test_full_wafer_placement_is_fast():
    dok, hok = all_ok()
    g = graph([49152], 4)
    t0 = time.perf_counter()
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl)
    assign_addresses(pl, mr)
    assert time.perf_counter() - t0 < 2.0


# ====================================================================== merger routing
def placement_from_counts(counts: np.ndarray) -> tuple[BioGraph, NeuronPlacement]:
    """Neurons of size 2 (1 column) with counts[h, b] neurons in block b of HICANN h."""
    h, b = np.nonzero(counts)
    k = counts[h, b]
    hh, bb = np.repeat(h, k), np.repeat(b, k)
    local = np.arange(k.sum()) - np.repeat(np.cumsum(k) - k, k)
    g = graph([hh.size], 2)
    pl = NeuronPlacement(hicann=hh, block=bb, x0=bb * 32 + local, width=np.ones_like(hh))
    return g, pl


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
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl)
    assert mr.block_to_merger[0].tolist() == [0, 3, 3, 3, 5, 5, 5, 7]
    assert np.all(mr.block_to_merger[1:] == -1)
    assert np.all(mr.dnc_merger == mr.block_to_merger[0][pl.block])


def test_minimize_small_hicann_goes_onto_merger_3():
    dok, hok = all_ok()
    g = graph([40], 4)                      # 40 <= 59: everything on DNC merger 3
    mr = route_mergers(g, place_neurons(g, dok, hok))
    assert mr.block_to_merger[0].tolist() == [3, 3, 3, -1, -1, -1, -1, -1]
    g = graph([59], 2)                      # 32 + 27 neurons, still one bus
    assert np.all(route_mergers(g, place_neurons(g, dok, hok)).dnc_merger == 3)


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
    sp = place_inputs(g, pl, mr, hok)
    assert np.all(sp.hicann[4:204] >= 0) and np.all(sp.hicann[204:] == -1)
    assert np.all(sp.hicann[:4] == -1) and np.all(sp.address[:4] == -1)
    # HICANN 9 holds 4 neurons in block 0, routed to DNC merger 3 through Merger0[0], Merger1[0]:
    # input mergers 2, 4, 5, 6, 7 remain (their own paths are free) = 295 addresses
    assert np.all(sp.hicann[4:204] == 9)
    assert np.unique(sp.dnc_merger[4:204]).size == int(np.ceil(200 / 59))
    check_sources_on_input_mergers(sp, pl, mr)


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
