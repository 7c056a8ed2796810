"""The typed option tree of ``setup()``: one frozen dataclass per concern, built once from the
validated keywords.

Tree (paths from :class:`SetupOptions`, defaults stated once, in the dataclasses)::

    ideal                                     False
    mapping                                   mapping.options.MappingOptions
        neuron_placement.default_neuron_size  4 (denmems, or 'auto')
        neuron_placement.strategy             'cluster'
        merger_routing.strategy               'auto'
        address_assignment.strategy           'high_first'
        input_placement.bandwidth_utilization 0.8
        l1_routing.algorithm                  'backbone+dijkstra'
        synapse_routing.driver_chain_length   wafer.DEFAULT_CHAIN_LENGTH (3)
        synapse_routing.multapses             'realise'
        speedup                               wafer.DEFAULT_SPEEDUP (1e4)
        continue_despite_synapse_loss         False
        mapping_file                          None
    parameter_transform                       ParameterTransformOptions (marocco param_trafo)
        alpha, shift, big_capacitors,         TransformSettings' defaults (10, 1.2 V, True,
        leak_mode                             'normal')
        clip                                  False
    defects.spec                              'default'
    substrate                                 SubstrateOptions
        calibration, weight_rounding,         'calibrated', 'nearest',
        wafer_seed, trial_seed,               0, 0,
        analog_recording_limit                False
    engine                                    EngineOptions
        stimulus_seed, max_delay, progress    0, pyNN's DEFAULT_MAX_DELAY ('auto'), None
    system                                    SystemOptions (several wafer modules)
        wafers, offwafer_latency_us, fill     1, event_paths.OFFWAFER_LATENCY_S (1.3 µs),
                                              mapping.system.SYSTEM_FILL (0.85)

:data:`KEYWORDS` maps every ``setup()`` keyword to its path in the tree, its description and
the values it accepts (:class:`Bool`, :class:`Integer`, :class:`Real`, :class:`Choice`,
:class:`Custom`); a keyword's default is the tree's value at its path, never restated.
:meth:`SetupOptions.from_keywords` validates the keywords (the exceptions and messages that
``setup()`` has always raised) and builds the tree; :func:`setup_keywords` and
:func:`accepted_values` give the documentation its table.

Only :mod:`..mapping.options`, :mod:`..hardware`, the standard library and pyNN's constants are
imported here: no module of the PyNN surface.
"""
from __future__ import annotations

import math
import numbers
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Protocol, Union

from pyNN.common.control import DEFAULT_MAX_DELAY

from ..hardware import parameter_transform as _pt
from ..hardware import wafer
from ..hardware.event_paths import MAX_WAFERS, OFFWAFER_LATENCY_S
from ..hardware.synapse_weights import ROUNDING_MODES
from ..mapping.system import SYSTEM_FILL
from ..mapping.options import (MULTAPSE_MODES, PLACEMENT_STRATEGIES, MappingOptions,
                               check_neuron_size_or_auto)

__all__ = ["ParameterTransformOptions", "DefectOptions", "EffectOptions", "SubstrateOptions",
           "EngineOptions", "SystemOptions", "PRESETS",
           "SetupOptions", "Bool", "Integer", "Real", "Choice", "Custom", "Keyword",
           "KEYWORDS", "setup_keywords", "accepted_values"]

#: (text, is_literal) pieces of the "accepted values" sentence of the documentation
Pieces = list[tuple[str, bool]]

#: TransformSettings' defaults by field name: ParameterTransformOptions reads its defaults
#: from here so that the transformation's defaults are stated once, in TransformSettings
_TRANSFORM_DEFAULTS = {f.name: f.default for f in fields(_pt.TransformSettings)}


# ------------------------------------------------------------------ the tree
@dataclass(frozen=True)
class ParameterTransformOptions:
    """Bio -> hardware parameter transformation (marocco ``param_trafo``).

    * ``alpha``: voltage scale, V_hw [V] = alpha * V_bio [mV] * 1e-3 + shift (``alpha_v``).
    * ``shift``: voltage shift in V (``shift_v``).
    * ``big_capacitors``: big (2.16 pF) or small (0.164 pF) membrane capacitor per denmem.
    * ``leak_mode``: I_gl current-mirror setting, 'slow', 'normal' or 'fast'.
    * ``v_reset_sharing``: 'fg_block' (one V_reset per FG block, as the hardware shares it)
      or 'hicann' (one mean per HICANN, as marocco wrote it; ``preset='marocco'``).
    * ``i_offset``: 'fold' (realised as a leak-potential shift) or 'drop' (ignored, as
      calibtic did; ``preset='marocco'``).
    * ``clip``: set parameters outside the hardware ranges to the nearest realisable value
      (one warning per population and parameter) instead of raising
      ``ParameterRangeError``; None (the default): as ``SetupOptions.strict`` decides.

    The speed-up is not here: it is a property of the experiment
    (``SetupOptions.mapping.speedup``) and enters through :meth:`settings`.
    """
    alpha: float = _TRANSFORM_DEFAULTS["alpha"]
    shift: float = _TRANSFORM_DEFAULTS["shift"]
    big_capacitors: bool = _TRANSFORM_DEFAULTS["bigcap"]
    leak_mode: str = _TRANSFORM_DEFAULTS["leak_mode"]
    clip: bool | None = None
    v_reset_sharing: str = "fg_block"
    i_offset: str = "fold"

    def settings(self, speedup: float) -> _pt.TransformSettings:
        """The :class:`~pyNN_bss_emu.hardware.parameter_transform.TransformSettings` at the
        hardware / bio time ratio ``speedup`` (1e3..1e5)."""
        return _pt.TransformSettings(speedup=float(speedup), alpha=float(self.alpha),
                                     shift=float(self.shift), bigcap=bool(self.big_capacitors),
                                     leak_mode=self.leak_mode)


