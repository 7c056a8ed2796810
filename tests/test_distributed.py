"""Distributed emulation (issue 16): the windowed path, the partition of the cells, and runs
under ``mpiexec`` with 2 and 4 ranks that must be bit-identical to one process.

The MPI tests start ``mpiexec`` from the environment of the running interpreter (the
``mpi`` extra: mpi4py and the mpich wheel); where it is missing they skip and say so.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pyNN_bss_emu.engine import distributed

HERE = Path(__file__).parent
SCRIPT = HERE / "mpi" / "distributed_network.py"
sys.path.insert(0, str(HERE / "mpi"))
import distributed_network  # noqa: E402


def _run_here(**kw) -> dict:
    import pyNN.bss_emu as sim
    return distributed_network.build_and_run(sim, **kw)


@pytest.fixture(scope="module")
def serial_results() -> dict:
    """One-process reference runs of the test network (no windows)."""
    return {mode: _run_here(wafer=(mode == "wafer"), stp=(mode == "stp"))
            for mode in ("ideal", "stp", "wafer")}


# ------------------------------------------------------------------ partition of the cells
@pytest.mark.parametrize("size", [1, 2, 3, 7, 100, 101])
@pytest.mark.parametrize("n_ranks", [1, 2, 3, 4])
def test_every_cell_has_exactly_one_owner_and_chunks_are_contiguous_and_balanced(size, n_ranks):
    masks = np.array([distributed.owned_cells(size, r, n_ranks) for r in range(n_ranks)])
    assert np.array_equal(masks.sum(axis=0), np.ones(size))
    counts = masks.sum(axis=1)
    assert counts.max() - counts.min() <= 1
    for m in masks:
        idx = np.flatnonzero(m)
        assert idx.size == 0 or np.array_equal(idx, np.arange(idx[0], idx[-1] + 1))


def test_partition_ranges_follow_the_populations():
    class TwoRanks:
        rank, size = 1, 2
    part = distributed.Partition(TwoRanks())
    part.add_population(10)      # cells 5..9 are rank 1's
    part.add_population(3)       # cells 10 + 2 = 12 (index 1 -> rank 0, 2 -> rank 1)
    assert part.ranges().tolist() == [[5, 10], [12, 13]]


# ------------------------------------------------------------------ windowed path, one process
# (the parameter is not called ``mode``: that name is conftest's fixture, which would switch
# the test's own setup() to the both-modes wafer defaults)
@pytest.mark.parametrize("network", ["ideal", "stp", "wafer"])
def test_windowed_path_gives_the_serial_results_bit_for_bit(serial_results, network):
    """The distributed path (update a window, exchange, deliver in the serial order) in one
    process: the same spikes and membrane traces as the ordinary time loop, with AdEx
    neurons (general update), STP, current sources, far-queue delays and, on the wafer,
    the event paths and routed delays."""
    windowed = _run_here(wafer=(network == "wafer"), stp=(network == "stp"),
                         serial_windows=True)
    assert windowed["digest"] == serial_results[network]["digest"]
    assert windowed["counts"] == serial_results[network]["counts"]
    assert serial_results[network]["counts"]["exc"][0] > 50   # the network is active


def test_stdp_is_refused_in_distributed_runs_with_a_clear_message():
    import pyNN.bss_emu as sim
    sim.setup(timestep=0.1, ideal=True)
    sim.get_backend().network.set_partition(distributed.SerialExchange())
    a = sim.Population(2, sim.SpikeSourceArray(spike_times=[1.0]))
    b = sim.Population(2, sim.IF_cond_exp())
    stdp = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(),
                             weight_dependence=sim.AdditiveWeightDependence(w_max=0.01),
                             weight=0.005, delay=1.0)
    sim.Projection(a, b, sim.AllToAllConnector(), stdp)
    with pytest.raises(NotImplementedError, match="STDP is not available in distributed"):
        sim.run(5.0)
    sim.end()


def test_launcher_without_mpi4py_is_an_error_naming_the_extra(monkeypatch):
    monkeypatch.setenv("PMI_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)     # import fails
    with pytest.raises(RuntimeError, match=r"pyNN_bss_emu\[mpi\]"):
        distributed.world_exchange()


def test_one_process_without_launcher_is_not_distributed(monkeypatch):
    for var in distributed._LAUNCHER_VARIABLES:
        monkeypatch.delenv(var, raising=False)
    assert distributed.world_exchange() is None
    import pyNN.bss_emu as sim
    assert sim.setup(timestep=0.1, ideal=True) == 0
    assert sim.num_processes() == 1 and sim.rank() == 0
    sim.end()


# ------------------------------------------------------------------ under mpiexec
def _mpiexec() -> str:
    exe = Path(sys.executable).parent / "mpiexec"
    found = str(exe) if exe.exists() else shutil.which("mpiexec")
    try:
        import mpi4py  # noqa: F401
        from mpi4py import MPI  # noqa: F401
    except Exception as err:     # RuntimeError when no MPI library is installed
        pytest.skip(f"MPI tests need the mpi extra (pip install '.[mpi]'): mpi4py: {err}")
    if found is None:
        pytest.skip("MPI tests need mpiexec (pip install '.[mpi]' puts it into the venv)")
    return found


def _run_mpi(n: int, *args: str) -> tuple[dict, list[str]]:
    env = dict(os.environ)
    env.pop("PYNN_BSS_EMU_IDEAL", None)
    cmd = [_mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py", str(SCRIPT), *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    if out.returncode != 0 and "RESULT" not in out.stdout:
        if "mpiexec" in out.stderr and ("launch" in out.stderr or "connect" in out.stderr):
            pytest.skip(f"mpiexec could not start {n} ranks here: {out.stderr[-300:]}")
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}")
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line.split(" ", 1)[1]), [ln for ln in out.stdout.splitlines()
                                                if ln.startswith("LOCAL ")]


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 4])
@pytest.mark.parametrize("network", ["ideal", "wafer"])
def test_mpi_runs_are_bit_identical_to_one_process(serial_results, network, n):
    """``mpiexec -n 2`` and ``-n 4`` (oversubscribed on 2 cores; fine for correctness):
    every spike and every sample of the gathered recording equals the one-process run; each
    rank owns its chunk of every population (PyNN's local cells)."""
    res, local = _run_mpi(n, *(["--wafer"] if network == "wafer" else []))
    ref = serial_results[network]
    assert res["num_processes"] == n
    assert res["digest"] == ref["digest"]
    assert res["counts"] == ref["counts"]            # get_data(gather=True) at the root
    assert res["exc_total"] == ref["exc_total"]      # get_spike_counts(gather=True)
    # connections: every rank holds all of them; size(gather=True) counts them once
    assert res["e2e_size"] == ref["e2e_size"] > 1000
    assert res["e2e_weights"] == ref["e2e_weights"]
    # parameters: get(gather=True) has every cell in order at the root, get() the local ones
    assert res["tau_m"] == ref["tau_m"] == list(np.linspace(14.0, 16.0, 120))
    assert res["tau_m_local"] == res["local_exc"] < 120
    # local cells: rank 0's share plus the other ranks' shares cover the populations once
    shares = [res["local_exc"]] + [int(ln.split()[2]) for ln in local]
    noise = [res["local_noise"]] + [int(ln.split()[3]) for ln in local]
    assert len(shares) == n and sum(shares) == 120 and sum(noise) == 30
    assert max(shares) - min(shares) <= 1


# ------------------------------------------------------------------ two wafers (issue 16)
@pytest.fixture(scope="module")
def two_wafer_serial() -> dict:
    import pyNN.bss_emu as sim
    return distributed_network.build_and_run_two_wafers(sim)


@pytest.mark.slow
def test_two_wafer_network_in_windows_is_bit_identical(two_wafer_serial):
    """The relays (FIFO state, late delivery) behave the same in the distributed windows:
    every rank evaluates every relayed spike in the serial order."""
    import pyNN.bss_emu as sim
    res = distributed_network.build_and_run_two_wafers(sim, serial_windows=True)
    ref = two_wafer_serial
    assert ref["wafers_used"] == 2 and ref["relay"][0] > 100
    assert res["digest"] == ref["digest"] and res["relay"] == ref["relay"]


@pytest.mark.slow
@pytest.mark.parametrize("n", [2, 4])
def test_two_wafer_network_under_mpiexec_is_bit_identical(two_wafer_serial, n):
    """-n 2: each rank runs one whole wafer, exchanging spikes once per long window (the
    off-wafer latency); -n 4 (more ranks than wafers): the per-population split with short
    windows.  Both give the one-process spikes, membranes, relay and encoder counts."""
    res, _ = _run_mpi(n, "--two-wafers")
    ref = two_wafer_serial
    assert res["num_processes"] == n
    assert res["whole_wafers"] == (n == 2)
    assert res["digest"] == ref["digest"] and res["counts"] == ref["counts"]
    assert res["v_digest"] == ref["v_digest"]
    assert res["relay"] == ref["relay"]
    assert res["encoders"] == ref["encoders"]
    if n == 2:
        # 150 ms in windows of the shortest relayed delay (13 ms latency + routed delay)
        assert 8 <= res["windows"] <= 13, res["windows"]
    else:
        assert res["windows"] > 100


@pytest.mark.slow
def test_three_wafers_on_two_ranks_are_bit_identical():
    """Wafers A | B | C on two ranks: one rank holds two wafers with relays between them
    (B -> C), and relays from and to the other (C -> A, A -> B).  Each rank passes only the
    relays to its own wafers through the FIFOs; spikes, membranes and the summed relay and
    encoder counts equal the one-process run."""
    import pyNN.bss_emu as sim
    ref = distributed_network.build_and_run_two_wafers(sim, wafers=3)
    res, _ = _run_mpi(2, "--two-wafers", "--three-wafers")
    assert ref["wafers_used"] == 3 and ref["relay"][0] > 100
    assert res["whole_wafers"]
    assert res["digest"] == ref["digest"] and res["counts"] == ref["counts"]
    assert res["v_digest"] == ref["v_digest"]
    assert res["relay"] == ref["relay"]
    assert res["encoders"] == ref["encoders"]


@pytest.mark.slow
def test_a_population_cut_over_two_wafers_runs_bit_identical_on_two_ranks():
    """A population larger than a wafer is cut over both; its synapses onto itself cross
    between the wafers as relays.  Each rank runs its wafer's part of it; spikes, membranes
    (cells at both ends of A: both wafers) and the relay and encoder counts equal the
    one-process run."""
    import pyNN.bss_emu as sim
    ref = distributed_network.build_and_run_two_wafers(sim, split=True)
    assert ref["wafers_used"] == 2 and ref["relay"][0] > 100
    assert min(ref["a_cells_per_wafer"]) > 200 and sum(ref["a_cells_per_wafer"]) == 1000
    assert ref["counts"]["A"] > 100
    res, _ = _run_mpi(2, "--two-wafers", "--split")
    assert res["whole_wafers"]
    assert res["a_cells_per_wafer"] == ref["a_cells_per_wafer"]
    assert res["digest"] == ref["digest"] and res["counts"] == ref["counts"]
    assert res["v_digest"] == ref["v_digest"]
    assert res["relay"] == ref["relay"]
    assert res["encoders"] == ref["encoders"]


# ------------------------------------------------------------------ the mapping at the root
class _FakeComm:
    """A communicator of rank ``rank`` whose broadcast returns what rank 0 sent
    (``sent``: a one-element list shared by the fake ranks), pickled as MPI would."""

    def __init__(self, rank: int, sent: list) -> None:
        self.rank, self.sent = rank, sent

    def Get_rank(self) -> int:
        return self.rank

    def Get_size(self) -> int:
        return 2

    def bcast(self, obj, root=0):
        import pickle
        if self.rank == root:
            self.sent[:] = [pickle.dumps(obj)]
        return pickle.loads(self.sent[0])


def test_the_mapping_is_computed_on_rank_0_only_and_its_errors_reach_every_rank():
    from pyNN_bss_emu.mapping.pipeline import MappingStatistics, SynapseLossError
    sent: list = []
    calls = []
    root, other = (distributed.MPIExchange(_FakeComm(r, sent)) for r in (0, 1))
    assert root.at_root(lambda: calls.append(0) or {"mapped": 1}) == {"mapped": 1}
    assert other.at_root(lambda: calls.append(1)) == {"mapped": 1}
    assert calls == [0]                        # rank 1 did not map
    stats = MappingStatistics(*([10] + [0] * 11))
    with pytest.raises(SynapseLossError, match="lost 3") as err:
        root.at_root(lambda: (_ for _ in ()).throw(SynapseLossError("lost 3", stats)))
    with pytest.raises(SynapseLossError, match="lost 3") as err1:
        other.at_root(lambda: None)
    assert err1.value.statistics == stats == err.value.statistics
