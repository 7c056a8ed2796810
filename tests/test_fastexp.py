"""The engine's vectorisable exp (engine/fastexp.py) against libm's."""
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