@dataclass(frozen=True)
class DefectOptions:
    """Defects of the emulated wafer (marocco ``defects``).

    * ``spec``: 'default' (seeded small defect rates), 'none', a preset name, a dict of defect
      rates or the path of a JSON defect file (``DefectMap.from_spec``, which validates it;
      the map is drawn with ``SubstrateOptions.wafer_seed``).
    """
    # a dict spec is not hashable; leaving it out of the hash keeps the tree hashable (equal
    # trees still hash equal)
    spec: Union[str, dict] = field(default="default", hash=False)


@dataclass(frozen=True)
class EffectOptions:
    """Which analog and bandwidth effects of the wafer are emulated; all on by default.  For
    ablation studies (how much does each effect cost?); switching one off is not something
    the real wafer can do.

    * ``mismatch``: fixed-pattern variation of the neuron parameters (residual after
      calibration, or the uncalibrated spread) and of the synapse weights.
    * ``trial_noise``: trial-to-trial floating-gate programming noise.
    * ``weight_quantisation``: 4-bit synapse weights; off: continuous weights within the
      realisable range.
    * ``weight_floor``: the weak response of the synaptic input at the bottom of the weight
      range; off: small weights act in proportion to their conductance.
    * ``event_loss``: bandwidth limits of the event paths (priority encoders, DNC mergers,
      stimulus playback and recording links); off: every spike gets through (still on the
      4 ns timestamp grid).
    """
    mismatch: bool = True
    trial_noise: bool = True
    weight_quantisation: bool = True
    weight_floor: bool = True
    event_loss: bool = True

    def disabled(self) -> tuple[str, ...]:
        """Names of the effects switched off, in field order."""
        return tuple(f.name for f in fields(self) if not getattr(self, f.name))


@dataclass(frozen=True)
class SubstrateOptions:
    """The emulated wafer beyond the mapping: analog variation, weights, readout.

    * ``calibration``: neuron parameters on the wafer, 'calibrated' (residual mismatch of a
      calibrated wafer), 'off' (uncalibrated spreads) or 'ideal' (FG quantisation only).
    * ``weight_rounding``: 4-bit weight rounding, 'nearest' or 'stochastic'.
    * ``wafer_seed``: seed (>= 0) of the wafer's defects and fixed pattern.
    * ``trial_seed``: seed (>= 0) of the trial-to-trial variation (readout noise).
    * ``analog_recording_limit``: enforce 2 recorded membranes per reticle.
    * ``effects``: which effects are emulated (:class:`EffectOptions`, all on).
    * ``gmax_table``: the synapse rows' gmax configurations and their calibration
      (``synapse_weights.GMAX_TABLES``): 'hardware' (a measured row calibration, every
      divisor 2..30) or 'marocco' (one configuration, calibtic's V_gmax-500 curve; set by
      ``preset='marocco'``).
    """
    calibration: str = "calibrated"
    weight_rounding: str = "nearest"
    wafer_seed: int = 0
    trial_seed: int = 0
    analog_recording_limit: bool = False
    # a plain default (frozen, hashable): the keyword sets the whole switch set at once
    effects: EffectOptions = EffectOptions()
    gmax_table: str = "hardware"


@dataclass(frozen=True)
class EngineOptions:
    """The event-driven engine.

    * ``stimulus_seed``: seed (>= 0) of the spike-source randomness.
    * ``max_delay``: largest synaptic delay in ms, or 'auto' (pyNN's default).
    * ``progress``: progress bars on stderr: True, False or None (only on a terminal; the
      environment variable PYNN_BSS_EMU_PROGRESS=1/0 decides).
    """
    stimulus_seed: int = 0
    max_delay: Union[float, str] = DEFAULT_MAX_DELAY
    progress: Union[bool, None] = None


