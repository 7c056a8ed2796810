"""Plots (``sim.plot_raster``, ``plot_membrane``, ``plot_weights``, ``plot_wafer_map``), progress
bars of long mappings and runs (chunked runs give the same spikes), and the command line
``python -m pyNN_bss_emu``."""
from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from pyNN_bss_emu import simulator  # noqa: E402
from pyNN_bss_emu.backend import progress  # noqa: E402
from pyNN_bss_emu.hardware import wafer  # noqa: E402

from conftest import assert_same, spike_times  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
MIN_PNG = 5_000


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _network(sim, n_src=20, n=30, duration=200.0, seed=3):
    """Poisson drive onto a population with spread weights; spikes and v recorded."""
    rng = sim.NumpyRNG(seed=seed)
    src = sim.Population(n_src, sim.SpikeSourcePoisson(rate=40.0), label="drive")
    pop = sim.Population(n, sim.IF_cond_exp(tau_refrac=2.0, v_thresh=-55.0), label="neurons")
    prj = sim.Projection(src, pop, sim.FixedProbabilityConnector(0.5, rng=rng),
                         sim.StaticSynapse(weight=sim.RandomDistribution(
                             "uniform", (0.002, 0.02), rng=rng), delay=1.0),
                         receptor_type="excitatory", label="drive→neurons")
    src.record("spikes")
    pop.record(["spikes", "v"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(duration)
    return src, pop, prj


# ============================================================================ plots
def test_plot_raster_block_png_and_figure(sim, tmp_path):
    src, pop, _ = _network(sim)
    path = tmp_path / "raster.png"
    fig = sim.plot_raster(pop.get_data(), str(path))
    assert isinstance(fig, Figure)
    assert path.stat().st_size > MIN_PNG
    (ax,) = fig.axes
    assert ax.get_xlabel() == "time (ms)" and ax.get_ylabel() == "neuron index"
    n_spikes = sum(len(t) for t in spike_times(pop.get_data()))
    assert f"{n_spikes} spikes from 30 neurons" in ax.get_title()


def test_plot_raster_several_populations(sim, tmp_path):
    src, pop, _ = _network(sim)
    path = tmp_path / "raster2.png"
    fig = sim.plot_raster({"input": src.get_data(), "network": pop}, path)
    assert path.stat().st_size > MIN_PNG
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 2
    assert titles[0].startswith("input: ") and "from 20 neurons" in titles[0]
    assert titles[1].startswith("network: ") and "from 30 neurons" in titles[1]
    # a list of Segments works too and takes the population labels
    fig = sim.plot_raster([src.get_data().segments[0], pop.get_data().segments[0]])
    assert [ax.get_title().split(":")[0] for ax in fig.axes] == ["drive", "neurons"]


def test_plot_membrane_png(sim, tmp_path):
    _, pop, _ = _network(sim)
    path = tmp_path / "membrane.png"
    fig = sim.plot_membrane(pop.get_data(), path, max_traces=4)
    assert isinstance(fig, Figure)
    assert path.stat().st_size > MIN_PNG
    (ax,) = fig.axes
    assert ax.get_xlabel() == "time (ms)" and ax.get_ylabel() == "v (mV)"
    assert len(ax.lines) == 4
    v = np.asarray(pop.get_data().segments[0].filter(name="v")[0])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), v[:, 0])
    assert ax.lines[0].get_xdata()[-1] == pytest.approx(200.0)


def _weight_points(fig):
    ax = fig.axes[0]
    pts = np.asarray(ax.collections[0].get_offsets())
    return ax, pts[:, 0], pts[:, 1]


