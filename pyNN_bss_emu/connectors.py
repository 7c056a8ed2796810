"""PyNN connectors, with vectorised fast paths for the common ones.

``AllToAllConnector``, ``OneToOneConnector``, ``FixedProbabilityConnector`` and the list
connectors build all their connections with numpy in one go when the synapse parameters are constants or random
distributions (no distance expressions); otherwise they fall back to PyNN's generic,
column-by-column implementation.  ``OneToOneConnector`` also works for size-1 populations under
numpy >= 2.1, where PyNN 0.13's version fails ("Calling nonzero on 0d arrays"), and the list
connectors reject out-of-range indices (PyNN silently drops bad postsynaptic ones).
"""
from __future__ import annotations

import numpy as np
from pyNN import connectors as _pc
from pyNN import errors
from pyNN.connectors import *  # noqa: F401,F403
from pyNN.parameters import LazyArray
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
            raise errors.InvalidDimensionsError(
                "OneToOneConnector needs presynaptic and postsynaptic populations of the same "
                f"size, got {projection.pre.size} and {projection.post.size}")
        idx = np.arange(projection.pre.size, dtype=np.int64)
        if hasattr(projection, "_connect_arrays") and _finish(projection, idx, idx.copy()):
            return
        # PyNN's map of ``i == j`` evaluates to a 0-d array for 1x1 projections, which numpy
        # >= 2.1 refuses to ``nonzero()``; an explicit identity matrix keeps its columns 1-d
        n = projection.pre.size
        self._connect_with_map(projection, LazyArray(np.eye(n, dtype=bool), shape=(n, n)))


class _CheckedListMixin:
    """Validates every index of a connection list before connecting, and connects lists
    whose other synapse parameters are simple in one vectorised step."""

    def connect(self, projection):
        conn = np.asarray(self.conn_list, dtype=float)
        if conn.size == 0:
            return _pc.FromListConnector.connect(self, projection)
        if conn.ndim != 2 or conn.shape[1] < 2:
            raise errors.ConnectionError(
                f"connection list must have rows (pre, post, ...), got shape {conn.shape}")
        for col, side, pop in ((0, "presynaptic", projection.pre),
                               (1, "postsynaptic", projection.post)):
            idx = conn[:, col]
            bad = (idx != np.round(idx)) | (idx < 0) | (idx >= pop.size)
            if np.any(bad):
                row = int(np.flatnonzero(bad)[0])
                raise errors.ConnectionError(
                    f"{type(self).__name__}: {side} index {idx[row]:g} in row {row} is out of "
                    f"range for population '{pop.label}' of size {pop.size} "
                    f"(allowed 0..{pop.size - 1})")
        allowed = projection.synapse_type.get_parameter_names()
        for name in self.column_names:
            if name not in allowed:
                raise errors.NonExistentParameterError(
                    name, type(projection.synapse_type).__name__, list(allowed))
        if hasattr(projection, "_connect_arrays"):
            names = list(self.column_names)
            pre = conn[:, 0].astype(np.int64)
            post = conn[:, 1].astype(np.int64)
            params = _fast_parameters(projection, pre.size)
            if params is not None:
                for k, name in enumerate(names):
                    params[name] = conn[:, 2 + k]
                projection._connect_arrays(pre, post, **params)
                return
        _pc.FromListConnector.connect(self, projection)


class FromListConnector(_CheckedListMixin, _pc.FromListConnector):
    __doc__ = _pc.FromListConnector.__doc__


class FromFileConnector(_CheckedListMixin, _pc.FromFileConnector):
    __doc__ = _pc.FromFileConnector.__doc__

    def connect(self, projection):
        # read the file as PyNN does, then validate and connect like a list
        if self.distributed:
            self.file.rename(f"{self.file.name}.{projection._simulator.state.mpi_rank}")
        self.column_names = [c for c in self.file.get_metadata().get("columns",
                                                                      ("weight", "delay"))
                             if c not in ("i", "j")]
        self.conn_list = self.file.read()
        _CheckedListMixin.connect(self, projection)


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
