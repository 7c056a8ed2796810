"""Unit tests of the emulation engine (``pyNN_bss_emu.engine.Network``), without PyNN.

Units: ms, mV, µS, nA, nF.  Expected values are derived analytically (LIF charging curve,
exponential conductance decay) or structurally (equivalence of two set-ups).
"""
from __future__ import annotations

import numpy as np
import pytest

from pyNN_bss_emu.engine import PARAM_COLUMNS, Network
from pyNN_bss_emu.hardware.compound_neuron import compound_neuron_parameters
from pyNN_bss_emu.engine.sources import PoissonSources, stream_keys

from conftest import ceil_to_grid, lif_first_spike

DT = 0.1

LIF = dict(cm=1.0, g_l=0.05, e_l=-65.0, v_reset=-65.0, v_thresh=-50.0, v_peak=-50.0,
           tau_syn_E=5.0, tau_syn_I=5.0, e_rev_E=0.0, e_rev_I=-70.0, a=0.0, b=0.0, tau_w=1.0,
           delta_T=0.0, i_offset=0.0, tau_refrac=2.0)


def lif_params(n=1, **over):
    p = dict(LIF, **over)
    return {k: np.full(n, float(v)) for k, v in p.items()}


def make_net(n=1, dt=DT, record_spikes=True, **over):
    net = Network(dt)
    idx, nodes = net.add_neurons(lif_params(n, **over), n)
    net.set_initial(idx, "v", np.full(n, dict(LIF, **over)["e_l"]), apply_now=True)
    if record_spikes:
        net.spike_flag[idx] = True
    return net, idx, nodes


def spikes_of(times, nodes, node):
    return np.sort(times[nodes == node])


# ------------------------------------------------------------------ single LIF neuron
@pytest.mark.parametrize("i_offset,dt", [(1.0, 0.1), (0.8, 0.1), (2.0, 0.1), (1.0, 0.05),
                                         (1.0, 0.2)])
def test_analytic_lif_first_spike(i_offset, dt):
    net, idx, nodes = make_net(dt=dt, i_offset=i_offset, tau_refrac=0.0)
    times, who = net.run(int(round(100 / dt)))
    t = spikes_of(times, who, nodes[0])
    t1 = lif_first_spike(i_offset)
    assert t.size > 0
    assert t[0] == pytest.approx(ceil_to_grid(t1, dt), abs=1e-9)


def test_subthreshold_current_never_spikes_and_relaxes_to_v_inf():
    net, idx, nodes = make_net(i_offset=0.5)          # v_inf = -55 mV < v_thresh
    rid = net.add_record("v", idx, 1)
    times, who = net.run(3000)                          # 300 ms = 15 tau_m
    assert times.size == 0
    v = net.take_samples(rid)[:, 0]
    assert v.shape == (3001,)
    t = np.arange(3001) * DT
    expected = -55.0 + (-65.0 + 55.0) * np.exp(-t / 20.0)
    np.testing.assert_allclose(v, expected, atol=1e-6)


@pytest.mark.parametrize("tau_refrac", [0.5, 2.0, 5.0])
def test_refractory_period_length(tau_refrac):
    net, idx, nodes = make_net(i_offset=1.0, tau_refrac=tau_refrac)
    rid = net.add_record("v", idx, 1)
    times, who = net.run(2000)
    t = spikes_of(times, who, nodes[0])
    v = net.take_samples(rid)[:, 0]
    t1 = ceil_to_grid(lif_first_spike(1.0))
    # v_reset == e_l, so every inter-spike interval is refractory time + the same charging time
    np.testing.assert_allclose(np.diff(t), t1 + tau_refrac, atol=1e-9)
    ref_steps = int(round(tau_refrac / DT))
    for ts in t[:-1]:
        k = int(round(ts / DT))
        # clamped at v_reset from the spike until the end of the refractory period ...
        np.testing.assert_array_equal(v[k:k + ref_steps + 1], -65.0)
        # ... and free (charging) right after it
        assert v[k + ref_steps + 1] > -65.0 + 1e-6


def test_zero_refractory_period():
    net, idx, nodes = make_net(i_offset=1.0, tau_refrac=0.0)
    times, who = net.run(2000)
    t = spikes_of(times, who, nodes[0])
    t1 = ceil_to_grid(lif_first_spike(1.0))
    np.testing.assert_allclose(np.diff(t), t1, atol=1e-9)


def test_spike_flag_controls_reported_spikes():
    net, idx, nodes = make_net(n=2, i_offset=1.0, record_spikes=False)
    net.spike_flag[idx[1]] = True
    times, who = net.run(1000)
    assert times.size > 0
    assert set(who.tolist()) == {int(nodes[1])}


