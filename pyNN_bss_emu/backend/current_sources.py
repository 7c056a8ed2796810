"""Current sources in the backend: what was injected where, and what the engine injects.

The surface (:mod:`pyNN_bss_emu.standardmodels.electrodes`) hands over each source's native
parameters (PyNN's names and units: nA, ms, Hz, degrees) and its targets; a
:class:`CurrentSourceRecord` keeps them, :class:`CurrentSources` all of them.

* **Ideal mode**: :meth:`CurrentSources.ideal` gives the engine one injection per (source,
  target) as PyNN defines the source, on the time grid with NEST's convention: the value at
  t = k dt holds during [t, t + dt), so a change at t acts on the membrane from t + dt on.
  Times are rounded to the grid.  A NoisyCurrentSource draws an independent sequence for each
  target (like NEST's ``noise_generator``), a new value every ``dt`` of the source from its
  start, from a counter-based stream of the stimulus seed, the source's creation number, the
  trial (the number of ``reset()`` calls) and the target's position.
* **Wafer mode**: :func:`program_stimuli` gives every stimulated neuron the FG current
  stimulus of the FG block the mapper reserved for it
  (:mod:`pyNN_bss_emu.hardware.current_stimulus`): the sum of its sources' ideal currents,
  averaged over 129 slots of the chosen pulse length, scaled to the hardware, quantised to
  10 bits and played periodically from t = 0.

Recording: each source keeps a history of what its first target received (from which step
on), so ``source.get_data()`` returns exactly the current the engine injected, across
parameter changes between runs, since the last ``reset()``.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np

from ..engine.currents import Injections
from ..hardware import current_stimulus as stim
from ..hardware.parameter_transform import DAC_MAX
from .records import PopulationRecord

#: PyNN's current sources offered by the backend
MODELS = ("DCSource", "ACSource", "StepCurrentSource", "NoisyCurrentSource")
#: a start or stop time at or beyond this (ms) means "never" (PyNN's default stop is 1e12 ms)
NEVER_MS = 1e11
#: the step that stands for "never"
_NEVER_STEP = 2 ** 62
#: units of the native parameters, for messages
UNITS = {"amplitude": "nA", "offset": "nA", "mean": "nA", "stdev": "nA", "start": "ms",
         "stop": "ms", "dt": "ms", "frequency": "Hz", "phase": "deg", "times": "ms",
         "amplitudes": "nA"}


@dataclass(eq=False)
class CurrentSourceRecord:
    """One current source: ``key`` (creation number within this ``setup()``), the PyNN
    ``model`` name, its native ``parameters`` (floats; ``times`` and ``amplitudes`` arrays)
    and its targets in injection order (``neuron``: engine neuron rows, ``cell``: the
    backend's cell numbers; a cell injected twice gets the current twice, as in NEST).
    ``history`` holds (from step, one-row :class:`~pyNN_bss_emu.engine.currents.Injections`)
    of the current its first target receives; ``recording`` is set by ``record()``."""
    key: int
    model: str
    parameters: dict = field(default_factory=dict)
    neuron: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cell: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    recording: bool = False
    history: list = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.model} #{self.key}"

    def describe(self) -> str:
        """``"DCSource #0 (amplitude=0.5 nA, start=50 ms, stop=150 ms)"``."""
        parts = []
        for k, v in self.parameters.items():
            if np.ndim(v):
                vals = ", ".join(f"{x:g}" for x in np.asarray(v)[:4])
                v_txt = f"[{vals}{', ...' if np.size(v) > 4 else ''}]"
            else:
                v_txt = f"{float(v):g}"
            parts.append(f"{k}={v_txt} {UNITS.get(k, '')}".rstrip())
        return f"{self.name} ({', '.join(parts)})"


def _step(t: float, dt: float) -> int:
    """Time step of time ``t`` (ms): rounded to the grid; "never" for t >= NEVER_MS."""
    if not t < NEVER_MS:
        return _NEVER_STEP
    return int(round(t / dt))


def grid_steps(times: np.ndarray, amplitudes: np.ndarray, dt: float
               ) -> tuple[np.ndarray, np.ndarray]:
    """A StepCurrentSource's times (ms) rounded to the grid (steps), keeping the last
    amplitude of times that round to the same step (PyNN's rule, as in pyNN.nest)."""
    steps = np.rint(np.asarray(times, float) / dt).astype(np.int64)
    amps = np.asarray(amplitudes, float)
    uniq, first_from_end = np.unique(steps[::-1], return_index=True)
    return uniq, amps[::-1][first_from_end]


def _noise_key(seed: int, source_key: int, trial: int, ordinal) -> np.ndarray:
    """Stream key (uint64) of the noise of a source's target number ``ordinal``."""
    text = f"{int(seed)}|current noise|{int(source_key)}|{int(trial)}".encode()
    base = int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")
    ordinal = np.asarray(ordinal, dtype=np.uint64)
    with np.errstate(over="ignore"):
        return np.uint64(base) + ordinal * np.uint64(0xBF58476D1CE4E5B9)


class CurrentSources:
    """All current sources of one ``setup()``, the ideal injections and the recording
    history; ``stimuli`` holds what the wafer programmed at its last run (None in ideal mode
    or before)."""

    def __init__(self, dt: float, stimulus_seed: int) -> None:
        self.dt = float(dt)
        self.seed = int(stimulus_seed)
        self.records: list[CurrentSourceRecord] = []
        self.trial = 0
        self.stimuli: ProgrammedStimuli | None = None

    # ------------------------------------------------------------ requests
    def create(self, model: str) -> CurrentSourceRecord:
        if model not in MODELS:
            raise ValueError(f"unknown current source {model!r}; offered: {MODELS}")
        rec = CurrentSourceRecord(key=len(self.records), model=model)
        self.records.append(rec)
        return rec

    def set_parameters(self, rec: CurrentSourceRecord, parameters: dict) -> None:
        """Native parameters (validated by the surface), complete."""
        rec.parameters = dict(parameters)

    def inject(self, rec: CurrentSourceRecord, neuron: np.ndarray, cell: np.ndarray) -> None:
        rec.neuron = np.concatenate([rec.neuron, np.asarray(neuron, np.int64)])
        rec.cell = np.concatenate([rec.cell, np.asarray(cell, np.int64)])

    @property
    def injected(self) -> list[CurrentSourceRecord]:
        """The sources with at least one target."""
        return [r for r in self.records if r.neuron.size]

    def reset(self) -> bool:
        """A new trial (``reset()``): recording restarts at step 0 with the current
        injections; returns whether the injections must be made again (noise sources draw
        a new sequence per trial, like the Poisson sources)."""
        self.trial += 1
        for rec in self.records:
            rec.history = [(0, rec.history[-1][1])] if rec.history else []
        return any(r.model == "NoisyCurrentSource" for r in self.records)

    # ------------------------------------------------------------ ideal currents
    def injection(self, rec: CurrentSourceRecord, ordinal: int, neuron: int) -> Injections:
        """The exact current of ``rec`` into its target number ``ordinal`` (engine neuron
        ``neuron``), on the time grid."""
        p, dt = rec.parameters, self.dt
        if rec.model == "StepCurrentSource":
            steps, amps = grid_steps(p["times"], p["amplitudes"], dt)
            return Injections.table(neuron, steps, amps)
        s0, s1 = _step(p["start"], dt), _step(p["stop"], dt)
        if rec.model == "DCSource":
            if s1 <= s0:
                return Injections.table(neuron, [], [])
            return Injections.table(neuron, [s0, s1], [p["amplitude"], 0.0])
        if rec.model == "ACSource":
            return Injections.ac(neuron, s0, s1, p["offset"], p["amplitude"],
                                 2.0 * math.pi * p["frequency"] / 1000.0 * dt,
                                 math.radians(p["phase"]))
        n_per = int(round(p["dt"] / dt))
        key = int(_noise_key(self.seed, rec.key, self.trial, ordinal))
        return Injections.noise(neuron, s0, s1, n_per, p["mean"], p["stdev"], key)

    def _pairs(self) -> list[tuple[CurrentSourceRecord, int, int, int]]:
        """(source, ordinal, neuron, cell) of every injection, sources in creation order."""
        return [(rec, k, int(n), int(c)) for rec in self.injected
                for k, (n, c) in enumerate(zip(rec.neuron, rec.cell))]

    def ideal(self) -> tuple[Injections, dict[int, Injections]]:
        """The engine's injections in ideal mode and, per source, what its first target
        gets (its own current; a source without targets: its current into a target)."""
        rows = [self.injection(rec, k, n) for rec, k, n, _ in self._pairs()]
        first = {rec.key: self.injection(rec, 0, int(rec.neuron[0]) if rec.neuron.size else 0)
                 for rec in self.records}
        return Injections.concat(rows), first

    # ------------------------------------------------------------ recording
    def log(self, step: int, first: dict[int, Injections]) -> None:
        """The engine injects ``first[key]`` into each source's first target from ``step``
        on."""
        for rec in self.records:
            if rec.key in first:
                rec.history = [h for h in rec.history if h[0] < step]
                rec.history.append((int(step), first[rec.key]))

    def trace(self, rec: CurrentSourceRecord, now_step: int) -> tuple[np.ndarray, np.ndarray]:
        """(times in ms, currents in nA) of samples 0, dt, ..., now: the current the first
        target receives during [t, t + dt) (the current of the coming step at t = now)."""
        steps = np.arange(now_step + 1, dtype=np.int64)
        out = np.zeros(steps.size)
        for i, (s_from, row) in enumerate(rec.history):
            s_to = rec.history[i + 1][0] if i + 1 < len(rec.history) else now_step + 1
            if s_to > s_from:
                out[s_from:s_to] = row.evaluate(steps[s_from:s_to], self.dt)[0]
        return steps * self.dt, out

    # ------------------------------------------------------------ for the mapper
    def cell_stimuli(self, n_cells: int) -> tuple[np.ndarray, list[str]]:
        """Per cell the stimulus it needs (-1: none): one id per distinct combination of
        sources injected into a cell; and a label per id naming its sources."""
        stimulus = np.full(n_cells, -1, dtype=np.int64)
        pairs = self._pairs()
        if not pairs:
            return stimulus, []
        cells = np.array([c for _, _, _, c in pairs], dtype=np.int64)
        keys = np.array([rec.key for rec, _, _, _ in pairs], dtype=np.int64)
        order = np.lexsort((keys, cells))
        cells, keys = cells[order], keys[order]
        starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
        combos: dict[tuple, int] = {}
        labels: list[str] = []
        names = {rec.key: rec.name for rec in self.records}
        for a, b in zip(starts, np.r_[starts[1:], cells.size]):
            combo = tuple(keys[a:b].tolist())
            if combo not in combos:
                combos[combo] = len(combos)
                labels.append(" + ".join(names[k] for k in combo))
            stimulus[cells[a]] = combos[combo]
        return stimulus, labels


# ==================================================================== the wafer
@dataclass
class ProgrammedStimuli:
    """What the wafer programmed, one row per stimulated neuron (sorted by cell): ``cell``,
    engine ``neuron``, ``hicann``, FG ``block`` (0..3) and the stimulated ``denmem``
    (``NeuronOnHICANN`` enum), ``pulse_length``, ``slot_ms`` and ``period_ms`` (bio),
    ``requested_nA`` (the ideal current's slot means), ``dac`` (the 10-bit values) and
    ``current_nA`` (what the engine injects: DAC x 2.5 µA / 1023 through the block's gain,
    scaled back to bio), each (n, 129); ``full_scale_nA`` the bio current of DAC 1023."""
    cell: np.ndarray
    neuron: np.ndarray
    hicann: np.ndarray
    block: np.ndarray
    denmem: np.ndarray
    pulse_length: np.ndarray
    slot_ms: np.ndarray
    period_ms: np.ndarray
    requested_nA: np.ndarray
    dac: np.ndarray
    current_nA: np.ndarray
    full_scale_nA: np.ndarray

    @classmethod
    def empty(cls) -> "ProgrammedStimuli":
        z = np.zeros(0, np.int64)
        m = np.zeros((0, stim.N_SLOTS))
        return cls(z, z, z, z, z, z, np.zeros(0), np.zeros(0), m, m.astype(np.int64), m,
                   np.zeros(0))


@dataclass
class StimulusProgram:
    """:func:`program_stimuli`' result: the programmed stimuli, the engine's injections, per
    source what its first target gets (for recording), and (key, message) warnings."""
    stimuli: ProgrammedStimuli
    injections: Injections
    first: dict
    warnings: list


def _shape(rec: CurrentSourceRecord, dt: float) -> tuple[stim.WaveformShape, float, float]:
    """The waveform's shape for the pulse-length choice, its value at t = 0 and its final
    value (nA; an endless AC or noise source: 0 and 0)."""
    p = rec.parameters
    inf = math.inf
    if rec.model == "StepCurrentSource":
        steps, amps = grid_steps(p["times"], p["amplitudes"], dt)
        if steps.size == 0:
            return stim.WaveformShape(constant=True), 0.0, 0.0
        v0 = float(amps[0]) if steps[0] == 0 else 0.0
        prev = np.r_[v0, amps[:-1]]
        moves = steps[(amps != prev) & (steps > 0)] * dt
        if moves.size == 0:
            return stim.WaveformShape(constant=True), v0, v0
        return stim.WaveformShape(first_change_ms=float(moves[0]),
                                  last_change_ms=float(moves[-1]),
                                  returns=bool(amps[-1] == v0)), v0, float(amps[-1])
    s0, s1 = _step(p["start"], dt) * dt, _step(p["stop"], dt) * dt
    never = not p["stop"] < NEVER_MS
    if rec.model == "DCSource":
        a = float(p["amplitude"])
        if a == 0 or s1 <= s0 or (s0 == 0 and never):
            value = a if (s0 == 0 and s1 > s0) else 0.0
            return stim.WaveformShape(constant=True), value, value
        v0 = a if s0 == 0 else 0.0
        vend = a if never else 0.0
        first = s1 if s0 == 0 else s0
        last = s0 if never else s1
        return stim.WaveformShape(first_change_ms=first, last_change_ms=last,
                                  returns=v0 == vend), v0, vend
    if s1 <= s0:
        return stim.WaveformShape(constant=True), 0.0, 0.0
    if rec.model == "ACSource":
        v0 = p["offset"] + p["amplitude"] * math.sin(math.radians(p["phase"])) \
            if s0 == 0 else 0.0
        if p["frequency"] == 0 or p["amplitude"] == 0:
            # a constant while on: a DC pulse of the value at the start
            value = p["offset"] + p["amplitude"] * math.sin(math.radians(p["phase"]))
            dc = CurrentSourceRecord(rec.key, "DCSource", {"amplitude": value,
                                                           "start": p["start"],
                                                           "stop": p["stop"]})
            return _shape(dc, dt)
        period = 1000.0 / p["frequency"]
        if never:
            return stim.WaveformShape(first_change_ms=s0, last_change_ms=inf,
                                      returns=False, sine_period_ms=period), v0, 0.0
        return stim.WaveformShape(first_change_ms=s0, last_change_ms=s1, returns=v0 == 0,
                                  sine_period_ms=period), v0, 0.0
    # NoisyCurrentSource
    return stim.WaveformShape(first_change_ms=s0, last_change_ms=inf if never else s1,
                              returns=s0 > 0, noise_dt_ms=float(p["dt"])), 0.0, 0.0


def _combined_shape(recs: list[CurrentSourceRecord], dt: float) -> stim.WaveformShape:
    """The shape of the sum of several sources' currents."""
    shapes = [_shape(r, dt) for r in recs]
    moving = [s for s, _, _ in shapes if not s.constant]
    if not moving:
        return stim.WaveformShape(constant=True)
    v0 = sum(a for _, a, _ in shapes)
    vend = sum(b for _, _, b in shapes)
    sines = [s.sine_period_ms for s in moving
             if s.sine_period_ms > 0 and not math.isfinite(s.last_change_ms)]
    noises = [s.noise_dt_ms for s in moving if s.noise_dt_ms > 0]
    return stim.WaveformShape(
        first_change_ms=min(s.first_change_ms for s in moving),
        last_change_ms=max(s.last_change_ms for s in moving),
        returns=abs(vend - v0) <= 1e-12 * max(abs(v0), abs(vend), 1.0)
        and all(s.returns or s.sine_period_ms > 0 for s in moving),
        sine_period_ms=min(sines) if sines else max((s.sine_period_ms for s in moving),
                                                    default=0.0),
        noise_dt_ms=min(noises) if noises else 0.0)


def program_stimuli(currents: CurrentSources, populations: list[PopulationRecord], result,
                    cm_nF: np.ndarray, *, speedup: float, alpha: float,
                    big_capacitors: bool, wafer_seed: int, calibration: str
                    ) -> StimulusProgram:
    """The FG current stimuli of all stimulated neurons (``result``: the current
    :class:`~pyNN_bss_emu.mapping.pipeline.MappingResult`, whose placement reserved an FG
    block and its denmem for each; ``cm_nF``: the engine's realised capacitance per neuron)."""
    dt = currents.dt
    pairs = currents._pairs()
    first = {rec.key: currents.injection(rec, 0, 0) for rec in currents.records}
    if not pairs:
        return StimulusProgram(ProgrammedStimuli.empty(), Injections(), first, [])
    pair_cell = np.array([c for *_, c in pairs], dtype=np.int64)
    pair_neuron = np.array([n for _, _, n, _ in pairs], dtype=np.int64)
    cells, pos = np.unique(pair_cell, return_inverse=True)
    neuron = np.zeros(cells.size, np.int64)
    neuron[pos] = pair_neuron
    # the pulse length of each distinct combination of sources
    stimulus, _ = currents.cell_stimuli(int(cells.max()) + 1)
    combo = stimulus[cells]
    members: dict[int, list[CurrentSourceRecord]] = {}
    for (rec, *_), p in zip(pairs, pos):
        members.setdefault(int(combo[p]), [])
        if rec not in members[int(combo[p])]:
            members[int(combo[p])].append(rec)
    choice = {c: stim.choose_pulse_length(_combined_shape(recs, dt), speedup)
              for c, recs in members.items()}
    pl = np.array([choice[int(c)].pulse_length for c in combo], dtype=np.int64)
    slot = stim.slot_ms(pl, speedup)
    # the ideal current of each stimulated neuron over one period, as slot means
    rows = Injections.concat([currents.injection(rec, k, n) for rec, k, n, _ in pairs])
    requested = np.zeros((cells.size, stim.N_SLOTS))
    for p_len in np.unique(pl):
        sel = np.flatnonzero(pl == p_len)
        n_steps = int(math.ceil(stim.period_ms(int(p_len), speedup) / dt)) + 1
        pair_sel = np.flatnonzero(np.isin(pos, sel))
        values = rows.evaluate(np.arange(n_steps), dt, rows=pair_sel)
        total = np.zeros((cells.size, n_steps))
        np.add.at(total, pos[pair_sel], values)
        requested[sel] = stim.resample(total[sel], dt, float(slot[sel[0]]))
    # amplitude: bio -> hardware -> 10 bits -> what the block's output realises -> bio
    size = 2 * result.placement.width[cells]      # as placed (neuron_size="auto")
    scale = stim.hw_per_bio_current(cm_nF[neuron], size, big_capacitors, alpha, speedup)
    dac, negative, above = stim.quantise(requested * scale[:, None])
    hicann = result.placement.hicann[cells]
    denmem = _stimulus_denmem(result, cells)
    block = stim.stimulus_block(denmem)
    gain = np.ones(cells.size) if calibration in ("ideal", "none") else \
        stim.block_gain(wafer_seed, hicann, block)
    current = stim.dac_to_current(dac) * gain[:, None] / scale[:, None]
    full_scale = stim.dac_to_current(DAC_MAX) / scale
    programmed = ProgrammedStimuli(cells, neuron, hicann, block, denmem, pl, slot,
                                   slot * stim.N_SLOTS, requested, dac, current, full_scale)
    injections = Injections.concat([Injections.slots(int(n), float(s), v)
                                    for n, s, v in zip(neuron, slot, current)])
    # recording: what each source contributes to its first target's stimulus (a source
    # alone in its cell: the stimulus itself; else its own current on the same slots, with
    # the same 10-bit steps and gain, keeping its sign: its share of the sum)
    row_of_cell = {int(c): i for i, c in enumerate(cells)}
    n_pairs = np.bincount(pos, minlength=cells.size)
    for rec in currents.injected:
        i = row_of_cell[int(rec.cell[0])]
        values = current[i]
        if n_pairs[i] > 1:
            n_steps = int(math.ceil(float(slot[i]) * stim.N_SLOTS / dt)) + 1
            own = currents.injection(rec, 0, int(rec.neuron[0])).evaluate(np.arange(n_steps),
                                                                          dt)
            means = stim.resample(own, dt, float(slot[i]))[0]
            share, _, _ = stim.quantise(np.abs(means) * scale[i])
            values = np.sign(means) * stim.dac_to_current(share) * gain[i] / scale[i]
        first[rec.key] = Injections.slots(int(rec.neuron[0]), float(slot[i]), values)
    return StimulusProgram(programmed, injections, first,
                           _messages(members, choice, combo, negative, above, full_scale,
                                     speedup))


def _stimulus_denmem(result, cells: np.ndarray) -> np.ndarray:
    """The denmem each cell's stimulus reaches (the mapper's choice)."""
    den = getattr(result.placement, "stimulus_denmem", None)
    if den is None:
        raise RuntimeError("the mapping reserved no FG blocks for current stimuli (a mapping "
                           "file from before current sources were supported?); map again")
    out = np.asarray(den)[cells]
    if np.any(out < 0):
        raise RuntimeError("the mapping reserved no FG block for some stimulated neurons; "
                           "map again")
    return out


def _messages(members, choice, combo, negative, above, full_scale, speedup
              ) -> list[tuple[str, str]]:
    """The user's warnings: where the periodic playback departs from the PyNN waveform,
    and currents clipped at 0 or at full scale (per combination of sources)."""
    out = []
    for c, recs in members.items():
        ch = choice[c]
        what = " + ".join(r.describe() for r in recs)
        if math.isfinite(ch.exact_until_ms):
            until = (f"it follows the PyNN waveform until {ch.exact_until_ms:.4g} ms"
                     if ch.exact_until_ms > 0 else "it does not follow the PyNN waveform")
            out.append((f"current stimulus period: {what}",
                        f"{what} on the wafer: the FG current stimulus plays {stim.N_SLOTS} "
                        f"values of {ch.slot_ms:.4g} ms periodically (pulse length "
                        f"{ch.pulse_length}, period {ch.period_ms:.4g} ms at speed-up "
                        f"{speedup:g}): {ch.reason}; {until}"))
        mine = combo == c
        if np.any(negative[mine]):
            out.append((f"current stimulus negative: {what}",
                        f"{what} on the wafer: negative currents are set to 0 (the FG current "
                        f"stimulus only sources current); {int(negative[mine].sum())} slot "
                        "values affected"))
        if np.any(above[mine]):
            fs = float(np.min(full_scale[mine]))
            out.append((f"current stimulus full scale: {what}",
                        f"{what} on the wafer: currents above the stimulus range are clipped "
                        f"to it (2.5 µA hardware = {fs:.3g} nA for this neuron: the range "
                        "scales with cm / (neuron size x alpha x speed-up)); "
                        f"{int(above[mine].sum())} slot values affected"))
    return out
