"""Spike sources: Poisson generators and spike arrays, turned into per-window event lists.

Each Poisson source draws its inter-spike intervals from its own counter-based random stream
(SplitMix64 of ``seed``, the source's stream key and the draw number).  A source's spike train
therefore does not depend on how the simulated time is split into ``run()`` calls, on the other
sources, or on the order in which populations were created — only on the stimulus seed, its key
and how many intervals it has drawn so far.  Times are in ms, rates in Hz.
"""
from __future__ import annotations

import numpy as np
from numba import njit

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True)
def _splitmix(x):
    z = x + _GOLDEN
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(cache=True)
def _uniform(key, counter):
    """Uniform in (0, 1) from the stream ``key`` at position ``counter`` (both uint64)."""
    z = _splitmix(_splitmix(key) ^ (counter * _GOLDEN))
    return (np.float64(z >> _S11) + 0.5) * _INV53


def stream_keys(seed: int, population_key: int, size: int) -> np.ndarray:
    """One 64-bit stream key per source of a population (uint64 array)."""
    base = np.uint64((seed * 0x100000001B3 + population_key * 0x9E3779B1) % (1 << 64))
    return (base + np.arange(size, dtype=np.uint64) * _M1).astype(np.uint64)


@njit(cache=True)
def poisson_window(t_end, dt, rate, draw_from, stop, key, counter, next_t, node,
                   out_step, out_node, out_time, n_out):
    """Emit the Poisson spikes with times ``<= t_end`` (ms) of every source.

    ``next_t[i]`` holds the pending spike time of source ``i`` (NaN = not drawn yet, drawn from
    ``draw_from[i]``); ``counter[i]`` the number of intervals drawn.  Spikes are in ``[start, stop)``;
    the emission step is ``ceil(t / dt)`` (the first grid point at or after the spike, like NEST's
    precise-spike sources feeding grid-based neurons).  Events are appended at ``n_out[0]``;
    returns False (and stops) if the output arrays are full.
    """
    cap = out_step.shape[0]
    for i in range(rate.shape[0]):
        r = rate[i]
        if r <= 0.0:
            continue
        isi_mean = 1000.0 / r
        t = next_t[i]
        if np.isnan(t):
            u = _uniform(key[i], counter[i])
            counter[i] += np.uint64(1)
            t = draw_from[i] - isi_mean * np.log(u)
        while t <= t_end and t < stop[i]:
            c = n_out[0]
            if c >= cap:
                next_t[i] = t
                return False
            out_step[c] = np.int64(np.ceil(t / dt - 1e-9))
            out_node[c] = node[i]
            out_time[c] = t
            n_out[0] = c + 1
            u = _uniform(key[i], counter[i])
            counter[i] += np.uint64(1)
            t = t - isi_mean * np.log(u)
        next_t[i] = t
    return True


