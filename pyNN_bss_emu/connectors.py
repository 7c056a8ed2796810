"""PyNN connectors, with vectorised fast paths that build exactly PyNN's connections.

The fast paths give the same connections, in the same order and with the same random weights
and delays, as PyNN's generic column-by-column implementation (which ``pyNN.mock`` and
``pyNN.nest`` use), so that a seeded script builds the same network on every backend.
"The same" includes PyNN's random-number semantics, which are subtle:

* The probabilistic connectors (``FixedProbability``, ``DistanceDependentProbability``,
  ``IndexBasedProbability``, ``DisplacementDependentProbability``) draw from a *deep copy* of
  the connector's RNG (lazyarray copies the random map in ``random_map < p``): the RNG never
  advances, and a connector used for several projections draws the same numbers for each.
  The draws are ``n_pre`` uniforms per postsynaptic cell, column after column.
* Random synapse parameters (weights, delays, ...) draw from copies as well
  (``synapse_type.native_parameters`` is a deep copy, one independent copy per parameter),
  for the connections of each column in turn; ``FromListConnector`` even restarts the copy
  for every postsynaptic cell.
* The fixed-number connectors draw from the connector's RNG itself, per cell
  (``uniform_int`` draws, or a permutation per cell without replacement).

numpy's legacy ``RandomState`` behind ``NumpyRNG`` is frozen (NEP 19), so its streams can be
reproduced: drawing ``n`` values in one call equals drawing them in pieces (except for
``normal_clipped``, whose redraws follow each call), and bounded integers consume the
Mersenne Twister's 32-bit words by masked rejection, which small compiled kernels below replay
on a copy of the generator — for PyNN's one-at-a-time draws (redraws of excluded cells, the
alternating draws of ``FixedTotalNumber``) — before advancing the real one by exactly the words
used.  Permutations (fixed numbers without replacement) are drawn with PyNN's own calls, one per
cell: numpy's C shuffle is as fast as a replay would be.

Fast paths: ``AllToAll``, ``OneToOne``, ``FixedProbability``, ``FixedNumberPre``,
``FixedNumberPost``, ``FixedTotalNumber``, ``FromList``/``FromFile``, ``Array`` and ``Clone``,
whenever the RNGs are ``NumpyRNG`` and the synapse parameters are constants or random
distributions.  Everything else (distance expressions, other RNGs, the distance- and
index-based connectors, the rare cases listed in the classes) uses PyNN's generic path.
Self-connections are judged as PyNN judges them: by cell identity (IDs) for views and
assemblies.

Deliberate differences from PyNN 0.13: ``OneToOneConnector`` refuses populations of different
sizes and works for size-1 populations under numpy >= 2.1 (PyNN fails: "Calling nonzero on 0d
arrays"); the list connectors reject out-of-range indices (PyNN silently drops bad
postsynaptic ones).
"""
from __future__ import annotations

import os

from copy import deepcopy
from numbers import Integral, Real

import numpy as np
from numba import njit
from pyNN import connectors as _pc
from pyNN import errors
from pyNN.common import Population
from pyNN.connectors import *  # noqa: F401,F403
from pyNN.parameters import LazyArray
from pyNN.random import NumpyRNG, RandomDistribution

# uniforms drawn per block of the FixedProbability connection matrix (bounds the memory)
_BLOCK_ELEMENTS = 4_000_000
# 32-bit words drawn per call when advancing a generator (bounds the memory)
_SKIP_BLOCK = 1 << 22
# distributions of the number of connections whose values are integers (others make PyNN fail)
_INTEGER_DISTRIBUTIONS = ("uniform_int", "binomial", "poisson")


# ------------------------------------------------------------------ random streams
def _is_numpy_rng(rng) -> bool:
    """True for PyNN's ``NumpyRNG`` around numpy's legacy ``RandomState``: the generator
    whose streams we reproduce (a subclass might draw differently)."""
    return type(rng) is NumpyRNG and isinstance(getattr(rng, "rng", None),
                                                 np.random.RandomState)


def _raw_words(state: np.random.RandomState, n: int) -> np.ndarray:
    """The next ``n`` 32-bit outputs of the Mersenne Twister behind ``state``: a request for
    the full uint32 range is passed through unmasked by numpy's bounded-integer code."""
    return state.randint(0, 2 ** 32, size=n, dtype=np.uint32)


