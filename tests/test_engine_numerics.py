"""Numerics of the engine's fast paths: the vectorisable exp (engine/fastexp.py) against libm's,
and conductances that decay for seconds without input (no subnormal floats)."""
import numpy as np
import pytest
from numba import njit

from pyNN_bss_emu.engine.fastexp import EXP_ARG_MIN, exp_vec


@njit(cache=False)
def _exp_all(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = exp_vec(x[i])
    return out


def _ulps(a, b):
    """Distance in units of the last place (both positive, normal)."""
    return np.abs(a.view(np.int64) - b.view(np.int64))


def test_within_one_ulp_of_libm_over_the_decay_range():
    rng = np.random.default_rng(3)
    x = np.concatenate([
        -rng.uniform(0.0, 1e-6, 20000),          # tiny arguments (dt / tau of slow neurons)
        -rng.uniform(0.0, 1.0, 20000),           # typical g dt / C
        -rng.uniform(0.0, 708.0, 20000),         # the whole range down to subnormals
        rng.uniform(0.0, 700.0, 5000),           # positive arguments work as well
        -np.log(2.0) * np.arange(0, 1020),       # exact powers of two, k at the boundaries
        [0.0, -0.5 * np.log(2.0), 0.5 * np.log(2.0)],
    ])
    got = _exp_all(x)
    assert np.max(_ulps(got, np.exp(x))) <= 1
    assert _exp_all(np.array([0.0]))[0] == 1.0


def test_arguments_below_the_range_give_the_smallest_value_not_garbage():
    got = _exp_all(np.array([-708.0, -709.0, -1e4, -np.inf]))
    assert np.all(got == pytest.approx(np.exp(EXP_ARG_MIN), rel=1e-15))
    assert np.all(got > 0.0) and np.all(np.isfinite(got))


def test_the_loop_is_vectorised():
    """The reason the function exists: a loop over it compiles to packed (SIMD) arithmetic."""
    x = -np.linspace(0.0, 3.0, 64)
    _exp_all(x)
    asm = _exp_all.inspect_asm(_exp_all.signatures[0])
    assert "vmulpd" in asm or "mulpd" in asm


def test_conductances_decaying_for_seconds_end_at_zero_not_subnormal():
    """A conductance left alone decays by exp(-dt/tau) per step and would become a subnormal
    float after ~3.5 s (tau_syn 5 ms): every operation on one costs ~100x more.  The engine
    sets it to 0 below 1e-300 µS instead; before that it decays as it should."""
    import pyNN.bss_emu as sim
    sim.setup(timestep=0.1, ideal=True)
    cells = sim.Population(2, sim.IF_cond_exp(tau_syn_E=5.0, tau_syn_I=5.0))
    src = sim.Population(1, sim.SpikeSourceArray(spike_times=[1.0]))
    sim.Projection(src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01, delay=1.0),
                   receptor_type="excitatory")
    cells.record("gsyn_exc", sampling_interval=1.0)
    sim.run(5000.0)
    g = cells.get_data().segments[0].filter(name="gsyn_exc")[0].magnitude[:, 0]   # µS
    peak = int(np.argmax(g))
    assert g[peak] == pytest.approx(0.01, rel=1e-12)
    # one time constant after the peak: exp(-1) of it, still exactly the analytical decay
    assert g[peak + 5] == pytest.approx(0.01 * np.exp(-1.0), rel=1e-9)
    tiny = (g > 0.0) & (g < np.finfo(float).tiny)
    assert not tiny.any()
    assert g[-1] == 0.0
    sim.end()


def test_counting_order_is_the_stable_sort_of_the_synapses_by_source():
    """The CSR build sorts millions of synapses by presynaptic node with a counting sort; it
    must be exactly numpy's stable argsort (the delivery order fixes the summation order)."""
    from pyNN_bss_emu.engine.kernels import counting_order
    rng = np.random.default_rng(5)
    for n, k in [(0, 1), (1, 1), (17, 3), (50_000, 977), (200_000, 5)]:
        keys = rng.integers(0, k, n)
        order, counts = counting_order(keys, k)
        assert np.array_equal(order, np.argsort(keys, kind="stable"))
        assert np.array_equal(counts, np.bincount(keys, minlength=k))


def _random_lif_state(n, seed):
    from pyNN_bss_emu.engine import kernels as K
    rng = np.random.default_rng(seed)
    p = np.zeros((K.N_PARAMS, n))
    p[K.P_CM] = rng.uniform(0.1, 0.3, n)
    p[K.P_GL] = rng.uniform(0.005, 0.02, n)
    p[K.P_EL] = rng.uniform(-70, -60, n)
    p[K.P_VRESET] = -65.0
    p[K.P_VTHRESH] = p[K.P_VPEAK] = -52.0
    p[K.P_TAUE], p[K.P_TAUI] = rng.uniform(2, 8, n), rng.uniform(5, 12, n)
    p[K.P_EE], p[K.P_EI] = 0.0, -80.0
    D = K.decay_factors(p, 0.1)
    state = dict(v=rng.uniform(-66, -50, n), w=np.zeros(n), ge=rng.uniform(0, 0.05, n),
                 gi=rng.uniform(0, 0.05, n), refrac=rng.integers(0, 3, n) * (rng.random(n) < 0.3),
                 i_ext=rng.uniform(-0.1, 0.3, n))
    return p, D, np.full(n, 20, dtype=np.int64), state


@pytest.mark.parametrize("n", [1, 7, 64, 203])
def test_vectorised_lif_passes_equal_the_per_neuron_path_bit_for_bit(n):
    """The SIMD passes (all neurons LIF) and the per-neuron path (used when AdEx neurons are
    present) must compute every neuron identically, spikes and state to the last bit: both
    compile with the same fast-math contraction, and MPI's bit-identity across rank counts
    relies on it (a rank's range ends where the vector loop hands over to its scalar rest)."""
    from pyNN_bss_emu.engine import kernels as K
    p, D, ref, st = _random_lif_state(n, seed=n)
    results = []
    for all_lif in (True, False):
        s = {k: v.copy() for k, v in st.items()}
        ring_e = np.zeros((4, n)); ring_i = np.zeros((4, n))
        ring_e[1] = 0.01; ring_i[1] = 0.02
        spiked = np.zeros(n, dtype=np.bool_)
        spike_list = np.empty(n, dtype=np.int64)
        idx = np.arange(n, dtype=np.int64)
        lists = []
        for step in range(40):
            m = K._update_neurons((step + 1) % 4, 0.1, p, D, all_lif,
                                  np.array([[0, n]], dtype=np.int64), idx,
                                  np.zeros(0, dtype=np.int64), idx, ref, s["v"], s["w"],
                                  s["ge"], s["gi"], s["refrac"], s["i_ext"], ring_e, ring_i,
                                  spiked, spike_list)
            assert np.array_equal(spike_list[:m], np.flatnonzero(spiked))
            lists.append(spike_list[:m].copy())
            ring_e[(step + 1) % 4] = 0.004 * (step % 3)     # some input every few steps
        results.append((s, lists))
    (a, la), (b, lb) = results
    for key in ("v", "ge", "gi", "refrac"):
        assert np.array_equal(a[key], b[key]), key
    assert all(np.array_equal(x, y) for x, y in zip(la, lb))
    assert sum(x.size for x in la) > 0          # the test exercises spikes at all
