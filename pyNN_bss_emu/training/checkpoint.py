"""The in-the-loop trainer's checkpoint file: format, writing, and reading with every field
checked before the trainer is touched.

Format (version 2): an ``.npz`` archive with the members

* ``shadow_{l}``, ``adam_m_{l}``, ``adam_v_{l}``: float, shape (n_in, n_out) of layer l;
* ``lsb_{l}``: float, the quantiser's grid of layer l (a scalar or an array broadcastable to
  the layer's weights, e.g. one value per input, (n_in, 1));
* ``unit_uS``: float, shape (layers,), the conductance per weight unit of every layer;
* ``meta``: a 0-d unicode array holding a JSON object with exactly the keys ``version``,
  ``identity`` (network sizes and data set), ``iteration``, ``adam_t``, ``adam_lr``,
  ``levels``, ``config`` (the :class:`TrainerConfig` fields), ``stimulus_rng`` and
  ``data_rng`` (JSON strings of numpy bit-generator states) and ``history``.

Reading (:func:`read_checkpoint`) goes through :mod:`pyNN_bss_emu.archive`: only these
members are accepted, each one's declared size is checked against its shape before it is
inflated (a zip bomb is refused from the zip directory), no pickle, dtype kinds and shapes
checked from the ``.npy`` header.  Then every value is checked: finite weights and optimiser
moments (second moments >= 0), positive grids and conductance units, ``iteration`` and
``adam_t`` integers >= 0, the configuration's ranges (:class:`TrainerConfig`'s own checks),
random-number states of the trainer's bit generator and well-formed, a history of number
lists of consistent lengths.  Any problem raises :class:`CheckpointError` naming the file
and the member or field.  Only a checkpoint that passed everything is handed back, so the
trainer assigns it all or nothing.

Writing (:func:`write_checkpoint`) checks the same rules on what it is about to write (a
checkpoint it writes can be read back) and is atomic: a temporary file in the same
directory and ``os.replace``.  A save killed hard (SIGKILL, power loss) can leave a hidden
``.NAME.<hex>.tmp`` file next to the checkpoint; loading never looks at it, and the next
successful save of that checkpoint removes such files once they are older than
:data:`STALE_TEMPORARY_SECONDS` (so a concurrent writer's file is left alone).
"""
from __future__ import annotations

import copy
import json
import math
import numbers
import os
import re
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..archive import ArchiveError, MemberSpec, read_npz, write_npz_atomic
from .conversion import MAX_LEVELS

__all__ = ["CheckpointError", "CheckpointState", "CHECKPOINT_VERSION", "read_checkpoint",
           "write_checkpoint", "HISTORY_KEYS"]

CHECKPOINT_VERSION = 2     # 2: one LSB array per layer (per-input grids)
#: the keys of the JSON member ``meta``
META_KEYS = ("version", "identity", "iteration", "adam_t", "adam_lr", "levels", "config",
             "stimulus_rng", "data_rng", "history")
#: the history lists every trainer keeps (a user may add more lists of numbers)
HISTORY_KEYS = ("iteration", "loss", "batch_accuracy", "seconds", "eval_iteration",
                "eval_accuracy")
#: longest ``meta`` JSON text accepted, characters (the history grows by ~100 per iteration;
#: 16 Mi characters = 64 MiB as a numpy unicode array)
MAX_META_CHARS = 16 * 2 ** 20
#: largest iteration / Adam step count accepted (exact in a JSON double)
MAX_COUNT = 2 ** 53
#: age after which a leftover temporary file of a killed save is removed by the next save
STALE_TEMPORARY_SECONDS = 600.0

_META_SPEC = MemberSpec("U", (), max_itemsize=4 * MAX_META_CHARS)


class CheckpointError(ValueError):
    """A checkpoint is damaged, foreign, or does not belong to this network / data set (the
    message names the file and the member or field)."""


@dataclass
class CheckpointState:
    """Everything a checkpoint restores, already checked (see :func:`read_checkpoint`)."""
    shadow: list
    adam: dict                   # {"t", "lr", "m", "v"} as Adam.state()
    lsb: list
    levels: int
    unit_uS: np.ndarray
    config: dict                 # the TrainerConfig fields
    stimulus_rng: dict           # numpy bit-generator states
    data_rng: dict
    iteration: int
    history: dict


