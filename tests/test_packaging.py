"""Packaging and the model catalogue of pyNN.bss_emu.

* ``pyNN.bss_emu`` is the very same module object as ``pyNN_bss_emu`` (submodules too, in either
  import order), so there is exactly one simulator state;
* ``pyNN.utility.get_simulator`` selects the backend from the command line (``bss_emu``);
* ``list_standard_models()`` is exactly the four models the wafer offers, any other PyNN standard
  model gives an error naming the offered ones, and cell/synapse types of other backends are
  rejected.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import subprocess
import sys
import textwrap

import pytest
from pyNN import errors

import pyNN.bss_emu
import pyNN_bss_emu

OFFERED_CELLS = {"IF_cond_exp", "EIF_cond_exp_isfa_ista", "IF_curr_exp", "SpikeSourcePoisson",
                 "SpikeSourceArray"}


def _run_python(code: str, *args: str, cwd=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


# ------------------------------------------------------------------ module identity
def test_alias_is_the_same_module_object():
    import pyNN.bss_emu as sim
    assert sim is pyNN_bss_emu
    assert sys.modules["pyNN.bss_emu"] is sys.modules["pyNN_bss_emu"]


@pytest.mark.parametrize("sub", ["simulator", "control", "populations", "projections",
                                 "recording", "connectors", "procedural_api", "standardmodels",
                                 "standardmodels.cells", "standardmodels.synapses", "engine",
                                 "engine.network", "engine.kernels", "engine.sources"])
def test_submodules_are_the_same_objects(sub):
    alias = importlib.import_module("pyNN.bss_emu." + sub)
    real = importlib.import_module("pyNN_bss_emu." + sub)
    assert alias is real


def test_attribute_access_to_submodules_and_single_state():
    import pyNN.bss_emu as sim
    assert sim.simulator is pyNN_bss_emu.simulator
    assert pyNN.bss_emu.simulator.state is pyNN_bss_emu.simulator.state
    # a population created through one name is seen in the state reached through the other
    p = sim.Population(3, sim.IF_cond_exp())
    assert p in pyNN_bss_emu.simulator.state.populations
    assert sim.IF_cond_exp is pyNN_bss_emu.standardmodels.cells.IF_cond_exp


@pytest.mark.parametrize("first,second", [("pyNN.bss_emu", "pyNN_bss_emu"),
                                          ("pyNN_bss_emu", "pyNN.bss_emu")])
def test_identity_in_fresh_interpreter_either_import_order(first, second):
    code = textwrap.dedent(f"""
        import importlib
        a = importlib.import_module("{first}.simulator")
        b = importlib.import_module("{second}.simulator")
        top_a = importlib.import_module("{first}")
        top_b = importlib.import_module("{second}")
        cells_a = importlib.import_module("{first}.standardmodels.cells")
        cells_b = importlib.import_module("{second}.standardmodels.cells")
        print(a is b, top_a is top_b, cells_a is cells_b, a.state is b.state)
    """)
    res = _run_python(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True"] * 4


def test_distribution_metadata_matches_package():
    assert importlib.metadata.version("pyNN_bss_emu") == pyNN_bss_emu.__version__


# ------------------------------------------------------------------ get_simulator
def test_get_simulator_from_command_line(tmp_path):
    """``python script.py bss_emu`` with ``pyNN.utility.get_simulator`` runs our backend; the
    script simulates one neuron with i_offset and prints its spike count, which must match
    the analytic LIF prediction."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent("""
        from pyNN.utility import get_simulator
        sim, options = get_simulator(("--duration", "simulation time (ms)", {"type": float}))
        sim.setup(timestep=0.1)
        p = sim.Population(1, sim.IF_cond_exp(i_offset=1.0, tau_refrac=2.0))
        p.record("spikes")
        sim.run(options.duration)
        n = len(p.get_data().segments[0].spiketrains[0])
        print("RESULT", sim.__name__, sim.simulator.name, n)
        sim.end()
    """))
    res = subprocess.run([sys.executable, str(script), "bss_emu", "--duration", "200"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("RESULT")][0].split()
    assert line[1] in ("pyNN_bss_emu", "pyNN.bss_emu")
    assert line[2] == "bss_emu"
    # analytic (ideal neuron): first spike at ceil(t1), then every ceil(t1) + tau_refrac; the
    # script runs on the emulated wafer, whose calibrated neuron deviates by its residual
    # mismatch (per neuron tau_m ~25 %, v_rest ~1 mV with v_inf 5 mV above threshold,
    # docs/substrate.md), i.e. within a factor 2 of the count here
    import numpy as np
    t1 = np.ceil(20.0 * np.log(20.0 / 5.0) / 0.1 - 1e-9) * 0.1   # v_inf = -45 mV
    expected = 1 + int(np.floor((200.0 - t1) / (t1 + 2.0) + 1e-9))
    assert expected / 2 <= int(line[3]) <= 2 * expected


def test_get_simulator_rejects_unknown_backend(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("from pyNN.utility import get_simulator\nsim, _ = get_simulator()\n")
    res = subprocess.run([sys.executable, str(script), "bss_emu_does_not_exist"],
                         capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert res.returncode != 0


# ------------------------------------------------------------------ model catalogue
def test_list_standard_models_exact(sim):
    models = sim.list_standard_models()
    assert sorted(models) == sorted(OFFERED_CELLS)
    assert len(models) == len(OFFERED_CELLS)
    for name in models:
        assert isinstance(getattr(sim, name), type)


def test_offered_models_are_pynn_standard_types(sim):
    from pyNN.standardmodels import StandardCellType, cells
    for name in OFFERED_CELLS:
        cls = getattr(sim, name)
        assert issubclass(cls, StandardCellType)
        assert issubclass(cls, getattr(cells, name))   # same standard parameters
        assert cls.default_parameters == getattr(cells, name).default_parameters


@pytest.mark.parametrize("name", ["IF_curr_alpha", "IF_curr_delta", "HH_cond_exp", "Izhikevich",
                                  "IF_cond_alpha", "SpikeSourceGamma", "EIF_cond_alpha_isfa_ista",
                                  "SimpleStochasticSynapse", "Vogels2011Rule"])
def test_unavailable_models_raise_naming_offered(sim, name):
    with pytest.raises(errors.NoModelAvailableError) as exc:
        getattr(sim, name)
    msg = str(exc.value)
    assert name in msg
    if name.endswith("Synapse") or name == "Vogels2011Rule":
        assert "StaticSynapse" in msg and "STDPMechanism" in msg
    else:
        for offered in OFFERED_CELLS:
            assert offered in msg
    assert not hasattr(sim, name)   # behaves like a missing attribute for hasattr()


def test_current_sources_are_offered(sim):
    """PyNN's four standard current sources are offered (issue 12: the HICANN's FG current
    stimulus); any other current source class is refused naming the four."""
    from pyNN.standardmodels import StandardCurrentSource
    for name in ["DCSource", "ACSource", "StepCurrentSource", "NoisyCurrentSource"]:
        assert issubclass(getattr(sim, name), StandardCurrentSource)
    with pytest.raises(errors.NoModelAvailableError) as exc:
        sim.StandardCurrentSource
    for name in ["DCSource", "ACSource", "StepCurrentSource", "NoisyCurrentSource"]:
        assert name in str(exc.value)


def test_unknown_attribute_is_plain_attribute_error(sim):
    with pytest.raises(AttributeError) as exc:
        sim.definitely_not_a_model
    assert "definitely_not_a_model" in str(exc.value)


@pytest.mark.parametrize("make", [
    lambda: __import__("pyNN.standardmodels.cells", fromlist=["x"]).IF_curr_exp(),
    lambda: __import__("pyNN.standardmodels.cells", fromlist=["x"]).IF_cond_exp(),
    lambda: __import__("pyNN.standardmodels.cells", fromlist=["x"]).IF_curr_exp,
    lambda: __import__("pyNN.mock", fromlist=["x"]).IF_cond_exp(),
    lambda: __import__("pyNN.mock", fromlist=["x"]).SpikeSourcePoisson(),
], ids=["std_IF_curr_exp", "std_IF_cond_exp_same_name", "std_class", "mock_IF_cond_exp",
        "mock_SpikeSourcePoisson"])
def test_foreign_cell_types_rejected(sim, make):
    celltype = make()
    with pytest.raises(errors.InvalidModelError) as exc:
        sim.Population(2, celltype)
    for offered in OFFERED_CELLS:
        assert offered in str(exc.value)
    # still usable
    p = sim.Population(2, sim.IF_cond_exp())
    sim.run(1.0)
    assert p.size == 2


def test_foreign_synapse_type_rejected(sim):
    import pyNN.mock
    a = sim.Population(2, sim.SpikeSourceArray())
    b = sim.Population(2, sim.IF_cond_exp())
    with pytest.raises(errors.InvalidModelError) as exc:
        sim.Projection(a, b, sim.AllToAllConnector(),
                       pyNN.mock.StaticSynapse(weight=0.01, delay=1.0))
    assert "StaticSynapse" in str(exc.value)
    prj = sim.Projection(a, b, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.01))
    assert len(prj) == 4
