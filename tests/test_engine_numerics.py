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