# ------------------------------------------------------------------ writing
def encode(state: CheckpointState, identity: dict) -> dict[str, np.ndarray]:
    """The ``.npz`` members of ``state`` (see the module docstring)."""
    arrays = {f"shadow_{i}": np.asarray(w, dtype=float) for i, w in enumerate(state.shadow)}
    arrays.update({f"adam_m_{i}": np.asarray(m, dtype=float)
                   for i, m in enumerate(state.adam["m"])})
    arrays.update({f"adam_v_{i}": np.asarray(v, dtype=float)
                   for i, v in enumerate(state.adam["v"])})
    arrays.update({f"lsb_{i}": np.asarray(x, dtype=float) for i, x in enumerate(state.lsb)})
    arrays["unit_uS"] = np.asarray(state.unit_uS, dtype=float)
    bad = [k for k in state.history if not isinstance(k, str)]
    if bad:
        raise ValueError(f"history keys must be str, got {_short(bad)}")
    meta = {"version": CHECKPOINT_VERSION, "identity": identity,
            "iteration": state.iteration, "adam_t": state.adam["t"],
            "adam_lr": state.adam["lr"], "levels": state.levels, "config": state.config,
            "stimulus_rng": json.dumps(state.stimulus_rng),
            "data_rng": json.dumps(state.data_rng),
            "history": {k: [_plain_number(v) for v in vals]
                        for k, vals in state.history.items()}}
    arrays["meta"] = np.array(json.dumps(meta))
    return arrays


def _plain_number(v: object) -> object:
    """numpy scalars as Python numbers for JSON (anything else unchanged: the checks that
    follow name what is wrong)."""
    return v.item() if isinstance(v, np.generic) else v


def write_checkpoint(path: str, state: CheckpointState, identity: dict, sizes: tuple,
                     make_config: Callable[..., object], config_fields: tuple,
                     rngs: tuple) -> None:
    """Check ``state`` by the reader's rules and write it atomically to ``path``."""
    try:
        arrays = encode(state, identity)
    except (TypeError, ValueError) as err:      # json: a value that is no JSON
        raise CheckpointError(f"checkpoint '{path}' (not written): {err}") from None
    text = str(arrays["meta"])
    if len(text) > MAX_META_CHARS:
        raise CheckpointError(f"checkpoint '{path}' (not written): its meta data (mostly the "
                              f"history) has {len(text)} characters, more than the "
                              f"{MAX_META_CHARS} a checkpoint may hold; shorten "
                              f"trainer.history")
    meta = _parse_meta(text, f"checkpoint '{path}' (not written)")
    _check_all(arrays, meta, f"checkpoint '{path}' (not written)", sizes, make_config,
               config_fields, rngs)
    write_npz_atomic(path, arrays)
    _remove_stale_temporaries(path)


def _remove_stale_temporaries(path: str) -> None:
    """Remove temporary files of killed saves of ``path`` older than
    :data:`STALE_TEMPORARY_SECONDS` (the writer's ``.NAME.<12 hex>.tmp``, and the
    ``NAME.tmp.npz`` of earlier versions of this module)."""
    directory = os.path.dirname(os.path.abspath(path))
    base = os.path.basename(path)
    pattern = re.compile(r"\." + re.escape(base) + r"\.[0-9a-f]{12}\.tmp\Z")
    try:
        names = [n for n in os.listdir(directory)
                 if pattern.match(n) or n == base + ".tmp.npz"]
    except OSError:
        return
    now = time.time()
    for name in names:
        full = os.path.join(directory, name)
        try:
            if now - os.lstat(full).st_mtime > STALE_TEMPORARY_SECONDS and \
                    os.path.isfile(full) and not os.path.islink(full):
                os.unlink(full)
        except OSError:
            pass


# ------------------------------------------------------------------ reading
def member_specs(sizes: tuple) -> dict[str, MemberSpec]:
    """What every member of a checkpoint of a network of ``sizes`` must look like."""
    specs: dict[str, MemberSpec] = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        specs[f"shadow_{i}"] = MemberSpec("f", (a, b))
        specs[f"adam_m_{i}"] = MemberSpec("f", (a, b))
        specs[f"adam_v_{i}"] = MemberSpec("f", (a, b))
        # a scalar, one value per input (n_in, 1), ...: checked against (a, b) below
        specs[f"lsb_{i}"] = MemberSpec("f", None, max_bytes=8 * a * b)
    specs["unit_uS"] = MemberSpec("f", (len(sizes) - 1,))
    specs["meta"] = _META_SPEC
    return specs


