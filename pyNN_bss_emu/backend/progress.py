"""Progress bars (tqdm, on stderr) for long mappings and long runs.

Module-level settings, so a user (or a test) can change them for the whole session:
:data:`PROGRESS` is what ``setup(progress=...)`` sets.
"""
from __future__ import annotations

import os
import sys

#: progress bars: ``True`` always, ``False`` never, ``None`` (default) only when stderr is a
#: terminal, so tests, CI and redirected output stay quiet.  The environment variable
#: ``PYNN_BSS_EMU_PROGRESS`` (``1``/``0``) sets the initial value.
PROGRESS_DEFAULT: bool | None = {"1": True, "0": False}.get(
    os.environ.get("PYNN_BSS_EMU_PROGRESS", ""))
#: the current setting; ``setup(progress=...)`` sets it (None restores the default)
PROGRESS: bool | None = PROGRESS_DEFAULT
#: a run gets a progress bar from this many time steps on (1e6 steps = 100 s at dt = 0.1 ms)
PROGRESS_MIN_STEPS = 1_000_000
#: a mapping gets a progress bar (over its stages) from this many synapses on
PROGRESS_MIN_SYNAPSES = 100_000
#: a run with a progress bar advances the engine in this many chunks (at least
#: ``PROGRESS_MIN_CHUNK_STEPS`` steps each); the chunks give the same spikes as one run
PROGRESS_CHUNKS = 100
PROGRESS_MIN_CHUNK_STEPS = 10_000


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


def stage_callback(bar):
    """A ``map_network`` progress callback that advances the tqdm ``bar`` by stages."""
    def progress(stage: str, done: int, total: int) -> None:
        bar.total = total
        bar.set_postfix_str(f"{stage} done", refresh=False)
        bar.update(done - bar.n)
        bar.refresh()        # stages are few and slow: show each one
    return progress
