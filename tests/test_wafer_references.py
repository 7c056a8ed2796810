"""Exact references for the wafer's event paths, routed delays and mapping loss.

Every expected value here is derived by hand (the derivation is in the comment next to it) or
by a tiny reference model written in this file, from hardware constants written as literals
with their source (``shared/reference/brainscales1.md``, cited by section).  Nothing is
imported from the package to compute an expected value, so a changed constant or a changed
rule in the code makes these tests fail.  Everything runs through the public API:
``sim.setup(...)`` -> network -> ``sim.run()`` -> ``sim.get_pulse_statistics()``,
``sim.get_mapping_statistics()``, ``Projection.get("delay")`` and the recorded spikes.

Time units: ms of biological time.  At the speed-up of 1e4 (1.4) one second of hardware time
is 1e4 s = 1e7 ms of biological time, so a hardware period ``T`` [s] lasts ``T * 1e7`` ms (bio).
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from conftest import guidebook_network

# ------------------------------------------------------------------ hardware constants
DT = 0.1                                  # ms, the simulation time step used throughout
BIO_MS_PER_HW_S = 1e4 * 1e3               # speed-up 1e4 (brainscales1.md 1.4): 1 s hw = 1e7 ms
#: priority encoder of a neuron block: one event per 2 clock cycles of the 125 MHz PLL
#: (brainscales1.md 6.2 "1 event / 2 clk", 6.3 "HICANN PLL: marocco default 125 MHz")
#: -> 2 / 125e6 s = 16 ns hardware = 0.16 ms bio
ENCODER_SERVICE_MS = 2 / 125e6 * BIO_MS_PER_HW_S
#: a DNC merger driving a sending repeater runs in slow mode and blocks every other cycle of
#: the 125 MHz PLL (ESS merger_timed.cpp; brainscales1.md "Audit 2026-12", corrections):
#: 62.5 MHz -> 16 ns hardware = 0.16 ms bio, the same as one priority encoder
MERGER_SERVICE_MS = 2 / 125e6 * BIO_MS_PER_HW_S
#: stimulus playback (7.2): one event per 8 ns FPGA cycle (125 MHz) and per 56 ns on a HICANN
#: link (17.8 MHz) -> 0.08 ms and 0.5618 ms bio between events
FPGA_SPACING_MS = BIO_MS_PER_HW_S / 125e6
LINK_SPACING_MS = BIO_MS_PER_HW_S / 17.8e6
#: entries of each playback FIFO: the emulator's model of the FPGA / link buffers
#: (pyNN_bss_emu/engine/event_loss.py, an estimate [E]; the reference gives no depth)
FIFO_DEPTH = 16
#: 4 ns timestamps (250 MHz DNC clock, 7.1) -> 0.04 ms bio
TIMESTAMP_MS = 4e-9 * BIO_MS_PER_HW_S
#: routed delay (section 8, 2023 calibration on wafer 30): 0.0397 ms per HICANN on the route
#: + 0.6444 ms, with a Gaussian spread of sigma 0.1 ms fixed per route and wafer
DELAY_PER_HICANN_MS = 0.0397
DELAY_OFFSET_MS = 0.6444
DELAY_SPREAD_MS = 0.1
#: tolerance of time comparisons on the event paths (far below the 0.04 ms timestamps)
EPS = 1e-7


def _enum(x: int, y: int) -> int:
    """HICANNOnWafer enum of grid position (x, y): row by row from the top, left to right,
    over the valid x range of each row (brainscales1.md 1.2)."""
    rows = ((12, 23),) * 2 + ((8, 27),) * 2 + ((4, 31),) * 2 + ((0, 35),) * 4 \
        + ((4, 31),) * 2 + ((8, 27),) * 2 + ((12, 23),) * 2
    assert rows[y][0] <= x <= rows[y][1]
    return sum(hi - lo + 1 for lo, hi in rows[:y]) + x - rows[y][0]


def _trains(pop) -> list[np.ndarray]:
    """Recorded spike times per cell, ordered by index in the population."""
    trains = sorted(pop.get_data().segments[-1].spiketrains,
                    key=lambda s: int(s.annotations["source_index"]))
    return [np.asarray(s.rescale("ms").magnitude, dtype=float) for s in trains]


def _quiet_run(sim, t: float) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # routed-delay and parameter notes
        sim.run(t)


# ------------------------------------------------------------------ neuron volleys
#: Identical LIF neurons (calibration='ideal': FG quantisation only, the same for every denmem)
#: resting at -45 mV, above the -50 mV threshold: from v0 = -65 mV they fire once near 28 ms
#: (tau_m 20 ms: 20 ln(20/5) = 27.7 ms, then the grid), and not again within the runs here
#: (tau_refrac 10 ms, then ~40 ms of charging).  d t_spike / d v0 = tau_m / (v_rest - v0)
#: = 1 ms per mV, so raising v0 by 0.1 mV makes a neuron fire one 0.1 ms step earlier: the
#: initial membrane sets the firing step of each neuron.  All parameters lie inside the
#: hardware ranges (no clipping).
CELL = dict(v_rest=-45.0, v_reset=-65.0, v_thresh=-50.0, tau_m=20.0, cm=1.0, tau_refrac=10.0)
V0 = -65.0              # mV: the latest firing step of the designs below
SILENT_V0 = -80.0       # mV: fires only after ~39 ms, outside the runs


def _fire(sim, v0, hicanns, t_stop: float = 32.0, **setup):
    """Neurons with initial membranes ``v0`` (mV), placed on ``hicanns`` (one HICANN for all,
    or one per neuron); returns (pulse statistics, recorded trains, placement)."""
    sim.setup(timestep=DT, ideal=False, defects="none", clip_parameters=True,
              calibration="ideal", neuron_size=4, **setup)
    v0 = np.asarray(v0, dtype=float)
    pop = sim.Population(v0.size, sim.IF_cond_exp(**CELL))
    pop.initialize(v=v0)
    if len(hicanns) == 1:
        sim.place_on_hicann(pop, hicanns)
    else:
        for i, h in enumerate(hicanns):
            sim.place_on_hicann(pop[i:i + 1], [h])
    pop.record("spikes")
    _quiet_run(sim, t_stop)
    return sim.get_pulse_statistics(), _trains(pop), sim.get_placement(pop)


def _steps(trains) -> list[int]:
    """Firing step of each neuron (one spike each; -1: none).  Recorded times are 4 ns
    timestamps (0.04 ms bio grid), at most 0.02 ms from the step time, so rounding to the
    0.1 ms grid recovers the step."""
    out = []
    for s in trains:
        assert s.size <= 1
        out.append(int(round(s[0] / DT)) if s.size else -1)
    return out


def _isolated_steps(sim, v0) -> list[int]:
    """Firing steps of neurons with initial membranes ``v0``, each on a HICANN of its own (no
    encoder or merger shared): what every neuron emits before the event path thins it out.
    (With calibration='ideal' the realised parameters do not depend on the denmems used.)"""
    st, trains, _ = _fire(sim, v0, [_enum(12 + i % 20, 7 + i // 20) for i in range(len(v0))])
    assert st["l1_neuron_lost"] == 0 and st["l2_up_lost"] == 0
    return _steps(trains)


def _event_path_reference(steps, block, merger=None):
    """Reference model of the L1 event path of neurons: spike ``i`` (time step ``steps[i]``,
    -1 = no spike) enters the priority encoder of its neuron block ``block[i]``, which serves
    one event per 0.16 ms; it starts when the encoder is free and is lost if it would wait
    more than one service time (the one waiting register is taken).  Spikes of one step are
    served in neuron order.  A served event reaches the DNC merger ``merger[i]`` when its
    encoder service ends; the merger serves one event per 0.16 ms in arrival order (ties:
    lower neuron first), again with one waiting register.  Returns the fate of every spike:
    "sent", "encoder" (lost there) or "merger"."""
    merger = list(block) if merger is None else list(merger)
    fate: dict[int, str] = {}
    free_at: dict[int, float] = {}
    arrivals = []
    for i in sorted((i for i, s in enumerate(steps) if s >= 0), key=lambda i: (steps[i], i)):
        t = steps[i] * DT
        start = max(t, free_at.get(block[i], -np.inf))
        if start - t > ENCODER_SERVICE_MS + EPS:
            fate[i] = "encoder"
            continue
        free_at[block[i]] = start + ENCODER_SERVICE_MS
        arrivals.append((start + ENCODER_SERVICE_MS, i))
    merger_free: dict[int, float] = {}
    for t, i in sorted(arrivals, key=lambda a: (round(a[0] / EPS), a[1])):
        start = max(t, merger_free.get(merger[i], -np.inf))
        if start - t > MERGER_SERVICE_MS + EPS:
            fate[i] = "merger"
            continue
        merger_free[merger[i]] = start + MERGER_SERVICE_MS
        fate[i] = "sent"
    return fate


def _lost(fate: dict, where: str) -> list[int]:
    return sorted(i for i, f in fate.items() if f == where)


@pytest.mark.parametrize("n", [3, 8, 16])
def test_priority_encoder_passes_two_of_a_synchronous_volley(wafer_sim, n):
    """n neurons of one neuron block fire in the same time step t.  The encoder serves one event
    per 0.16 ms and holds one more in its register; neurons of one step are served in index
    order (the lowest denmem wins, brainscales1.md 6.2):
      neuron 0: encoder free -> served t .. t+0.16
      neuron 1: waits 0.16 = one service time -> takes the register, served t+0.16 .. t+0.32
      neuron k >= 2: would wait 0.32 > 0.16, register taken -> lost
    => sent 2, lost n - 2 (at the encoder; one block on its own DNC merger loses nothing
    there).  Lost spikes are missing from the recording (they reach no target either); the
    two sent ones are recorded at the same time stamp.  (This count does not depend on the
    service time: simultaneous events always fill server + register; the staircase test
    below measures the service time.)"""
    sim = wafer_sim
    assert _lost(_event_path_reference([280] * n, [0] * n), "sent") == [0, 1]
    st, trains, places = _fire(sim, [V0] * n, [_enum(12, 7)])
    assert {p.neuron_block for p in places} == {0}
    assert len({p.dnc_merger for p in places}) == 1
    assert st["l1_neuron_sent"] == 2
    assert st["l1_encoder_lost"] == n - 2
    assert st["l1_merger_lost"] == 0
    assert st["l1_neuron_lost"] == n - 2
    fired = [i for i, s in enumerate(trains) if s.size]
    assert fired == [0, 1]
    assert trains[0][0] == trains[1][0]
    # two events fit the HICANN link upwards (16-entry FIFO): both recorded
    assert st["l2_up_sent"] == 2 and st["l2_up_lost"] == 0


def test_priority_encoder_service_time_on_a_staircase(wafer_sim):
    """12 neurons of one block fire one 0.1 ms step apart (neuron k at t + 0.1 k; checked on
    isolated copies first).  With 0.16 ms per event and one waiting register (event k starts
    when the encoder is free; lost if it would wait more than one service time):
      k  arrives  starts  wait  -> encoder busy until
      0  0.0      0.0     0     -> 0.16
      1  0.1      0.16    0.06  -> 0.32
      2  0.2      0.32    0.12  -> 0.48
      3  0.3      0.48    0.18  lost
      4  0.4      0.48    0.08  -> 0.64
      5  0.5      0.64    0.14  -> 0.80
      6  0.6      0.80    0.20  lost
      7  0.7      0.80    0.10  -> 0.96
      8  0.8      0.96    0.16  (exactly one service time: register) -> 1.12
      9  0.9      1.12    0.22  lost
      10 1.0      1.12    0.12  -> 1.28
      11 1.1      1.28    0.18  lost
    => lost {3, 6, 9, 11}, sent 8.  (With 0.08 ms per event nothing would be lost.)"""
    sim = wafer_sim
    v0 = V0 + 1.1 - 0.1 * np.arange(12)              # neuron 0 first, then one per step
    steps = _isolated_steps(sim, v0)
    assert np.all(np.diff(steps) == 1), steps
    lost = {3, 6, 9, 11}
    assert _lost(_event_path_reference(steps, [0] * 12), "encoder") == sorted(lost)
    st, trains, places = _fire(sim, v0, [_enum(12, 7)])
    assert {p.neuron_block for p in places} == {0}
    assert st["l1_encoder_lost"] == 4
    assert st["l1_merger_lost"] == 0
    assert st["l1_neuron_sent"] == 8
    assert [i for i, s in enumerate(trains) if s.size] == sorted(set(range(12)) - lost)
    assert _steps(trains) == [-1 if i in lost else steps[i] for i in range(12)]


def test_priority_encoder_loses_nothing_when_spikes_are_spread(wafer_sim):
    """12 neurons of one block fire at least two steps (0.2 ms) apart: each arrives after the
    previous event's 0.16 ms service ended, so none waits and none is lost; all 12 are
    recorded, two or more steps apart (the up-link FIFO sends one per 0.5618 ms and queues
    the rest: 12 <= 16)."""
    sim = wafer_sim
    v0 = V0 + 2.2 - 0.2 * np.arange(12)
    st, trains, places = _fire(sim, v0, [_enum(12, 7)])
    assert {p.neuron_block for p in places} == {0}
    assert len(_lost(_event_path_reference(_steps(trains), [0] * 12), "sent")) == 12
    assert st["l1_neuron_sent"] == 12
    assert st["l1_neuron_lost"] == 0
    assert st["l2_up_sent"] == 12 and st["l2_up_lost"] == 0
    steps = _steps(trains)
    assert np.all(np.diff(steps) >= 2), steps


def test_blocks_on_separate_dnc_mergers_lose_only_at_their_encoders(wafer_sim):
    """32 neurons of size 4 fill blocks 0 and 1 (16 each) and fire in one step; with
    'one_to_one' merger routing each block has its own DNC merger.  Each encoder passes its
    two lowest neurons (see the volley test): sent {0, 1, 16, 17}, 28 lost at the encoders,
    none at the mergers (one event per 0.16 ms, two arrivals 0.16 ms apart each)."""
    sim = wafer_sim
    st, trains, places = _fire(sim, [V0] * 32, [_enum(12, 7)], merger_routing="one_to_one")
    assert [p.neuron_block for p in places] == [0] * 16 + [1] * 16
    assert len({p.dnc_merger for p in places}) == 2
    fate = _event_path_reference([280] * 32, [0] * 16 + [1] * 16)
    assert _lost(fate, "sent") == [0, 1, 16, 17] and _lost(fate, "merger") == []
    assert st["l1_neuron_sent"] == 4
    assert st["l1_encoder_lost"] == 28
    assert st["l1_merger_lost"] == 0
    assert [i for i, s in enumerate(trains) if s.size] == [0, 1, 16, 17]


def test_dnc_merger_service_time_with_three_merged_blocks(wafer_sim):
    """48 neurons of size 4 fill blocks 0, 1, 2 of one HICANN, which 'minimize' merger routing
    puts on one DNC merger (48 <= 59 addresses).  Three neurons per block fire (the others are
    silent): block A (neurons 0-2) and B (16-18) at steps s, s+1, s+2, block C (32-34) at
    s+2, s+3, s+4 (t = s * 0.1 ms).  Each encoder sees one event per step and passes all three
    (waits 0, 0.06, 0.12 < 0.16), delivering them to the merger 0.16 ms after they start:
      A and B arrive at t+0.16, t+0.32, t+0.48;  C at t+0.36, t+0.52, t+0.68.
    The merger (62.5 MHz in slow mode) serves one event per 0.16 ms with one waiting
    register (lost if it would wait more than 0.16 ms); in arrival order (ties: lower neuron
    first):
      A0 .16 -> .16-.32   B0 .16 wait .16 -> .32-.48   A1 .32 wait .16 -> .48-.64
      B1 .32 would wait .32: lost   C0 .36 would wait .28: lost
      A2 .48 wait .16 -> .64-.80   B2 .48 would wait .32: lost
      C1 .52 would wait .28: lost  C2 .68 wait .12 -> .80-.96
    => sent 5, merger lost 4 (B1, C0, B2, C1), encoder lost 0.  (The kernel processes the
    spikes of one step in neuron order, so it sees A2 and B2 before C0; that gives the same
    result here.  With the 125 MHz merger assumed before, 0.08 ms, 7 would be sent and only
    C0, C1 lost.)"""
    sim = wafer_sim
    offset = {0: 0, 1: 0, 2: 2}                      # firing step of each block's first neuron
    active = {16 * b + k: offset[b] + k for b in range(3) for k in range(3)}   # neuron -> step
    v0 = np.full(48, SILENT_V0)
    for i, d in active.items():
        v0[i] = V0 - 0.1 * d                          # d steps after the earliest
    # the designed steps, checked on isolated copies of the nine active neurons
    iso = _isolated_steps(sim, [v0[i] for i in active])
    assert [s - iso[0] for s in iso] == list(active.values()), iso
    s0 = iso[0]
    steps48 = [s0 + active[i] if i in active else -1 for i in range(48)]
    fate = _event_path_reference(steps48, [i // 16 for i in range(48)], [0] * 48)
    assert _lost(fate, "merger") == [17, 18, 32, 33] and _lost(fate, "encoder") == []
    st, trains, places = _fire(sim, v0, [_enum(12, 7)], merger_routing="minimize")
    assert [p.neuron_block for p in places] == [0] * 16 + [1] * 16 + [2] * 16
    assert len({p.dnc_merger for p in places}) == 1
    assert st["l1_encoder_lost"] == 0
    assert st["l1_merger_lost"] == 4
    assert st["l1_neuron_sent"] == 5
    sent = [0, 1, 2, 16, 34]
    assert [i for i, s in enumerate(trains) if s.size] == sent
    steps = _steps(trains)
    assert [steps[i] - s0 for i in sent] == [active[i] for i in sent]


# ------------------------------------------------------------------ stimulus playback
def _fifo(times: np.ndarray, spacing: float, depth: int = FIFO_DEPTH):
    """Reference FIFO: events in time order leave one per ``spacing`` ms; an event that would
    wait longer than ``depth * spacing`` (``depth`` events ahead) finds the FIFO full and is
    dropped.  Returns (kept mask, release times)."""
    last = -np.inf
    keep = np.zeros(times.size, dtype=bool)
    release = times.astype(float).copy()
    for k, t in enumerate(times):
        start = max(t, last + spacing)
        if start - t <= depth * spacing + EPS:
            keep[k], release[k], last = True, start, start
    return keep, release


def _playback_reference(times: np.ndarray, link: np.ndarray | None = None):
    """Stimulus events of sources on the HICANNs of one reticle (one FPGA): 4 ns timestamps,
    then the FPGA FIFO (one event per 0.08 ms), then the FIFO of each event's HICANN link
    (``link[k]``, one event per 0.5618 ms), all 16 deep; the release time is the event's new
    (timestamped) time.  Ties keep the given order."""
    t = np.round(np.asarray(times) / TIMESTAMP_MS) * TIMESTAMP_MS
    link = np.zeros(t.size, dtype=int) if link is None else np.asarray(link)
    order = np.argsort(t, kind="stable")
    k1, r1 = _fifo(t[order], FPGA_SPACING_MS)
    keep = np.zeros(t.size, dtype=bool)
    release = np.full(t.size, np.nan)
    passed = order[k1]                                    # events through the FPGA, in order
    for h in np.unique(link):
        mine = link[passed] == h
        k2, r2 = _fifo(r1[k1][mine], LINK_SPACING_MS)
        keep[passed[mine][k2]] = True
        release[passed[mine][k2]] = np.round(r2[k2] / TIMESTAMP_MS) * TIMESTAMP_MS
    return keep, release


def _play(sim, times: list[float], hicanns: list[int]):
    """One SpikeSourceArray spike per source at ``times``; source k on
    ``hicanns[k % len(hicanns)]``; all connected (unconnected sources are not placed).
    Returns (pulse statistics, recorded source trains)."""
    sim.setup(timestep=DT, ideal=False, defects="none", clip_parameters=True)
    src = sim.Population(len(times), sim.SpikeSourceArray(spike_times=[[t] for t in times]))
    pop = sim.Population(2, sim.IF_cond_exp(**CELL))
    for k in range(len(times)):
        sim.place_on_hicann(src[k:k + 1], [hicanns[k % len(hicanns)]])
    sim.place_on_hicann(pop, [_enum(12, 7)])
    src.record("spikes")
    sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.001))
    _quiet_run(sim, 40.0)
    assert [p.hicann for p in sim.get_placement(src)] == \
        [hicanns[k % len(hicanns)] for k in range(len(times))]
    return sim.get_pulse_statistics(), _trains(src)


def test_stimulus_volley_above_the_fifo_depth_is_dropped(wafer_sim):
    """40 sources on one HICANN spike at 5.0 ms together.  FPGA FIFO (one event per 0.08 ms,
    16 deep): event k would leave at 5.0 + 0.08 k, i.e. wait 0.08 k; kept while
    0.08 k <= 16 * 0.08, so k = 0..16: 17 kept, 23 dropped before the wafer.  HICANN link
    (one per 0.5618 ms): event k (arriving 5.0 + 0.08 k) leaves at 5.0 + 0.5618 k, a wait of
    0.4818 k <= 16 * 0.5618 = 8.99 for every k <= 16: none of the 17 dropped there.  The kept
    events arrive late by their queueing: the recorded source spike of source k is at
    5.0 + k * 0.5618 ms on the 0.04 ms timestamp grid (the sources are served in index
    order)."""
    sim = wafer_sim
    st, trains = _play(sim, [5.0] * 40, [_enum(17, 5)])
    assert st["l2_down_before_sim"] == 40
    assert st["l2_down_sent"] == 17
    assert st["l2_down_dropped_before_sim"] == 23
    assert [k for k, s in enumerate(trains) if s.size] == list(range(17))
    expected = np.round((5.0 + np.arange(17) * LINK_SPACING_MS) / TIMESTAMP_MS) * TIMESTAMP_MS
    np.testing.assert_allclose([trains[k][0] for k in range(17)], expected, rtol=0, atol=1e-9)
    keep, release = _playback_reference(np.full(40, 5.0))          # the same, by the model
    assert keep.sum() == 17 and np.allclose(release[keep], expected)


def test_stimulus_ramp_above_link_bandwidth_matches_the_reference_queue(wafer_sim):
    """40 sources on one HICANN, source k spiking at 5.0 + 0.12 k ms (faster than the link's
    0.5618 ms, slower than the FPGA's 0.08 ms).  The link queue grows by 0.4418 ms per event,
    so events 0..20 are kept (wait 0.4418 k <= 8.99) and from then on only every 4th-5th
    event finds room (the reference queue gives 21 + {24, 29, 33, 38}: 25 kept, 15 dropped).
    Which sources are recorded and at what (delayed) times must match the reference queue."""
    sim = wafer_sim
    times = 5.0 + 0.12 * np.arange(40)
    keep, release = _playback_reference(times)
    assert np.array_equal(np.flatnonzero(keep), list(range(21)) + [24, 29, 33, 38])
    st, trains = _play(sim, list(times), [_enum(17, 5)])
    assert st["l2_down_sent"] == 25
    assert st["l2_down_dropped_before_sim"] == 15
    assert np.array_equal([s.size > 0 for s in trains], keep)
    got = np.array([s[0] for s in trains if s.size])
    np.testing.assert_allclose(got, release[keep], rtol=0, atol=1e-9)
    # the queueing delay grows by 0.5618 - 0.12 ms per kept event of the first run
    np.testing.assert_allclose(got[20] - times[20],
                               round((20 * LINK_SPACING_MS - 20 * 0.12) / TIMESTAMP_MS)
                               * TIMESTAMP_MS, atol=1e-9)


def test_stimulus_over_one_reticle_is_limited_by_its_fpga(wafer_sim):
    """40 sources spread round-robin over the 8 HICANNs of one reticle (x 16..19, y 4..5: one
    FPGA, brainscales1.md 1.3), source k spiking at 5.0 + 0.04 k ms (every 4 ns timestamp).
    FPGA (one event per 0.08 ms): event k would leave at 5.0 + 0.08 k, a wait of 0.04 k, kept
    while 0.04 k <= 16 * 0.08 = 1.28, i.e. k = 0..32; after that the queue is full and only
    every other event fits (the reference queue: 33 + {34, 36, 38}: 36 kept, 4 dropped).  Each
    HICANN link then sees every 8th FPGA release, 0.64 ms apart, slower than its 0.5618 ms:
    no further queueing, so kept events arrive at their FPGA release times."""
    sim = wafer_sim
    reticle = [_enum(x, y) for y in (4, 5) for x in range(16, 20)]
    times = 5.0 + 0.04 * np.arange(40)
    link = np.arange(40) % 8
    keep, release = _playback_reference(times, link)
    assert np.array_equal(np.flatnonzero(keep), list(range(33)) + [34, 36, 38])
    fpga_release = 5.0 + FPGA_SPACING_MS * np.arange(33)
    np.testing.assert_allclose(release[:33], np.round(fpga_release / TIMESTAMP_MS)
                               * TIMESTAMP_MS, atol=1e-9)
    st, trains = _play(sim, list(times), reticle)
    assert st["l2_down_sent"] == 36
    assert st["l2_down_dropped_before_sim"] == 4
    assert np.array_equal([s.size > 0 for s in trains], keep)
    got = np.array([s[0] for s in trains if s.size])
    np.testing.assert_allclose(got, release[keep], rtol=0, atol=1e-9)


# ------------------------------------------------------------------ routed delays
#: target HICANNs (x, y) for sources on (12, 7); all in grid row 7 or reached by a straight
#: L1 path: HICANNs on the route = |dx| + |dy| + 1 (source and target included)
DELAY_TARGETS = ((12, 7), (13, 7), (12, 9), (16, 10), (20, 7), (30, 7), (35, 7))


def _routed_delay_network(sim, wafer_seed: int, n: int = 20):
    sim.setup(timestep=DT, ideal=False, defects="none", clip_parameters=True,
              wafer_seed=wafer_seed)
    src = sim.Population(n, sim.SpikeSourceArray(spike_times=[10.0]))
    sim.place_on_hicann(src, [_enum(12, 7)])
    prjs = []
    for x, y in DELAY_TARGETS:
        pop = sim.Population(n, sim.IF_cond_exp(**CELL))
        sim.place_on_hicann(pop, [_enum(x, y)])
        prjs.append(sim.Projection(src, pop, sim.AllToAllConnector(),
                                   sim.StaticSynapse(weight=0.01, delay=5.0)))
    _quiet_run(sim, 1.0)
    assert sim.get_mapping_statistics().synapses_lost == 0
    hops = [abs(x - 12) + abs(y - 7) + 1 for x, y in DELAY_TARGETS]
    delays = [np.asarray(p.get("delay", format="list", with_address=False)) for p in prjs]
    return hops, delays


def _formula(hops: int) -> float:
    return DELAY_PER_HICANN_MS * hops + DELAY_OFFSET_MS


@pytest.mark.parametrize("wafer_seed", [0, 3])
def test_routed_delays_are_the_distance_formula_plus_the_wafers_spread(wafer_sim, wafer_seed):
    """Routed delay of a connection = 0.0397 ms x HICANNs on its route + 0.6444 ms + a
    Gaussian spread (sigma 0.1 ms) drawn once per connection from the wafer seed, at least one
    time step, shown by Projection.get on the 0.1 ms grid of the engine.

    Exact reference: the spread is the stream ``numpy.random.default_rng([wafer_seed,
    0x0DE1A7]).normal(0, 0.1, n)`` over all connections in projection order (mapper.py
    ``routed_delays``), so every delay is known exactly.  Seed-independent check: the mean of
    (delay - formula) over the 400 connections of one route is 0 within 5 standard errors
    (sd of the spread on the grid: sqrt(0.1^2 + 0.1^2/12) = 0.104 ms, SE 0.0052 ms); a
    per-HICANN delay 10 % off moves the 19- and 24-HICANN routes by 0.075 and 0.095 ms
    (> 14 SE)."""
    sim = wafer_sim
    hops, delays = _routed_delay_network(sim, wafer_seed)
    assert hops == [1, 2, 3, 8, 9, 19, 24]
    n_total = sum(d.size for d in delays)
    spread = np.random.default_rng([wafer_seed, 0x0DE1A7]).normal(0.0, DELAY_SPREAD_MS,
                                                                  n_total)
    start = 0
    for h, d in zip(hops, delays):
        j = spread[start:start + d.size]
        start += d.size
        expected = np.rint(np.maximum(_formula(h) + j, DT) / DT) * DT
        np.testing.assert_allclose(d, expected, rtol=0, atol=1e-9, err_msg=f"{h} HICANNs")
        # the same without the stream: the spread averages out per route
        resid = d - _formula(h)
        se = np.sqrt(DELAY_SPREAD_MS ** 2 + DT ** 2 / 12) / np.sqrt(d.size)
        assert abs(resid.mean()) < 5 * se, (h, resid.mean())
        # and its width is the spread's (SE of a standard deviation: sd / sqrt(2 n))
        assert abs(resid.std() - np.sqrt(DELAY_SPREAD_MS ** 2 + DT ** 2 / 12)) \
            < 5 * se / np.sqrt(2), (h, resid.std())


def test_routed_delays_grow_by_the_per_hicann_slope(wafer_sim):
    """Across routes of 1..24 HICANNs the mean delay per route rises with slope 0.0397 ms per
    HICANN: the least-squares slope over the 7 route means (400 connections each, SE of a mean
    0.0052 ms) has a standard error of 0.0052 / sqrt(sum (h - mean h)^2) ms per HICANN; checked
    within 5 of them (a 10 % change, 0.004 ms per HICANN, is > 10 SE)."""
    sim = wafer_sim
    hops, delays = _routed_delay_network(sim, wafer_seed=5)
    h = np.array(hops, dtype=float)
    means = np.array([d.mean() for d in delays])
    slope, offset = np.polyfit(h, means, 1)
    se_mean = np.sqrt(DELAY_SPREAD_MS ** 2 + DT ** 2 / 12) / np.sqrt(delays[0].size)
    se_slope = se_mean / np.sqrt(np.sum((h - h.mean()) ** 2))
    assert abs(slope - DELAY_PER_HICANN_MS) < 5 * se_slope, slope
    se_offset = se_mean * np.sqrt(1 / h.size + h.mean() ** 2 / np.sum((h - h.mean()) ** 2))
    assert abs(offset - DELAY_OFFSET_MS) < 5 * se_offset, offset


# ------------------------------------------------------------------ synapse loss
def _all_to_all_50(sim, merger_routing: str):
    """50 neurons of size 2 on HICANN 0, connected all-to-all (self-connections included):
    2500 synapses requested."""
    sim.setup(timestep=DT, ideal=False, defects="none", clip_parameters=True, neuron_size=2,
              continue_despite_synapse_loss=True, merger_routing=merger_routing)
    pop = sim.Population(50, sim.IF_cond_exp(**CELL))
    sim.place_on_hicann(pop, [0])
    prj = sim.Projection(pop, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01))
    _quiet_run(sim, 0.1)
    return pop, prj, sim.get_mapping_statistics()


@pytest.mark.parametrize("merger_routing, routes", [
    ("minimize_as_possible", 2), ("one_to_one", 2), ("minimize", 1), ("auto", 2)])
def test_driver_limited_loss_is_exact(wafer_sim, merger_routing, routes):
    """50 neurons of size 2 (one denmem column each, top + bottom denmem) fill columns 0..49:
    neuron block 0 (columns 0..31, 32 neurons) and block 1 (columns 32..49, 18 neurons).
    Every neuron receives from all 50.

    Routes: 'one_to_one' sends each block on its own DNC merger (2 L1 routes onto HICANN 0);
    'minimize_as_possible' refuses to merge them (the merged source would need more drivers
    than the chain allows), also 2; 'minimize' merges both (50 <= 59 addresses): 1 route.

    Drivers: a route brings its sources (32 or 18 per block, 50 when merged) with 6-bit
    addresses in groups of equal 2 MSBs, and a half row decodes one group (4.3).  A neuron of
    size 2 has one column, i.e. one synapse per half row of its column's parity, so it needs
    one half row of that parity per source: 18..50 half rows, 9..25 drivers per route.  The
    chain is limited to 3 drivers (default driver_chain_length, brainscales1.md 4.2), and
    3 drivers x 2 rows give the neuron 6 half rows of its parity; each is filled by one of
    its sources (the half rows are shared out among the groups in proportion to their
    synapses, never more than a group has sources).  Realised per neuron and route: 3 x 2 = 6.

    => realised = 50 neurons x routes x 3 drivers x 2 rows = 600 (2 routes) or 300 (1 route);
    lost = 2500 - realised, all for want of drivers (routes fine, no defects, no multapses).
    'auto' maps with 'minimize_as_possible' and 'minimize' and keeps the one realising more:
    600."""
    sim = wafer_sim
    pop, prj, stats = _all_to_all_50(sim, merger_routing)
    places = sim.get_placement(pop)
    assert [p.neuron_block for p in places] == [0] * 32 + [1] * 18
    assert len({p.dnc_merger for p in places}) == routes
    realised = 50 * routes * 3 * 2
    assert stats.synapses_requested == 2500
    assert stats.synapses_realized == realised
    assert stats.synapses_lost == 2500 - realised
    assert stats.synapses_lost_drivers == 2500 - realised
    assert stats.synapses_lost_l1 == 0
    assert stats.synapses_lost_synapse_array == 0
    assert stats.synapses_lost_multapse == 0
    assert stats.l1_routes == routes and stats.l1_routes_failed == 0
    assert stats.synapse_loss == (2500 - realised) / 2500
    (p,) = stats.per_projection
    assert (p.requested, p.realized, p.lost) == (2500, realised, 2500 - realised)
    w = prj.get("weight", format="array")
    assert np.sum(np.isnan(w)) == 2500 - realised
    # every neuron gets exactly 6 synapses per route
    np.testing.assert_array_equal(np.sum(~np.isnan(w), axis=0), 6 * routes)


@pytest.mark.parametrize("multapses", ["realise", "per_projection"])
def test_multapses_in_other_projections_are_realised(wafer_sim, multapses):
    """4 sources -> 4 neurons, all-to-all three times: excitatory, excitatory again, inhibitory.
    The second excitatory projection repeats all 16 pairs of the first.  Both multapse rules
    realise them (issue 14): 'realise' gives every connection a synapse of its own, and
    marocco's 'per_projection' keeps one synapse per pair *and projection* (the 2022
    microcircuit demo split its multapses into extra projections for this reason).
    The 4 sources have addresses 63..60 (2-MSB decoder 3, section 5).  A neuron of size 4 has
    2 columns, 1 even and 1 odd per row (3.2), so each of its synapses from one decoder needs
    a half row: 8 excitatory synapses -> 4 even + 4 odd half rows = 4 rows; 4 inhibitory ->
    2 rows (the receptor is per row, 4.3); ceil((4 + 2) / 2) = 3 drivers <= 3 (14.8).
    => requested 48, realised 48, nothing lost."""
    sim = wafer_sim
    sim.setup(timestep=DT, ideal=False, defects="none", clip_parameters=True,
              continue_despite_synapse_loss=True, multapses=multapses)
    src = sim.Population(4, sim.SpikeSourceArray(spike_times=[5.0]))
    pop = sim.Population(4, sim.IF_cond_exp(**CELL))
    sim.place_on_hicann(src, [_enum(12, 7)])
    sim.place_on_hicann(pop, [_enum(13, 7)])
    for receptor in ("excitatory", "excitatory", "inhibitory"):
        sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01),
                       receptor_type=receptor)
    _quiet_run(sim, 0.1)
    stats = sim.get_mapping_statistics()
    assert stats.synapses_requested == 48
    assert stats.synapses_realized == 48
    assert (stats.synapses_lost_l1, stats.synapses_lost_drivers,
            stats.synapses_lost_synapse_array, stats.synapses_lost_multapse) == (0, 0, 0, 0)
    assert [(p.requested, p.lost) for p in stats.per_projection] == [(16, 0)] * 3


# ------------------------------------------------------------------ merger strategy 'auto'
def _guidebook(sim, merger_routing: str):
    """marocco's guidebook loss example (brainscales1.md 14.12): 50 Poisson sources + 50
    IF_cond_exp, two FixedProbability(0.5) projections, neuron size 4, driver chain 5,
    neurons on HICANN 0, sources on HICANN 1."""
    sim.setup(timestep=DT, ideal=False, defects="none", clip_parameters=True, neuron_size=4,
              driver_chain_length=5, continue_despite_synapse_loss=True,
              merger_routing=merger_routing)
    guidebook_network(sim)
    _quiet_run(sim, 0.1)
    return sim.get_mapping_statistics()


def test_auto_merger_routing_keeps_the_better_strategy(wafer_sim):
    """The guidebook case loses nothing with the default ('auto'): 0 of the requested
    synapses, where marocco lost 23.4 %.  'minimize' funnels all four neuron blocks into one L1
    bus and loses synapses for want of drivers; 'minimize_as_possible' and 'one_to_one' lose
    none.  'auto' must realise exactly as many as the better of the two strategies it tries
    (and be that mapping: same number of L1 routes)."""
    sim = wafer_sim
    stats = {m: _guidebook(sim, m) for m in ("minimize_as_possible", "minimize",
                                             "one_to_one", "auto")}
    requested = {s.synapses_requested for s in stats.values()}
    assert len(requested) == 1
    auto = stats["auto"]
    assert auto.synapses_lost == 0 and auto.synapse_loss == 0.0
    assert auto.synapses_realized == auto.synapses_requested
    assert stats["minimize_as_possible"].synapses_lost == 0
    assert stats["one_to_one"].synapses_lost == 0
    assert stats["minimize"].synapses_lost > 0
    assert stats["minimize"].synapses_lost == stats["minimize"].synapses_lost_drivers
    tried = [stats["minimize_as_possible"], stats["minimize"]]
    assert auto.synapses_lost == min(s.synapses_lost for s in tried)
    best = min(tried, key=lambda s: s.synapses_lost)        # first one wins a tie
    assert auto.l1_routes == best.l1_routes
    assert auto.synapses_realized == best.synapses_realized