def test_plot_weights_wafer_quantised(wafer_sim, tmp_path):
    sim = wafer_sim
    _, _, prj = _network(sim)
    path = tmp_path / "weights.png"
    fig = sim.plot_weights(prj, path)
    assert isinstance(fig, Figure)
    assert path.stat().st_size > MIN_PNG
    ax, req, real = _weight_points(fig)
    assert req.size == len(prj)          # no loss in this small network
    # 4-bit synapses and the wafer's fixed pattern: points off the identity line
    assert np.mean(~np.isclose(real, req, rtol=1e-6)) > 0.5
    assert f"{len(prj)} connections, 0 lost (NaN)" in ax.get_title()
    assert ax.get_xlabel() == "requested weight (µS)"
    assert ax.get_ylabel() == "realised weight (µS)"


def test_plot_weights_counts_lost_synapses(wafer_sim):
    sim = wafer_sim
    # see test_wafer_mapping: all-to-all between size-2 neurons loses synapses
    sim.setup(neuron_size=2, defects="none", continue_despite_synapse_loss=True)
    pop = sim.Population(50, sim.IF_cond_exp(tau_refrac=2.0))
    prj = sim.Projection(pop, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(0.0)
    lost = sim.get_mapping_statistics().synapses_lost
    assert lost > 0
    fig = sim.plot_weights(prj)
    ax, req, real = _weight_points(fig)
    assert req.size == len(prj) - lost
    assert f"{lost} lost (NaN)" in ax.get_title()


def test_plot_weights_ideal_on_identity(sim, tmp_path):
    _, _, prj = _network(sim)
    fig = sim.plot_weights(prj, tmp_path / "w.png")
    ax, req, real = _weight_points(fig)
    assert req.size == len(prj)
    np.testing.assert_array_equal(real, req)
    assert "0 lost (NaN), 0 off the identity" in ax.get_title()
    assert "ideal engine" in ax.get_title()


def test_plot_weights_current_based_in_nA(sim):
    src = sim.Population(5, sim.SpikeSourceArray(spike_times=[1.0]))
    pop = sim.Population(5, sim.IF_curr_exp())
    prj = sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=-0.5),
                         receptor_type="inhibitory")
    sim.run(1.0)
    ax, req, real = _weight_points(sim.plot_weights(prj))
    assert ax.get_xlabel() == "requested weight (nA)"
    np.testing.assert_array_equal(req, -0.5)


def test_plot_wafer_map_panels(wafer_sim, tmp_path):
    sim = wafer_sim
    _network(sim, duration=10.0)
    path = tmp_path / "wafer.png"
    ax = sim.plot_wafer_map(path)
    assert path.stat().st_size > MIN_PNG
    assert len(ax.patches) == wafer.N_HICANN
    assert "30 neurons" in ax.get_title() and "L1 routes" in ax.get_title()
    titles = [a.get_title() for a in ax.figure.axes]
    assert any(t.startswith("synapse loss per HICANN") and " 0 of " in t for t in titles), \
        titles
    assert ax.get_xlabel() == "HICANN x (grid column)"
    # into a given Axes: only the map panel
    fig, own = plt.subplots()
    assert sim.plot_wafer_map(ax=own) is own
    assert [a for a in fig.axes if a.get_title().startswith("synapse loss")] == []


