"""Recorder of ``pyNN.bss_emu``: spikes from the engine's spike output, membrane and
conductance traces from engine record requests (PyNN units: ms, mV, µS, nA)."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
from pyNN import recording

from . import simulator


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
        super().record(variables, ids, sampling_interval, locations)

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
        pop = self.population
        backend = simulator.state.backend
        wanted = np.array([pop.id_to_index(i) for i in ids], dtype=np.int64)
        reqs = self._requests.get(variable.name, [])
        blocks = [(backend.take_samples(rid, clear=clear), idx) for rid, idx in reqs]
        n = max((b.shape[0] for b, _ in blocks), default=0)
        values = np.full((n, wanted.size), np.nan)
        col = {int(j): c for c, j in enumerate(wanted)}
        for block, idx in blocks:
            # a request started later has fewer samples: align them at the end (most recent)
            for k, j in enumerate(idx):
                if int(j) in col:
                    values[n - block.shape[0]:, col[int(j)]] = block[:, k]
        values = backend.read_signals(pop._record, variable.name, wanted, values,
                                      simulator.state.segment_counter, self._readouts)
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
                backend.take_samples(rid, clear=True)
