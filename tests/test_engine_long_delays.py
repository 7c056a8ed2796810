"""Long synaptic delays: the engine's dense ring buffer spans a bounded horizon and deliveries
beyond it wait in a far-event queue (``pyNN_bss_emu.engine.kernels.far_push``).

The queue must be invisible in the results: every test here compares a network whose ring is
forced short (``Network.max_ring_steps``) with the same network on a ring spanning all its
delays, bit for bit, or checks an arrival time and conductance jump analytically.  Units: ms,
µS; dt = 0.1 ms.
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from pyNN_bss_emu.engine import Network
from pyNN_bss_emu.engine import network as network_module
from pyNN_bss_emu.engine.kernels import FAR_COUNT, FAR_NEXT_SEQ
from pyNN_bss_emu.engine.sources import stream_keys

DT = 0.1

LIF = dict(cm=1.0, g_l=0.05, e_l=-65.0, v_reset=-65.0, v_thresh=-50.0, v_peak=-50.0,
           tau_syn_E=5.0, tau_syn_I=5.0, e_rev_E=0.0, e_rev_I=-70.0, a=0.0, b=0.0, tau_w=1.0,
           delta_T=0.0, i_offset=0.0, tau_refrac=2.0)
ADEX = dict(LIF, delta_T=2.0, a=0.004, b=0.05, tau_w=100.0, v_peak=-30.0)


def _params(n: int, rng: np.random.Generator, model: dict = LIF) -> dict[str, np.ndarray]:
    p = {k: np.full(n, float(v)) for k, v in model.items()}
    p["i_offset"] = rng.uniform(0.5, 1.0, n)       # nA: tonic firing at ~10-40 Hz
    return p


def _bits(x: np.ndarray) -> bytes:
    return np.ascontiguousarray(x).tobytes()


def assert_bitwise(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for k, (x, y) in enumerate(zip(a, b)):
        assert x.shape == y.shape and x.dtype == y.dtype, k
        if _bits(x) != _bits(y):
            raise AssertionError(f"result {k} differs: max |diff| {np.max(np.abs(x - y))}")


def _source_net(n: int, times: list[float], delay: float, weight: float = 0.01,
                max_ring_steps: int | None = None) -> tuple[Network, np.ndarray]:
    """One spike-array source -> ``n`` neurons (all-to-all), one delay; returns the network
    and the neuron indices."""
    net = Network(DT)
    net.max_ring_steps = max_ring_steps
    idx, _ = net.add_neurons({k: np.full(n, float(v)) for k, v in LIF.items()}, n)
    net.set_initial(idx, "v", np.full(n, -65.0), apply_now=True)
    src_nodes, src_idx = net.add_array_sources(1)
    net.arrays.set_times(src_idx, [np.asarray(times, dtype=float)], 0.0)
    net.set_synapses(np.repeat(src_nodes, n), idx, np.full(n, weight), np.full(n, delay),
                     np.zeros(n, dtype=np.int8))
    return net, idx


def _scenario(max_ring_steps: int | None, stp: bool, seed: int = 3) -> tuple[list, Network]:
    """A recurrent LIF + AdEx network with Poisson and spike-array input, delays 0.1-30 ms
    (both receptors, optionally 40 % Tsodyks-Markram synapses), driven through everything that
    touches input in flight: split runs, set_weights, new neurons and synapses (the ring
    grows), shorter delays (it shrinks), reset() with events pending, and a run after it.
    Returns the spikes and samples of every window, and the network."""
    rng = np.random.default_rng(seed)
    net = Network(DT)
    net.max_ring_steps = max_ring_steps
    i1, n1 = net.add_neurons(_params(50, rng), 50)
    i2, n2 = net.add_neurons(_params(10, rng, ADEX), 10)
    idx = np.r_[i1, i2]
    net.set_initial(idx, "v", rng.uniform(-65.0, -55.0, idx.size), apply_now=True)
    pn, _ = net.add_poisson_sources(stream_keys(5, 0, 20))
    net.poisson.set_parameters(np.arange(20), np.full(20, 40.0), np.zeros(20),
                               np.full(20, 1e9), 0.0)
    an, ai = net.add_array_sources(3)
    net.arrays.set_times(ai, [np.sort(rng.uniform(0.0, 250.0, 15)) for _ in range(3)], 0.0)
    net.spike_flag[idx] = True
    nodes = np.r_[n1, n2, pn, an]
    n_syn = 1500
    pre, post = rng.choice(nodes, n_syn), rng.choice(idx, n_syn)
    weight = rng.uniform(0.0, 0.01, n_syn)
    delay = np.maximum(np.rint(rng.uniform(0.1, 30.0, n_syn) / DT) * DT, DT)
    receptor = (rng.random(n_syn) < 0.25).astype(np.int8)
    stp_par = np.full((n_syn, 3), np.nan)
    if stp:
        pl = rng.random(n_syn) < 0.4
        stp_par[pl] = np.column_stack([rng.uniform(0.1, 0.6, pl.sum()),
                                       rng.uniform(10.0, 200.0, pl.sum()),
                                       rng.uniform(0.0, 100.0, pl.sum())])
    net.set_synapses(pre, post, weight, delay, receptor, stp_par)
    rv = net.add_record("v", idx, 1)
    rg = net.add_record("gsyn_exc", idx[::3], 2)
    ri = net.add_record("gsyn_inh", idx[1::4], 1)
    out = []
    for n_steps in (1234, 1, 265):
        out.extend(net.run(n_steps))
    net.set_weights(slice(0, n_syn // 2), weight[:n_syn // 2] * 1.7)
    out.extend(net.run(500))
    # new neurons with longer delays (the ring grows, with input in flight)
    i3, _ = net.add_neurons(_params(5, rng), 5)
    net.set_initial(i3, "v", np.full(5, -60.0), apply_now=True)
    net.spike_flag[i3] = True
    pre2, post2 = np.r_[pre, rng.choice(nodes, 100)], np.r_[post, rng.choice(i3, 100)]
    delay2 = np.r_[net.syn_delay, np.rint(rng.uniform(0.1, 45.0, 100) / DT) * DT + DT]
    net.set_synapses(pre2, post2, np.r_[net.syn_weight, rng.uniform(0.0, 0.02, 100)],
                     delay2, np.r_[receptor, np.zeros(100, np.int8)],
                     np.r_[stp_par, np.full((100, 3), np.nan)])
    out.extend(net.run(400))
    # shorter delays (the ring shrinks, with input in flight beyond its new length)
    net.set_delays(slice(0, pre2.size), np.maximum(np.rint(delay2 / 4.0 / DT) * DT, DT))
    out.extend(net.run(300))
    out += [net.take_samples(r, clear=True) for r in (rv, rg, ri)]
    net.far_stats = {"queued": int(net._far_meta[FAR_NEXT_SEQ]),      # before reset()
                     "in_flight_at_reset": int(net._far_meta[FAR_COUNT])}
    net.reset()
    for n_steps in (777, 1):
        out.extend(net.run(n_steps))
    out += [net.take_samples(r) for r in (rv, rg, ri)]
    return out, net


@pytest.mark.parametrize("stp", [False, True], ids=["static", "stp"])
@pytest.mark.parametrize("horizon", [2, 3, 16, 101])
def test_far_queue_is_bit_identical_to_a_full_ring(horizon, stp):
    """A ring of ``horizon`` steps + far queue gives exactly the result of a ring spanning
    all delays (up to 450 steps here): same arrival steps, same weights (STP scaled at
    emission), same summation order, through split runs, rebuilds and reset()."""
    dense, net_dense = _scenario(None, stp)
    short, net_short = _scenario(horizon, stp)
    assert net_dense.ring_e.shape[0] > 100          # the reference spans its delays
    assert net_short.ring_e.shape[0] == horizon
    # the queue carried many events and still held some when reset() dropped them
    assert net_short.far_stats["queued"] > 500
    assert net_short.far_stats["in_flight_at_reset"] > 1
    spikes = sum(x.size for x in dense[:2])
    assert spikes > 500                              # a busy network, not a silent one
    assert_bitwise(dense, short)


def test_split_run_equals_one_run_with_events_in_far_queue():
    net_a, idx = _source_net(4, [1.0, 2.05, 7.3, 7.4, 30.0], delay=50.0, max_ring_steps=8)
    ra = net_a.add_record("gsyn_exc", idx, 1)
    net_a.run(1200)
    net_b, idx = _source_net(4, [1.0, 2.05, 7.3, 7.4, 30.0], delay=50.0, max_ring_steps=8)
    rb = net_b.add_record("gsyn_exc", idx, 1)
    in_flight = []
    for n_steps in (11, 1, 300, 97, 1, 790):
        net_b.run(n_steps)
        in_flight.append(int(net_b._far_meta[FAR_COUNT]))
    assert max(in_flight) >= 8                       # several spikes x 4 targets in flight
    assert_bitwise([net_a.take_samples(ra)], [net_b.take_samples(rb)])


@pytest.mark.parametrize("max_ring_steps", [None, 8])
def test_reset_drops_input_in_flight(max_ring_steps):
    """reset() at 30 ms with a spike (10 ms + 50 ms delay) in flight: after it the source
    fires again at 10 ms and its input arrives once at 60 ms, not twice."""
    net, idx = _source_net(3, [10.0], delay=50.0, max_ring_steps=max_ring_steps)
    rid = net.add_record("gsyn_exc", idx, 1)
    net.run(300)
    net.reset()
    net.run(1000)
    g = net.take_samples(rid)
    arrive = int(round(60.0 / DT))
    assert np.all(g[:arrive] == 0.0)
    np.testing.assert_array_equal(g[arrive], 0.01)


def test_coinciding_far_and_ring_inputs_sum_in_emission_order():
    """Inputs of different delays that arrive at one neuron in the same step add up in the
    order they were emitted (float addition is not associative, so this fixes the bits), for
    a ring spanning all delays and for one of 2 steps alike."""
    rng = np.random.default_rng(11)
    n_src = 25
    emit = np.sort(rng.choice(np.arange(1, 400), n_src, replace=False)) * DT   # ms
    arrival = 45.0
    weights = rng.uniform(1e-4, 1e-2, n_src) * np.array([1.0, 1e3, 1e-3, 7.0, 1.0] * 5)
    results = []
    for horizon in (None, 2):
        net = Network(DT)
        net.max_ring_steps = horizon
        idx, _ = net.add_neurons({k: np.full(1, float(v)) for k, v in LIF.items()}, 1)
        nodes, src = net.add_array_sources(n_src)
        net.arrays.set_times(src, [np.array([t]) for t in emit], 0.0)
        net.set_synapses(nodes, np.zeros(n_src, np.int64), weights,
                         np.rint((arrival - emit) / DT) * DT, np.zeros(n_src, np.int8))
        rid = net.add_record("gsyn_exc", idx, 1)
        net.run(int(round(arrival / DT)) + 1)
        results.append(net.take_samples(rid)[int(round(arrival / DT)), 0])
    expected = 0.0
    for w in weights:                  # emission order: the sources' spike times are sorted
        expected += w
    assert results[0] == expected and results[1] == expected


def test_shrinking_delays_keep_input_in_flight_on_time():
    """A spike emitted with a 50 ms delay arrives 50 ms later even if the delays are made
    shorter (and the ring shrinks) while it travels; it is neither lost nor early."""
    net, idx = _source_net(2, [10.0], delay=50.0)
    rid = net.add_record("gsyn_exc", idx, 1)
    net.run(200)                                     # spike emitted at 10 ms, in flight
    net.set_delays(slice(0, 2), np.array([1.0, 1.0]))
    net.run(600)
    g = net.take_samples(rid)[:, 0]
    arrive = int(round(60.0 / DT))
    assert np.all(g[:arrive] == 0.0)
    assert g[arrive] == 0.01


@pytest.mark.parametrize("max_ring_steps", [None, 64])
def test_20_s_delay_arrives_exactly(max_ring_steps):
    """2e4 ms onto 100 neurons (beyond the default ring's horizon of 32 MiB / (16 B x 100)
    = 20971 steps): the conductance jumps by the weight exactly at t_spike + delay."""
    net, idx = _source_net(100, [10.0], delay=2e4, max_ring_steps=max_ring_steps)
    rid = net.add_record("gsyn_exc", idx[[0, 49, 99]], 1)
    arrive = int(round((10.0 + 2e4) / DT))
    net.run(arrive - 1)
    net.run(2)
    assert net.ring_e.shape[0] < 0.2 * arrive
    g = net.take_samples(rid)
    assert g.shape == (arrive + 2, 3)
    assert np.all(g[:arrive] == 0.0)
    np.testing.assert_array_equal(g[arrive], 0.01)
    np.testing.assert_array_equal(g[arrive + 1], 0.01 * np.exp(-DT / 5.0))


def test_5_min_delay_onto_1000_neurons_needs_little_memory():
    """3e5 ms onto 1000 neurons: a ring spanning the delay would need 2 x 3e6 x 1000 x 8 B =
    48 GB; the bounded ring and the far queue need a few tens of MB, and reset() is cheap."""
    tracemalloc.start()
    try:
        net, idx = _source_net(1000, [10.0, 20.0], delay=3e5)
        net.run(500)
        assert net._far_meta[FAR_COUNT] == 2000      # both spikes x 1000 targets in flight
        net.reset()
        net.run(500)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert net.ring_e.nbytes + net.ring_i.nbytes <= network_module.RING_BYTES_MAX
    assert peak < 300e6, f"peak {peak / 1e6:.0f} MB"


def test_default_horizon_and_cap():
    """The ring is never longer than the longest delay + 1 (as before the far queue); it is
    capped by RING_BYTES_MAX, but not below MIN_HORIZON_STEPS."""
    net, _ = _source_net(10, [1.0], delay=5.0)
    net.run(1)
    assert net.ring_e.shape == (51, 10)
    for n, delay, rows in ((1000, 3e5, network_module.RING_BYTES_MAX // (16 * 1000)),
                           (100_000, 3e5, network_module.MIN_HORIZON_STEPS),
                           (100_000, 1.0, 11)):
        net = Network(DT)
        net.n_neurons = n
        assert net._ring_length(int(round(delay / DT))) == rows
