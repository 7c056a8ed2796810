"""Recorder of ``pyNN.bss_emu``: spikes from the engine's spike output, membrane and
conductance traces from engine record requests (PyNN units: ms, mV, µS, nA)."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from pyNN import errors, recording

from . import simulator
from .backend import progress

#: issue 13: ``get_data`` converts a recording in blocks of columns of about this many bytes
#: (the wafer's readout makes a few temporaries of a block's size)
SIGNAL_BLOCK_BYTES = 16 * 2 ** 20


def _fill(backend, rid: int, out: np.ndarray, pos: np.ndarray, c0: int, c1: int) -> None:
    """Copy the samples of record request ``rid`` whose output column ``pos`` (per neuron of
    the request, -1: not asked for) lies in ``c0 .. c1 - 1`` into ``out`` (the output's rows
    of this request and columns ``c0 .. c1 - 1``)."""
    ks = np.flatnonzero((pos >= c0) & (pos < c1))
    if ks.size == 0:
        return
    dst = pos[ks] - c0
    if np.all(np.diff(ks) == 1) and np.all(np.diff(dst) == 1):
        # the usual case (a population recorded at once): contiguous on both sides, no
        # temporary at all
        backend.copy_samples(rid, out[:, dst[0]:dst[-1] + 1], slice(ks[0], ks[-1] + 1))
    else:
        tmp = np.empty((out.shape[0], ks.size))
        backend.copy_samples(rid, tmp, ks)
        out[:, dst] = tmp


class Recorder(recording.Recorder):
    _simulator = simulator

    def __init__(self, population, file=None):
        super().__init__(population, file)
        self._spike_chunks: list[tuple[np.ndarray, np.ndarray]] = []
        self._requests: dict[str, list[tuple[int, np.ndarray]]] = defaultdict(list)
        self._readouts = 0   # ADC readouts handed out so far (trial noise stream position)

    # ------------------------------------------------------------ start/stop recording
    def record(self, variables, ids, sampling_interval=None, locations=None):
        # validate before PyNN's bookkeeping registers anything
        pop = self.population
        simulator.state.check_current(pop, f"population '{pop.label}'")
        if sampling_interval is not None:
            dt = simulator.state.dt
            try:
                ratio = float(sampling_interval) / dt
            except (TypeError, ValueError):
                ratio = float("nan")
            if not (ratio >= 1 - 1e-9 and abs(ratio - round(ratio)) < 1e-9):
                raise ValueError(
                    f"sampling_interval={sampling_interval!r} ms: must be a positive multiple of "
                    f"the time step dt={dt} ms")
        # PyNN's Recorder.record keeps local cells only.  Every rank asks the backend for
        # all cells instead: the wafer's mapping depends on what is recorded (analog
        # readout), and must come out the same on every rank; only local cells are
        # reported (filter_recorded), as PyNN does.
        self._check_sampling_interval(sampling_interval)
        ids = set(ids)
        for variable in self._localize_variables(variables, locations):
            if not pop.can_record(variable.name, variable.location):
                raise errors.RecordingError(variable, pop.celltype)
            new_ids = ids.difference(self.recorded[variable])
            self.recorded[variable] = self.recorded[variable].union(ids)
            self._record(variable, new_ids, sampling_interval)

    def filter_recorded(self, variable, filter_ids):
        """The recorded cells of ``variable`` (among ``filter_ids``) on this rank."""
        ids = super().filter_recorded(variable, filter_ids)
        if simulator.state.num_processes > 1:
            ids = {i for i in ids if i.local}
        return ids

    def _record(self, variable, new_ids, sampling_interval=None):
        pop = self.population
        idx = np.array([pop.id_to_index(i) for i in new_ids], dtype=np.int64)
        backend = simulator.state.backend
        if sampling_interval is not None:
            self.sampling_interval = float(sampling_interval)
        if idx.size == 0:
            return
        if variable.name == "spikes":
            backend.record_spikes(pop._record, idx, True)
            return
        every = int(round(self.sampling_interval / simulator.state.dt))
        rid = backend.add_record(pop._record, variable.name, idx, every)
        self._requests[variable.name].append((rid, idx))

    def _reset(self):
        """``record(None)``: stop recording everything of this population."""
        pop = self.population
        backend = simulator.state.backend
        backend.record_spikes(pop._record, np.arange(pop.size), False)
        for reqs in self._requests.values():
            for rid, _ in reqs:
                backend.remove_record(rid)
        self._requests.clear()

    def write(self, variables, file=None, gather=False, filter_ids=None, clear=False,
              annotations=None, locations=None):
        """PyNN's ``Recorder.write`` (``Population.write_data``): the data as a neo Block to
        a neo IO (or a file name); then (issue 13) the signals of the block's current
        segment, made for this call, are released at once.  A neo Segment is a reference
        cycle (its lists point back to it), so without this a written chunk would stay in
        memory until the garbage collector runs, and a loop of ``run(); write_data(io,
        clear=True)`` would pile them up.  Segments of earlier trials (kept since
        ``reset()``) are left as they are: blocks returned before may share them."""
        if isinstance(file, str):
            file = recording.get_io(file)
        io = file or self.file
        state = self._simulator.state
        if gather is False and state.num_processes > 1:
            io.filename += ".%d" % state.mpi_rank
        current = state.running        # get() appends a new segment for the current data
        data = self.get(variables, gather, filter_ids, clear, annotations=annotations,
                        locations=locations)
        try:
            if state.mpi_rank == 0 or gather is False:
                io.write_block(data)
        finally:
            # only the current segment is new: the others are the recorder's cache (or
            # shallow copies sharing its lists), which blocks returned earlier may hold
            for segment in data.segments[-1:] if current else []:
                segment.analogsignals = []
                segment.irregularlysampledsignals = []
                segment.spiketrains = []

    # ------------------------------------------------------------ data from the engine
    def _store_spikes(self, indices: np.ndarray, times: np.ndarray) -> None:
        """Called by the simulator after each run with this population's spikes."""
        self._spike_chunks.append((indices, times))

    def _spike_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._spike_chunks:
            return np.zeros(0, np.int64), np.zeros(0)
        idx = np.concatenate([c[0] for c in self._spike_chunks])
        t = np.concatenate([c[1] for c in self._spike_chunks])
        self._spike_chunks = [(idx, t)]
        return idx, t

    def _get_spiketimes(self, ids, clear=False):
        pop = self.population
        idx, t = self._spike_arrays()
        wanted = np.array([pop.id_to_index(i) for i in ids], dtype=np.int64)
        sel = np.isin(idx, wanted)
        id_array = np.asarray(pop.all_cells, dtype=np.int64)[idx[sel]]
        times = t[sel].copy()
        order = np.lexsort((times, id_array))
        if clear:
            self._spike_chunks = []
        return id_array[order], times[order]

    def _get_all_signals(self, variable, ids, clear=False):
        """Samples (n_samples, len(ids)) of ``variable`` as the user receives them (float64,
        like PyNN's other backends; NaN where a cell was not recorded yet).

        Issue 13: the output is the only full-size array made.  It is filled in blocks of
        columns straight from the engine's sample blocks, each block converted in place by
        the backend (the wafer's ADC readout), so the temporaries are block-sized
        (``SIGNAL_BLOCK_BYTES``); neo wraps the result without copying it.  A conversion
        expected to take ``PROGRESS_MIN_SECONDS`` or more shows a progress bar."""
        pop = self.population
        backend = simulator.state.backend
        # cell indices (PyNN's ids of a population are consecutive)
        wanted = np.fromiter(ids, dtype=np.int64, count=len(ids)) - int(pop.first_id)
        m = wanted.size
        reqs = self._requests.get(variable.name, [])
        counts = [backend.sample_count(rid) for rid, _ in reqs]
        n = max(counts, default=0)
        values = np.empty((n, m))
        # output column of each request's neurons (-1: not asked for); a request started
        # later has fewer samples: they fill the last rows (most recent), NaN before them
        order = np.argsort(wanted, kind="stable")
        positions = []
        first_row = np.full(m, n, dtype=np.int64)       # n: never recorded, all NaN
        for (rid, idx), count in zip(reqs, counts):
            pos = np.full(idx.size, -1, dtype=np.int64)
            if m:
                at = order[np.minimum(np.searchsorted(wanted, idx, sorter=order), m - 1)]
                hit = wanted[at] == idx
                pos[hit] = at[hit]
            positions.append(pos)
            first_row[pos[pos >= 0]] = n - count
        width = max(1, SIGNAL_BLOCK_BYTES // (8 * max(n, 1)))
        with progress.TimedProgress(
                m, f"bss_emu get_data '{variable.name}'", unit="signal",
                seconds_per_unit=n * progress.GET_DATA_SECONDS_PER_VALUE) as bar:
            for c0 in range(0, m, width):
                c1 = min(c0 + width, m)
                block = values[:, c0:c1]
                for (rid, _), count, pos in zip(reqs, counts, positions):
                    _fill(backend, rid, block[n - count:], pos, c0, c1)
                for row in np.unique(first_row[c0:c1]):
                    if row > 0:
                        block[:row, np.flatnonzero(first_row[c0:c1] == row)] = np.nan
                converted = backend.read_signals(pop._record, variable.name, wanted[c0:c1],
                                                 block, simulator.state.segment_counter,
                                                 self._readouts)
                if converted is not block:
                    block[...] = converted
                bar.update(c1 - c0)
        if clear:
            for rid, _ in reqs:
                backend.clear_samples(rid)
        return values, None

    def _local_count(self, variable, filter_ids=None):
        pop = self.population
        idx, _ = self._spike_arrays()
        counts = np.bincount(idx, minlength=pop.size)
        ids = self.filter_recorded(variable, filter_ids)
        return {int(i): int(counts[pop.id_to_index(i)]) for i in ids}

    def _clear_simulator(self):
        """Drop data taken so far (after ``get_data(clear=True)`` and at ``reset()``)."""
        self._spike_chunks = []
        self._readouts += 1
        backend = simulator.state.backend
        if getattr(self.population, "_backend", None) is not backend:
            return      # a recorder of a previous setup(): its records are gone with it
        for reqs in self._requests.values():
            for rid, _ in reqs:
                backend.clear_samples(rid)