def read_checkpoint(path: str, identity: dict, sizes: tuple,
                    make_config: Callable[..., object], config_fields: tuple,
                    rngs: tuple) -> CheckpointState:
    """Read and check the checkpoint ``path`` for a trainer of ``identity`` / ``sizes``.

    ``make_config(**fields)`` checks the configuration (raising ``TypeError`` or
    ``ValueError``); ``rngs``: the trainer's two generators (stimulus, data), whose bit
    generator the stored states must fit.  Raises :class:`CheckpointError` (naming ``path``
    and the problem) for anything but a complete checkpoint of this network and data set;
    an ``OSError`` opening the file (missing, unreadable) propagates unchanged.
    """
    where = f"checkpoint '{path}'"
    # 1. the meta member alone: version and identity first, so that a checkpoint of another
    # network is refused as such (not for its arrays' shapes)
    meta = _parse_meta(str(_read(path, {"meta": _META_SPEC}, allow_unknown=True)["meta"]),
                       where)
    _check_version_and_identity(meta, identity, where)
    # 2. everything, nothing unexpected; meta again (the one used is the one read with the
    # arrays)
    arrays = _read(path, member_specs(sizes), allow_unknown=False)
    meta = _parse_meta(str(arrays["meta"]), where)
    _check_version_and_identity(meta, identity, where)
    return _check_all(arrays, meta, where, sizes, make_config, config_fields, rngs)


def _read(path: str, specs: dict[str, MemberSpec], allow_unknown: bool) -> dict:
    try:
        return read_npz(path, specs, what="checkpoint", error=ArchiveError,
                        allow_unknown=allow_unknown)
    except ArchiveError as err:           # its message names the file and the member
        raise CheckpointError(str(err)) from None
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as err:      # zlib.error, struct.error, ... (RecursionError too)
        kind = type(err).__name__ if type(err).__module__ == "builtins" else \
            f"{type(err).__module__}.{type(err).__name__}"
        raise CheckpointError(f"checkpoint '{path}': not a readable checkpoint ({kind}: "
                              f"{str(err)[:200]}); was it written completely?") from None


def _parse_meta(text: str, where: str) -> dict:
    try:
        meta = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise CheckpointError(f"{where}: member 'meta' is not valid JSON "
                              f"({type(err).__name__}: {str(err)[:200]})") from None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{where}: member 'meta' must be a JSON object, got "
                              f"{type(meta).__name__}")
    return meta


def _check_version_and_identity(meta: dict, identity: dict, where: str) -> None:
    version = meta.get("version")
    if type(version) is not int or version != CHECKPOINT_VERSION:
        raise CheckpointError(f"{where} has version {_short(version)}, this trainer reads "
                              f"version {CHECKPOINT_VERSION}")
    theirs = meta.get("identity")
    if not isinstance(theirs, dict):
        raise CheckpointError(f"{where}: meta field 'identity' must be an object, got "
                              f"{_short(theirs)}")
    if theirs != identity:
        keys = list(identity) + [k for k in theirs if k not in identity]
        diff = {k: (theirs.get(k), identity.get(k)) for k in keys
                if theirs.get(k) != identity.get(k)}
        raise CheckpointError(f"{where} belongs to another network or data set: "
                              f"(checkpoint, this trainer) = {_short(diff, 400)}")


