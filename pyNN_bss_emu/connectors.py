"""PyNN connectors, with vectorised fast paths for the common ones.

``AllToAllConnector``, ``OneToOneConnector`` and ``FixedProbabilityConnector`` build all their
connections with numpy in one go when the synapse parameters are constants or random
distributions (no distance expressions); otherwise they fall back to PyNN's generic,
column-by-column implementation.  ``OneToOneConnector`` also works for size-1 populations under
numpy >= 2.1, where PyNN 0.13's version fails ("Calling nonzero on 0d arrays").
"""
from __future__ import annotations

import numpy as np
from pyNN import connectors as _pc
from pyNN.connectors import *  # noqa: F401,F403
from pyNN.random import NumpyRNG, RandomDistribution

# connections generated per block of the FixedProbability connection matrix
_BLOCK_ELEMENTS = 4_000_000


def _fast_parameters(projection, n: int) -> dict | None:
    """Native synapse parameters for ``n`` new connections, or None if any parameter needs
    PyNN's generic evaluation (distance expressions, 2-D arrays, functions)."""
    out = {}
    for name, value in projection.synapse_type.native_parameters.items():
        if getattr(value, "operations", None):
            return None
        base = getattr(value, "base_value", value)
        if base is None:
            out[name] = None
        elif isinstance(base, (int, float, np.integer, np.floating)):
            out[name] = float(base)
        elif isinstance(base, RandomDistribution):
            out[name] = np.asarray(base.next(n), dtype=float).reshape(n) if n else np.zeros(0)
        else:
            return None
    return out


def _same_population(projection) -> bool:
    return projection.pre == projection.post


def _finish(projection, pre: np.ndarray, post: np.ndarray) -> bool:
    params = _fast_parameters(projection, pre.size)
    if params is None:
        return False
    projection._connect_arrays(pre, post, **params)
    return True


class AllToAllConnector(_pc.AllToAllConnector):
    __doc__ = _pc.AllToAllConnector.__doc__

    def connect(self, projection):
        if self.allow_self_connections == "NoMutual" or not hasattr(projection, "_connect_arrays"):
            return super().connect(projection)
        n_pre, n_post = projection.pre.size, projection.post.size
        post, pre = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), n_pre)
        if not self.allow_self_connections and _same_population(projection):
            keep = pre != post
            pre, post = pre[keep], post[keep]
        if not _finish(projection, pre, post):
            super().connect(projection)


class OneToOneConnector(_pc.OneToOneConnector):
    __doc__ = _pc.OneToOneConnector.__doc__

    def connect(self, projection):
        if projection.pre.size != projection.post.size:
            raise _pc.errors.InvalidDimensionsError(
                "OneToOneConnector needs presynaptic and postsynaptic populations of the same "
                f"size, got {projection.pre.size} and {projection.post.size}")
        idx = np.arange(projection.pre.size, dtype=np.int64)
        if hasattr(projection, "_connect_arrays") and _finish(projection, idx, idx.copy()):
            return
        if projection.pre.size == 1:
            # PyNN's map connector fails on 1x1 maps with numpy >= 2.1; connect directly
            params = {name: (value.evaluate() if hasattr(value, "evaluate") else value)
                      for name, value in projection.synapse_type.native_parameters.items()}
            params = {k: np.atleast_1d(v)[:1] for k, v in params.items() if v is not None}
            projection._convergent_connect(idx, 0, **params)
            return
        super().connect(projection)


class FixedProbabilityConnector(_pc.FixedProbabilityConnector):
    __doc__ = _pc.FixedProbabilityConnector.__doc__

    def connect(self, projection):
        if (self.allow_self_connections == "NoMutual" or not isinstance(self.rng, NumpyRNG)
                or not hasattr(projection, "_connect_arrays")):
            return super().connect(projection)
        n_pre, n_post = projection.pre.size, projection.post.size
        block = max(1, _BLOCK_ELEMENTS // max(n_pre, 1))
        pres, posts = [], []
        for j0 in range(0, n_post, block):
            j1 = min(n_post, j0 + block)
            u = self.rng.next((j1 - j0) * n_pre, "uniform", {"low": 0.0, "high": 1.0})
            hit = np.flatnonzero(np.asarray(u).reshape(j1 - j0, n_pre) < self.p_connect)
            col, row = np.divmod(hit, n_pre)
            pres.append(row)
            posts.append(col + j0)
        pre = np.concatenate(pres).astype(np.int64)
        post = np.concatenate(posts).astype(np.int64)
        if not self.allow_self_connections and _same_population(projection):
            keep = pre != post
            pre, post = pre[keep], post[keep]
        if not _finish(projection, pre, post):
            super().connect(projection)