@dataclass(frozen=True)
class SystemOptions:
    """A system of several wafer modules (issue 16; brainscales1.md 1.1: up to 20).

    * ``wafers``: the number of wafer modules (1..20; wafer k has the seed ``wafer_seed + k``
      for its defects and fixed pattern) or a tuple of distinct wafer seeds, one per wafer.
      Populations are spread over the wafers (``mapping.system``); connections between
      wafers leave through the FPGAs and enter the target wafer as external input.
    * ``offwafer_latency_us``: latency (µs of hardware time) a spike takes from one wafer
      to another, added to the routed delay on the target wafer [E].
    * ``fill``: the share of a wafer's neuron slots the wafer assignment fills before it
      opens the next wafer (``mapping.system.SYSTEM_FILL``); lower spreads the network
      thinner: fewer synapses lost on each wafer, more spikes between wafers.
    """
    wafers: Union[int, tuple] = 1
    offwafer_latency_us: float = OFFWAFER_LATENCY_S * 1e6
    fill: float = SYSTEM_FILL

    def wafer_seeds(self, wafer_seed: int) -> tuple[int, ...]:
        """The seed of every wafer: the listed ones, or ``wafer_seed + k``."""
        if isinstance(self.wafers, tuple):
            return self.wafers
        return tuple(int(wafer_seed) + k for k in range(int(self.wafers)))


@dataclass(frozen=True)
class SetupOptions:
    """Everything ``setup()`` was asked for, as a tree of frozen dataclasses (see the module
    docstring for the paths and defaults).

    * ``ideal``: no hardware effect at all: no wafer mapping, the ideal engine.
    * ``strict``: where the wafer cannot do what was asked, raise instead of adapting to the
      nearest realisable thing with a warning (parameters, STP, synapse loss, keywords of
      other backends).  Options left at None (``parameter_transform.clip``,
      ``mapping.continue_despite_synapse_loss``) follow it.
    * ``preset``: 'default' (this emulator's choices) or 'marocco' (what BSS-1 users got
      from the real software stack, :data:`PRESETS`); keywords given to ``setup()``
      override the preset's values.
    * ``ignored``: keywords of other backends (or unknown ones) that ``setup()`` accepted
      and ignored, as (keyword, where it comes from or None) pairs.
    """
    ideal: bool = False
    strict: bool = False
    preset: str = "default"
    mapping: MappingOptions = field(default_factory=MappingOptions)
    parameter_transform: ParameterTransformOptions = field(
        default_factory=ParameterTransformOptions)
    defects: DefectOptions = field(default_factory=DefectOptions)
    substrate: SubstrateOptions = field(default_factory=SubstrateOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)
    system: SystemOptions = field(default_factory=SystemOptions)
    ignored: tuple = field(default=(), compare=False)

    @classmethod
    def from_keywords(cls, timestep, min_delay, **keywords) -> "SetupOptions":
        """Validate ``setup()``'s arguments and build the tree.

        ``timestep`` (ms, > 0) and ``min_delay`` (ms or 'auto') are checked but not stored
        (PyNN's state keeps them).  Raises ``TypeError`` for an unknown keyword (listing the
        accepted ones), and ``TypeError``/``ValueError`` naming the keyword for a bad value,
        before anything is built.  Every keyword is checked, the defaults included (a default
        max_delay must not be below the time step either); with several bad values the first
        one in :data:`KEYWORDS` order is reported.  The defect spec is only stored: building
        the ``DefectMap`` validates it.

        Keywords of other PyNN backends (:data:`FOREIGN_KEYWORDS`) and unknown ones are
        accepted and listed in ``ignored`` (``setup()`` warns once), as PyNN's convention for
        ``extra_params`` is; with ``strict=True`` they are a ``TypeError``.
        """
        strict = Bool().check("strict", keywords.get("strict", False), timestep)
        foreign = sorted(set(keywords) - set(KEYWORDS))
        if foreign and strict:
            raise TypeError(
                f"setup() got keyword argument(s) {', '.join(map(repr, foreign))} that "
                f"pyNN.bss_emu does not use (strict=True); it accepts timestep, min_delay "
                f"and: {', '.join(sorted(KEYWORDS))}")
        ignored = tuple((name, foreign_backend(name)) for name in foreign)
        keywords = {k: v for k, v in keywords.items() if k in KEYWORDS}
        if isinstance(timestep, bool) or not isinstance(timestep, numbers.Real) \
                or not (math.isfinite(timestep) and timestep > 0):
            raise ValueError(f"setup(timestep={timestep!r}): the time step must be a finite "
                             "number > 0 ms")
        if timestep < MIN_TIMESTEP_MS:
            raise ValueError(f"setup(timestep={timestep!r}): the time step must be at least "
                             f"{MIN_TIMESTEP_MS} ms (NEST's finest resolution, one tic)")
        defaults = cls()
        checked = {}
        for name, keyword in KEYWORDS.items():
            value = keywords[name] if name in keywords else _get(defaults, keyword.path)
            checked[name] = keyword.accepts.check(name, value, timestep)
        if min_delay != "auto" and (isinstance(min_delay, bool)
                                    or not isinstance(min_delay, numbers.Real)
                                    or not math.isfinite(min_delay)):
            raise ValueError(f"setup(min_delay={min_delay!r}): expected 'auto' or a number of ms")
        max_delay = checked["max_delay"]
        if min_delay != "auto" and max_delay != "auto" and min_delay > max_delay:
            raise ValueError(f"setup(min_delay={min_delay!r}, max_delay={max_delay!r}): "
                             "min_delay must not exceed max_delay")
        tree = defaults
        # a preset changes defaults; keywords given explicitly win over it
        given_paths = {KEYWORDS[name].path for name in keywords}
        for path, value in PRESETS[checked["preset"]].items():
            if path not in given_paths:
                tree = _replaced(tree, path, value)
        for name in keywords:       # the others keep their (typed) defaults
            tree = _replaced(tree, KEYWORDS[name].path, checked[name])
        # options left at None follow strict: adapt with a warning, or raise
        for path in (("parameter_transform", "clip"),
                     ("mapping", "continue_despite_synapse_loss")):
            if _get(tree, path) is None:
                tree = _replaced(tree, path, not strict)
        return replace(tree, ignored=ignored)

    def keyword_values(self) -> dict[str, Any]:
        """The ``setup()`` keywords that would build this tree: keyword -> value, in
        :data:`KEYWORDS` order (for reports and debugging)."""
        return {name: _get(self, keyword.path) for name, keyword in KEYWORDS.items()}


