"""Resources (issue 13): a network larger than the wafer is refused at ``Population()`` at
once; recording, ``get_data`` and chunked ``write_data`` cost about the size of the data;
progress bars follow the expected wall time, not the number of steps.

Sizes are small; the ratios are what the full-size benchmark (``benchmarks/memory.py``)
measures.  Memory is measured with tracemalloc (numpy reports its arrays to it)."""
from __future__ import annotations

import pickle
import time
import tracemalloc

import neo
import numpy as np
import pytest

from pyNN_bss_emu import recording, simulator
from pyNN_bss_emu.backend import progress
from pyNN_bss_emu.engine import kernels
from pyNN_bss_emu.engine import network as engine_network
from pyNN_bss_emu.mapping.types import ResourceExhaustedError

from conftest import assert_same, signal, spike_times

MiB = 2 ** 20


def _traced(func):
    """(result, peak bytes allocated while ``func()`` ran, bytes still held after it)."""
    tracemalloc.start()
    try:
        result = func()
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak, held


def _driven(sim, n: int, label: str = "neurons"):
    """``n`` IF_cond_exp driven by 20 Poisson sources (v moves, a few spikes)."""
    src = sim.Population(20, sim.SpikeSourcePoisson(rate=80.0), label="input")
    pop = sim.Population(n, sim.IF_cond_exp(tau_refrac=2.0, v_thresh=-55.0), label=label)
    sim.Projection(src, pop, sim.FixedProbabilityConnector(0.3, rng=sim.NumpyRNG(1)),
                   sim.StaticSynapse(weight=0.02, delay=1.0))
    return pop


def _setup(sim, ideal: bool) -> None:
    sim.setup(timestep=0.1, ideal=ideal, defects="none", analog_recording_limit=False,
              continue_despite_synapse_loss=True, clip_parameters=True)


# ============================================================================ capacity
def test_wafer_refuses_a_network_larger_than_the_wafer_at_creation(wafer_sim):
    """2 million neurons of size 4 need 8 M denmems; a defect-free wafer has 384 x 512: the
    error comes from Population() itself, before the cells are allocated (before issue 13:
    seconds and gigabytes later, at run())."""
    sim = wafer_sim

    def attempt():
        with pytest.raises(ResourceExhaustedError) as err:
            sim.Population(2_000_000, sim.IF_cond_exp(), label="cortex")
        return err

    err, peak, _ = _traced(attempt)
    message = str(err.value)
    for part in ("population 'cortex'", "2,000,000 neurons of neuron size 4",
                 "8,000,000 denmems", "196,608 usable denmems", "384 HICANNs x 512",
                 "room for 49,152 more neurons", "setup(neuron_size=2)", "setup(ideal=True)"):
        assert part in message, (part, message)
    assert peak < 8 * MiB, f"the refusal allocated {peak / MiB:.0f} MiB"


def test_capacity_counts_earlier_populations_and_their_neuron_sizes(wafer_sim):
    """Spike sources use no denmems; neuron populations count with their own neuron size
    (``set_neuron_size``), new ones with the default."""
    sim = wafer_sim
    sim.Population(100_000, sim.SpikeSourcePoisson(rate=1.0))
    a = sim.Population(40_000, sim.IF_cond_exp(), label="a")           # 160,000 denmems
    with pytest.raises(ResourceExhaustedError,
                       match=r"'b': 10,000 neurons .* take 160,000: room for 9,152 more"):
        sim.Population(10_000, sim.IF_cond_exp(), label="b")
    sim.set_neuron_size(a, 2)                                          # now 80,000
    b = sim.Population(10_000, sim.IF_cond_exp(), label="b")
    assert b.size == 10_000
    sim.setup(defects="none", neuron_size=8)
    with pytest.raises(ResourceExhaustedError, match=r"neuron size 8 .* room for 24,576"):
        sim.Population(24_577, sim.IF_cond_exp())
    assert sim.Population(24_576, sim.IF_cond_exp()).size == 24_576


