"""Mapping quality (issue 14, item 4): the clustering placement strategy (marocco's
``ClusterByPopulationConnectivity``, brainscales1.md 14.3) and ``neuron_size="auto"``.

Geometry used by the expected values (brainscales1.md 1.2): the wafer's 384 HICANNs lie on a
36 x 16 grid, rows of 12, 12, 20, 20, 28, 28, 36, 36, 36, 36, 28, 28, 20, 20, 12, 12 HICANNs
centred on x = 17.5, numbered row by row.  The centre of the grid is (17.5, 7.5); the HICANNs
nearest to it are (17, 7), (18, 7), (17, 8), (18, 8), and the first of them in enum order is
(17, 7) = 12 + 12 + 20 + 20 + 28 + 28 + 36 + 17 = 173.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from mapping_graphs import all_ok
from pyNN_bss_emu.hardware import wafer
from pyNN_bss_emu.hardware.defects import DefectMap
from pyNN_bss_emu.mapping import placement
from pyNN_bss_emu.mapping.options import MappingOptions, NeuronPlacementOptions
from pyNN_bss_emu.mapping.pipeline import map_network
from pyNN_bss_emu.mapping.placement import (PopulationLinks, auto_sizes, cluster_order,
                                            place_neurons)
from pyNN_bss_emu.mapping.types import BioGraph

CENTRE_HICANN = 173          # (17, 7), see the module docstring


def _graph(sizes, pre, post, neuron_size=4, max_neuron_size=None, source=None) -> BioGraph:
    sizes = np.asarray(sizes, np.int64)
    pre = np.asarray(pre, np.int64)
    n = sizes.size
    return BioGraph(size=sizes, is_source=np.zeros(n, bool) if source is None
                    else np.asarray(source, bool),
                    neuron_size=np.broadcast_to(np.asarray(neuron_size), (n,)).copy(),
                    manual_hicanns=[None] * n, label=[f"p{i}" for i in range(n)],
                    rate=np.zeros(int(sizes.sum())), pre=pre,
                    post=np.asarray(post, np.int64), receptor=np.zeros(pre.size, np.int64),
                    projection=np.zeros(pre.size, np.int64),
                    max_neuron_size=max_neuron_size)


def _connect(offset_a, n_a, offset_b, n_b, k):
    """``k`` connections from population a to population b (cells cycled)."""
    i = np.arange(k)
    return offset_a + i % n_a, offset_b + (i * 7) % n_b


# ====================================================================== population order
def test_cluster_order_is_greedy_by_synapses_to_the_placed():
    # symmetric synapse counts between 4 populations:
    #   0-1: 5, 0-2: 1, 1-3: 9, 2-3: 2   -> totals 6, 14, 3, 11
    # first the most connected (1); then the one with most synapses to {1}: 3 (9);
    # then to {1, 3}: 0 has 5, 2 has 2 -> 0; then 2
    w = np.zeros((4, 4))
    for a, b, n in ((0, 1, 5), (0, 2, 1), (1, 3, 9), (2, 3, 2)):
        w[a, b] = w[b, a] = n
    assert cluster_order(PopulationLinks.from_matrix(w), [0, 1, 2, 3]) == [1, 3, 0, 2]
    # unconnected populations follow in index order
    assert cluster_order(PopulationLinks.from_matrix(np.zeros((3, 3))), [2, 0, 1]) == \
        [0, 1, 2]
    # a tie in synapses to the placed goes to the larger total: 0-1: 4, 0-2: 4, 2-3: 1
    # -> 0 (total 8), then 1 and 2 tie at 4 to {0}; 2 has total 5 > 4
    w = np.zeros((4, 4))
    for a, b, n in ((0, 1, 4), (0, 2, 4), (2, 3, 1)):
        w[a, b] = w[b, a] = n
    assert cluster_order(PopulationLinks.from_matrix(w), [0, 1, 2, 3]) == [0, 2, 1, 3]


# ====================================================================== placement
def test_first_population_sits_at_the_wafer_centre():
    # 64 neurons of size 4: 128 per HICANN (8 blocks x 32 / 2), so all on the HICANN nearest
    # to the centre, in columns 0, 2, ..., 126 (blocks filled in order)
    pl = place_neurons(_graph([64], [], []), *all_ok(), strategy="cluster")
    assert set(pl.hicann.tolist()) == {CENTRE_HICANN}
    assert pl.x0.tolist() == list(range(0, 128, 2))


def test_connected_population_is_placed_next_to_its_partner():
    # creation order: A (256 neurons = 2 HICANNs), B (256, unconnected), C (128, connected
    # to A).  enum_asc fills A, B, C one after the other from HICANN 0; cluster places A at
    # the centre, then C (connected to A) on the free HICANN nearest to A's mean position,
    # and B last.
    n = [256, 256, 128]
    pre, post = _connect(0, 256, 512, 128, 2000)
    g = _graph(n, pre, post)
    enum = place_neurons(g, *all_ok(), strategy="enum_asc")
    assert [np.unique(enum.hicann[s]).tolist() for s in
            (slice(0, 256), slice(256, 512), slice(512, 640))] == [[0, 1], [2, 3], [4]]
    cl = place_neurons(g, *all_ok(), strategy="cluster")
    a = np.unique(cl.hicann[:256])
    c = np.unique(cl.hicann[512:])
    b = np.unique(cl.hicann[256:512])
    # A: the two HICANNs nearest (17.5, 7.5) in (distance, enum) order: 173 (17, 7) and
    # 174 (18, 7)
    assert a.tolist() == [173, 174]
    # C: nearest to A's mean (17.5, 7) are (17, 6) and (18, 6) at distance 0.5^2 + 1 and
    # (17, 8), (18, 8) as far; lowest enum first: (17, 6) = 12+12+20+20+28+28+17 = 137
    assert c.tolist() == [137]
    # B is unconnected: it goes around the wafer centre, on what is left
    assert not set(b) & (set(a) | set(c))
    grid = lambda h: np.stack([wafer.HICANN_X[h], wafer.HICANN_Y[h]], axis=1)   # noqa: E731
    # every HICANN of C touches one of A (grid distance 1)
    d = np.abs(grid(c)[:, None, :] - grid(a)[None, :, :]).sum(axis=2)
    assert np.all(d.min(axis=1) == 1)


def test_cluster_is_the_default_and_enum_asc_stays_marocco():
    assert MappingOptions().neuron_placement.strategy == "cluster"
    assert "enum_asc" in placement.STRATEGIES and "cluster" in placement.STRATEGIES
    g = _graph([10], [], [])
    assert place_neurons(g, *all_ok(), strategy="ClusterByPopulationConnectivity").hicann[0] \
        == CENTRE_HICANN
    with pytest.raises(ValueError, match="'spiral'.*enum_asc, enum_desc, cluster"):
        place_neurons(g, *all_ok(), strategy="spiral")


def test_clustering_shortens_the_routes():
    # A -> C as above (2000 synapses), with B (unconnected) between them in creation order.
    # enum_asc puts A on HICANNs 0, 1 and C on 4: the route runs 4 HICANNs east plus the
    # source (5 HICANNs on the route, 1.4 / section 8); clustered, C lies next to A: 2.
    n = [256, 256, 128]
    pre, post = _connect(0, 256, 512, 128, 2000)
    g = _graph(n, pre, post)
    hops = {}
    for strategy in ("enum_asc", "cluster"):
        opts = MappingOptions(neuron_placement=NeuronPlacementOptions(strategy=strategy),
                              continue_despite_synapse_loss=True)
        r = map_network(g, opts, DefectMap.none())
        ok = r.routes.req_ok
        hops[strategy] = int(r.routes.req_hops[ok].max())
        assert r.statistics.synapses_lost_l1 == 0
    assert hops["cluster"] < hops["enum_asc"]
    assert hops["cluster"] <= 3


# ====================================================================== neuron_size "auto"
SITES = 224 * 0.2            # synapse sites per denmem (3.2) x the share auto plans for


@pytest.mark.parametrize("indegree,size", [
    (10, 2),                 # 10 / 44.8 = 0.22 -> 2
    (100, 4),                # 2.23 -> 4
    (387, 10),               # 8.64 -> 10: the 10 % microcircuit's mean in-degree
    (600, 14),               # 13.4 -> 14
])
def test_auto_size_from_the_in_degree(indegree, size):
    n = 20
    post = np.repeat(np.arange(n), indegree)
    pre = n + np.arange(post.size) % 500
    g = _graph([n, 500], pre, post, neuron_size=[0, 0], source=[False, True])
    assert auto_sizes(g, *all_ok()).tolist() == [size, 0]
    assert indegree / SITES <= size < indegree / SITES + 2


def test_auto_size_one_size_for_all_auto_populations_and_explicit_sizes_kept():
    # populations 0 (auto, in-degree 600), 1 (auto, in-degree 0), 2 (explicit 8): the auto
    # ones share the size of their mean in-degree 300 -> 300 / 44.8 = 6.7 -> 8
    n = 10
    post = np.repeat(np.arange(n), 600)
    pre = 3 * n + np.arange(post.size) % 100
    g = _graph([n, n, n, 100], pre, post, neuron_size=[0, 0, 8, 0],
               source=[False, False, False, True])
    assert auto_sizes(g, *all_ok()).tolist() == [8, 8, 8, 0]


def test_auto_size_is_bounded_by_the_weights_and_the_wafer():
    n = 20
    post = np.repeat(np.arange(n), 600)       # wants 14
    pre = n + np.arange(post.size) % 500
    g = _graph([n, 500], pre, post, neuron_size=[0, 0], source=[False, True],
               max_neuron_size=[7, 64])
    assert auto_sizes(g, *all_ok()).tolist() == [6, 0]        # even, at most 7
    # the wafer's room: 384 HICANNs x 512 denmems = 196,608; auto sizes may take half:
    # 98,304 denmems.  12,000 neurons: 14 -> 168,000 (too many) ... 8 -> 96,000 fits
    n = 12000
    post = np.repeat(np.arange(n), 600)
    pre = n + np.arange(post.size) % 500
    g = _graph([n, 500], pre, post, neuron_size=[0, 0], source=[False, True])
    assert auto_sizes(g, *all_ok()).tolist() == [8, 0]


def test_weight_limit_from_capacitance_and_largest_conductance():
    # s <= g_max * cm / (w * speedup * C_denmem) (marocco's scale, 4.5) with g_max = g(15)
    # at V_gmax 1023, gmax_div 2: (1023/500) (11/2) (93.94 + 81.34 * 15 - 1.597 * 225) nS
    # = 10.74 uS; big caps 2.16456 pF (3.3), cm 0.25 nF, speed-up 1e4:
    # w = 0.02 uS -> 10743 * 0.25 / (0.02 * 1e4 * 2.16456) = 6.2 -> 6;
    # small caps 0.1642 pF -> 81.8 -> 64; w = 0.2 uS, big caps -> 0.62 -> 2 (the least)
    from pyNN_bss_emu.backend.graph import max_neuron_sizes
    ratio = np.array([0.02 / 0.25, 0.001 / 0.25, 0.2 / 0.25, 0.0])
    pops = np.array([0, 0, 1, 2])
    assert max_neuron_sizes(ratio, pops, 3, 2.16456, 1e4).tolist() == [6, 2, 64]
    assert max_neuron_sizes(ratio[:1], pops[:1], 1, 0.1642, 1e4).tolist() == [64]


def _network(sim, size_a, size_b, w_b=0.002):
    """400 spike sources -> A (20 neurons) and B (20), 400 synapses onto every neuron;
    B's weights ``w_b`` uS."""
    src = sim.Population(400, sim.SpikeSourcePoisson(rate=1.0), label="src")
    cell = dict(cm=0.25, tau_refrac=2.0, v_thresh=-50.0, v_reset=-65.0, v_rest=-65.0)
    a = sim.Population(20, sim.IF_cond_exp(**cell), label="A")
    b = sim.Population(20, sim.IF_cond_exp(**cell), label="B")
    for pop, size in ((a, size_a), (b, size_b)):
        if size is not None:
            sim.set_neuron_size(pop, size)
    pa = sim.Projection(src, a, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.002))
    pb = sim.Projection(src, b, sim.AllToAllConnector(), sim.StaticSynapse(weight=w_b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(0.1)
    return pa, pb


def test_setup_auto_chooses_and_reports_the_sizes(wafer_sim):
    # in-degree 400 -> 400 / 44.8 = 8.9 -> 10; B's weight 0.02 uS on cm 0.25 nF with big caps
    # allows 6 (see test_weight_limit_from_capacitance_and_largest_conductance)
    sim = wafer_sim
    sim.setup(neuron_size="auto", continue_despite_synapse_loss=True, clip_parameters=True)
    _network(sim, None, None, w_b=0.02)
    stats = sim.get_mapping_statistics()
    assert stats.neuron_sizes == {"A": 10, "B": 6}
    m = sim.get_mapping()
    assert set(2 * m.placement.width[m.placement.hicann >= 0]) == {10, 6}
    assert "neuron sizes: A 10, B 6" in str(stats)


def test_set_neuron_size_auto_is_realised_like_the_chosen_size(wafer_sim):
    # A "auto" (-> 10) and B 4; then A 10 explicitly: the same placement and the same realised
    # weights (the weights are programmed with the capacitance of the size placed)
    sim = wafer_sim
    sim.setup(continue_despite_synapse_loss=True, clip_parameters=True)
    pa, pb = _network(sim, "auto", None)
    assert sim.get_mapping_statistics().neuron_sizes == {"A": 10, "B": 4}
    auto_w = pa.get("weight", format="array")
    auto_place = [(p.hicann, p.denmems) for p in sim.get_placement(pa.post)]
    sim.setup(continue_despite_synapse_loss=True, clip_parameters=True)
    pa, pb = _network(sim, 10, None)
    np.testing.assert_array_equal(pa.get("weight", format="array"), auto_w)
    assert [(p.hicann, p.denmems) for p in sim.get_placement(pa.post)] == auto_place


def test_bad_sizes_name_auto(wafer_sim):
    sim = wafer_sim
    pop = sim.Population(2, sim.IF_cond_exp())
    with pytest.raises(ValueError, match=r"size='big'.*from 2 to 64.*or 'auto'"):
        sim.set_neuron_size(pop, "big")
    with pytest.raises(ValueError, match=r"neuron_size=5.*or 'auto'"):
        sim.setup(neuron_size=5)


# ====================================================================== inputs next to a hole
def test_sources_avoid_mergers_whose_sending_bus_is_dead():
    # A HICANN next to a missing one loses the buses that neighbour drives (6.4): on HICANN
    # 137 (17, 6), east of which 138 is missing, every even H-bus, hence every sending H-bus
    # 6 + 8 k (6.2).  A merger there cannot send, so input placement must not put sources
    # on it, even though 137 is the nearest HICANN to the targets' centre.  Before issue 14
    # the wafer-centred placement put 7 sources there and lost all their synapses on L1.
    from pyNN_bss_emu.mapping.input_placement import place_inputs
    from pyNN_bss_emu.mapping.merger_routing import route_mergers
    # 10 neurons on 137, 20 sources of 1 kHz (10 MHz hw each: one per HICANN link of
    # 14.24 MHz) onto them
    n_src = 20
    pre = 10 + np.arange(n_src)
    g = _graph([10, n_src], np.repeat(pre, 10), np.tile(np.arange(10), n_src),
               neuron_size=[4, 0], source=[False, True])
    g.manual_hicanns[0] = (137,)
    g.rate[10:] = 1000.0
    dok, hok = all_ok()
    pl = place_neurons(g, dok, hok)
    mr = route_mergers(g, pl)
    hline_ok = np.ones((wafer.N_HICANN, wafer.N_HLINES), bool)
    hline_ok[137, 0::2] = False
    free = place_inputs(g, pl, mr, hok)
    assert 137 in free.hicann[10:]
    sp = place_inputs(g, pl, mr, hok, hline_ok=hline_ok)
    assert 137 not in sp.hicann[10:] and np.all(sp.hicann[10:] >= 0)
    # the whole mapping with HICANN 138 missing (its buses into 137 go with it) loses
    # nothing on L1
    none = DefectMap.none()
    hicann_ok = none.hicann_ok.copy()
    hicann_ok[138] = False
    defects = DefectMap(hicann_ok, none.denmem_ok, none.driver_ok, none.hline_ok,
                        none.vline_ok)
    assert not defects.hline_ok[137, 6::8].any()            # every sending H-bus of 137
    r = map_network(g, MappingOptions(continue_despite_synapse_loss=True), defects)
    assert 137 not in r.sources.hicann
    assert r.statistics.synapses_lost_l1 == 0


def test_a_saved_auto_mapping_is_reused(wafer_sim, tmp_path):
    # the file records what was asked ("auto"), the placement holds what was chosen (10)
    sim = wafer_sim
    path = str(tmp_path / "auto.npz")
    sizes = []
    for _ in range(2):
        sim.setup(neuron_size="auto", continue_despite_synapse_loss=True,
                  clip_parameters=True, mapping_file=path)
        pa, _ = _network(sim, None, None)
        m = sim.get_mapping()
        sizes.append(sorted(set(2 * m.placement.width[m.placement.hicann >= 0])))
    assert sizes == [[10], [10]]
    assert sim.get_mapping_statistics().neuron_sizes == {"A": 10, "B": 10}