def test_plot_wafer_map_loss_per_hicann(wafer_sim):
    sim = wafer_sim
    sim.setup(neuron_size=2, defects="none", continue_despite_synapse_loss=True)
    pop = sim.Population(50, sim.IF_cond_exp(tau_refrac=2.0))
    sim.Projection(pop, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sim.run(0.0)
    stats = sim.get_mapping_statistics()
    ax = sim.plot_wafer_map()
    loss_ax = [a for a in ax.figure.axes if a.get_title().startswith("synapse loss")][0]
    assert f"{stats.synapses_lost} of {stats.synapses_requested} synapses lost" \
        in loss_ax.get_title()
    # the losing HICANN carries its lost count
    assert str(stats.synapses_lost) in [t.get_text() for t in loss_ax.texts]
    # and a red edge in the map
    red = [p for p in ax.patches if p.get_linewidth() > 1.0]
    assert len(red) == 1


def test_plot_history_png(tmp_path):
    from pyNN_bss_emu.training.plotting import plot_history
    history = {"iteration": [1, 2, 3], "loss": [2.0, 1.5, 1.2],
               "batch_accuracy": [0.3, 0.5, 0.6], "eval_iteration": [0, 3],
               "eval_accuracy": [0.4, 0.7]}
    path = tmp_path / "curve.png"
    fig = plot_history(history, str(path), references={"software ANN": 0.9})
    assert isinstance(fig, Figure) and path.stat().st_size > MIN_PNG


# ---------------------------------------------------------------------------- bad input
def test_plot_raster_without_spikes(sim):
    pop = sim.Population(3, sim.IF_cond_exp(tau_refrac=2.0))
    pop.record("v")
    sim.run(10.0)
    with pytest.raises(ValueError, match=r"plot_raster\(data=.*no spike trains.*record"):
        sim.plot_raster(pop.get_data())


def test_plot_membrane_without_v(sim):
    pop = sim.Population(3, sim.IF_cond_exp(tau_refrac=2.0))
    pop.record("spikes")
    sim.run(10.0)
    with pytest.raises(ValueError, match=r"plot_membrane\(data=.*no membrane potential 'v'"):
        sim.plot_membrane(pop.get_data())


@pytest.mark.parametrize("func", ["plot_raster", "plot_membrane"])
@pytest.mark.parametrize("bad", [42, "spikes.pkl", [np.zeros(3)]])
def test_plots_reject_non_neo_data(sim, func, bad):
    with pytest.raises(TypeError, match=rf"{func}\(data=.*expected a neo Block or Segment"):
        getattr(sim, func)(bad)


def test_plots_reject_empty_list_and_bad_segment(sim):
    pop = sim.Population(2, sim.IF_cond_exp(tau_refrac=2.0))
    pop.record("spikes")
    sim.run(5.0)
    with pytest.raises(ValueError, match=r"plot_raster\(data=.*empty"):
        sim.plot_raster([])
    with pytest.raises(ValueError, match=r"plot_raster\(segment=3\).*1 segment"):
        sim.plot_raster(pop.get_data(), segment=3)


@pytest.mark.parametrize("bad", [None, "prj", np.zeros((3, 3))])
def test_plot_weights_rejects_non_projection(sim, bad):
    with pytest.raises(TypeError, match=r"plot_weights\(projection=.*expected a pyNN.bss_emu "
                                        r"Projection"):
        sim.plot_weights(bad)


def test_plot_weights_needs_mapping_on_wafer(wafer_sim):
    sim = wafer_sim
    src = sim.Population(2, sim.SpikeSourcePoisson(rate=5.0))
    pop = sim.Population(2, sim.IF_cond_exp(tau_refrac=2.0))
    prj = sim.Projection(src, pop, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01))
    with pytest.raises(RuntimeError, match=r"not been mapped.*run\(0\)"):
        sim.plot_weights(prj)


def test_plot_weights_empty_projection(sim):
    a = sim.Population(2, sim.SpikeSourcePoisson(rate=5.0))
    b = sim.Population(2, sim.IF_cond_exp(tau_refrac=2.0))
    prj = sim.Projection(a, b, sim.FromListConnector([]), sim.StaticSynapse(weight=0.01))
    with pytest.raises(ValueError, match=r"plot_weights\(projection=.*no connections"):
        sim.plot_weights(prj)


# ============================================================================ progress bars
@pytest.fixture
def forced_progress(monkeypatch):
    """Progress bars on, for runs of >= 10 steps, chunks of 700 steps (so a 200 ms run of
    2000 steps is split 3 times)."""
    monkeypatch.setattr(progress, "PROGRESS", True)
    monkeypatch.setattr(progress, "PROGRESS_DEFAULT", True)    # what setup() falls back to
    monkeypatch.setattr(progress, "PROGRESS_MIN_STEPS", 10)
    monkeypatch.setattr(progress, "PROGRESS_MIN_CHUNK_STEPS", 700)
    monkeypatch.setattr(progress, "PROGRESS_CHUNKS", 100)
    monkeypatch.setattr(progress, "PROGRESS_MIN_SYNAPSES", 1)