def test_simulator_usable_after_the_refusal(wafer_sim):
    sim = wafer_sim
    src = sim.Population(5, sim.SpikeSourcePoisson(rate=100.0), label="src")
    with pytest.raises(ResourceExhaustedError):
        sim.Population(1_000_000, sim.IF_cond_exp(), label="huge")
    state = simulator.state
    assert [p.label for p in state.populations] == ["src"]
    assert len(state.recorders) == 1 and state.id_counter == 5
    pop = sim.Population(10, sim.IF_cond_exp(tau_refrac=2.0), label="small")
    assert int(pop.first_id) == 5
    sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.05))
    pop.record(["spikes", "v"])
    sim.run(100.0)
    assert signal(pop.get_data(), "v").shape == (1001, 10)


def test_ideal_mode_takes_large_populations_with_light_cell_ids(sim):
    """Ideal mode has no capacity limit; a cell costs about 430 bytes (before issue 13: 610,
    with a dict per cell ID holding its parent), and the IDs behave as PyNN's."""
    pop, _, held = _traced(lambda: sim.Population(300_000, sim.IF_cond_exp(), label="big"))
    assert held / pop.size < 500, f"{held / pop.size:.0f} bytes per cell"
    cell = pop[123]
    assert isinstance(cell, simulator.ID) and int(cell) == int(pop.first_id) + 123
    assert cell.parent is pop and pop.id_to_index(cell) == 123
    cell.tau_m = 12.5
    assert pop[123].tau_m == 12.5 and pop[124].tau_m != 12.5
    small = sim.Population(3, sim.IF_cond_exp(), label="small")
    clone = pickle.loads(pickle.dumps(small[1]))
    assert int(clone) == int(small[1]) and clone.parent.label == "small"
    other = sim.Population(2, sim.IF_cond_exp())
    cell = small[2]
    cell.parent = other                       # PyNN sets it per cell: still possible
    assert cell.parent is other and small[1].parent is small