def _skip_words(state: np.random.RandomState, n: int) -> None:
    """Advance ``state`` by ``n`` 32-bit words, in blocks to bound the memory."""
    while n > 0:
        k = min(n, _SKIP_BLOCK)
        _raw_words(state, k)
        n -= k


def _replay(rng: NumpyRNG, kernel, estimate: float, *args) -> bool:
    """Run ``kernel(words, *args)`` on the raw words that ``rng`` would deliver next and, if
    it succeeds, advance ``rng`` by the words it consumed.

    The kernel returns the number of words used, -1 if it needs more words (we then give it
    a longer stream and run it again) or -2 if it met a case it leaves to PyNN; the words come
    from a copy, so nothing has been drawn from ``rng`` when this returns False."""
    probe = deepcopy(rng.rng)
    words = _raw_words(probe, max(1024, int(estimate)))
    while True:
        used = kernel(words, *args)
        if used == -2:
            return False
        if used >= 0:
            _skip_words(rng.rng, used)
            return True
        words = np.concatenate([words, _raw_words(probe, words.size)])


@njit(cache=True)
def _word_mask(r):
    """numpy's mask for a draw in [0, r]: the smallest 2**k - 1 >= r."""
    m = 0
    while m < r:
        m = (m << 1) | 1
    return m


@njit(cache=True)
def _bounded(words, k, r, m):
    """numpy's legacy masked rejection: the first word from position ``k`` whose low bits
    (mask ``m``) are <= ``r``.  Returns (value, next position), value -1 if words ran out."""
    while k < words.size:
        v = words[k] & m
        k += 1
        if v <= r:
            return v, k
    return -1, k


@njit(cache=True)
def _excluding_kernel(words, counts, size, excluded, out):
    """Per cell ``c``: ``FixedNumberConnector._rng_uniform_int_exclude(counts[c], size,
    excluded[c])``: ``counts[c]`` draws in [0, size), then one redraw, in one call, for the
    draws equal to the excluded index.  If a redraw hits the excluded index again, PyNN's code
    indexes the positions to redraw wrongly (and may raise IndexError); we return -2 and leave
    that rare case to it."""
    r = size - 1
    m = _word_mask(r)
    k = 0
    o = 0
    for c in range(counts.size):
        n = counts[c]
        ex = excluded[c]
        for t in range(n):
            v, k = _bounded(words, k, r, m)
            if v < 0:
                return -1
            out[o + t] = v
        for t in range(n):
            if out[o + t] == ex:
                v, k = _bounded(words, k, r, m)
                if v < 0:
                    return -1
                if v == ex:
                    return -2
                out[o + t] = v
        o += n
    return k


@njit(cache=True)
def _pairs_kernel(words, n_pairs, size_a, size_b, out_a, out_b):
    """``n_pairs`` alternating draws in [0, size_a) and [0, size_b) (``FixedTotalNumber``:
    ``rng.next(1, 'uniform_int')`` then ``rng.choice``); a range of one draws nothing."""
    ra, rb = size_a - 1, size_b - 1
    ma, mb = _word_mask(ra), _word_mask(rb)
    k = 0
    for i in range(n_pairs):
        a, b = 0, 0
        if ra > 0:
            a, k = _bounded(words, k, ra, ma)
            if a < 0:
                return -1
        if rb > 0:
            b, k = _bounded(words, k, rb, mb)
            if b < 0:
                return -1
        out_a[i] = a
        out_b[i] = b
    return k


def _words_per_draw(size: int) -> float:
    """Expected 32-bit words per masked draw in [0, size)."""
    return 0.0 if size <= 1 else (int(_word_mask(size - 1)) + 1) / size


def _margin(expected: float) -> float:
    """A stream length that rarely needs extending (mean + 6 sigma + slack)."""
    return 1.02 * expected + 6.0 * np.sqrt(expected) + 1024