def _collect(src, pop):
    data = pop.get_data().segments[0]
    return (spike_times(src.get_data()), spike_times(pop.get_data()),
            np.asarray(data.filter(name="v")[0]))


def test_progress_auto_is_off_without_a_terminal(monkeypatch):
    monkeypatch.setattr(progress, "PROGRESS", None)
    assert not sys.stderr.isatty()           # pytest captures stderr
    assert progress.progress_enabled() is False
    assert progress.progress_bar(10, "x") is None
    monkeypatch.setattr(progress, "PROGRESS", False)
    assert progress.progress_enabled() is False
    monkeypatch.setattr(progress, "PROGRESS", True)
    assert progress.progress_enabled() is True


def test_chunked_run_is_bit_identical(sim, forced_progress, monkeypatch, capsys):
    """A long run with a progress bar advances the engine in chunks: same spikes and
    membrane traces, bit for bit, as one engine call."""
    monkeypatch.setattr(progress, "PROGRESS", False)
    whole = _collect(*_network(sim)[:2])
    calls = []
    real_run = type(simulator.state.network).run

    def counting_run(self, n_steps):
        calls.append(n_steps)
        return real_run(self, n_steps)

    monkeypatch.setattr(progress, "PROGRESS", True)
    monkeypatch.setattr(type(simulator.state.network), "run", counting_run)
    sim.setup()
    chunked = _collect(*_network(sim)[:2])
    assert calls == [700, 700, 600]
    assert sum(len(t) for t in whole[1]) > 20
    assert_same(whole, chunked)
    assert "bss_emu run" in capsys.readouterr().err


def test_no_progress_and_no_chunks_by_default(sim, monkeypatch, capsys):
    monkeypatch.setattr(progress, "PROGRESS_MIN_STEPS", 10)     # a "long" run, but
    monkeypatch.setattr(progress, "PROGRESS", None)             # not on a terminal
    calls = []
    real_run = type(simulator.state.network).run
    monkeypatch.setattr(type(simulator.state.network), "run",
                        lambda self, n: calls.append(n) or real_run(self, n))
    _network(sim, duration=100.0)
    assert calls == [1000]
    assert capsys.readouterr().err == ""


def test_wafer_run_split_invariance(wafer_sim):
    """The stimulus FIFOs delay events past the end of a run window; the next window must
    deliver them, so that run(300); run(700) equals run(1000) on the wafer too."""
    sim = wafer_sim

    def build():
        sim.setup(defects="none", neuron_size=8, continue_despite_synapse_loss=True)
        src = sim.Population(50, sim.SpikeSourcePoisson(rate=80.0))
        pop = sim.Population(40, sim.IF_cond_exp(tau_refrac=2.0, v_thresh=-55.0))
        sim.Projection(src, pop, sim.FixedProbabilityConnector(0.3, rng=sim.NumpyRNG(1)),
                       sim.StaticSynapse(weight=0.01))
        pop.record("spikes")
        return pop

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pop = build()
        sim.run(1000.0)
        whole = spike_times(pop.get_data())
        pop = build()
        sim.run(300.0)
        sim.run(700.0)
    assert_same([whole], [spike_times(pop.get_data())])


def test_mapping_progress_bar(wafer_sim, forced_progress, capsys):
    sim = wafer_sim
    _network(sim, duration=1.0)
    err = capsys.readouterr().err
    assert "bss_emu mapping" in err and "synapse_routing done" in err


def test_map_network_progress_callback(wafer_sim):
    from pyNN_bss_emu.backend.graph import bio_graph
    from pyNN_bss_emu.mapping.pipeline import map_network
    sim = wafer_sim
    _network(sim, duration=1.0)
    state = simulator.state
    backend = state.backend
    graph = bio_graph(backend.populations, backend.projections, backend.network.n_nodes,
                      backend.network.neuron_node)
    seen = []
    map_network(graph, backend.options.mapping, backend.defects,
                progress=lambda *a: seen.append(a))
    assert seen[0] == ("neuron_placement", 1, len(seen))
    assert [s[1] for s in seen] == list(range(1, len(seen) + 1))
    assert {s[2] for s in seen} == {len(seen)}
    assert {"merger_routing", "l1_routing", "synapse_routing"} <= {s[0] for s in seen}


