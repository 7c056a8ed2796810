"""Bandwidth limits of the event paths (times in ms of biological time).

* Stimulus playback (FPGA -> HICANN, "L2 down"): every input channel (an FPGA, a HICANN link)
  sends one event per ``spacing`` ms; events queue in a FIFO of ``depth`` entries and leave at
  ``max(t, previous release + spacing)``.  An event that finds the FIFO full is dropped before
  it reaches the wafer (the ESS's "dropped before sim"); the others arrive late by their
  queueing delay.
* Priority encoders (neuron block -> L1): one event per ``service`` ms per block with one
  waiting register: a spike that finds the encoder busy *and* the register taken is lost for
  all its targets and for the recording (handled inside the kernel, see ``kernels.run_steps``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .kernels import TIME_EPS


@njit(cache=True)
def _fifo(times, channel, spacing, depth, last_release, keep, release):
    """Events in time order; ``last_release[c]`` carries the channel state between windows."""
    for k in range(times.shape[0]):
        c = channel[k]
        if c < 0:
            keep[k] = True
            release[k] = times[k]
            continue
        start = max(times[k], last_release[c] + spacing)
        # FIFO full: dropped before the wafer (tolerance: see kernels.TIME_EPS)
        if start - times[k] > depth * spacing + TIME_EPS:
            keep[k] = False
            release[k] = times[k]
        else:
            keep[k] = True
            release[k] = start
            last_release[c] = start


@dataclass
class InputBandwidth:
    """FIFO limits of one event direction (stimulus down or recorded spikes up), per node: its
    FPGA and its HICANN link."""
    node_fpga: np.ndarray                 # per node, -1 = unlimited (unplaced)
    node_link: np.ndarray
    fpga_spacing: float                   # ms per event per FPGA
    link_spacing: float                   # ms per event per HICANN link
    depth: int = 16                       # FIFO entries [E]
    fpga_last: np.ndarray = field(default=None)
    link_last: np.ndarray = field(default=None)
    sent: int = 0
    dropped: int = 0

    def __post_init__(self) -> None:
        self.rewind()

    def rewind(self) -> None:
        self.fpga_last = np.full(int(max(self.node_fpga.max(initial=-1) + 1, 1)), -np.inf)
        self.link_last = np.full(int(max(self.node_link.max(initial=-1) + 1, 1)), -np.inf)

    def apply(self, times: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(keep mask, release times) for the window's events; updates the counters."""
        order = np.argsort(times, kind="stable")
        t = times[order]
        n = nodes[order]
        keep = np.empty(t.size, dtype=np.bool_)
        rel = np.empty(t.size)
        _fifo(t, self.node_fpga[n], self.fpga_spacing, self.depth, self.fpga_last, keep, rel)
        keep2 = np.empty(t.size, dtype=np.bool_)
        rel2 = np.empty(t.size)
        link = np.where(keep, self.node_link[n], -1)
        _fifo(rel, link, self.link_spacing, self.depth, self.link_last, keep2, rel2)
        keep_all = keep & keep2
        out_keep = np.empty_like(keep_all)
        out_rel = np.empty_like(rel2)
        out_keep[order] = keep_all
        out_rel[order] = rel2
        limited = (self.node_fpga[nodes] >= 0) | (self.node_link[nodes] >= 0)
        self.sent += int(np.sum(out_keep & limited))
        self.dropped += int(np.sum(~out_keep))
        return out_keep, out_rel