class PoissonSources:
    """State of all Poisson sources of the network (rates may change between runs)."""

    def __init__(self) -> None:
        self.rate = np.zeros(0)
        self.start = np.zeros(0)
        self.stop = np.zeros(0)
        self.draw_from = np.zeros(0)
        self.key = np.zeros(0, dtype=np.uint64)
        self.counter = np.zeros(0, dtype=np.uint64)
        self.next_t = np.zeros(0)
        self.node = np.zeros(0, dtype=np.int64)

    @property
    def size(self) -> int:
        return self.rate.size

    def add(self, nodes: np.ndarray, keys: np.ndarray) -> slice:
        """Register new sources (global node indices and stream keys); returns their slice."""
        n0, k = self.rate.size, nodes.size
        self.rate = np.concatenate([self.rate, np.zeros(k)])
        self.start = np.concatenate([self.start, np.zeros(k)])
        self.stop = np.concatenate([self.stop, np.full(k, np.inf)])
        self.draw_from = np.concatenate([self.draw_from, np.zeros(k)])
        self.key = np.concatenate([self.key, keys.astype(np.uint64)])
        self.counter = np.concatenate([self.counter, np.zeros(k, dtype=np.uint64)])
        self.next_t = np.concatenate([self.next_t, np.full(k, np.nan)])
        self.node = np.concatenate([self.node, nodes.astype(np.int64)])
        return slice(n0, n0 + k)

    def set_parameters(self, idx: np.ndarray, rate: np.ndarray, start: np.ndarray,
                       duration: np.ndarray, now: float) -> None:
        """Change rate/start/duration (Hz, ms, ms) of sources ``idx`` at time ``now``.  Their
        pending spike is redrawn from ``max(now, start)``: exact, as the process is memoryless."""
        self.rate[idx] = rate
        self.start[idx] = start
        self.stop[idx] = start + duration
        self.draw_from[idx] = np.maximum(start, now)
        self.next_t[idx] = np.nan

    def rewind(self) -> None:
        """Back to t = 0 after reset(): every train restarts at its start time.  The stream
        counters keep running, so a new trial sees new (but reproducible) spikes."""
        self.draw_from[:] = self.start
        self.next_t[:] = np.nan

    def window(self, t_end: float, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All spikes up to ``t_end`` (ms) not emitted yet: (emission steps, nodes, times)."""
        if self.rate.size == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        t0 = np.where(np.isnan(self.next_t), self.draw_from, self.next_t)
        span = np.clip(np.minimum(self.stop, t_end) - t0, 0.0, None)
        expected = float(np.sum(self.rate * span)) / 1000.0
        cap = int(expected + 6.0 * np.sqrt(expected + 1.0) + 64)
        parts = []
        while True:
            out_step = np.empty(cap, dtype=np.int64)
            out_node = np.empty(cap, dtype=np.int64)
            out_time = np.empty(cap)
            n_out = np.zeros(1, dtype=np.int64)
            done = poisson_window(t_end, dt, self.rate, self.draw_from, self.stop, self.key,
                                  self.counter, self.next_t, self.node,
                                  out_step, out_node, out_time, n_out)
            k = n_out[0]
            parts.append((out_step[:k], out_node[:k], out_time[:k]))
            if done:
                break
            cap *= 2
        steps, nodes, times = (np.concatenate(a) for a in zip(*parts))
        return steps, nodes, times


@njit(cache=True)
def _array_window(t_end, dt, flat, ptr, pointer, node, out_step, out_node, out_time):
    c = 0
    for i in range(ptr.shape[0] - 1):
        p = ptr[i] + pointer[i]
        end = ptr[i + 1]
        while p < end and flat[p] <= t_end + 1e-9:
            out_step[c] = np.int64(np.ceil(flat[p] / dt - 1e-9))
            out_node[c] = node[i]
            out_time[c] = flat[p]
            c += 1
            p += 1
        pointer[i] = p - ptr[i]
    return c


class ArraySources:
    """State of all ``SpikeSourceArray`` sources: sorted spike times (ms), flattened CSR-like,
    and a per-source read pointer."""

    def __init__(self) -> None:
        self.trains: list[np.ndarray] = []
        self.node = np.zeros(0, dtype=np.int64)
        self.pointer = np.zeros(0, dtype=np.int64)
        self._flat = np.zeros(0)
        self._ptr = np.zeros(1, dtype=np.int64)

    @property
    def size(self) -> int:
        return self.node.size

    def add(self, nodes: np.ndarray) -> slice:
        n0 = self.node.size
        self.trains.extend(np.zeros(0) for _ in range(nodes.size))
        self.node = np.concatenate([self.node, nodes.astype(np.int64)])
        self.pointer = np.concatenate([self.pointer, np.zeros(nodes.size, dtype=np.int64)])
        self._flatten()
        return slice(n0, n0 + nodes.size)

    def _flatten(self) -> None:
        lengths = np.array([t.size for t in self.trains], dtype=np.int64)
        self._ptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self._flat = np.concatenate(self.trains) if self.trains else np.zeros(0)

    def set_times(self, idx: np.ndarray, spike_times: list, now: float) -> None:
        """Replace the spike trains (ms) of sources ``idx``; spikes at or before ``now`` (ms)
        are not emitted (again)."""
        for j, i in enumerate(idx):
            t = np.sort(np.asarray(spike_times[j], dtype=float))
            self.trains[i] = t
            self.pointer[i] = np.searchsorted(t, now + 1e-9, side="right") if now > 0 else 0
        self._flatten()

    def rewind(self) -> None:
        self.pointer[:] = 0

    def window(self, t_end: float, dt: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All spikes up to ``t_end`` (ms) not emitted yet: (emission steps, nodes, times)."""
        cap = self._flat.size
        out_step = np.empty(cap, dtype=np.int64)
        out_node = np.empty(cap, dtype=np.int64)
        out_time = np.empty(cap)
        c = _array_window(t_end, dt, self._flat, self._ptr, self.pointer, self.node,
                          out_step, out_node, out_time)
        return out_step[:c], out_node[:c], out_time[:c]