def _get(tree, path: tuple[str, ...]):
    """The value at ``path`` in ``tree``."""
    for name in path:
        tree = getattr(tree, name)
    return tree


def _replaced(tree, path: tuple[str, ...], value):
    """A copy of the frozen ``tree`` with ``value`` at ``path`` (the untouched branches are
    shared: they are frozen)."""
    head, *rest = path
    new = _replaced(getattr(tree, head), tuple(rest), value) if rest else value
    return replace(tree, **{head: new})


# ------------------------------------------------------------------ accepted values
class ValueSpec(Protocol):
    """What a ``setup()`` keyword accepts."""

    def check(self, name: str, value, timestep: float):
        """The value as stored in the tree, or ``TypeError``/``ValueError`` naming
        ``setup(name=value)``; ``timestep`` (ms) for checks relative to it."""

    def accepted(self) -> Pieces:
        """The accepted values as (text, is_literal) pieces for the documentation."""


@dataclass(frozen=True)
class Bool:
    """True or False (nothing else, not even 0 or 1)."""

    def check(self, name: str, value, timestep: float) -> bool:
        if not isinstance(value, bool):
            raise TypeError(f"setup({name}={value!r}): expected True or False")
        return value

    def accepted(self) -> Pieces:
        return [("True", True), (" or ", False), ("False", True)]


@dataclass(frozen=True)
class _Number:
    """A number in [lo, hi] (hi = inf: no upper bound); bools are not numbers here."""
    lo: float
    hi: float = math.inf
    _kind = numbers.Real
    _what = "number"

    def check(self, name: str, value, timestep: float):
        if isinstance(value, bool) or not isinstance(value, self._kind) \
                or not self.lo <= value <= self.hi:
            bounds = f">= {self.lo}" if self.hi == math.inf else \
                f"in {self.lo}..{self.hi}" if isinstance(self.hi, int) else \
                f"in {self.lo:g}..{self.hi:g}"
            article = "an" if self._what[0] in "aeiou" else "a"
            raise ValueError(f"setup({name}={value!r}): expected {article} {self._what} "
                             f"{bounds}")
        return self._convert(value)

    def _convert(self, value):
        return value

    def accepted(self) -> Pieces:
        if self.hi == math.inf:
            return [(f"{self._what} ≥ {self.lo:g}", False)]
        if isinstance(self.hi, int):
            return [(f"{self._what}, {self.lo} … {self.hi}", False)]
        return [(f"{self._what}, {self.lo:g} … {self.hi:g}", False)]


@dataclass(frozen=True)
class Integer(_Number):
    """An integer (int or numpy integer) in [lo, hi]; stored as int."""
    _kind = numbers.Integral
    _what = "integer"

    def _convert(self, value) -> int:
        return int(value)


@dataclass(frozen=True)
class Real(_Number):
    """A real number in [lo, hi]; stored as float."""
    _kind = numbers.Real
    _what = "number"

    def _convert(self, value) -> float:
        return float(value)