# ============================================================================ memory
@pytest.mark.parametrize("ideal", [True, False], ids=["ideal", "wafer"])
def test_recording_and_get_data_cost_about_the_data(sim, monkeypatch, ideal):
    """A run holds its samples once (before: twice while it ended), and get_data allocates
    the array it returns and small blocks (before: 2x the data in ideal mode, 5x on the
    wafer, whose ADC readout made full-size temporaries)."""
    monkeypatch.setattr(recording, "SIGNAL_BLOCK_BYTES", MiB // 2, raising=False)
    _setup(sim, ideal)
    pop = _driven(sim, 200)
    pop.record("v")
    sim.run(1.0)                          # mapping, JIT and the first sample out of the way
    _, run_peak, _ = _traced(lambda: sim.run(1999.0))
    block, get_peak, _ = _traced(lambda: pop.get_data("v"))
    v = signal(block, "v")
    data = v.nbytes
    assert v.dtype == np.float64 and data == 20_001 * 200 * 8
    assert run_peak <= 1.2 * data, f"run peak {run_peak / data:.2f} x the samples"
    assert get_peak <= 1.25 * data, f"get_data peak {get_peak / data:.2f} x the data"


class _SummaryIO:
    """A neo IO that keeps only a summary of each block (so that it adds no memory)."""
    filename = "summary"

    def __init__(self) -> None:
        self.written: list[tuple[float, tuple, np.ndarray]] = []

    def write_block(self, block) -> None:
        v = signal(block, "v")
        self.written.append((float(v.t_start), v.shape, np.asarray(v[-1]).copy()))


def test_chunked_write_data_keeps_memory_at_one_chunk(sim, monkeypatch):
    """A long recording written per chunk (``write_data(io, clear=True)`` after each run)
    peaks at about 2x one chunk (the engine's samples and the array given to the IO; before:
    5-7x on the wafer) and returns to the same level after every chunk."""
    monkeypatch.setattr(recording, "SIGNAL_BLOCK_BYTES", MiB // 4, raising=False)
    _setup(sim, False)
    pop = _driven(sim, 200)
    pop.record("v")
    sim.run(0.1)
    io = _SummaryIO()
    pop.write_data(io, clear=True)
    levels = []

    def chunks():
        for _ in range(4):
            sim.run(400.0)
            pop.write_data(io, clear=True)
            levels.append(tracemalloc.get_traced_memory()[0])

    _, peak, _ = _traced(chunks)
    chunk = 4001 * 200 * 8
    assert [w[1] for w in io.written[1:]] == [(4001, 200)] * 4
    assert [w[0] for w in io.written[1:]] == pytest.approx([0.1, 400.1, 800.1, 1200.1])
    assert peak <= 2.3 * chunk, f"peak {peak / chunk:.2f} x one chunk"
    assert max(levels) - min(levels) < 0.1 * chunk      # nothing piles up


def test_chunks_written_to_files_add_up_to_the_whole_recording(sim, tmp_path):
    """Chunks written with PickleIO, read back and joined (each chunk starts with the
    previous one's last sample) equal one continuous recording."""
    def network():
        sim.setup(timestep=0.1, ideal=True)
        pop = _driven(sim, 20)
        pop.record(["v", "spikes"])
        return pop

    pop = network()
    sim.run(300.0)
    whole = signal(pop.get_data(), "v")
    pop = network()
    parts = []
    for k in range(3):
        sim.run(100.0)
        path = tmp_path / f"v_{k}.pkl"
        pop.write_data(str(path), clear=True)
        parts.append(signal(neo.io.PickleIO(str(path)).read_block(), "v"))
    assert [float(p.t_start) for p in parts] == pytest.approx([0.0, 100.0, 200.0])
    joined = np.concatenate([np.asarray(parts[0])] + [np.asarray(p)[1:] for p in parts[1:]])
    np.testing.assert_array_equal(joined, np.asarray(whole))


def test_write_data_releases_only_what_it_made(sim, tmp_path):
    """The written block's current segment is released; segments of earlier trials, which
    blocks returned before share, stay intact; the file holds everything."""
    pop = _driven(sim, 5)
    pop.record(["v", "spikes"])
    sim.run(20.0)
    sim.reset()
    sim.run(10.0)
    earlier = pop.get_data()
    pop.write_data(str(tmp_path / "all.pkl"), clear=True)
    assert [signal(seg, "v").shape for seg in earlier.segments] == [(201, 5), (101, 5)]
    written = neo.io.PickleIO(str(tmp_path / "all.pkl")).read_block()
    assert [signal(seg, "v").shape for seg in written.segments] == [(201, 5), (101, 5)]
    for a, b in zip(earlier.segments, written.segments):
        np.testing.assert_array_equal(np.asarray(signal(a, "v")), np.asarray(signal(b, "v")))
        assert_same(spike_times(a), spike_times(b))


def test_recording_windows_are_bit_identical(sim, monkeypatch):
    """Several record requests share a scratch buffer in windows of steps; any window size
    gives the same samples and spikes as one window, and as a single request (which the
    kernel writes directly)."""
    calls = []
    real = kernels.run_steps

    def counting(*args):
        calls.append(args[1])
        return real(*args)

    monkeypatch.setattr(kernels, "run_steps", counting)

    def collect(variables):
        sim.setup(timestep=0.1, ideal=True)
        pop = _driven(sim, 30)
        pop.record(variables)
        pop2 = _driven(sim, 7, label="other")
        pop2.record(["v", "gsyn_inh"], sampling_interval=0.3)
        sim.run(57.3)
        sim.run(42.7)
        data = pop.get_data()
        return ([np.asarray(signal(data, name)) for name in variables if name != "spikes"]
                + [spike_times(data)])

    one_window = collect(["v", "gsyn_exc", "spikes"])
    calls.clear()
    monkeypatch.setattr(engine_network, "RECORD_SCRATCH_BYTES", 64, raising=False)
    monkeypatch.setattr(engine_network, "RECORD_MIN_WINDOW_STEPS", 3, raising=False)
    windowed = collect(["v", "gsyn_exc", "spikes"])
    assert len(calls) > 100                # the windows did split the runs
    assert_same(one_window, windowed)
    monkeypatch.setattr(engine_network, "RECORD_SCRATCH_BYTES", 16 * MiB, raising=False)
    sim.setup(timestep=0.1, ideal=True)
    pop = _driven(sim, 30)
    pop.record(["v", "spikes"])            # one request: written directly
    sim.run(57.3)
    sim.run(42.7)
    data = pop.get_data()
    assert_same([one_window[0], one_window[2]], [np.asarray(signal(data, "v")),
                                                 spike_times(data)])


# ============================================================================ progress bars
@pytest.fixture
def bars_on(monkeypatch):
    monkeypatch.setattr(progress, "PROGRESS", True)
    monkeypatch.setattr(progress, "PROGRESS_DEFAULT", True)


def _count_engine_runs(monkeypatch, pause: float = 0.0) -> list[int]:
    calls: list[int] = []
    real = engine_network.Network.run

    def run(self, n_steps):
        calls.append(n_steps)
        time.sleep(pause)
        return real(self, n_steps)

    monkeypatch.setattr(engine_network.Network, "run", run)
    return calls


def test_many_fast_steps_get_no_bar(sim, bars_on, monkeypatch, capsys):
    """10^6 steps of one neuron take a fraction of a second: no bar, one engine call
    (before issue 13: a bar and 100 chunks from 10^6 steps on)."""
    calls = _count_engine_runs(monkeypatch)
    sim.Population(1, sim.IF_cond_exp()).record("spikes")
    sim.run(100_000.0)
    assert calls == [1_000_000]
    assert "bss_emu run" not in capsys.readouterr().err


def test_a_run_expected_to_be_slow_gets_a_bar_and_the_same_results(sim, bars_on, monkeypatch,
                                                                   capsys):
    def collect():
        sim.setup(timestep=0.1, ideal=True)
        pop = _driven(sim, 30)
        pop.record(["spikes", "v"])
        sim.run(200.0)
        data = pop.get_data()
        return [np.asarray(signal(data, "v")), spike_times(data)]

    monkeypatch.setattr(progress, "PROGRESS", False)
    plain = collect()
    monkeypatch.setattr(progress, "PROGRESS", True)
    monkeypatch.setattr(progress, "RUN_SECONDS_PER_NEURON_STEP", 1.0, raising=False)
    calls = _count_engine_runs(monkeypatch)
    chunked = collect()
    assert calls == [100] * 20              # 2000 steps in chunks of max(100, 2000 / 100)
    assert "bss_emu run" in capsys.readouterr().err
    assert_same(plain, chunked)


@pytest.mark.parametrize("pause, expected_calls, bar", [
    (0.05, [100] * 20, True),        # the first chunk shows 20 x 0.05 s > 0.5 s: a bar
    (0.0, [100, 1900], False)])      # fast: the rest in one call, no bar
def test_a_timed_first_chunk_decides_the_bar(sim, bars_on, monkeypatch, capsys, pause,
                                             expected_calls, bar):
    monkeypatch.setattr(progress, "PROGRESS_MIN_SECONDS", 0.5, raising=False)
    monkeypatch.setattr(progress, "PROGRESS_PROBE_SECONDS", 0.0, raising=False)
    monkeypatch.setattr(progress, "RUN_SECONDS_PER_NEURON_STEP", 1e-12, raising=False)
    pop = _driven(sim, 30)
    pop.record("spikes")
    sim.run(0.1)
    calls = _count_engine_runs(monkeypatch, pause)
    sim.run(200.0)
    assert calls == expected_calls
    assert ("bss_emu run" in capsys.readouterr().err) is bar


def test_get_data_of_a_recording_expected_to_be_slow_gets_a_bar(sim, bars_on, monkeypatch,
                                                                 capsys):
    pop = _driven(sim, 30)
    pop.record("v")
    sim.run(50.0)
    capsys.readouterr()
    monkeypatch.setattr(progress, "GET_DATA_SECONDS_PER_VALUE", 0.0, raising=False)
    quick = pop.get_data("v")
    assert "bss_emu get_data" not in capsys.readouterr().err
    monkeypatch.setattr(progress, "GET_DATA_SECONDS_PER_VALUE", 1.0, raising=False)
    slow = pop.get_data("v")
    assert "bss_emu get_data 'v'" in capsys.readouterr().err
    np.testing.assert_array_equal(np.asarray(signal(quick, "v")), np.asarray(signal(slow, "v")))
