"""Progress bars (tqdm, on stderr) for long mappings, long runs and the conversion of large
recordings.

Module-level settings, so a user (or a test) can change them for the whole session:
:data:`PROGRESS` is what ``setup(progress=...)`` sets.
"""
from __future__ import annotations

import os
import sys
import time

#: progress bars: ``True`` always, ``False`` never, ``None`` (default) only when stderr is a
#: terminal, so tests, CI and redirected output stay quiet.  The environment variable
#: ``PYNN_BSS_EMU_PROGRESS`` (``1``/``0``) sets the initial value.
PROGRESS_DEFAULT: bool | None = {"1": True, "0": False}.get(
    os.environ.get("PYNN_BSS_EMU_PROGRESS", ""))
#: the current setting; ``setup(progress=...)`` sets it (None restores the default)
PROGRESS: bool | None = PROGRESS_DEFAULT
#: issue 13: a run, or the conversion of a large recording in ``get_data``/``write_data``,
#: gets a progress bar when it is expected to take at least this long (wall-clock seconds):
#: estimated before it starts, and again from its measured speed as it goes
PROGRESS_MIN_SECONDS = 5.0
#: a run's estimate before it starts: neurons x steps x this (s).  Measured on the 2-core
#: reference VM: 15-18 ns per neuron and step for IF_cond_exp with sparse input, about twice
#: that with every neuron's v recorded; heavy synaptic traffic costs more, which the timed
#: first chunk (``PROGRESS_PROBE_SECONDS``) catches
RUN_SECONDS_PER_NEURON_STEP = 2e-8
#: a run estimated to take at least this long (s) but less than ``PROGRESS_MIN_SECONDS`` runs
#: its first chunk alone and times it: a bar appears if the whole run is then projected to
#: take ``PROGRESS_MIN_SECONDS`` or more, else the rest runs in one engine call
PROGRESS_PROBE_SECONDS = 0.25
#: a recording's conversion estimate before it starts: this many seconds per sample value
#: (the wafer's ADC readout with its per-neuron noise is the slow case, ~25 ns)
GET_DATA_SECONDS_PER_VALUE = 2.5e-8
#: runs of at least this many time steps always get a bar (None: the expected time decides);
#: for tests and for forcing bars on short runs
PROGRESS_MIN_STEPS: int | None = None
#: a mapping gets a progress bar (over its stages) from this many synapses on
PROGRESS_MIN_SYNAPSES = 100_000
#: a run with a progress bar advances the engine in this many chunks (at least
#: ``PROGRESS_MIN_CHUNK_STEPS`` steps each); the chunks give the same spikes as one run
PROGRESS_CHUNKS = 100
PROGRESS_MIN_CHUNK_STEPS = 100


def set_progress(value: bool | None) -> None:
    """``setup(progress=value)``: None restores the default (environment or terminal)."""
    global PROGRESS
    PROGRESS = value if value is not None else PROGRESS_DEFAULT


def progress_enabled() -> bool:
    """Whether progress bars are shown (see :data:`PROGRESS`)."""
    if PROGRESS is None:
        try:
            return sys.stderr is not None and sys.stderr.isatty()
        except (AttributeError, ValueError):
            return False
    return bool(PROGRESS)


def progress_bar(total: int | None, desc: str, unit: str = "it", unit_scale=False):
    """A tqdm bar on stderr, or None when bars are off (or tqdm is missing)."""
    if not progress_enabled():
        return None
    try:
        from tqdm import tqdm
    except ImportError:   # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=unit_scale, file=sys.stderr,
                leave=False, dynamic_ncols=True)


class TimedProgress:
    """Progress of ``total`` units of work (time steps, recorded neurons) that shows a tqdm
    bar only when the work is expected to take ``PROGRESS_MIN_SECONDS`` or more (issue 13):
    from ``seconds_per_unit`` before it starts, and from the measured speed after every
    :meth:`update`.  ``force`` shows it at once.  Without bars (:func:`progress_enabled`)
    it does nothing.

    A run asks :meth:`chunked` whether to advance in chunks (:func:`run_chunk`): while a
    bar is shown, and for the first, timed chunk of a run estimated at
    ``PROGRESS_PROBE_SECONDS`` or more; otherwise the rest goes in one engine call."""

    def __init__(self, total: int, desc: str, unit: str = "it", unit_scale=False,
                 seconds_per_unit: float = 0.0, force: bool = False) -> None:
        self.total, self.done = int(total), 0
        self.desc, self.unit, self.unit_scale = desc, unit, unit_scale
        self.enabled = progress_enabled()
        self.bar = None
        self._t0 = time.perf_counter()
        expected = self.total * float(seconds_per_unit)
        if self.enabled and (force or expected >= PROGRESS_MIN_SECONDS):
            self._open()
        self.probe = self.enabled and self.bar is None and expected >= PROGRESS_PROBE_SECONDS

    def _open(self) -> None:
        self.bar = progress_bar(self.total, self.desc, unit=self.unit,
                                unit_scale=self.unit_scale)
        if self.bar is not None and self.done:
            self.bar.update(self.done)

    def chunked(self) -> bool:
        """Whether the next piece of a run should be a chunk (not all the rest)."""
        return self.bar is not None or (self.probe and self.done == 0)

    def update(self, n: int) -> None:
        self.done += int(n)
        if self.bar is not None:
            self.bar.update(int(n))
        elif self.enabled and 0 < self.done < self.total:
            elapsed = time.perf_counter() - self._t0
            if elapsed * self.total / self.done >= PROGRESS_MIN_SECONDS:
                self._open()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> "TimedProgress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_chunk(n_steps: int) -> int:
    """Steps per chunk of a run with a progress bar (``PROGRESS_CHUNKS`` chunks of at least
    ``PROGRESS_MIN_CHUNK_STEPS`` steps)."""
    return max(int(PROGRESS_MIN_CHUNK_STEPS), -(-int(n_steps) // int(PROGRESS_CHUNKS)))


def stage_callback(bar):
    """A ``map_network`` progress callback that advances the tqdm ``bar`` by stages."""
    def progress(stage: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(f"{stage} done", refresh=False)
        bar.update(done - bar.n)
        bar.refresh()        # stages are few and slow: show each one
    return progress