@dataclass(frozen=True)
class Choice:
    """One of ``values`` (the order is the one messages and documentation list them in)."""
    values: tuple

    def check(self, name: str, value, timestep: float):
        if value not in self.values:
            raise ValueError(f"setup({name}={value!r}): expected one of {self.values}")
        return value

    def accepted(self) -> Pieces:
        out: Pieces = []
        for i, value in enumerate(self.values):
            if i:
                out.append((", ", False))
            out.append((repr(value), True))
        return out


@dataclass(frozen=True)
class Custom:
    """A check of its own: ``check_value(name, value, timestep)`` returns the value to store
    or raises; ``pieces`` is the documentation's sentence.  ``check_value=None`` stores the
    value unchecked (it is validated where it is used)."""
    pieces: tuple
    check_value: Callable[[str, Any, float], Any] | None = None

    def check(self, name: str, value, timestep: float):
        return value if self.check_value is None else self.check_value(name, value, timestep)

    def accepted(self) -> Pieces:
        return list(self.pieces)


def _check_max_delay(name: str, value, timestep: float):
    if value != "auto" and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                            or not math.isfinite(value) or value < timestep):
        raise ValueError(f"setup({name}={value!r}): expected 'auto' or a number of ms "
                         f">= timestep ({timestep} ms)")
    return value


def _check_progress(name: str, value, timestep: float) -> bool | None:
    # `is`, not `in`: 0 and 1 are not booleans (1 == True would let them through)
    if not (value is None or isinstance(value, bool)):
        raise TypeError(f"setup({name}={value!r}): expected True, False or None")
    return None if value is None else bool(value)


def _check_bool_or_none(name: str, value, timestep: float) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise TypeError(f"setup({name}={value!r}): expected True, False or None")
    return value


def _check_effects(name: str, value, timestep: float) -> "EffectOptions":
    """A dict {effect: bool} (missing effects stay on) or an :class:`EffectOptions`."""
    if isinstance(value, EffectOptions):
        return value
    names = [f.name for f in fields(EffectOptions)]
    if not isinstance(value, dict):
        raise TypeError(f"setup({name}={value!r}): expected a dict mapping effect names "
                        f"({', '.join(names)}) to True/False")
    unknown = sorted(set(value) - set(names), key=str)
    if unknown:
        raise ValueError(f"setup({name}=...): unknown effect(s) {', '.join(map(repr, unknown))};"
                         f" the effects are {', '.join(names)}")
    for key, on in value.items():
        if not isinstance(on, bool):
            raise TypeError(f"setup({name}={{{key!r}: {on!r}}}): expected True or False")
    return EffectOptions(**value)


def _check_neuron_size(name: str, value, timestep: float) -> int | str:
    return check_neuron_size_or_auto(value, name)


def _check_mapping_file(name: str, value, timestep: float) -> str | None:
    """None or a non-empty path (str or os.PathLike, stored as str); the file itself is
    checked when it is read or written (``mapping.pipeline``)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, os.PathLike)) \
            or not isinstance(os.fspath(value), str):
        raise TypeError(f"setup({name}={value!r}): expected None or a path (str or "
                        "os.PathLike, e.g. 'net.npz')")
    path = os.fspath(value)
    if not path:
        raise ValueError(f"setup({name}={value!r}): expected None or a non-empty path")
    return path


def _check_wafers(name: str, value, timestep: float) -> int | tuple:
    """A number of wafers 1..MAX_WAFERS, or a list/tuple of distinct wafer seeds."""
    if isinstance(value, (list, tuple)):
        seeds = tuple(value)
        if not 1 <= len(seeds) <= MAX_WAFERS:
            raise ValueError(f"setup({name}={value!r}): expected 1..{MAX_WAFERS} wafer seeds")
        for s in seeds:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or \
                    not 0 <= s < 2**63:
                raise TypeError(f"setup({name}={value!r}): wafer seed {s!r} is not an "
                                "int >= 0")
        if len(set(seeds)) != len(seeds):
            raise ValueError(f"setup({name}={value!r}): the wafer seeds must differ (one "
                             "wafer module each)")
        return tuple(int(s) for s in seeds)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"setup({name}={value!r}): expected a number of wafers (int "
                        f"1..{MAX_WAFERS}) or a list of wafer seeds")
    if not 1 <= value <= MAX_WAFERS:
        raise ValueError(f"setup({name}={value!r}): a BrainScaleS-1 system has 1 .. "
                         f"{MAX_WAFERS} wafer modules")
    return int(value)


# ------------------------------------------------------------------ the keyword table
@dataclass(frozen=True)
class Keyword:
    """One ``setup()`` keyword: where its value goes in :class:`SetupOptions`, what it means
    and what it accepts.  Its default is the tree's value at ``path``."""
    path: tuple[str, ...]
    description: str
    accepts: ValueSpec