# ------------------------------------------------------------------ synapse parameters
def _parameter_plan(projection) -> dict | None:
    """The projection's native synapse parameters as PyNN's generic path sees them — constants,
    or random distributions drawing from their own copies of their RNGs (``native_parameters``
    deep-copies each one) — or None if a parameter needs PyNN's evaluation (distance
    expressions, arrays, functions, other RNGs).  Call it where PyNN copies the parameters:
    for connectors that draw from their own RNG the copy's state depends on the moment."""
    out = {}
    for name, value in projection.synapse_type.native_parameters.items():
        if getattr(value, "operations", None):
            return None
        base = getattr(value, "base_value", value)
        if base is None:
            out[name] = None
        elif isinstance(base, (Real, np.integer, np.floating)) and not isinstance(base, bool):
            out[name] = float(base)
        elif isinstance(base, RandomDistribution) and _is_numpy_rng(base.rng):
            out[name] = base
        else:
            return None
    return out


def _clipped_redraws(dist: RandomDistribution, n: int) -> bool:
    """Whether ``n`` draws of a ``normal_clipped`` distribution, in one call, would redraw
    any value (checked on a copy of its generator)."""
    p = dist.parameters
    probe = deepcopy(dist.rng.rng).normal(loc=p["mu"], scale=p["sigma"], size=n)
    return bool(np.any((probe > p["high"]) | (probe < p["low"])))


def _draw_by_column(dist: RandomDistribution, counts: np.ndarray) -> np.ndarray:
    """Values for connections grouped by column (``counts`` per column), as PyNN draws them:
    one ``next(count)`` per non-empty column, which equals one call for all of them unless
    a ``normal_clipped`` draw is redrawn (redraws follow each call)."""
    n = int(counts.sum())
    if n == 0:
        return np.zeros(0)
    if dist.name == "normal_clipped" and _clipped_redraws(dist, n):
        return np.concatenate([np.asarray(dist.next(int(c)), dtype=float).reshape(int(c))
                               for c in counts if c])
    return np.asarray(dist.next(n), dtype=float).reshape(n)


def _draw_restarting(dist: RandomDistribution, counts: np.ndarray) -> np.ndarray:
    """Values for connections grouped by column when every column draws from a fresh copy of
    the distribution (``FromListConnector``): the k-th connection of a column gets the k-th
    value of the stream."""
    n = int(counts.sum())
    if n == 0:
        return np.zeros(0)
    starts = np.cumsum(counts) - counts
    rank = np.arange(n) - np.repeat(starts, counts)
    if dist.name != "normal_clipped":
        return np.asarray(deepcopy(dist).next(int(counts.max())), dtype=float)[rank]
    # a clipped stream depends on the length drawn: one draw per distinct column length
    out = np.empty(n)
    length = np.repeat(counts, counts)
    for c in np.unique(counts[counts > 0]):
        values = np.asarray(deepcopy(dist).next(int(c)), dtype=float).reshape(int(c))
        sel = length == c
        out[sel] = values[rank[sel]]
    return out


def _connect(projection, plan: dict, pre: np.ndarray, post: np.ndarray,
             restart: bool = False, given: dict | None = None) -> None:
    """Hand the connections (in PyNN's order: by column, then as PyNN lists the sources)
    with their parameters to the projection in one step."""
    counts = np.bincount(post, minlength=projection.post.size) if post.size else \
        np.zeros(projection.post.size, dtype=np.int64)
    params = {}
    for name, value in plan.items():
        if given and name in given:
            params[name] = given[name]
        elif isinstance(value, RandomDistribution):
            params[name] = (_draw_restarting if restart else _draw_by_column)(value, counts)
        else:
            params[name] = value
    projection._connect_arrays(pre, post, **params)


