"""Experiment configuration on the wafer: the event paths of the mapped network (stimulus
playback, priority encoders, DNC mergers, recording), the analog outputs and the membrane
readout.  Hardware rates are scaled to bio time by the speed-up."""
from __future__ import annotations

import numpy as np

from ..engine import Network
from ..engine.event_loss import InputBandwidth
from ..hardware import wafer
from ..hardware.event_paths import (ENCODER_CYCLES, FPGA_EVENT_RATE_HZ,
                                    HICANN_LINK_EVENT_RATE_HZ, MERGER_SLOW_RATE_HZ, PLL_HZ,
                                    TIMESTAMP_S)
from ..hardware.readout import check_analog_outputs, read_membrane, readout_offsets_mV_hw
from ..mapping.pipeline import MappingResult
from .programming import denmem_keys
from .records import PopulationRecord
from .system import system_fpga


def configure_event_paths(network: Network, populations: list[PopulationRecord],
                          cell_hicann: np.ndarray, cell_block: np.ndarray,
                          cell_merger: np.ndarray, speedup: float, *,
                          event_loss: bool = True, relays=None) -> None:
    """Give the engine the limits of the mapped event paths: stimulus playback per FPGA
    (125 MHz) and HICANN link (17.8 MHz), the priority encoder of each neuron block (2 PLL
    cycles at 125 MHz per event), the DNC mergers (62.5 MHz in slow mode), and the 4 ns
    timestamp resolution of played-back and recorded spikes.  ``event_loss=False`` (an
    ablation, ``setup(effects={'event_loss': False})``) leaves the paths unlimited and keeps
    only the timestamp resolution.

    Per global cell: ``cell_hicann`` the system HICANN (``k * 384 + h`` on wafer k; see
    :mod:`.system`), ``cell_block`` and ``cell_merger`` of neurons.  ``relays``
    (:class:`.system.Relays`, several wafers): the off-wafer relays of neurons and the
    replicas of spike sources played into several wafers."""
    to_bio_ms = speedup * 1e3          # 1 s of hardware time in bio ms
    network.time_quantum = TIMESTAMP_S * to_bio_ms
    if relays is not None:
        network.set_relays(relays.neuron, relays.node, relays.up, relays.down,
                           relays.spacing)
        network.set_replicas(relays.replica_of, relays.replica)
    else:
        network.set_relays(np.zeros(0, np.int64), np.zeros(0, np.int64),
                           np.zeros((0, 2), np.int64), np.zeros((0, 2), np.int64), np.zeros(0))
        network.set_replicas(np.zeros(0, np.int64), np.zeros(0, np.int64))
    if not event_loss:
        # an engine without bandwidth objects and with no encoders passes every event
        network.input_bandwidth = None
        network.recording_bandwidth = None
        network.set_encoders(np.full(network.n_neurons, -1, dtype=np.int64), 0.0,
                             np.full(network.n_neurons, -1, dtype=np.int64), 0.0)
        return
    # every node's HICANN link and FPGA: spike sources' for playback (down), neurons' for
    # recording (up); the two directions are separate FIFOs over the same tables
    node_link = np.full(network.n_nodes, -1, dtype=np.int64)
    neuron_block = np.full(network.n_neurons, -1, dtype=np.int64)
    neuron_merger = np.full(network.n_neurons, -1, dtype=np.int64)
    for pop in populations:
        cells = pop.cells
        h = cell_hicann[cells]
        node_link[pop.nodes] = h
        if not pop.is_source:
            neuron_block[pop.neuron_index] = np.where(
                h >= 0, h * wafer.N_NEURON_BLOCKS + cell_block[cells], -1)
            neuron_merger[pop.neuron_index] = np.where(
                h >= 0, h * wafer.N_DNC_MERGERS + cell_merger[cells], -1)
    if relays is not None and relays.replica.size:
        node_link[relays.replica] = relays.replica_hicann
    node_fpga = system_fpga(node_link)
    for direction in ("input_bandwidth", "recording_bandwidth"):
        setattr(network, direction, InputBandwidth(
            node_fpga, node_link, fpga_spacing=to_bio_ms / FPGA_EVENT_RATE_HZ,
            link_spacing=to_bio_ms / HICANN_LINK_EVENT_RATE_HZ))
    network.set_encoders(neuron_block, ENCODER_CYCLES / PLL_HZ * to_bio_ms,
                         neuron_merger, 1.0 / MERGER_SLOW_RATE_HZ * to_bio_ms)


def check_recorded_membranes(recorded: list[tuple[PopulationRecord, np.ndarray]],
                             result: MappingResult) -> None:
    """At most 2 recorded membranes per reticle (its analog outputs); ``recorded`` lists
    (population, cell indices) of the v recordings."""
    reticles = [wafer.RETICLE_OF[result.placement.hicann[pop.cells[idx]]]
                for pop, idx in recorded]
    if reticles:
        check_analog_outputs(np.concatenate(reticles))


class _PerNeuronNoise:
    """Readout noise with one stream per recorded neuron (trial seed, population, neuron,
    segment, readout): every sample of a neuron gets the same draw whichever view of its
    population is read.  Has the ``normal(loc, scale, size)`` of a numpy Generator."""

    def __init__(self, seeds: list[list[int]]) -> None:
        self.seeds = seeds

    def normal(self, loc: float, scale: float, size: tuple[int, int]) -> np.ndarray:
        n, m = size
        out = np.empty((n, m))
        for j, seed in enumerate(self.seeds):   # per recorded neuron, not per sample
            out[:, j] = np.random.default_rng(seed).normal(loc, scale, n)
        return out


def read_membranes(pop: PopulationRecord, idx: np.ndarray, values: np.ndarray,
                   result: MappingResult, *, wafer_seed: int, trial_seed: int, segment: int,
                   readout: int, alpha: float, shift_V: float, first: int = 0) -> np.ndarray:
    """Recorded membrane samples (n_samples, len(idx)) of cells ``idx`` of ``pop`` as the ADC
    delivers them: readout offset of the neuron's firing denmem (fixed per wafer) and readout
    noise (per trial, segment and readout, so the same data come back on every get_data
    call, whichever view asks).  ``pop`` may be a run of a population cut over wafers
    whose first cell is cell ``first`` of the population (the noise is the population's)."""
    offsets = readout_offsets_mV_hw(wafer_seed, denmem_keys(result, pop.cells[idx]))
    noise = _PerNeuronNoise([[trial_seed, 0xADC, pop.key, segment, readout, int(i) + first]
                             for i in idx])
    return read_membrane(values, offsets[None, :], noise, alpha=alpha, shift_V=shift_V)