#: seeds are 64-bit: numpy's SeedSequence and our stream keys take any int >= 0 below 2**63
_SEED = Integer(0, 2**63 - 1)

#: every ``setup()`` keyword besides timestep and min_delay, in the documentation's order
KEYWORDS: dict[str, Keyword] = {
    "max_delay": Keyword(
        ("engine", "max_delay"), "largest synaptic delay in ms, or 'auto'",
        Custom((("'auto'", True), (" or a number of ms ≥ timestep", False)),
               _check_max_delay)),
    "ideal": Keyword(
        ("ideal",), "switch off every hardware effect: no wafer mapping (no placement limits, "
                    "no synapse loss); the network runs on the ideal engine", Bool()),
    "strict": Keyword(
        ("strict",), "where the wafer cannot do what was asked, raise an error instead of "
                     "adapting to the nearest realisable thing with a warning (out-of-range "
                     "neuron and STP parameters, synapse loss, keywords of other backends)",
        Bool()),
    "stimulus_seed": Keyword(
        ("engine", "stimulus_seed"),
        "seed (int >= 0) of the spike-source randomness (SpikeSourcePoisson)", _SEED),
    "wafer_seed": Keyword(
        ("substrate", "wafer_seed"), "seed (int >= 0) of the emulated wafer: its defect map "
                                     "and fixed pattern (synapse weights, readout offsets, "
                                     "delay spread)", _SEED),
    "trial_seed": Keyword(
        ("substrate", "trial_seed"),
        "seed (int >= 0) of the trial-to-trial variation (readout noise)", _SEED),
    "calibration": Keyword(
        ("substrate", "calibration"), "neuron parameters on the wafer: 'calibrated' (residual "
                                      "mismatch of a calibrated wafer), 'off' (uncalibrated "
                                      "spreads) or 'ideal' (FG quantisation only)",
        # setup()'s names; 'off' is calibration.MODES' 'uncalibrated'
        Choice(("calibrated", "off", "ideal"))),
    "voltage_alpha": Keyword(
        ("parameter_transform", "alpha"), "bio -> hardware voltage scale: V_hw = alpha * "
                                          "V_bio[mV] * 1e-3 + shift (marocco's "
                                          "param_trafo.alpha_v)", Real(1.0, 50.0)),
    "voltage_shift": Keyword(
        ("parameter_transform", "shift"),
        "bio -> hardware voltage shift in V (param_trafo.shift_v)",
        Real(0.0, _pt.V_FULL_SCALE)),           # the FG voltage range
    "big_capacitors": Keyword(
        ("parameter_transform", "big_capacitors"),
        "big (2.16 pF) or small (0.164 pF) membrane capacitors per denmem", Bool()),
    "leak_mode": Keyword(
        ("parameter_transform", "leak_mode"),
        "leak current mirror: 'slow', 'normal' or 'fast' (tau_m ranges)",
        Choice(_pt.LEAK_MODES)),
    "clip_parameters": Keyword(
        ("parameter_transform", "clip"), "set neuron parameters outside the hardware ranges "
                                         "to the nearest realisable value (one warning per "
                                         "population and parameter) instead of raising an "
                                         "error; None: unless strict=True",
        Custom((("True", True), (", ", False), ("False", True), (" or ", False),
                ("None", True)), _check_bool_or_none)),
    "analog_recording_limit": Keyword(
        ("substrate", "analog_recording_limit"), "enforce the hardware's 2 recorded membranes "
                                                 "per reticle (error naming the reticle)",
        Bool()),
    "defects": Keyword(
        ("defects", "spec"), "'default' (seeded small defect rates), 'none', a dict of defect "
                             "rates, or the path of a JSON defect file",
        # validated when the DefectMap is built (DefectMap.from_spec)
        Custom((("'default'", True), (", ", False), ("'none'", True),
                (", a preset name, a dict of rates or a JSON path", False)))),
    "neuron_size": Keyword(
        ("mapping", "neuron_placement", "default_neuron_size"),
        "denmems per logical neuron (even, 2..64), or 'auto' (the mapper chooses from the "
        "in-degree, the weights and the wafer's room; get_mapping_statistics().neuron_sizes "
        "says what); per population with sim.set_neuron_size()",
        Custom((("'auto'", True),
                (f" or an even integer, 2 … {wafer.MAX_NEURON_SIZE}", False)),
               _check_neuron_size)),
    "continue_despite_synapse_loss": Keyword(
        ("mapping", "continue_despite_synapse_loss"),
        "run although the mapping lost synapses (lost synapses transmit nothing; a report "
        "says how many, where and what helps); None: unless strict=True",
        Custom((("True", True), (", ", False), ("False", True), (" or ", False),
                ("None", True)), _check_bool_or_none)),
    "driver_chain_length": Keyword(
        ("mapping", "synapse_routing", "driver_chain_length"),
        "maximum synapse-driver chain length (1..56)",
        Integer(1, wafer.DRIVERS_PER_QUADRANT)),     # a chain stays inside one quadrant
    "neuron_placement": Keyword(
        ("mapping", "neuron_placement", "strategy"),
        "automatic neuron placement: 'enum_asc' (marocco's default: the wafer fills in HICANN "
        "enum order, populations in creation order), 'enum_desc' (populations in reverse "
        "order) or 'cluster' (connected populations next to each other, each around its "
        "placed partners: shorter L1 routes)",
        Choice(PLACEMENT_STRATEGIES)),
    "merger_routing": Keyword(
        ("mapping", "merger_routing", "strategy"),
        "'auto' (map with 'minimize_as_possible' and 'minimize', keep the one losing fewer "
        "synapses), 'minimize_as_possible' (merge adjacent neuron blocks while the driver "
        "chain at the targets allows it), 'minimize' (merge up to 59 neurons) or 'one_to_one'",
        Choice(("auto", "minimize_as_possible", "minimize", "one_to_one"))),
    "multapses": Keyword(
        ("mapping", "synapse_routing", "multapses"),
        "connections repeating a (pre, post) pair: 'realise' (each gets a synapse of its own "
        "while the target neuron has free columns in the route's rows) or 'per_projection' "
        "(marocco: one synapse per pair and projection, repeats within a projection are "
        "lost)",
        Choice(MULTAPSE_MODES)),
    "l1_routing": Keyword(
        ("mapping", "l1_routing", "algorithm"),
        "L1 routing algorithm: 'backbone+dijkstra' (marocco's backbone router, then "
        "shortest-path growth for the targets it missed), 'backbone' or 'dijkstra'",
        Choice(("backbone+dijkstra", "backbone", "dijkstra"))),
    "speedup": Keyword(
        ("mapping", "speedup"),
        "hardware speed-up (1e3..1e5); sets the input bandwidth in bio time",
        Real(*wafer.SPEEDUP_RANGE)),
    "weight_rounding": Keyword(
        ("substrate", "weight_rounding"),
        "4-bit weight rounding: 'nearest' or 'stochastic' (unbiased, like marocco)",
        Choice(ROUNDING_MODES)),
    "mapping_file": Keyword(
        ("mapping", "mapping_file"), "path of a saved mapping (sim.save_mapping) to reuse for "
                                     "this network, or where to save a new one",
        # the path exactly as given (no suffix appended): a missing file is where the new
        # mapping is saved, an existing one must be a mapping made for this setup
        Custom((("None", True), (" or a path (", False), (".npz", True), (")", False)),
               _check_mapping_file)),
    "progress": Keyword(
        ("engine", "progress"), "progress bars (stderr) for long runs and large mappings: "
                                "True, False or None (only on a terminal; environment "
                                "PYNN_BSS_EMU_PROGRESS=1/0)",
        Custom((("True", True), (", ", False), ("False", True), (" or ", False),
                ("None", True)), _check_progress)),
    "preset": Keyword(
        ("preset",), "'default' (this emulator's choices) or 'marocco' (what BSS-1 users got "
                     "from marocco/calibtic: see the preset table); keywords given "
                     "explicitly override the preset",
        Choice(("default", "marocco"))),
    "effects": Keyword(
        ("substrate", "effects"), "ablation: a dict switching emulated effects off, e.g. "
                                  "{'event_loss': False}; effects: mismatch, trial_noise, "
                                  "weight_quantisation, weight_floor, event_loss (all on)",
        Custom((("dict of effect: bool", False),), _check_effects)),
    "wafers": Keyword(
        ("system", "wafers"), "wafer modules of the system: a number (wafer k gets the seed "
                              "wafer_seed + k) or a list of wafer seeds; populations are "
                              "spread over them, keeping connected ones together",
        Custom(((f"an int 1 … {MAX_WAFERS}", False), (" or a list of distinct seeds", False)),
               _check_wafers)),
    "offwafer_latency": Keyword(
        ("system", "offwafer_latency_us"), "latency of a spike from one wafer to another, µs "
                                           "of hardware time (FPGA to FPGA; added to the "
                                           "routed delay)", Real(0.0, 100.0)),
    "wafer_fill": Keyword(
        ("system", "fill"), "share of a wafer's neuron slots filled before the next wafer is "
                            "used (lower: the network spread thinner over more wafers)",
        Real(0.05, 1.0)),
}