def _by_column(pre: np.ndarray, post: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connections drawn row by row, reordered column by column (stable, as PyNN appends
    each row's sources to the lists of its targets)."""
    order = np.argsort(post, kind="stable")
    return pre[order], post[order]


# ------------------------------------------------------------------ self-connections
def _same_population(projection) -> bool:
    """PyNN's test for the cheap self-connection maps: one and the same Population."""
    return (isinstance(projection.pre, Population) and isinstance(projection.post, Population)
            and projection.pre == projection.post)


def _self_connection_filter(connector, projection, pre: np.ndarray,
                            post: np.ndarray) -> np.ndarray | None:
    """Which candidate connections ``allow_self_connections`` keeps, as PyNN's maps judge it:
    False drops pairs of the same cell (by ID, so overlapping views and assemblies are judged
    right), 'NoMutual' keeps pre > post within one Population.  None: keep all."""
    allow = connector.allow_self_connections
    if allow == "NoMutual":
        return pre > post
    if allow:
        return None
    if _same_population(projection):
        return pre != post                           # same answer, no gathers
    pre_ids = np.asarray(projection.pre.all_cells, dtype=np.int64)
    post_ids = np.asarray(projection.post.all_cells, dtype=np.int64)
    return pre_ids[pre] != post_ids[post]


def _no_mutual_supported(connector, projection) -> bool:
    """PyNN implements 'NoMutual' only within one Population (elsewhere it raises)."""
    return connector.allow_self_connections != "NoMutual" or _same_population(projection)


def _can_connect_arrays(connector, projection) -> bool:
    return hasattr(projection, "_connect_arrays") and \
        getattr(connector, "location_selector", None) is None


def _fast_rng(rng) -> bool:
    """A connector RNG we can reproduce (parallel-safe: PyNN then iterates over all columns,
    the non-parallel-safe path has cases of its own)."""
    return _is_numpy_rng(rng) and rng.parallel_safe


# ------------------------------------------------------------------ map connectors
class AllToAllConnector(_pc.AllToAllConnector):
    __doc__ = _pc.AllToAllConnector.__doc__

    def connect(self, projection):
        plan = _parameter_plan(projection) if _can_connect_arrays(self, projection) else None
        if plan is None:
            return super().connect(projection)
        n_pre, n_post = projection.pre.size, projection.post.size
        post, pre = np.divmod(np.arange(n_pre * n_post, dtype=np.int64), n_pre)
        keep = _self_connection_filter(self, projection, pre, post)
        if keep is not None:
            pre, post = pre[keep], post[keep]
        _connect(projection, plan, pre, post)


class OneToOneConnector(_pc.OneToOneConnector):
    __doc__ = _pc.OneToOneConnector.__doc__

    def connect(self, projection):
        if projection.pre.size != projection.post.size:
            raise errors.InvalidDimensionsError(
                "OneToOneConnector needs presynaptic and postsynaptic populations of the same "
                f"size, got {projection.pre.size} and {projection.post.size}")
        plan = _parameter_plan(projection) if _can_connect_arrays(self, projection) else None
        if plan is not None:
            idx = np.arange(projection.pre.size, dtype=np.int64)
            return _connect(projection, plan, idx, idx.copy())
        # PyNN's map of ``i == j`` evaluates to a 0-d array for 1x1 projections, which numpy
        # >= 2.1 refuses to ``nonzero()``; an explicit identity matrix keeps its columns 1-d
        n = projection.pre.size
        self._connect_with_map(projection, LazyArray(np.eye(n, dtype=bool), shape=(n, n)))


class FixedProbabilityConnector(_pc.FixedProbabilityConnector):
    __doc__ = _pc.FixedProbabilityConnector.__doc__

    def connect(self, projection):
        plan = None
        if (_can_connect_arrays(self, projection) and _fast_rng(self.rng)
                and _no_mutual_supported(self, projection)):
            plan = _parameter_plan(projection)
        if plan is None:
            return super().connect(projection)
        # PyNN compares a deep copy of the random map with p: the connector's RNG stays put
        rng = deepcopy(self.rng)
        n_pre, n_post = projection.pre.size, projection.post.size
        block = max(1, _BLOCK_ELEMENTS // max(n_pre, 1))
        pres, posts = [], []
        for j0 in range(0, n_post, block):
            j1 = min(n_post, j0 + block)
            # n_pre uniforms per column, column after column, as PyNN evaluates the map
            u = rng.next((j1 - j0) * n_pre, "uniform", {"low": 0, "high": 1})
            hit = np.flatnonzero(np.asarray(u).reshape(j1 - j0, n_pre) < self.p_connect)
            col, row = np.divmod(hit, n_pre)
            pres.append(row)
            posts.append(col + j0)
        pre = np.concatenate(pres).astype(np.int64) if pres else np.zeros(0, np.int64)
        post = np.concatenate(posts).astype(np.int64) if posts else np.zeros(0, np.int64)
        keep = _self_connection_filter(self, projection, pre, post)
        if keep is not None:
            pre, post = pre[keep], post[keep]
        _connect(projection, plan, pre, post)


class _BooleanMapMixin:
    """Connect the True entries of a boolean (pre x post) matrix, column by column."""

    def _connect_boolean(self, projection, matrix) -> bool:
        matrix = np.asarray(matrix)
        plan = _parameter_plan(projection) if _can_connect_arrays(self, projection) else None
        if plan is None or matrix.dtype != bool or matrix.shape != projection.shape:
            return False
        post, pre = np.nonzero(matrix.T)
        _connect(projection, plan, pre.astype(np.int64), post.astype(np.int64))
        return True


class ArrayConnector(_BooleanMapMixin, _pc.ArrayConnector):
    __doc__ = _pc.ArrayConnector.__doc__

    def connect(self, projection):
        # PyNN reads a non-boolean matrix's columns as index lists: leave those to it
        if not self._connect_boolean(projection, self.array):
            super().connect(projection)


class CloneConnector(_BooleanMapMixin, _pc.CloneConnector):
    __doc__ = _pc.CloneConnector.__doc__

    def connect(self, projection):
        ref = self.reference_projection
        if projection.pre != ref.pre or projection.post != ref.post:
            return super().connect(projection)      # PyNN's error message
        matrix = ~np.isnan(ref.get(["weight"], "array", gather="all")[0])
        if not self._connect_boolean(projection, matrix):
            super().connect(projection)


# ------------------------------------------------------------------ fixed-number connectors
class _FixedNumberMixin:
    """Shared checks of the fixed-number fast paths."""

    def _fast_ok(self, projection) -> bool:
        """Whether the fast path reproduces PyNN here; decided before anything is drawn."""
        if not (_can_connect_arrays(self, projection) and _fast_rng(self.rng)):
            return False
        if projection.pre.size == 0 or projection.post.size == 0:
            return False
        n = self.n
        if isinstance(n, RandomDistribution) and not (
                _is_numpy_rng(n.rng) and n.name in _INTEGER_DISTRIBUTIONS):
            return False
        return _parameter_plan(projection) is not None

    def _excluding(self, projection) -> bool:
        """PyNN's condition for excluding index i from cell i's partners (by position, only
        when pre and post are equal; 'NoMutual' counts as allowing self-connections)."""
        return not self.allow_self_connections and projection.pre == projection.post

    def _pick(self, counts: np.ndarray, size: int, exclude: bool) -> np.ndarray | None:
        """The partners of each cell (``counts`` per cell, candidates 0..size-1, cell c's own
        index excluded if ``exclude``), drawn from ``self.rng`` exactly as PyNN draws them
        (without replacement: every allowed cell ``n // n_allowed`` times, then the first
        ``n % n_allowed`` of a permutation); None (nothing drawn) if PyNN must do it."""
        counts = np.asarray(counts, dtype=np.int64)
        total = int(counts.sum())
        excluded = np.arange(counts.size, dtype=np.int64) if exclude else \
            np.full(counts.size, -1, dtype=np.int64)
        out = np.empty(total, dtype=np.int64)
        if self.with_replacement:
            if not exclude:
                # one call gives the same draws as one call per cell
                return np.asarray(self.rng.next(total, "uniform_int",
                                                {"low": 0, "high": size}, mask=None),
                                  dtype=np.int64).reshape(total) if total else out
            if size <= 1:
                return None                          # PyNN redraws forever
            est = total * (1.0 + 2.0 / size) * _words_per_draw(size)
            ok = _replay(self.rng, _excluding_kernel, _margin(est), counts, size, excluded, out)
            return out if ok else None
        length = size - 1 if exclude else size
        if length <= 0 or np.any(counts == 0):
            return None                 # PyNN divides by zero / fails on np.hstack of nothing
        # a permutation per cell, as PyNN draws it (numpy's C shuffle is as fast as a replay)
        cells = np.arange(size, dtype=np.int64)
        o = 0
        for c, n in enumerate(counts.tolist()):
            allowed = cells[cells != c] if exclude else cells
            full, rem = divmod(n, length)
            if full:
                out[o:o + full * length] = np.tile(allowed, full)
                o += full * length
            if rem:
                out[o:o + rem] = self.rng.permutation(allowed)[:rem]
                o += rem
        return out


class FixedNumberPreConnector(_FixedNumberMixin, _pc.FixedNumberPreConnector):
    __doc__ = _pc.FixedNumberPreConnector.__doc__

    def connect(self, projection):
        if isinstance(self.n, Integral):
            _check_connection_count(type(self).__name__, projection, int(self.n) *
                                    projection.post.size)
        if not self._fast_ok(projection):
            return super().connect(projection)
        n_post, n_pre = projection.post.size, projection.pre.size
        exclude = self._excluding(projection)
        if isinstance(self.n, RandomDistribution):
            # peek at the numbers on a copy: a zero without replacement makes PyNN fail, and
            # then nothing must have been drawn
            counts = np.asarray(deepcopy(self.n).next(n_post), dtype=np.int64).reshape(n_post)
            if not self.with_replacement and np.any(counts == 0):
                return super().connect(projection)
        else:
            counts = np.full(n_post, self.n, dtype=np.int64)
        # PyNN copies the synapse parameters before its generator draws anything, then draws
        # the numbers (possibly from the connector's generator) and then the sources
        plan = _parameter_plan(projection)
        saved = self.n.rng.rng.get_state() if isinstance(self.n, RandomDistribution) else None
        if saved is not None:
            self.n.next(n_post)                      # the real draw (the values peeked at)
        pre = self._pick(counts, n_pre, exclude)
        if pre is None:
            # no source was drawn; undo the numbers too, and let PyNN do it all
            if saved is not None:
                self.n.rng.rng.set_state(saved)
            return super().connect(projection)
        post = np.repeat(np.arange(n_post, dtype=np.int64), counts)
        _connect(projection, plan, pre, post)


class FixedNumberPostConnector(_FixedNumberMixin, _pc.FixedNumberPostConnector):
    __doc__ = _pc.FixedNumberPostConnector.__doc__

    def _fast_ok(self, projection) -> bool:
        # PyNN draws each cell's number just before its targets: one generator for both
        # would interleave the streams
        if isinstance(self.n, RandomDistribution) and getattr(self.n.rng, "rng", None) is \
                getattr(self.rng, "rng", None):
            return False
        return super()._fast_ok(projection)

    def connect(self, projection):
        if isinstance(self.n, Integral):
            _check_connection_count(type(self).__name__, projection, int(self.n) *
                                    projection.pre.size)
        if not self._fast_ok(projection):
            return super().connect(projection)
        n_pre, n_post = projection.pre.size, projection.post.size
        exclude = self._excluding(projection)
        if isinstance(self.n, RandomDistribution):
            # one number per presynaptic cell (PyNN: one next() each, the same values)
            counts = np.asarray(deepcopy(self.n).next(n_pre), dtype=np.int64).reshape(n_pre)
            if not self.with_replacement and np.any(counts == 0):
                return super().connect(projection)
        else:
            counts = np.full(n_pre, self.n, dtype=np.int64)
        post = self._pick(counts, n_post, exclude)
        if post is None:
            return super().connect(projection)
        if isinstance(self.n, RandomDistribution):
            self.n.next(n_pre)                       # the real draw of the numbers
        pre = np.repeat(np.arange(n_pre, dtype=np.int64), counts)
        pre, post = _by_column(pre, post)
        # PyNN copies the synapse parameters after drawing all connections
        _connect(projection, _parameter_plan(projection), pre, post)


class FixedTotalNumberConnector(_pc.FixedTotalNumberConnector):
    __doc__ = _pc.FixedTotalNumberConnector.__doc__

    def connect(self, projection):
        if isinstance(self.n, Integral):
            _check_connection_count(type(self).__name__, projection, int(self.n))
        # PyNN 0.13 ignores allow_self_connections and with_replacement here; so do we
        state = projection._simulator.state
        if not (_can_connect_arrays(self, projection) and _fast_rng(self.rng)
                and isinstance(self.n, Integral) and state.num_processes == 1
                and projection.pre.size > 0 and projection.post.size > 0
                and _parameter_plan(projection) is not None):
            return super().connect(projection)
        # PyNN's number of connections on the (only) process: a binomial draw with p = 1
        bino = RandomDistribution("binomial", [self.n, 1.0], rng=self.rng)
        total = int(bino.next())
        n_pre, n_post = projection.pre.size, projection.post.size
        pre = np.empty(total, dtype=np.int64)
        post = np.empty(total, dtype=np.int64)
        est = total * (_words_per_draw(n_pre) + _words_per_draw(n_post))
        _replay(self.rng, _pairs_kernel, _margin(est), total, n_pre, n_post, pre, post)
        pre, post = _by_column(pre, post)
        # PyNN copies the synapse parameters after drawing all connections
        _connect(projection, _parameter_plan(projection), pre, post)


# ------------------------------------------------------------------ list connectors
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
        plan = _parameter_plan(projection) if _can_connect_arrays(self, projection) else None
        if plan is None:
            return _pc.FromListConnector.connect(self, projection)
        # PyNN's order: its (unstable) argsort of the postsynaptic column, which it also
        # leaves behind in conn_list, so a second use of the connector sorts the sorted list
        order = np.argsort(self.conn_list[:, 1])
        self.conn_list = np.take(self.conn_list, order, axis=0)   # rows: take is much faster
        conn = np.take(conn, order, axis=0)
        given = {name: conn[:, 2 + k] for k, name in enumerate(self.column_names)}
        # the other parameters restart from a fresh copy for every postsynaptic cell
        _connect(projection, plan, conn[:, 0].astype(np.int64), conn[:, 1].astype(np.int64),
                 restart=True, given=given)


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


# ---------------------------------------------------------------- argument checks
#: bytes a connection costs while it is built and held (indices, weight, delay, STP columns,
#: the engine's copies): an estimate for refusing projections that cannot fit in memory
BYTES_PER_CONNECTION = 120


def _check_connection_count(name: str, projection, count: int) -> None:
    """Refuse a projection whose connections cannot fit in this machine's memory, before a
    single one is drawn (numpy would fail with an allocation error, or PyNN take hours)."""
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):      # pragma: no cover - not POSIX
        memory = 16 * 2**30
    need = count * BYTES_PER_CONNECTION
    if need > memory:
        raise errors.ConnectionError(
            f"{name} asks for {count:,} connections from '{projection.pre.label}' "
            f"(size {projection.pre.size}) to '{projection.post.label}' (size "
            f"{projection.post.size}): about {need / 2**30:.0f} GiB, more than this machine's "
            f"{memory / 2**30:.0f} GiB of memory")

def _check_arguments(name: str, args: dict) -> None:
    """Clear errors for the connector arguments PyNN only asserts (a bare AssertionError)."""
    from pyNN.random import RandomDistribution as _RD
    if "allow_self_connections" in args:
        v = args["allow_self_connections"]
        if not (isinstance(v, bool) or v == "NoMutual"):
            raise ValueError(f"{name}(allow_self_connections={v!r}): expected True, False "
                             "or 'NoMutual'")
    if "p_connect" in args:
        p = args["p_connect"]
        if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) \
                or not (0.0 <= float(p) <= 1.0):
            raise ValueError(f"{name}(p_connect={p!r}): expected a probability, a number in "
                             "0..1")
    if "n" in args:
        n = args["n"]
        if not isinstance(n, _RD) and (isinstance(n, (bool, np.bool_))
                                       or not isinstance(n, (int, np.integer))
                                       or not 0 <= n < 2**31):
            raise ValueError(f"{name}(n={n!r}): expected an integer in 0..{2**31 - 1} or a "
                             "RandomDistribution")
    if "with_replacement" in args and not isinstance(args["with_replacement"], bool):
        raise ValueError(f"{name}(with_replacement={args['with_replacement']!r}): expected "
                         "True or False")


def _checked(cls):
    """Give a connector class clear errors for its arguments (see _check_arguments)."""
    import functools
    import inspect
    init = cls.__init__
    signature = inspect.signature(init)

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError:
            return init(self, *args, **kwargs)     # Python's own message
        _check_arguments(cls.__name__, bound.arguments)
        init(self, *args, **kwargs)
    cls.__init__ = __init__
    return cls


for _name in ("AllToAllConnector", "FixedProbabilityConnector", "FixedNumberPreConnector",
              "FixedNumberPostConnector", "FixedTotalNumberConnector",
              "DistanceDependentProbabilityConnector", "IndexBasedProbabilityConnector",
              "DisplacementDependentProbabilityConnector"):
    _cls = globals()[_name]
    if _cls.__module__ != __name__:        # PyNN's own class: a checked subclass of ours
        _cls = type(_name, (_cls,), {"__doc__": _cls.__doc__, "__module__": __name__})
        globals()[_name] = _cls
    _checked(_cls)