def _short(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _integer(value: object, field: str, where: str, low: int, high: int) -> int:
    if type(value) is not int:
        raise CheckpointError(f"{where}: meta field '{field}' = {_short(value)} must be an "
                              f"integer in {low}..{high}")
    if not low <= value <= high:
        raise CheckpointError(f"{where}: meta field '{field}' = {value} must be in "
                              f"{low}..{high}")
    return value


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_all(arrays: dict, meta: dict, where: str, sizes: tuple,
               make_config: Callable[..., object], config_fields: tuple,
               rngs: tuple) -> CheckpointState:
    """Every rule of the module docstring; returns the state ready to assign."""
    keys = set(meta)
    if keys != set(META_KEYS):
        missing = [k for k in META_KEYS if k not in keys]
        unknown = sorted(str(k) for k in keys - set(META_KEYS))
        raise CheckpointError(f"{where}: member 'meta' "
                              + (f"lacks {', '.join(missing)}" if missing else "")
                              + ("; " if missing and unknown else "")
                              + (f"has unknown fields {_short(unknown, 200)}" if unknown
                                 else ""))
    n = len(sizes) - 1
    # -- arrays (dtype kinds and shapes were checked by the reader from the headers)
    out: dict[str, list] = {}
    for prefix, rule in (("shadow", "finite"), ("adam_m", "finite"),
                         ("adam_v", "finite and >= 0"), ("lsb", "finite and > 0")):
        out[prefix] = []
        for i in range(n):
            name = f"{prefix}_{i}"
            a = np.array(arrays[name], dtype=float)
            shape = (sizes[i], sizes[i + 1])
            if prefix != "lsb" and a.shape != shape:
                raise CheckpointError(f"{where}: member '{name}' has shape {a.shape}, layer "
                                      f"{i} of the network needs {shape}")
            if prefix == "lsb":
                try:
                    fits = a.ndim <= 2 and np.broadcast_shapes(a.shape, shape) == shape
                except ValueError:
                    fits = False
                if not fits or a.size == 0:
                    raise CheckpointError(f"{where}: member '{name}' has shape {a.shape}, "
                                          f"which does not fit layer {i}'s weights {shape} "
                                          f"(allowed: (), ({shape[0]}, 1), (1, {shape[1]}) "
                                          f"or {shape})")
            ok = np.isfinite(a)
            if prefix == "adam_v":
                ok &= a >= 0
            elif prefix == "lsb":
                ok &= a > 0
            if not np.all(ok):
                bad = float(a[~ok].flat[0])
                raise CheckpointError(f"{where}: member '{name}' must be {rule} everywhere, "
                                      f"it holds {bad!r} ({int(np.sum(~ok))} such values)")
            out[prefix].append(a)
    unit = np.array(arrays["unit_uS"], dtype=float)
    if unit.shape != (n,):
        raise CheckpointError(f"{where}: member 'unit_uS' has shape {unit.shape}, the network "
                              f"needs ({n},)")
    if not np.all(np.isfinite(unit) & (unit > 0)):
        raise CheckpointError(f"{where}: member 'unit_uS' must be finite and > 0 for every "
                              f"layer, got {np.array2string(unit, precision=4)}")
    # -- scalars
    iteration = _integer(meta["iteration"], "iteration", where, 0, MAX_COUNT)
    adam_t = _integer(meta["adam_t"], "adam_t", where, 0, MAX_COUNT)
    adam_lr = meta["adam_lr"]
    if not _number(adam_lr) or not math.isfinite(adam_lr) or adam_lr <= 0:
        raise CheckpointError(f"{where}: meta field 'adam_lr' = {_short(adam_lr)} must be a "
                              f"finite number > 0")
    levels = _integer(meta["levels"], "levels", where, 1, MAX_LEVELS)
    # -- configuration: exactly the fields, checked by the configuration class itself
    config = meta["config"]
    if not isinstance(config, dict) or set(config) != set(config_fields):
        got = sorted(config) if isinstance(config, dict) else _short(config)
        raise CheckpointError(f"{where}: meta field 'config' must hold exactly the fields "
                              f"{', '.join(config_fields)}; got {_short(got, 300)}")
    try:
        make_config(**config)
    except (TypeError, ValueError) as err:
        raise CheckpointError(f"{where}: meta field 'config': {err}") from None
    # -- random-number states
    states = [_rng_state(meta[key], key, rng, where)
              for key, rng in zip(("stimulus_rng", "data_rng"), rngs)]
    history = _history(meta["history"], where)
    return CheckpointState(shadow=out["shadow"],
                           adam={"t": adam_t, "lr": float(adam_lr), "m": out["adam_m"],
                                 "v": out["adam_v"]},
                           lsb=out["lsb"], levels=levels, unit_uS=unit, config=dict(config),
                           stimulus_rng=states[0], data_rng=states[1], iteration=iteration,
                           history=history)


def _same_structure(given: object, template: object) -> bool:
    """``given`` has the keys and scalar types of ``template`` (a bit-generator state)."""
    if isinstance(template, dict):
        return isinstance(given, dict) and set(given) == set(template) and all(
            _same_structure(given[k], template[k]) for k in template)
    if isinstance(template, bool):
        return isinstance(given, bool)
    if isinstance(template, numbers.Integral):
        return type(given) is int
    if isinstance(template, str):
        return isinstance(given, str)
    return False        # arrays and floats: not in the bit generators this format stores


def _rng_state(text: object, field: str, rng: np.random.Generator, where: str) -> dict:
    """A JSON bit-generator state of ``rng``'s kind, tried on a copy of ``rng``."""
    template = rng.bit_generator.state
    kind = template.get("bit_generator")
    problem = None
    if not isinstance(text, str):
        problem = f"must be a JSON string, got {_short(text)}"
    else:
        try:
            state = json.loads(text)
        except (ValueError, RecursionError) as err:
            state, problem = None, f"is not valid JSON ({str(err)[:100]})"
        if problem is None:
            if not isinstance(state, dict) or state.get("bit_generator") != kind:
                name = state.get("bit_generator") if isinstance(state, dict) else None
                problem = (f"is the state of bit generator {_short(name)}; the trainer's "
                           f"generator is {kind}")
            elif not _same_structure(state, template):
                problem = (f"is not a well-formed {kind} state (keys and integer fields of "
                           f"{sorted(template)})")
            elif kind in ("PCG64", "PCG64DXSM") and not (
                    0 <= state["state"]["state"] < 2 ** 128
                    and 0 < state["state"]["inc"] < 2 ** 128
                    and state["state"]["inc"] % 2 == 1
                    and state["has_uint32"] in (0, 1)
                    and 0 <= state["uinteger"] < 2 ** 32):
                problem = (f"is out of range for {kind} (state and odd inc: 128-bit "
                           f"unsigned, has_uint32 0 or 1, uinteger 32-bit unsigned)")
            else:
                trial = copy.deepcopy(rng)
                try:
                    trial.bit_generator.state = state
                    ok = trial.bit_generator.state == state
                except Exception as err:
                    ok, problem = False, f"is refused by numpy ({type(err).__name__}: {err})"
                if not ok and problem is None:
                    problem = f"does not survive numpy's {kind} unchanged"
    if problem is not None:
        raise CheckpointError(f"{where}: meta field '{field}' {problem}")
    return state


def _history(history: object, where: str) -> dict:
    """A dict of lists of numbers with the trainer's keys; ``iteration`` /
    ``eval_iteration`` integers >= 0 and as long as ``loss`` ... / ``eval_accuracy``."""
    if not isinstance(history, dict):
        raise CheckpointError(f"{where}: meta field 'history' must be an object of lists, got "
                              f"{_short(history)}")
    missing = [k for k in HISTORY_KEYS if k not in history]
    if missing:
        raise CheckpointError(f"{where}: meta field 'history' lacks {', '.join(missing)}")
    out = {}
    for key, values in history.items():
        if not isinstance(values, list):
            raise CheckpointError(f"{where}: history[{_short(key)}] must be a list, got "
                                  f"{_short(values)}")
        integral = key in ("iteration", "eval_iteration")
        for j, v in enumerate(values):
            if integral:
                if type(v) is not int or not 0 <= v <= MAX_COUNT:
                    raise CheckpointError(f"{where}: history[{key!r}][{j}] = {_short(v)} "
                                          f"must be an integer in 0..{MAX_COUNT}")
            elif not _number(v):
                raise CheckpointError(f"{where}: history[{_short(key)}][{j}] = {_short(v)} "
                                      f"must be a number")
        out[key] = list(values)
    for group in (("iteration", "loss", "batch_accuracy", "seconds"),
                  ("eval_iteration", "eval_accuracy")):
        lengths = {k: len(out[k]) for k in group}
        if len(set(lengths.values())) != 1:
            raise CheckpointError(f"{where}: the history lists {', '.join(group)} must be "
                                  f"equally long, got lengths {lengths}")
    return out