#: What each preset changes, as tree path -> value (defaults not listed stay).  'marocco'
#: reproduces what the real software stack did by default (brainscales1.md 14.2 and "Audit
#: 2026-12": what marocco/calibtic did by default): stochastic 4-bit weight rounding, backbone L1 routing, merger strategy
#: minimize_as_possible, placement in wafer enum order, neuron size 4.  (Out-of-range
#: parameters are clipped with a warning as marocco did: our default unless strict=True.)
PRESETS: dict[str, dict[tuple[str, ...], Any]] = {
    "default": {},
    "marocco": {
        ("substrate", "weight_rounding"): "stochastic",
        ("substrate", "gmax_table"): "marocco",
        ("parameter_transform", "v_reset_sharing"): "hicann",
        ("parameter_transform", "i_offset"): "drop",
        ("mapping", "l1_routing", "algorithm"): "backbone",
        ("mapping", "merger_routing", "strategy"): "minimize_as_possible",
        ("mapping", "neuron_placement", "strategy"): "enum_asc",
        ("mapping", "neuron_placement", "default_neuron_size"): 4,
        ("mapping", "synapse_routing", "multapses"): "per_projection",
    },
}


#: the finest time step (ms): NEST's default tic; finer steps only make runs impossibly long
MIN_TIMESTEP_MS = 0.001

