"""Distributed emulation: which rank updates which neurons, and how spikes are exchanged.

Every rank holds the whole model description (the script runs on every rank, as PyNN scripts
do under MPI, and builds the same network from the same seeds); a rank *updates* only its
own neurons and *delivers* only to them.  Ownership follows PyNN's convention of local cells
per population: cell ``i`` of a population of ``n`` cells belongs to rank ``(i * P) // n``
(``P`` ranks), a contiguous, balanced chunk per population and rank, so that the vectorised
neuron passes run over index ranges.

Spikes are exchanged once per *communication window* of ``W`` steps, ``W`` at most the
smallest synaptic delay: nothing a neuron emits inside a window can arrive inside it, so the
ranks advance a window independently, gather all spikes, and deliver them in the serial
engine's order; the results are bit-identical for any number of ranks (``kernels``).

**Whole wafers per rank.** In a multi-wafer system with at least as many wafers as ranks, each
rank holds whole wafers (:meth:`Partition.set_groups`). The only synapses between ranks are
then the off-wafer relays, which carry the off-wafer latency (13 ms of biological time). A rank
runs the serial kernel on its own wafers for a long window and relays nothing itself. At the
end of the window the spikes of relayed and recorded neurons are gathered, and every rank
pushes those sent to its own wafers through the off-wafer FIFOs, in the serial order. Relayed
input waits in the relay queue, a bucket per arrival step that is added to the ring after all
direct input of that step (``kernels.rq_arrive``), so each sum comes out in the same order as
in one process, whenever the relayed spike was queued. The window is the shortest relayed
delay, about 130 steps instead of the 3–10 of the per-population split.

The exchange is an object with ``allgather(steps, neurons) -> (steps, neurons)``,
``allreduce_sum(array)`` and ``rank``/``size``: :class:`SerialExchange` (one process: the same
windowed code path, used to test it without MPI) or :class:`MPIExchange` (mpi4py's
``Allgatherv`` on int64 buffers).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

#: environment variables that the MPI launchers of MPICH/Intel MPI (PMI), Open MPI and PMIx
#: set in every rank: their presence means "started by mpirun/mpiexec"
_LAUNCHER_VARIABLES = ("PMI_SIZE", "PMI_RANK", "OMPI_COMM_WORLD_SIZE", "PMIX_RANK",
                       "MPI_LOCALNRANKS")


def owned_cells(size: int, rank: int, n_ranks: int) -> np.ndarray:
    """Boolean mask of the cells of a population of ``size`` that ``rank`` owns."""
    return (np.arange(size, dtype=np.int64) * n_ranks) // max(size, 1) == rank


class SerialExchange:
    """One process: the windowed path without communication (the spikes are all local)."""
    rank = 0
    size = 1

    def allgather(self, steps: np.ndarray, neurons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return steps, neurons

    def at_root(self, compute):
        """``compute()`` (one process: here)."""
        return compute()

    def allreduce_sum(self, values: np.ndarray) -> np.ndarray:
        return values

    def bytes_sent(self) -> int:
        return 0


class MPIExchange:
    """Spike exchange over an mpi4py communicator: the counts with ``Allgather``, then the
    (step, neuron) pairs of every rank with one ``Allgatherv`` of int64 pairs."""

    def __init__(self, comm) -> None:
        self.comm = comm
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self._sent = 0
        self._count = np.zeros(1, dtype=np.int64)

    def allgather(self, steps: np.ndarray, neurons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from mpi4py import MPI
        local = np.empty((steps.size, 2), dtype=np.int64)
        local[:, 0] = steps
        local[:, 1] = neurons
        # the counts through a buffer collective: mpi4py's lower-case allgather pickles, which
        # cost ~60 µs per window against ~10 µs
        self._count[0] = 2 * steps.size
        counts = np.empty(self.size, dtype=np.int64)
        self.comm.Allgather([self._count, MPI.INT64_T], [counts, MPI.INT64_T])
        out = np.empty((int(counts.sum()) // 2, 2), dtype=np.int64)
        displ = np.concatenate([[0], np.cumsum(counts)[:-1]])
        self.comm.Allgatherv([local, MPI.INT64_T], [out, (counts, displ), MPI.INT64_T])
        self._sent += local.nbytes
        return out[:, 0], out[:, 1]

    def allreduce_sum(self, values: np.ndarray) -> np.ndarray:
        """The element-wise sum of ``values`` (float64 or int64) over all ranks."""
        from mpi4py import MPI
        values = np.ascontiguousarray(values)
        out = np.empty_like(values)
        kind = MPI.DOUBLE if values.dtype == np.float64 else MPI.INT64_T
        self.comm.Allreduce([values, kind], [out, kind], op=MPI.SUM)
        return out

    def at_root(self, compute):
        """``compute()`` on rank 0 only, its value broadcast to every rank (the mapping:
        computed once, distributed); an exception raised there is raised on every rank."""
        value = error = None
        if self.rank == 0:
            try:
                value = compute()
            except Exception as err:       # every rank must leave the collective
                error = err
        value, error = self.comm.bcast((value, error), root=0)
        if error is not None:
            raise error
        return value

    def bytes_sent(self) -> int:
        """Bytes of spikes this rank has sent so far (for the communication volume)."""
        return self._sent


def launched_by_mpi() -> bool:
    """Whether this process was started by an MPI launcher (mpirun/mpiexec)."""
    return any(v in os.environ for v in _LAUNCHER_VARIABLES)


def world_exchange() -> MPIExchange | None:
    """The exchange over MPI's world communicator when this process runs under an MPI
    launcher with more than one rank, else None (one process).  Under a launcher, mpi4py
    must be installed: ``pip install "pyNN_bss_emu[mpi]"``."""
    if not launched_by_mpi():
        return None
    try:
        from mpi4py import MPI
    except Exception as err:   # not installed, or no MPI library (RuntimeError)
        raise RuntimeError(
            "pyNN.bss_emu was started by an MPI launcher, but mpi4py cannot be used "
            f"({err}); install the MPI extra: pip install \"pyNN_bss_emu[mpi]\" "
            "(mpi4py and an MPI runtime from PyPI)") from None
    comm = MPI.COMM_WORLD
    if comm.Get_size() == 1:
        return None
    return MPIExchange(comm)


@dataclass
class Partition:
    """This rank's share of the neurons (filled population by population as they are
    created) and the spike exchange.  ``ranges`` are [lo, hi) neuron index ranges."""
    exchange: object
    local: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: spikes exchanged and windows run (for the communication report)
    windows: int = 0
    spikes_exchanged: int = 0
    #: whole wafers per rank (:meth:`set_groups`): this rank's neurons by wafer; None: the
    #: per-population chunks above
    group_local: np.ndarray | None = None
    #: the wafer of every neuron (-1: none), as given to :meth:`set_groups`
    group: np.ndarray | None = None

    @property
    def rank(self) -> int:
        return self.exchange.rank

    @property
    def size(self) -> int:
        return self.exchange.size

    def add_population(self, size: int) -> np.ndarray:
        """Ownership mask of a new population of ``size`` neurons (appended)."""
        mask = owned_cells(size, self.rank, self.size)
        self.local = np.concatenate([self.local, mask])
        return mask

    def set_groups(self, group: np.ndarray) -> bool:
        """Give every rank whole groups (wafers) of neurons; ``group[i]`` is neuron i's
        (-1: none; such neurons stay with the per-population chunks' owner).  Groups go to
        ranks largest first, each to the least loaded rank (ties: the lowest), so the ranks
        hold similar numbers of neurons.  Only with at least as many non-empty groups as
        ranks; returns whether the groups are used."""
        group = np.asarray(group, dtype=np.int64)
        self.group = group
        sizes = np.bincount(group[group >= 0]) if np.any(group >= 0) else np.zeros(0, int)
        used = np.flatnonzero(sizes)
        if self.size < 2 or used.size < self.size:
            self.group_local = None
            return False
        load = np.zeros(self.size, dtype=np.int64)
        owner = np.full(sizes.size, -1, dtype=np.int64)
        for g in used[np.argsort(-sizes[used], kind="stable")]:
            r = int(np.argmin(load))
            owner[g] = r
            load[r] += sizes[g]
        mine = np.where(group >= 0, owner[np.maximum(group, 0)] == self.rank, self.local)
        self.group_local = mine
        return True

    @property
    def owned(self) -> np.ndarray:
        """The neurons this rank updates: its wafers' (:meth:`set_groups`), else its
        per-population chunks."""
        return self.local if self.group_local is None else self.group_local

    def ranges(self) -> np.ndarray:
        """The owned neurons as [lo, hi) index ranges, shape (k, 2)."""
        x = np.concatenate([[False], self.owned, [False]]).astype(np.int8)
        d = np.diff(x)
        return np.column_stack([np.flatnonzero(d == 1), np.flatnonzero(d == -1)]).astype(np.int64)