# ============================================================================ command line
def _cli(*args, timeout=120):
    env = dict(os.environ, PYNEST_QUIET="1", MPLBACKEND="Agg")
    env.pop("PYNN_BSS_EMU_PROGRESS", None)
    return subprocess.run([sys.executable, "-m", "pyNN_bss_emu", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT, env=env)


def test_cli_version_and_resources():
    res = _cli()
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    version = importlib.metadata.version("pyNN_bss_emu")
    assert lines[0].startswith(f"pyNN_bss_emu {version} ")
    table = {ln[:30].strip(): ln[30:].split(None, 1) for ln in lines[2:] if ln.startswith("  ")}
    expect = {"HICANNs": "384", "reticles (DNCs, FPGAs)": "48", "denmems per HICANN": "512",
              "synapse drivers per HICANN": "224", "synapses per HICANN": "114,688",
              "DNC mergers per HICANN": "8", "usable L1 addresses": "59",
              "speed-up (default)": "10000"}
    for name, value in expect.items():
        assert table[name][0] == value, (name, table.get(name))
    assert "64 H + 256 V" in res.stdout
    assert "125 MHz" in res.stdout and "17.8 MHz" in res.stdout
    assert "self-check" not in res.stdout       # opt-in


def test_cli_json_matches_constants():
    res = _cli("--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    r = doc["resources"]
    assert doc["version"] == importlib.metadata.version("pyNN_bss_emu")
    assert r["hicanns"] == wafer.N_HICANN == 384
    assert r["reticles"] == wafer.N_RETICLES == 48
    assert r["denmems_per_hicann"] == 512 and r["synapse_drivers_per_hicann"] == 224
    assert r["synapses_per_hicann"] == wafer.SYNAPSES_PER_HICANN
    assert (r["hlines_per_hicann"], r["vlines_per_hicann"]) == (64, 256)
    assert r["dnc_mergers_per_hicann"] == 8 and r["usable_l1_addresses"] == 59
    assert r["speedup_default"] == 1e4
    assert r["fpga_event_rate_hz"] == 125e6


def test_cli_help():
    res = _cli("--help")
    assert res.returncode == 0
    for text in ("python -m pyNN_bss_emu", "--self-check", "--no-nest", "--json", "--version",
                 "Exit status"):
        assert text in res.stdout


def test_cli_bad_option():
    res = _cli("--no-such-option")
    assert res.returncode == 2 and "unrecognized arguments" in res.stderr


@pytest.mark.slow
def test_cli_self_check_passes():
    res = _cli("--self-check")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "self-check PASS" in res.stdout
    assert "[FAIL]" not in res.stdout
    for text in ("ideal engine", "emulated wafer", "0 synapses lost"):
        assert text in res.stdout


def test_self_check_reports_failure(sim, monkeypatch, capsys):
    """A failing check prints FAIL and gives exit status 1 (in-process, without NEST)."""
    from pyNN_bss_emu import __main__ as cli
    monkeypatch.setattr(cli, "WAFER_COUNT_FACTOR", 1.0)     # wafer == ideal exactly: fails
    assert cli.main(["--self-check", "--no-nest"]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] emulated wafer:" in out and "self-check FAIL" in out
    assert "[SKIP] NEST comparison (--no-nest)" in out


def test_setup_progress_option(sim):
    sim.setup(progress=True)
    assert progress.PROGRESS is True
    sim.setup(progress=False)
    assert progress.PROGRESS is False
    sim.setup()
    assert progress.PROGRESS is progress.PROGRESS_DEFAULT
    with pytest.raises(TypeError, match=r"setup\(progress='yes'\): expected True, False or None"):
        sim.setup(progress="yes")