#: ``setup()`` keywords of other PyNN backends, accepted and ignored (with one warning) so that
#: their scripts run unchanged; where we have an equivalent, the warning names it
FOREIGN_KEYWORDS: dict[str, tuple[str, ...]] = {
    "pyNN.nest": ("threads", "spike_precision", "verbosity", "recording_precision",
                  "rng_seed", "rng_type", "t_flush", "grng_seed", "rng_seeds",
                  "rng_seeds_seed"),
    "pyNN.neuron": ("use_cvode", "rtol", "atol", "native_rng_baseseed", "default_maxstep",
                    "quit_on_end"),
    "pyNN.mock": ("rank", "num_processes"),
    "PyNN 0.7 BrainScaleS (pyNN.hardware.brainscales, pyhmf)": (
        "hardwareNeuronSize", "maxSynapseLoss", "marocco", "useSystemSim", "speedupFactor",
        "algoinitFilename", "ignoreDatabase", "ignoreHWParameterRanges", "hardware",
        "loglevel", "logfile", "ess_params", "mappingStrategy", "programFloatingGates",
        "tempFolder", "ignoreSynapseLoss"),
    "sPyNNaker": ("time_scale_factor", "n_chips_required", "n_boards_required",
                  "database_socket_addresses", "graph_label"),
    "PyNN scripts and other backends": ("debug", "label", "filename", "use_mpi",
                                        "hardware_label"),
}
#: our equivalent of some foreign keywords (named in the warning)
FOREIGN_EQUIVALENTS = {
    "hardwareNeuronSize": "neuron_size", "maxSynapseLoss": "continue_despite_synapse_loss",
    "ignoreSynapseLoss": "continue_despite_synapse_loss", "speedupFactor": "speedup",
    "ignoreHWParameterRanges": "clip_parameters", "rng_seed": "stimulus_seed, wafer_seed, "
    "trial_seed", "grng_seed": "stimulus_seed", "native_rng_baseseed": "stimulus_seed",
}


def foreign_backend(name: str) -> str | None:
    """Which backend a ``setup()`` keyword belongs to (None: unknown)."""
    for backend, names in FOREIGN_KEYWORDS.items():
        if name in names:
            return backend
    return None


def ignored_keywords_message(ignored: tuple) -> str:
    """The warning for keywords ``setup()`` accepted and ignored."""
    parts = []
    for name, backend in ignored:
        hint = FOREIGN_EQUIVALENTS.get(name)
        where = f" ({backend})" if backend else " (unknown)"
        parts.append(f"{name}{where}" + (f" -> here: {hint}" if hint else ""))
    return (f"setup() ignores keyword(s) that pyNN.bss_emu does not use: {'; '.join(parts)}. "
            "Other backends' keywords are accepted so that their scripts run unchanged; "
            "check the spelling of an unknown one. setup(strict=True) makes this an error; "
            "pyNN.bss_emu's own options: see SETUP_OPTIONS")


def setup_keywords() -> dict[str, tuple[Any, str]]:
    """Every ``setup()`` keyword -> (default, description), in :data:`KEYWORDS` order; the
    defaults are read from a default-built :class:`SetupOptions`."""
    defaults = SetupOptions()
    return {name: (_get(defaults, keyword.path), keyword.description)
            for name, keyword in KEYWORDS.items()}


def accepted_values(name: str) -> Pieces:
    """What ``setup()`` accepts for keyword ``name``, as (text, is_literal) pieces (literal
    pieces are set in code style by the documentation).  ``KeyError`` for an unknown name."""
    return KEYWORDS[name].accepts.accepted()