# ------------------------------------------------------------------ compound neurons
@pytest.mark.parametrize("k", [1, 2, 4])
def test_compound_of_identical_denmems_equals_single(k):
    single = dict(LIF, i_offset=1.0)
    den = {name: np.full(k, float(v)) for name, v in single.items() if name != "tau_refrac"}
    den["cm"] = den["cm"] / k
    den["g_l"] = den["g_l"] / k
    den["i_offset"] = den["i_offset"] / k
    out = compound_neuron_parameters(den, np.zeros(k, dtype=np.int64))
    for name in PARAM_COLUMNS:
        assert out[name].shape == (1,)
        assert out[name][0] == pytest.approx(single[name], rel=1e-12), name
    # and it behaves the same: identical spike trains
    spikes = []
    for params in (out, {n: np.array([single[n]]) for n in PARAM_COLUMNS}):
        net = Network(DT)
        p = {n: np.asarray(v, float) for n, v in params.items() if n in PARAM_COLUMNS}
        p["tau_refrac"] = np.array([2.0])
        idx, nodes = net.add_neurons(p, 1)
        net.set_initial(idx, "v", np.array([-65.0]), apply_now=True)
        net.spike_flag[:] = True
        spikes.append(net.run(3000)[0])
    assert spikes[0].size >= 5
    np.testing.assert_allclose(spikes[0], spikes[1], atol=1e-9)


def test_compound_neuron_combination_rules():
    """Two neurons from denmems [0, 0] and [1, 1, 1]: capacitances, leaks and currents add up,
    reversal potentials / thresholds are leak-weighted means."""
    den = {
        "cm": np.array([0.2, 0.3, 0.1, 0.1, 0.2]),
        "g_l": np.array([0.01, 0.03, 0.02, 0.02, 0.04]),
        "e_l": np.array([-60.0, -70.0, -65.0, -55.0, -70.0]),
        "v_thresh": np.array([-50.0, -54.0, -50.0, -50.0, -50.0]),
        "i_offset": np.array([0.1, 0.2, 0.0, 0.3, 0.0]),
    }
    out = compound_neuron_parameters(den, np.array([0, 0, 1, 1, 1]))
    np.testing.assert_allclose(out["cm"], [0.5, 0.4])
    np.testing.assert_allclose(out["g_l"], [0.04, 0.08])
    np.testing.assert_allclose(out["i_offset"], [0.3, 0.3])
    np.testing.assert_allclose(out["e_l"], [(0.01 * -60 + 0.03 * -70) / 0.04,
                                            (0.02 * -65 + 0.02 * -55 + 0.04 * -70) / 0.08])
    np.testing.assert_allclose(out["v_thresh"], [(0.01 * -50 + 0.03 * -54) / 0.04, -50.0])


# ------------------------------------------------------------------ Poisson sources
def _poisson(n=50, rate=40.0, start=0.0, duration=1e9, seed=7):
    ps = PoissonSources()
    ps.add(np.arange(n), stream_keys(seed, 0, n))
    ps.set_parameters(np.arange(n), np.full(n, rate), np.full(n, start), np.full(n, duration),
                      0.0)
    return ps


def _sorted_events(parts):
    steps, nodes, times = (np.concatenate(a) for a in zip(*parts))
    order = np.lexsort((times, nodes))
    return steps[order], nodes[order], times[order]


@pytest.mark.parametrize("cuts", [[100.0, 200.0], [37.3, 100.0, 150.05, 200.0],
                                  [0.0, 200.0], [50.0, 50.0, 200.0]])
def test_poisson_window_split_invariance(cuts):
    whole = _sorted_events([_poisson().window(200.0, DT)])
    ps = _poisson()
    split = _sorted_events([ps.window(t, DT) for t in cuts])
    assert whole[0].size > 100
    for a, b in zip(whole, split):
        np.testing.assert_array_equal(a, b)


def test_poisson_window_times_steps_and_bounds():
    ps = _poisson(n=200, rate=50.0, start=20.0, duration=60.0)
    steps, nodes, times = ps.window(200.0, DT)
    assert times.size > 0
    assert times.min() >= 20.0 and times.max() < 80.0
    np.testing.assert_array_equal(steps, np.ceil(times / DT - 1e-9).astype(np.int64))
    # expected count 200 * 50 Hz * 0.06 s = 600, sd ~ 24.5
    assert abs(times.size - 600) < 4 * np.sqrt(600)
    # nothing more comes later
    assert ps.window(1000.0, DT)[0].size == 0


def test_poisson_seed_and_key_independence():
    a = _poisson(seed=1).window(500.0, DT)[2]
    b = _poisson(seed=1).window(500.0, DT)[2]
    c = _poisson(seed=2).window(500.0, DT)[2]
    np.testing.assert_array_equal(a, b)
    assert not (a.size == c.size and np.array_equal(a, c))


