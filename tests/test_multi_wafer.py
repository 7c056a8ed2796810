"""Systems of several wafer modules (issue 16): wafer assignment, splitting the network into
per-wafer graphs with virtual sources, the off-wafer relays (latency, FIFO loss) and the
PyNN surface (``setup(wafers=...)``, statistics per wafer and in total)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyNN.bss_emu as sim
from pyNN_bss_emu.engine import Network
from pyNN_bss_emu.hardware.defects import DefectMap
from pyNN_bss_emu.mapping.options import MappingOptions
from pyNN_bss_emu.mapping.system import (assign_wafers, group_load, map_system, neuron_slots,
                                        split_graph, split_populations)
from pyNN_bss_emu.mapping.types import BioGraph, ResourceExhaustedError

DT = 0.1


# ------------------------------------------------------------------ mapping stages
def _graph(sizes, edges, neuron_size=4, sources=()):
    """A BioGraph of populations ``sizes`` with ``edges`` (pre pop, post pop, n) of n
    connections from the first cells of pre to the first of post."""
    sizes = np.array(sizes, dtype=np.int64)
    offset = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pre, post, proj = [], [], []
    for j, (a, b, n) in enumerate(edges):
        pre.append(offset[a] + np.arange(n) % sizes[a])
        post.append(offset[b] + np.arange(n) % sizes[b])
        proj.append(np.full(n, j))
    is_source = np.isin(np.arange(sizes.size), sources)
    return BioGraph(size=sizes, is_source=is_source,
                    neuron_size=np.where(is_source, 0, neuron_size).astype(np.int64),
                    manual_hicanns=[None] * sizes.size, label=[f"p{i}" for i in
                                                               range(sizes.size)],
                    rate=np.full(int(sizes.sum()), 5.0), pre=np.concatenate(pre),
                    post=np.concatenate(post), receptor=np.zeros(sum(e[2] for e in edges),
                                                                 dtype=np.int64),
                    projection=np.concatenate(proj),
                    projection_label=[f"e{j}" for j in range(len(edges))])


@pytest.fixture(scope="module")
def defects():
    return [DefectMap.from_spec("default", s) for s in (0, 1, 2)]


def test_neuron_slots_count_runs_within_blocks():
    d = DefectMap.from_spec("none", 0)
    # 384 HICANNs x 8 blocks x 32 columns: every width that divides 32 fills them
    assert neuron_slots(d, 1) == 384 * 256
    assert neuron_slots(d, 32) == 384 * 8
    assert neuron_slots(d, 12) == 384 * 8 * 2       # 32 // 12: the rest of a block is lost
    assert neuron_slots(DefectMap.from_spec("default", 0), 32) < 384 * 8


def test_connected_populations_share_a_wafer_and_small_networks_stay_on_one(defects):
    slots = min(neuron_slots(d, 32) for d in defects[:2])
    big = int(0.45 * slots)        # two fit on a wafer, three do not
    # two clusters {0, 1} and {2, 3}, strongly connected inside, weakly between
    g = _graph([big] * 4, [(0, 1, 900), (1, 0, 800), (2, 3, 900), (3, 2, 700), (1, 2, 10)],
               neuron_size=64)
    w = assign_wafers(g, np.arange(4), 4, defects[:2])
    assert w[0] == w[1] and w[2] == w[3] and w[0] != w[2]
    # the same network of small populations fits on wafer 0 and stays there
    small = _graph([50] * 4, [(0, 1, 90), (2, 3, 90), (1, 2, 10)], neuron_size=64)
    assert list(assign_wafers(small, np.arange(4), 4, defects[:2])) == [0, 0, 0, 0]


def test_a_population_larger_than_any_wafer_is_refused_naming_it(defects):
    slots = neuron_slots(defects[0], 32)
    g = _graph([slots + 10, 5], [(0, 1, 10)], neuron_size=64)
    with pytest.raises(ResourceExhaustedError, match=r"population 'big'.*more wafers"):
        assign_wafers(g, np.arange(2), 2, defects[:2], ["big", "small"])


def test_split_populations_cuts_only_the_large_groups_into_equal_runs(defects):
    slots = neuron_slots(defects[0], 32)
    n = int(1.1 * slots)
    # group 0 = mapper populations 0 and 1 (two runs of one backend population), group 1
    # small, group 2 a source
    g = _graph([n // 2, n - n // 2, 40, 30], [(0, 1, 50), (1, 2, 50), (3, 0, 20)],
               neuron_size=64, sources=(3,))
    group = np.array([0, 0, 1, 2])
    load = group_load(g, group, 3, defects[:2])
    cut, unit, labels = split_populations(g, group, 3, load, 0.425, ["big", "small", "in"])
    m = int(np.ceil(load[0].max() / 0.425))
    assert m == 3
    # cells and connections keep their numbers; only populations are cut
    assert cut.n_cells == g.n_cells and cut.pre is g.pre and cut.post is g.post
    cell_unit = unit[cut.population_of]
    big = np.arange(n)
    assert np.all(np.diff(cell_unit[big]) >= 0)             # runs of consecutive cells
    runs = np.bincount(cell_unit[big])[3:]
    assert runs.tolist() == np.diff((np.arange(4) * n) // 3).tolist()
    assert labels[3:] == [f"big (part {j} of 3)" for j in (1, 2, 3)]
    # the small group and the source stay whole
    assert list(unit[-2:]) == [1, 2] and cut.size[-2:].tolist() == [40, 30]
    assert all(cut.neuron_size[:-1] == 64) and cut.is_source[-1]
    # nothing to cut: the same graph back
    same, unit2, _ = split_populations(g, group, 3, load, 2.0)
    assert same is g and unit2 is group


def test_a_population_larger_than_a_wafer_is_cut_over_two_and_its_synapses_relayed(defects):
    slots = neuron_slots(defects[0], 32)
    n = int(1.2 * slots)
    g = _graph([n, 100, 20], [(0, 0, 3000), (0, 1, 500), (2, 0, 400)], neuron_size=64,
               sources=(2,))
    g.post[:3000] = (np.arange(3000) * 7 + n // 2) % n     # big onto itself, far apart
    res = map_system(g, np.arange(3), MappingOptions(continue_despite_synapse_loss=True),
                     defects[:2], ["big", "small", "in"])
    on = np.bincount(res.cell_wafer[:n], minlength=2)
    assert on.min() > 0.2 * slots and on.sum() == n
    assert np.all(on <= 0.85 * np.array([neuron_slots(d, 32) for d in defects[:2]]))
    # big's synapses onto itself between its two parts cross wafers; the relays are the
    # cells with targets on the other wafer
    pre, post = g.pre, g.post
    crossing = res.cell_wafer[pre] != res.cell_wafer[post]
    assert np.array_equal(res.offwafer, crossing) and crossing[:3000].any()
    neuron = pre < n + 100
    assert res.statistics.relayed_neurons == np.unique(pre[crossing & neuron]).size > 100
    assert res.statistics.neurons_placed == n + 100


def test_a_network_larger_than_the_system_is_refused_even_when_cut(defects):
    slots = neuron_slots(defects[0], 32)
    g = _graph([int(2.5 * slots)], [(0, 0, 10)], neuron_size=64)
    with pytest.raises(ResourceExhaustedError, match=r"'huge'.*also with the large "
                                                     r"populations split over the wafers"):
        map_system(g, np.arange(1), MappingOptions(), defects[:2], ["huge"])


def test_spike_sources_go_to_the_wafer_of_most_targets(defects):
    slots = neuron_slots(defects[0], 32)
    n = int(0.6 * slots)
    g = _graph([n, n, 10], [(2, 0, 5), (2, 1, 50), (0, 1, 3)], neuron_size=64, sources=(2,))
    w = assign_wafers(g, np.arange(3), 3, defects[:2])
    assert w[0] != w[1] and w[2] == w[1]


def test_split_graph_adds_virtual_sources_for_exactly_the_cells_with_remote_targets():
    g = _graph([6, 5, 4], [(0, 1, 12), (1, 0, 3), (0, 2, 2), (2, 2, 4)], sources=())
    parts = split_graph(g, np.array([0, 1, 1]), 2)
    pre, post = np.asarray(g.pre), np.asarray(g.post)
    cell_wafer = np.repeat([0, 1, 1], g.size)
    for k, part in enumerate(parts):
        conn = np.flatnonzero(cell_wafer[post] == k)
        assert np.array_equal(part.connections, conn)
        remote = np.unique(pre[conn][cell_wafer[pre[conn]] != k])
        assert np.array_equal(part.virtual, remote)
        sub = part.graph
        assert sub.n_cells == part.cells.size and sub.pre.size == conn.size
        # every connection runs between the same global cells, through local numbers
        assert np.array_equal(part.cells[sub.pre], pre[conn])
        assert np.array_equal(part.cells[sub.post], post[conn])
        # virtual sources are spike sources of the wafer, with the relayed rate budget
        virt_pops = np.flatnonzero(np.arange(sub.size.size) >= sub.size.size
                                   - np.unique(g.population_of[remote]).size)
        assert sub.is_source[virt_pops].all()
        assert np.all(sub.rate[part.n_own:] == 10.0)
    assert parts[1].virtual.size == 6       # all 6 cells of p0 reach wafer 1 (12 + 2 conns)
    assert parts[0].virtual.size == 3       # 3 cells of p1 reach wafer 0


# ------------------------------------------------------------------ engine relays
def _burst_network(n: int, depth: int, spacing: float):
    """``n`` neurons that all fire at the same step, each relayed through up channel 0 to
    its own relay node, which excites neuron ``n`` (the target) with delay 1 ms."""
    net = Network(DT)
    lif = dict(cm=1.0, g_l=0.05, e_l=-65.0, v_reset=-65.0, v_thresh=-50.0, v_peak=-50.0,
               tau_syn_E=5.0, tau_syn_I=5.0, e_rev_E=0.0, e_rev_I=-70.0, a=0.0, b=0.0,
               tau_w=1.0, delta_T=0.0, i_offset=0.0, tau_refrac=50.0)
    idx, nodes = net.add_neurons({k: np.full(n + 1, float(v)) for k, v in lif.items()}, n + 1)
    net.set_initial(idx, "v", np.full(n + 1, -65.0), apply_now=True)
    stim, _ = net.add_array_sources(1)
    net.arrays.set_times(np.array([0]), [[1.0]], 0.0)
    relay = net.add_relay_nodes(n)
    pre = np.concatenate([np.full(n, stim[0]), relay])
    post = np.concatenate([idx[:n], np.full(n, idx[n])])
    net.set_synapses(pre, post, np.concatenate([np.full(n, 0.5), np.full(n, 1e-4)]),
                     np.full(2 * n, 1.0), np.zeros(2 * n, dtype=np.int8))
    net.set_relays(idx[:n], relay, np.tile([0, -1], (n, 1)), np.full((n, 2), -1),
                   np.array([spacing]), depth=depth)
    return net, idx


def test_relay_fifo_keeps_depth_plus_one_of_a_burst_and_delays_them_by_their_wait():
    n, depth, spacing = 10, 3, 0.25
    net, idx = _burst_network(n, depth, spacing)
    net.spike_flag[:n] = True
    times, nodes = net.run(100)
    assert np.sum(np.isin(nodes, idx[:n])) == n       # the burst: all at one step
    assert list(net.relay_counts) == [depth + 1, n - depth - 1, 0]
    # the kept events arrive 1 ms (delay) + k * spacing (their FIFO wait) after the spike:
    # the target's conductance rises in steps at exactly those arrival steps
    t_spike = float(times[0])
    net2, idx2 = _burst_network(n, depth, spacing)
    net2.run(int(round(t_spike / DT)))
    ge = []
    for _ in range(40):
        net2.run(1)
        ge.append(net2.ge[idx2[n]])
    jumps = np.flatnonzero(np.diff(np.concatenate([[0.0], ge])) > 1e-5)
    expected = [int(np.ceil(k * spacing / DT - 1e-9)) + int(round(1.0 / DT)) - 1
                for k in range(depth + 1)]
    assert list(jumps) == sorted(set(expected))


def test_relays_without_channels_pass_everything_and_reset_clears_the_counts():
    net, idx = _burst_network(6, 0, 1.0)
    relay_nodes = np.arange(net.n_nodes - 6, net.n_nodes)     # added last
    net.set_relays(idx[:6], relay_nodes, np.full((6, 2), -1), np.full((6, 2), -1),
                   np.zeros(0))
    net.run(100)
    assert list(net.relay_counts) == [6, 0, 0]
    net.reset()
    assert list(net.relay_counts) == [0, 0, 0]


# ------------------------------------------------------------------ the PyNN surface
def _two_wafer_run(**setup_kw):
    """A (500 neurons of 64 denmems, 60 % of a wafer) and B (400) cannot share a wafer:
    stim -> A -> B crosses from wafer 0 to wafer 1."""
    warnings.simplefilter("ignore")
    kw = dict(timestep=DT, ideal=False, wafers=2, neuron_size=64,
              continue_despite_synapse_loss=True)
    kw.update({k: v for k, v in setup_kw.items() if k != "plot"})
    sim.setup(**kw)
    a = sim.Population(500, sim.IF_cond_exp(tau_refrac=5.0), label="A")
    b = sim.Population(400, sim.IF_cond_exp(tau_refrac=5.0), label="B")
    stim = sim.Population(20, sim.SpikeSourceArray(spike_times=[10.0, 60.0]), label="stim")
    s2a = sim.Projection(stim, a, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.02))
    a2b = sim.Projection(a, b, sim.FixedProbabilityConnector(0.2, rng=sim.NumpyRNG(3)),
                         sim.StaticSynapse(weight=0.02))
    a.record("spikes")
    b.record("spikes")
    sim.run(120.0)
    out = dict(stats=sim.get_mapping_statistics(), mapping=sim.get_mapping(),
               pulses=sim.get_pulse_statistics(),
               a=[np.asarray(s) for s in a.get_data().segments[0].spiketrains],
               b=[np.asarray(s) for s in b.get_data().segments[0].spiketrains],
               d_a2b=np.asarray(a2b.get("delay", format="list", with_address=False)),
               d_s2a=np.asarray(s2a.get("delay", format="list", with_address=False)),
               n_a2b=a2b.size())
    out["cells"] = (out["mapping"].cell_wafer[a._record.cell_offset],
                    out["mapping"].cell_wafer[b._record.cell_offset])
    out["placement"] = (sim.get_placement(a[0:3]), sim.get_placement(b[0:3]))
    if setup_kw.get("plot"):
        import matplotlib
        matplotlib.use("Agg")
        out["axes"] = sim.plot_wafer_map(wafer=1)
        with pytest.raises(ValueError, match=r"wafer=2.*2 wafer\(s\), 0\.\.1"):
            sim.plot_wafer_map(wafer=2)
        out["defects"] = (sim.get_defects(0), sim.get_defects(1))
        with pytest.raises(ValueError, match="get_defects"):
            sim.get_defects(5)
        # a second trial after reset(): the FIFOs and counters start afresh, the same
        # stimulus gives the same spikes
        sim.reset()
        sim.run(120.0)
        out["b_reset"] = [np.asarray(t) for t in b.get_data().segments[1].spiketrains]
        out["pulses_reset"] = sim.get_pulse_statistics()
    sim.end()
    return out


@pytest.fixture(scope="module")
def two_wafers():
    return _two_wafer_run(plot=True)


@pytest.mark.slow
def test_a_network_larger_than_a_wafer_maps_onto_two_with_statistics_per_wafer(two_wafers):
    st = two_wafers["stats"]
    assert two_wafers["cells"] == (0, 1)
    assert st.wafers_used == 2 and len(st.per_wafer) == 2
    assert st.offwafer_synapses == two_wafers["n_a2b"] > 5000
    assert st.relayed_neurons == 500 and st.replayed_sources == 0
    # the totals are the sums of the wafers' own statistics
    for name in ("synapses_requested", "synapses_realized", "neurons_placed",
                 "sources_placed", "hicanns_used"):
        assert getattr(st, name) == sum(getattr(w, name) for w in st.per_wafer)
    assert st.per_wafer[0].neurons_placed == 500 and st.per_wafer[1].neurons_placed == 400
    # wafer 1 places A's neurons as virtual sources (its input placement)
    assert st.per_wafer[1].sources_placed == 500
    assert "wafer 1: 400 neurons" in str(st)
    # get_placement names the wafer: B's neurons sit on wafer 1, with its own placement
    pa, pb = two_wafers["placement"]
    assert [p.wafer for p in pa] == [0, 0, 0] and [p.wafer for p in pb] == [1, 1, 1]
    assert str(pb[0]).startswith(f"cell {pb[0].cell}: Wafer(1), HICANNOnWafer")
    assert all(len(p.denmems) == 64 for p in pa + pb)
    # the wafer map of wafer 1 and the wafers' own defect maps (seeds 0 and 1)
    ax = two_wafers["axes"]
    assert len(ax.patches) >= 384 and len(ax.figure.axes) >= 2
    d0, d1 = two_wafers["defects"]
    assert np.array_equal(d1.hicann_ok, DefectMap.from_spec("default", 1).hicann_ok)
    assert not np.array_equal(d0.denmem_ok, d1.denmem_ok)


@pytest.mark.slow
def test_connections_between_wafers_carry_the_offwafer_latency(two_wafers):
    d, d_in = two_wafers["d_a2b"], two_wafers["d_s2a"]
    d, d_in = d[~np.isnan(d)], d_in[~np.isnan(d_in)]
    # on-wafer routed delays: 0.64 ms + 0.04 ms per HICANN + spread; off-wafer: + 13 ms
    assert d_in.max() < 5.0
    assert 13.0 + 0.3 < d.min() and d.max() < 13.0 + 5.0
    first_a = min(t[0] for t in two_wafers["a"] if t.size)
    first_b = min(t[0] for t in two_wafers["b"] if t.size)
    assert first_b - first_a > 13.0


@pytest.mark.slow
def test_every_relayed_spike_is_delivered_or_counted_lost(two_wafers):
    p = two_wafers["pulses"]
    n_a = sum(t.size for t in two_wafers["a"])
    assert n_a > 400 and p["l2_up_lost"] == 0
    # every recorded spike of A passed its encoder and merger, so it went to wafer 1 (one
    # relayed event each; a spike lost on the wafer is neither recorded nor relayed); B's
    # spikes stay on wafer 1
    assert p["l2_relay_sent"] + p["l2_relay_lost"] == n_a
    assert p["l2_relay_sent"] > 0


@pytest.mark.slow
def test_reset_restarts_the_relays(two_wafers):
    assert all(np.array_equal(x, y) for x, y in zip(two_wafers["b_reset"], two_wafers["b"]))
    for key in ("l2_relay_sent", "l2_relay_lost"):
        assert two_wafers["pulses_reset"][key] == two_wafers["pulses"][key]


@pytest.mark.slow
def test_multi_wafer_runs_are_reproducible_and_the_latency_is_an_option(two_wafers):
    again = _two_wafer_run()
    assert all(np.array_equal(x, y) for x, y in zip(again["b"], two_wafers["b"]))
    assert np.array_equal(again["d_a2b"], two_wafers["d_a2b"], equal_nan=True)
    fast = _two_wafer_run(offwafer_latency=0.5)     # 0.5 µs hw = 5 ms bio, not 13
    ok = ~np.isnan(fast["d_a2b"])
    assert np.allclose(two_wafers["d_a2b"][ok] - fast["d_a2b"][ok], 8.0, atol=DT / 2 + 1e-9)


@pytest.mark.slow
def test_wafer_seeds_give_each_wafer_its_own_defects():
    sim.setup(timestep=DT, ideal=False, wafers=[5, 9])
    backend = sim.get_backend()
    assert backend.seeds == (5, 9)
    expected = DefectMap.from_spec("default", 9)
    assert np.array_equal(backend.wafer_defects[1].denmem_ok, expected.denmem_ok)
    assert not np.array_equal(backend.wafer_defects[0].denmem_ok, expected.denmem_ok)
    sim.end()


@pytest.mark.parametrize("value,error,match", [
    (0, ValueError, r"wafers=0.*1 \.\. 20"), (21, ValueError, r"wafers=21"),
    ([3, 3], ValueError, "must differ"), ("two", TypeError, "number of wafers"),
    ([1, -2], TypeError, "not an int >= 0"), (True, TypeError, "number of wafers")])
def test_bad_wafer_counts_are_refused_naming_the_value(value, error, match):
    with pytest.raises(error, match=match):
        sim.setup(timestep=DT, wafers=value)
    sim.setup(timestep=DT)       # the simulator stays usable
    sim.end()


def test_stdp_across_wafers_is_refused_with_a_clear_message():
    warnings.simplefilter("ignore")
    sim.setup(timestep=DT, ideal=False, wafers=2)
    a = sim.Population(10, sim.IF_cond_exp())
    stdp = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(),
                             weight_dependence=sim.AdditiveWeightDependence(w_max=0.01),
                             weight=0.005)
    sim.Projection(a, a, sim.FixedProbabilityConnector(0.5), stdp)
    with pytest.raises(NotImplementedError, match="STDP.*2 wafers.*wafers=1"):
        sim.run(10.0)
    sim.end()


def test_the_fill_share_decides_when_the_next_wafer_opens(defects):
    slots = min(neuron_slots(d, 32) for d in defects[:2])
    g = _graph([int(0.3 * slots)] * 2, [(0, 1, 100)], neuron_size=64)
    assert list(assign_wafers(g, np.arange(2), 2, defects[:2], fill=0.85)) == [0, 0]
    assert sorted(assign_wafers(g, np.arange(2), 2, defects[:2], fill=0.4)) == [0, 1]


def test_a_population_cut_over_wafers_is_programmed_placed_and_read_on_each():
    """setup(wafer_fill=0.05): 1,600 neurons of size 8 need 7 % of a wafer, so the mapping
    cuts the population over both wafers.  Every cell is placed on its part's wafer and
    programmed there (parameters of that wafer's denmems); membranes of cells of both parts
    come back with the wafer's readout; the spikes are reproducible."""
    def run():
        warnings.simplefilter("ignore")
        sim.setup(timestep=DT, ideal=False, wafers=2, wafer_fill=0.05, neuron_size=8,
                  continue_despite_synapse_loss=True)
        src = sim.Population(50, sim.SpikeSourcePoisson(rate=20.0), label="in")
        a = sim.Population(1600, sim.IF_cond_exp(tau_m=12.0), label="big")
        rng = sim.NumpyRNG(seed=1)
        sim.Projection(src, a, sim.FixedProbabilityConnector(0.2, rng=rng),
                       sim.StaticSynapse(weight=0.01))
        sim.Projection(a, a, sim.FixedProbabilityConnector(0.02, rng=rng),
                       sim.StaticSynapse(weight=0.004))
        a.record("spikes")
        a[[0, 1599]].record("v")
        sim.run(100.0)
        m = sim.get_mapping()
        cell_wafer = m.cell_wafer[a._record.cell_offset + np.arange(a.size)]
        placed = [p.wafer for p in sim.get_placement(a[[0, 1599]])]
        seg = a.get_data().segments[0]
        from pyNN_bss_emu.engine.kernels import P_GL
        tau = sim.get_backend().network.P[a._neuron_index, P_GL]
        out = dict(cell_wafer=cell_wafer, placed=placed, tau=tau,
                   v=np.asarray(seg.filter(name="v")[0].magnitude),
                   spikes=[np.asarray(s) for s in seg.spiketrains],
                   stats=sim.get_mapping_statistics())
        sim.end()
        return out

    r = run()
    on = np.bincount(r["cell_wafer"], minlength=2)
    assert on.min() > 200 and on.sum() == 1600
    assert r["placed"] == [int(r["cell_wafer"][0]), int(r["cell_wafer"][-1])]
    assert r["stats"].relayed_neurons > 1000          # its synapses onto itself cross
    assert "big (part" not in str(r["stats"])         # statistics keep the population's name
    # every neuron was programmed (realised parameters, not the defaults of an empty row)
    assert np.all(np.isfinite(r["tau"])) and np.unique(r["tau"]).size > 1000
    assert r["v"].shape[1] == 2 and np.all(np.isfinite(r["v"]))
    assert sum(s.size for s in r["spikes"]) > 0
    again = run()
    assert np.array_equal(again["cell_wafer"], r["cell_wafer"])
    assert all(np.array_equal(x, y) for x, y in zip(again["spikes"], r["spikes"]))
    assert np.array_equal(again["v"], r["v"])


def _input_bound_network(**kw):
    """A and B (6,000 neurons of size 2 each; wafer_fill 0.1 keeps them apart) connect to
    each other; at speedup 1e5 a wafer's input takes about 4,800 relayed neurons at the
    10 Hz budget, fewer than the 6,000 of the other wafer."""
    warnings.simplefilter("ignore")
    sim.setup(timestep=DT, ideal=False, wafers=2, wafer_fill=0.1, neuron_size=2,
              speedup=1e5, **kw)
    a = sim.Population(6000, sim.IF_cond_exp(), label="A")
    b = sim.Population(6000, sim.IF_cond_exp(), label="B")
    src = sim.Population(20, sim.SpikeSourcePoisson(rate=50.0), label="in")
    rng = sim.NumpyRNG(seed=2)
    sim.Projection(src, a, sim.FixedProbabilityConnector(0.5, rng=rng),
                   sim.StaticSynapse(weight=0.02))
    ab = sim.Projection(a, b, sim.FixedProbabilityConnector(0.002, rng=rng),
                        sim.StaticSynapse(weight=0.02))
    sim.Projection(b, a, sim.FixedProbabilityConnector(0.002, rng=rng),
                   sim.StaticSynapse(weight=0.02))
    return a, b, ab


@pytest.mark.slow
def test_neurons_of_other_wafers_beyond_the_input_bandwidth_lose_their_synapses():
    """Virtual sources the input placement has no room for are not an error: their synapses
    are lost, counted as synapses_lost_input, transmit nothing, and the loss policy decides
    (SynapseLossError naming the cause without continue_despite_synapse_loss)."""
    from pyNN_bss_emu.mapping.pipeline import SynapseLossError
    a, b, ab = _input_bound_network(continue_despite_synapse_loss=True)
    sim.run(20.0)
    st = sim.get_mapping_statistics()
    m = sim.get_mapping()
    w0, w1 = st.per_wafer
    # each wafer placed fewer virtual sources than the other wafer's 6,000 neurons
    assert 0 < w1.synapses_lost_input and 0 < w0.synapses_lost_input
    assert w1.sources_placed < 6000 and st.synapses_lost_input == \
        w0.synapses_lost_input + w1.synapses_lost_input
    assert st.synapses_lost == (st.synapses_lost_l1 + st.synapses_lost_drivers
                                + st.synapses_lost_synapse_array
                                + st.synapses_lost_multapse + st.synapses_lost_input)
    assert "from other wafers for want of input bandwidth" in str(st)
    # A -> B lost on wafer 1 exactly the synapses of A's unplaced neurons, and more
    unplaced = m.wafers[1].sources.hicann[m.parts[1].n_own:] < 0
    lost_cells = m.parts[1].virtual[unplaced]
    pre = np.asarray(ab.get("weight", format="list", with_address=True))
    lost_rows = np.isin(pre[:, 0].astype(int), lost_cells - a._record.cell_offset)
    assert lost_rows.sum() > 1000 and np.all(np.isnan(pre[lost_rows, 2]))
    assert (w1.synapses_lost_input == lost_rows.sum())
    sim.end()
    _input_bound_network(continue_despite_synapse_loss=False)
    with pytest.raises(SynapseLossError, match="from neurons of other wafers that found no "
                                               "room in this wafer's input"):
        sim.run(1.0)
    sim.end()