# ------------------------------------------------------------------ synaptic delivery
def _source_to_neuron(delay, weight=0.01, spike_time=10.0, receptor=0):
    net = Network(DT)
    idx, nodes = net.add_neurons(lif_params(1), 1)
    net.set_initial(idx, "v", np.array([-65.0]), apply_now=True)
    src_nodes, src_idx = net.add_array_sources(1)
    net.arrays.set_times(src_idx, [np.array([spike_time])], 0.0)
    net.set_synapses(src_nodes, idx, np.array([weight]), np.array([delay]),
                     np.array([receptor], dtype=np.int8))
    var = "gsyn_exc" if receptor == 0 else "gsyn_inh"
    rid = net.add_record(var, idx, 1)
    return net, rid


@pytest.mark.parametrize("delay", [0.1, 1.0, 2.5, 7.3])
@pytest.mark.parametrize("receptor", [0, 1])
def test_delivery_with_delay(delay, receptor):
    w, t_spike, tau = 0.01, 10.0, 5.0
    net, rid = _source_to_neuron(delay, w, t_spike, receptor)
    net.run(400)
    g = net.take_samples(rid)[:, 0]
    t = np.arange(g.size) * DT
    t_arr = t_spike + delay
    expected = np.where(t >= t_arr - 1e-9, w * np.exp(-(t - t_arr) / tau), 0.0)
    np.testing.assert_allclose(g, expected, atol=1e-12, rtol=1e-9)


def test_delivery_split_across_runs():
    """A spike emitted in one run and arriving (after its delay) in the next is not lost."""
    net_a, rid_a = _source_to_neuron(delay=5.0, spike_time=9.0)
    net_a.run(400)
    net_b, rid_b = _source_to_neuron(delay=5.0, spike_time=9.0)
    net_b.run(100)
    net_b.run(300)
    np.testing.assert_array_equal(net_a.take_samples(rid_a), net_b.take_samples(rid_b))


def test_set_weights_takes_effect_without_rebuild():
    net = Network(DT)
    idx, nodes = net.add_neurons(lif_params(2), 2)
    net.set_initial(idx, "v", np.full(2, -65.0), apply_now=True)
    src_nodes, src_idx = net.add_array_sources(1)
    net.arrays.set_times(src_idx, [np.array([10.0, 60.0, 110.0])], 0.0)
    # COO order: synapse 0 -> neuron 0, synapse 1 -> neuron 1
    net.set_synapses(np.r_[src_nodes, src_nodes], idx, np.array([0.01, 0.02]),
                     np.array([1.0, 1.0]), np.zeros(2, dtype=np.int8))
    rid = net.add_record("gsyn_exc", idx, 1)
    net.run(500)                       # first spike arrives at 11.0
    build_calls = []
    original_build = net._build
    net._build = lambda: (build_calls.append(1), original_build())
    net.set_weights(slice(0, 1), np.array([0.0]))     # neuron 0: silenced
    net.set_weights(slice(1, 2), np.array([0.05]))    # neuron 1: stronger
    net.run(500)                       # second spike arrives at 61.0
    net.set_weights(slice(0, 2), np.array([0.03, 0.0]))
    net.run(500)                       # third spike arrives at 111.0
    assert build_calls == [], "set_weights must not rebuild the synapse structure"
    g = net.take_samples(rid)
    step = lambda t: int(round(t / DT))  # noqa: E731
    decay = np.exp(-50.0 / 5.0)
    np.testing.assert_allclose(g[step(11.0)], [0.01, 0.02], rtol=1e-12)
    np.testing.assert_allclose(g[step(61.0)], [0.01 * decay, 0.02 * decay + 0.05], rtol=1e-9)
    np.testing.assert_allclose(g[step(111.0)], [0.01 * decay ** 2 + 0.03,
                                               (0.02 * decay + 0.05) * decay], rtol=1e-9)


def test_reset_restores_initial_state_and_sources():
    net, rid = _source_to_neuron(delay=1.0)
    net.run(300)
    first = net.take_samples(rid, clear=True)
    net.reset()
    assert net.step == 0
    net.run(300)
    np.testing.assert_array_equal(first, net.take_samples(rid))


def test_recording_every_k_steps_subsamples():
    net_a, idx, _ = make_net(i_offset=1.0)
    ra = net_a.add_record("v", idx, 1)
    net_a.run(1000)
    net_b, idx, _ = make_net(i_offset=1.0)
    rb = net_b.add_record("v", idx, 10)
    net_b.run(1000)
    full, sub = net_a.take_samples(ra), net_b.take_samples(rb)
    assert sub.shape == (101, 1)
    np.testing.assert_array_equal(sub, full[::10])


def test_invalid_construction():
    with pytest.raises(ValueError, match="dt"):
        Network(0.0)
    net, idx, _ = make_net()
    with pytest.raises(ValueError, match="foo"):
        net.add_record("foo", idx, 1)
