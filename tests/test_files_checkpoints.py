"""Checkpoint files and argument checks of the training package, against a hostile user
(issue 13, points 5 and 7).

Checkpoints (``InTheLoopTrainer.save_checkpoint`` / ``load_checkpoint``):

* a checkpoint that is damaged, truncated, foreign, a zip bomb, or holds a single bad field
  (missing member or key, NaN weights, wrong shapes, ``iteration=-5``, ``config.lr=-1``, a
  foreign random-number state, ...) raises ``CheckpointError`` naming the file, and the
  trainer is *exactly* as before (all state compared, not a sample of it);
* a zip bomb is refused from the zip directory, before anything is inflated (time and
  memory bounded);
* saving is atomic (a failed save leaves the previous checkpoint and no temporary file),
  old temporaries of killed saves are removed, and a state the reader would refuse is not
  written;
* hypothesis: random byte-level corruptions and truncations of a real checkpoint, and
  random values in its fields, give ``CheckpointError`` naming the file with the trainer
  unchanged -- never another exception and never a partial load.

Arguments: ``TrainerConfig``, ``Dataset``, the trainer's methods and the other public
constructors refuse floats for counts, NaN, non-integer labels, ... with an error naming
the parameter; hypothesis draws random ``TrainerConfig`` and ``Dataset`` inputs.

The network is a stand-in (the interface ``InTheLoopTrainer`` uses, as in
``test_trainer_step.py``): sizes (4, 3, 2), no simulator.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import io
import json
import os
import re
import tempfile
import time
import tracemalloc
import types
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pyNN_bss_emu.training import (Adam, Dataset, InTheLoopTrainer, Quantiser, ReLUNetwork,
                                   SpikingConfig, SpikingNetwork, TrainerConfig,
                                   normalise_weights, train_ann, yin_yang_dataset,
                                   yin_yang_samples)
from pyNN_bss_emu.training.trainer import CheckpointError

SIZES = (4, 3, 2)
CONFIG_FIELDS = ("lr", "lr_decay", "beta", "a_sat", "batch_size", "eval_batch")
MEMBERS = ["shadow_0", "shadow_1", "adam_m_0", "adam_m_1", "adam_v_0", "adam_v_1", "lsb_0",
           "lsb_1", "unit_uS", "meta"]
META_KEYS = ["version", "identity", "iteration", "adam_t", "adam_lr", "levels", "config",
             "stimulus_rng", "data_rng", "history"]


# ------------------------------------------------------------------ stand-ins and state
class StandInNetwork:
    """What the trainer needs of ``SpikingNetwork``: measured activations are the software
    ReLU network on the written weights (every layer rectified, like spike counts)."""

    def __init__(self, sizes=SIZES) -> None:
        self.sizes = tuple(sizes)
        self.unit_uS = np.full(len(self.sizes) - 1, 0.011)
        self.written = None

    def check_weights(self, weights):
        return [np.asarray(w, dtype=float) for w in weights]

    def write_weights(self, weights) -> None:
        self.written = [np.array(w, dtype=float) for w in weights]

    def run(self, x, rng):
        acts, h = [], np.asarray(x, dtype=float)
        for w in self.written:
            h = np.maximum(h @ w, 0.0)
            acts.append(h)
        return acts


def _data(seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    return Dataset("toy", rng.random((12, SIZES[0])), np.arange(12) % SIZES[-1],
                   rng.random((4, SIZES[0])), np.arange(4) % SIZES[-1], SIZES[-1])


def _weights(seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(0.5, 0.3, (a, b)) for a, b in zip(SIZES[:-1], SIZES[1:])]


def _trainer(iterations: int = 0, data_seed: int = 2, stimulus_seed: int = 1,
             **cfg) -> InTheLoopTrainer:
    tr = InTheLoopTrainer(StandInNetwork(), _weights(), _data(),
                          TrainerConfig(batch_size=4, eval_batch=4, **cfg),
                          stimulus_seed=stimulus_seed, data_seed=data_seed)
    if iterations:
        tr.train(iterations, eval_every=1, progress=False)
    return tr


def snapshot(tr: InTheLoopTrainer) -> dict:
    """Every piece of state a checkpoint touches, deep-copied, plus the identity of the
    objects (a load must not leave half-replaced objects behind either)."""
    return {
        "shadow": [np.array(w, copy=True) for w in tr.shadow],
        "adam": copy.deepcopy(tr.optimiser.state()),
        "lsb": [np.array(x, copy=True) for x in tr.quantiser.lsb],
        "levels": tr.quantiser.levels,
        "unit_uS": np.array(tr.network.unit_uS, copy=True),
        "config": dataclasses.asdict(tr.config),
        "stimulus_rng": copy.deepcopy(tr.stimulus_rng.bit_generator.state),
        "data_rng": copy.deepcopy(tr.data_rng.bit_generator.state),
        "iteration": tr.iteration,
        "history": copy.deepcopy(tr.history),
        "written": copy.deepcopy(tr._written),
        "objects": (id(tr.quantiser), id(tr.config), id(tr.optimiser), id(tr.stimulus_rng),
                    id(tr.data_rng), id(tr.network), id(tr.history)),
    }


def assert_same(a, b, where: str = "state") -> None:
    """Recursive equality of snapshots: arrays bit for bit (shape and dtype too), NaN equal
    to NaN."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, float) and np.isnan(a):
        assert isinstance(b, float) and np.isnan(b), where
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


def assert_restored(loaded: InTheLoopTrainer, saved: InTheLoopTrainer) -> None:
    """``loaded`` holds exactly the state ``saved`` had when it was saved (and will write
    its weights again before the next run)."""
    a, b = snapshot(loaded), snapshot(saved)
    for k in ("shadow", "adam", "lsb", "levels", "unit_uS", "config", "stimulus_rng",
              "data_rng", "iteration", "history"):
        assert_same(a[k], b[k], k)
    assert loaded._written is None


def _without_objects(snap: dict) -> dict:
    return {k: v for k, v in snap.items() if k != "objects"}


@functools.lru_cache(maxsize=None)
def reference_checkpoint() -> tuple[bytes, dict]:
    """The bytes of a real checkpoint (after 3 iterations) and the state a trainer has
    after loading it."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "ref.npz")
        _trainer(3).save_checkpoint(path)
        with open(path, "rb") as f:
            raw = f.read()
        tr = _trainer()
        tr.load_checkpoint(path)
    return raw, _without_objects(snapshot(tr))


def _victim() -> InTheLoopTrainer:
    """A trainer of the same network and data set whose state differs from the
    checkpoint's in every field (1 iteration, other seeds, other units)."""
    tr = _trainer(1, data_seed=7, stimulus_seed=8, lr=0.2)
    tr.network.unit_uS = tr.network.unit_uS * 1.5
    tr.evaluate()                                   # _written holds something
    return tr


def _contents(raw: bytes) -> tuple[dict, dict]:
    """Arrays and decoded meta of a (trusted) checkpoint."""
    with np.load(io.BytesIO(raw)) as f:
        arrays = {k: f[k] for k in f.files}
    return arrays, json.loads(str(arrays["meta"]))


def _write(path, arrays: dict, meta: dict | None = None) -> str:
    """A checkpoint with these arrays (and meta, if given), written by numpy as a user's
    own tool would."""
    arrays = dict(arrays)
    if meta is not None:
        arrays["meta"] = np.array(json.dumps(meta))
    np.savez(str(path), **arrays)
    return str(path)


def _expect_refused(tr: InTheLoopTrainer, path, pattern: str | None = None) -> CheckpointError:
    """``load_checkpoint(path)`` raises CheckpointError naming the file (and matching
    ``pattern``) and leaves ``tr`` exactly as it was."""
    before = snapshot(tr)
    with pytest.raises(CheckpointError) as info:
        tr.load_checkpoint(str(path))
    message = str(info.value)
    assert f"'{path}'" in message, message
    if pattern is not None:
        assert re.search(pattern, message), message
    assert_same(snapshot(tr), before)
    return info.value


# ------------------------------------------------------------------ 1. one bad field
def test_a_good_checkpoint_round_trips_and_training_continues_identically(tmp_path):
    """Save at 3 iterations, load into a trainer with other state, train both to 5: the
    same weights, optimiser, RNG draws and history (but the timings) as without the
    interruption."""
    straight = _trainer(5)
    tr = _trainer(3)
    path = tmp_path / "c.npz"
    tr.save_checkpoint(path)                      # a pathlib.Path is fine
    resumed = _victim()
    resumed.load_checkpoint(str(path))
    assert_restored(resumed, tr)
    resumed.train(5, eval_every=1, progress=False)
    a, b = snapshot(resumed), snapshot(straight)
    for k in ("seconds",):
        a["history"].pop(k), b["history"].pop(k)
    for k in ("shadow", "adam", "lsb", "config", "stimulus_rng", "data_rng", "iteration",
              "history"):
        assert_same(a[k], b[k], k)
    assert os.listdir(tmp_path) == ["c.npz"]      # no temporary file left


@pytest.mark.parametrize("member", MEMBERS)
def test_a_missing_member_is_refused_before_anything_changes(tmp_path, member):
    arrays, _ = _contents(reference_checkpoint()[0])
    del arrays[member]
    path = _write(tmp_path / "c.npz", arrays)
    _expect_refused(_victim(), path, rf"missing.*\b{member}\b")


@pytest.mark.parametrize("key", META_KEYS)
def test_a_missing_meta_key_is_refused_before_anything_changes(tmp_path, key):
    arrays, meta = _contents(reference_checkpoint()[0])
    del meta[key]
    path = _write(tmp_path / "c.npz", arrays, meta)
    _expect_refused(_victim(), path, rf"version|{key}")


def _set(path_in_meta: tuple, value):
    def mutate(arrays, meta):
        obj = meta
        for k in path_in_meta[:-1]:
            obj = obj[k]
        obj[path_in_meta[-1]] = value
    return mutate


def _rng(**changes):
    """Mutate the stimulus RNG's stored PCG64 state."""
    def mutate(arrays, meta):
        state = json.loads(meta["stimulus_rng"])
        for k, v in changes.items():
            if k in ("state", "inc"):
                state["state"][k] = v
            else:
                state[k] = v
        meta["stimulus_rng"] = json.dumps(state)
    return mutate


def _array(name, fn):
    def mutate(arrays, meta):
        arrays[name] = fn(np.array(arrays[name]))
    return mutate


def _poke(index, value):
    def fn(a):
        a[index] = value
        return a
    return fn


MT19937_STATE = json.dumps({"bit_generator": "MT19937",
                            "state": {"key": list(range(624)), "pos": 624}})

#: (id, mutation of (arrays, meta), what the message must mention)
BAD_FIELDS = [
    ("config_lr_negative", _set(("config", "lr"), -1), r"config.*TrainerConfig\.lr = -1"),
    ("config_batch_size_float", _set(("config", "batch_size"), 2.5),
     r"TrainerConfig\.batch_size = 2\.5"),
    ("config_lr_decay_nan", _set(("config", "lr_decay"), float("nan")), r"lr_decay"),
    ("config_unknown_field", _set(("config", "momentum"), 0.9), r"config.*momentum"),
    ("config_not_object", _set(("config",), [1, 2]), r"config"),
    ("rng_foreign_mt19937", _set(("stimulus_rng",), MT19937_STATE),
     r"stimulus_rng.*MT19937.*PCG64"),
    ("rng_not_json", _set(("data_rng",), "{not json"), r"data_rng.*JSON"),
    ("rng_not_string", _set(("data_rng",), {"bit_generator": "PCG64"}), r"data_rng"),
    ("rng_missing_key", _set(("data_rng",), json.dumps({"bit_generator": "PCG64"})),
     r"data_rng.*well-formed"),
    ("rng_negative_state", _rng(state=-1), r"stimulus_rng"),
    ("rng_float_state", _rng(state=1.5), r"stimulus_rng"),
    ("rng_state_too_big", _rng(state=2 ** 130), r"stimulus_rng"),
    ("rng_even_increment", _rng(inc=4), r"stimulus_rng"),
    ("rng_has_uint32_7", _rng(has_uint32=7), r"stimulus_rng"),
    ("nan_weight", _array("shadow_0", _poke((1, 2), np.nan)), r"shadow_0.*finite.*nan"),
    ("inf_weight", _array("shadow_1", _poke((0, 0), -np.inf)), r"shadow_1.*finite"),
    ("nan_adam_m", _array("adam_m_1", _poke((2, 1), np.nan)), r"adam_m_1.*finite"),
    ("negative_adam_v", _array("adam_v_0", _poke((0, 0), -1e-3)), r"adam_v_0.*>= 0"),
    ("zero_lsb", _array("lsb_0", _poke((1, 0), 0.0)), r"lsb_0.*> 0"),
    ("nan_lsb", _array("lsb_1", _poke((0, 0), np.nan)), r"lsb_1"),
    ("lsb_wrong_shape", _array("lsb_1", lambda a: np.ones((4, 1))), r"lsb_1.*\(4, 1\)"),
    ("lsb_3d", _array("lsb_0", lambda a: a.reshape(4, 1, 1)), r"lsb_0"),
    ("shadow_transposed", _array("shadow_0", lambda a: a.T.copy()),
     r"shadow_0.*length 3 on axis 0"),
    ("shadow_3d", _array("shadow_1", lambda a: a[None]), r"shadow_1.*dimensions"),
    ("shadow_int_dtype", _array("shadow_0", lambda a: a.astype(np.int64)),
     r"shadow_0.*dtype int64"),
    ("shadow_complex", _array("shadow_0", lambda a: a.astype(complex)), r"shadow_0.*complex"),
    ("adam_m_longdouble", _array("adam_m_0", lambda a: a.astype(np.longdouble)),
     r"adam_m_0"),
    ("unit_negative", _array("unit_uS", _poke(1, -0.01)), r"unit_uS.*> 0"),
    ("unit_wrong_length", _array("unit_uS", lambda a: np.ones(3)), r"unit_uS"),
    ("iteration_negative", _set(("iteration",), -5), r"'iteration' = -5"),
    ("iteration_float", _set(("iteration",), 1.5), r"'iteration' = 1\.5"),
    ("iteration_bool", _set(("iteration",), True), r"'iteration' = True"),
    ("iteration_string", _set(("iteration",), "3"), r"'iteration'"),
    ("iteration_huge", _set(("iteration",), 10 ** 30), r"'iteration'"),
    ("adam_t_negative", _set(("adam_t",), -1), r"'adam_t'"),
    ("adam_lr_zero", _set(("adam_lr",), 0.0), r"'adam_lr'"),
    ("adam_lr_nan", _set(("adam_lr",), float("nan")), r"'adam_lr'"),
    ("levels_zero", _set(("levels",), 0), r"'levels'"),
    ("levels_float", _set(("levels",), 15.5), r"'levels'"),
    ("unknown_meta_field", _set(("extra",), 1), r"unknown fields.*extra"),
    ("identity_not_object", _set(("identity",), "x"), r"identity"),
    ("version_float", _set(("version",), 2.0), r"version 2\.0"),
    ("history_missing_key", lambda a, m: m["history"].pop("loss"), r"history.*loss"),
    ("history_not_list", _set(("history", "loss"), 0.5), r"history.*loss.*list"),
    ("history_string_value", _set(("history", "batch_accuracy"), ["a", "b", "c"]),
     r"history.*batch_accuracy"),
    ("history_lengths_differ", lambda a, m: m["history"]["loss"].pop(),
     r"history lists.*equally long"),
    ("history_negative_iteration", _set(("history", "eval_iteration"), [1, -2, 3]),
     r"eval_iteration.*-2"),
    ("history_not_object", _set(("history",), [1]), r"history"),
    ("unknown_member", lambda a, m: a.update(extra=np.zeros(3)), r"unexpected member 'extra'"),
    ("meta_not_object", lambda a, m: a.update(meta=np.array("[1, 2]")), r"meta.*object"),
    ("meta_not_json", lambda a, m: a.update(meta=np.array("{\"version\": 2,")),
     r"meta.*JSON"),
    ("meta_bytes", lambda a, m: a.update(meta=np.array(b"{}")), r"meta.*dtype"),
    ("meta_deeply_nested", lambda a, m: a.update(meta=np.array("[" * 100000 + "]" * 100000)),
     r"meta.*JSON"),
    ("meta_huge_integer", lambda a, m: a.update(
        meta=np.array('{"version": 2, "iteration": ' + "9" * 5000 + "}")), r"meta.*JSON"),
]


@pytest.mark.parametrize("mutate, pattern", [c[1:] for c in BAD_FIELDS],
                         ids=[c[0] for c in BAD_FIELDS])
def test_a_bad_field_is_refused_before_anything_changes(tmp_path, mutate, pattern):
    """One bad field, everything else a real checkpoint of this network: CheckpointError
    naming the file and the field; no part of the trainer changed (weights and Adam state
    were replaced before the error, before the fix)."""
    arrays, meta = _contents(reference_checkpoint()[0])
    stored_meta = arrays["meta"]
    mutate(arrays, meta)
    if arrays["meta"] is stored_meta:             # else the mutation replaced the member
        arrays["meta"] = np.array(json.dumps(meta))
    path = _write(tmp_path / "c.npz", arrays)
    _expect_refused(_victim(), path, pattern)


def test_an_object_array_is_refused_without_unpickling(tmp_path):
    """A member of dtype object (pickled) is refused from its header; nothing is
    unpickled."""
    arrays, meta = _contents(reference_checkpoint()[0])
    arrays["shadow_0"] = np.empty((4, 3), dtype=object)
    arrays["shadow_0"][...] = 0.5
    path = _write(tmp_path / "c.npz", arrays)
    _expect_refused(_victim(), path, r"shadow_0.*object")


# ------------------------------------------------------------------ 2. whole files
@pytest.mark.parametrize("cut", [0, 1, 30, 200, 0.5, -100, -22, -1],
                         ids=lambda c: f"cut{c}")
def test_a_truncated_checkpoint_is_a_checkpoint_error_naming_the_file(tmp_path, cut):
    """A save killed half-way (by the previous, non-atomic writer) or a copy cut short:
    CheckpointError naming the file, not BadZipFile / EOFError."""
    raw = reference_checkpoint()[0]
    n = int(len(raw) * cut) if isinstance(cut, float) else (cut if cut >= 0 else len(raw) + cut)
    path = tmp_path / "c.npz"
    path.write_bytes(raw[:n])
    _expect_refused(_victim(), path)


@pytest.mark.parametrize("content", [
    b"", b"hello, world\n", bytes(range(256)) * 8, b"PK\x05\x06" + bytes(18),
    b"\x93NUMPY\x01\x00v\x00{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }"
    + b" " * 52 + b"\n" + bytes(16),
], ids=["empty", "text", "binary", "empty_zip", "npy_file"])
def test_a_foreign_file_is_a_checkpoint_error_naming_the_file(tmp_path, content):
    path = tmp_path / "c.npz"
    path.write_bytes(content)
    _expect_refused(_victim(), path)


def test_a_missing_file_is_file_not_found_and_changes_nothing(tmp_path):
    tr = _victim()
    before = snapshot(tr)
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        tr.load_checkpoint(str(tmp_path / "nothing.npz"))
    assert_same(snapshot(tr), before)


def _zip_with(raw: bytes, dst, member: str, npy_shape: tuple, replace: bool) -> int:
    """Copy the checkpoint ``raw`` to ``dst`` adding (or replacing) ``member`` by a
    deflated float64 array of zeros of ``npy_shape``, streamed (the test itself never
    holds it).  Returns the member's uncompressed size."""
    nbytes = int(np.prod(npy_shape)) * 8
    with zipfile.ZipFile(io.BytesIO(raw)) as zin, \
            zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if replace and info.filename == member + ".npy":
                continue
            zout.writestr(info.filename, zin.read(info.filename))
        with zout.open(member + ".npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "<f8", "fortran_order": False, "shape": npy_shape})
            chunk = bytes(1 << 20)
            for _ in range(nbytes // len(chunk)):
                f.write(chunk)
            f.write(bytes(nbytes % len(chunk)))
    return nbytes


@pytest.mark.parametrize("member, shape, replace", [
    ("bomb", (8 * 2 ** 20,), False),                 # 64 MiB extra member
    ("shadow_0", (4096, 2048), True),                # 64 MiB where 96 bytes belong
    ("meta", (8 * 2 ** 20,), True),
], ids=["extra_member", "oversized_shadow", "oversized_meta"])
def test_a_zip_bomb_is_refused_before_inflating(tmp_path, member, shape, replace):
    """A deflated member of 64 MiB zeros (~65 KB in the file): refused from the zip
    directory in well under a second, with < 8 MB of memory allocated (before the fix the
    whole member was inflated and, for the extra member, the load succeeded)."""
    path = tmp_path / "bomb.npz"
    _zip_with(reference_checkpoint()[0], path, member, shape, replace)
    assert path.stat().st_size < 1_000_000
    tr = _victim()
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        _expect_refused(tr, path, rf"'{member}'")
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seconds < 1.0 and peak < 8e6, (seconds, peak)


# ------------------------------------------------------------------ 3. saving
def test_a_failed_save_keeps_the_previous_checkpoint_and_leaves_no_temporary(tmp_path,
                                                                              monkeypatch):
    """The writer dies half-way (disk full): the previous checkpoint is untouched and
    loadable, and no temporary file is left in the directory."""
    path = tmp_path / "c.npz"
    tr = _trainer(3)
    tr.save_checkpoint(str(path))
    good = path.read_bytes()

    def dies_half_way(file, *args, **kwds):
        f = open(file, "wb") if isinstance(file, (str, os.PathLike)) else file
        f.write(b"PK\x03\x04" + bytes(100))
        f.flush()
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(np, "savez", dies_half_way)
    monkeypatch.setattr(np, "savez_compressed", dies_half_way)
    tr.train(4, progress=False)
    with pytest.raises(OSError, match="No space left"):
        tr.save_checkpoint(str(path))
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["c.npz"]
    fresh = _trainer()
    fresh.load_checkpoint(str(path))
    assert fresh.iteration == 3


def test_stale_temporaries_of_killed_saves_are_ignored_and_cleaned_up(tmp_path):
    """Garbage temporaries a killed save left (today's hidden ``.NAME.<hex>.tmp`` and the
    earlier ``NAME.tmp.npz``): loading ignores them, the next save removes those older than
    ten minutes and leaves a fresh one (maybe another process's save) alone."""
    path = tmp_path / "c.npz"
    stale = [tmp_path / ".c.npz.0123456789ab.tmp", tmp_path / "c.npz.tmp.npz"]
    fresh = tmp_path / ".c.npz.fedcba987654.tmp"
    unrelated = tmp_path / ".other.npz.0123456789ab.tmp"
    for p in stale + [fresh, unrelated]:
        p.write_bytes(b"PK\x03\x04 garbage of a killed save")
    hour_ago = time.time() - 3600
    for p in stale + [unrelated]:
        os.utime(p, (hour_ago, hour_ago))
    tr = _trainer(3)
    tr.save_checkpoint(str(path))
    assert sorted(os.listdir(tmp_path)) == sorted([fresh.name, unrelated.name, "c.npz"])
    other = _victim()
    other.load_checkpoint(str(path))
    assert_restored(other, tr)


@pytest.mark.parametrize("spoil, pattern", [
    (lambda tr: tr.history.__setitem__("note", ["not a number"]), r"history.*note"),
    (lambda tr: tr.shadow[0].__setitem__((0, 0), np.nan), r"shadow_0.*finite"),
    (lambda tr: setattr(tr, "iteration", -1), r"'iteration' = -1"),
], ids=["history_text", "nan_weight", "negative_iteration"])
def test_a_state_the_reader_would_refuse_is_not_written(tmp_path, spoil, pattern):
    """Save checks what it writes by the reader's rules: CheckpointError, and the previous
    checkpoint stays (before: written, and then refused or accepted with NaN weights)."""
    path = tmp_path / "c.npz"
    tr = _trainer(3)
    tr.save_checkpoint(str(path))
    good = path.read_bytes()
    spoil(tr)
    with pytest.raises(CheckpointError, match=pattern):
        tr.save_checkpoint(str(path))
    assert path.read_bytes() == good and os.listdir(tmp_path) == ["c.npz"]


# ------------------------------------------------------------------ 4. hypothesis: files
def _corrupt(raw: bytes, data) -> bytes:
    n = len(raw)
    kind = data.draw(st.sampled_from(["truncate", "flip", "delete", "insert", "zero_run"]))
    b = bytearray(raw)
    if kind == "truncate":
        return bytes(b[:data.draw(st.integers(0, n - 1))])
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 4))):
            b[data.draw(st.integers(0, n - 1))] = data.draw(st.integers(0, 255))
        return bytes(b)
    i = data.draw(st.integers(0, n - 1))
    if kind == "delete":
        del b[i:i + data.draw(st.integers(1, 64))]
    elif kind == "insert":
        b[i:i] = data.draw(st.binary(min_size=1, max_size=64))
    else:
        k = data.draw(st.integers(1, 64))
        b[i:i + k] = bytes(len(b[i:i + k]))
    return bytes(b)


def _loads_or_refuses_whole(tr, path: str) -> bool:
    """Load ``path`` into ``tr``: True if it loaded; if refused, the CheckpointError names the
    file and ``tr`` is unchanged (and False is returned)."""
    before = snapshot(tr)
    try:
        tr.load_checkpoint(path)
    except CheckpointError as err:
        event("refused")
        assert f"'{path}'" in str(err)
        assert_same(snapshot(tr), before)
        return False
    event("loaded")
    return True


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_byte_corruptions_never_load_half_way(data):
    """Random truncations, byte flips, deletions, insertions and zeroed runs of a real
    checkpoint: either CheckpointError naming the file with the trainer unchanged, or (the
    bytes hit something no reader uses, e.g. a timestamp) exactly the checkpoint's state;
    never another exception, never a mixture."""
    raw, want = reference_checkpoint()
    bad = _corrupt(raw, data)
    tr = _victim()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "c.npz")
        with open(path, "wb") as f:
            f.write(bad)
        if _loads_or_refuses_whole(tr, path):
            assert_same(_without_objects(snapshot(tr)), want)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=8)

#: values for a meta field: anything JSON, or a plausible number
META_VALUES = JSON_VALUES | st.integers(-3, 10 ** 6) | st.floats(-10.0, 10.0)

ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.bool_,
                           np.complex128, np.dtype("U3"), np.dtype(">f8")]),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))


def _field_paths(meta: dict) -> list[tuple]:
    """Every key path in meta (nested objects and list items of the history included)."""
    out = []

    def walk(obj, path):
        if isinstance(obj, dict):
            for k, v in obj.items():
                out.append(path + (k,))
                walk(v, path + (k,))
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                out.append(path + (i,))
                walk(v, path + (i,))
    walk(meta, ())
    return out


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_field_values_are_refused_or_loaded_completely(data):
    """A random JSON value in a random meta field (config, RNG state, history, ...), or a
    random array (dtype, shape, values) for a random member, or a member deleted: either
    CheckpointError naming the file with the trainer unchanged, or a loaded state that
    satisfies every rule (finite weights of the network's shapes, iteration >= 0, ...)."""
    raw, _ = reference_checkpoint()
    arrays, meta = _contents(raw)
    what = data.draw(st.sampled_from(["meta", "array", "delete"]))
    if what == "meta":
        rng_paths = [("stimulus_rng",), ("data_rng",)]
        path = data.draw(st.sampled_from(_field_paths(meta) + rng_paths))
        if path in rng_paths and data.draw(st.booleans()):   # inside the JSON string
            state = json.loads(meta[path[0]])
            inner = data.draw(st.sampled_from(_field_paths(state)))
            obj = state
            for k in inner[:-1]:
                obj = obj[k]
            obj[inner[-1]] = data.draw(META_VALUES)
            meta[path[0]] = json.dumps(state)
        else:
            obj = meta
            for k in path[:-1]:
                obj = obj[k]
            obj[path[-1]] = data.draw(META_VALUES)
        arrays["meta"] = np.array(json.dumps(meta))
    elif what == "array":
        name = data.draw(st.sampled_from([m for m in MEMBERS if m != "meta"]))
        right_shape = hnp.arrays(np.float64, arrays[name].shape,
                                 elements=st.floats(-2.0, 2.0) | st.sampled_from(
                                     [0.0, np.nan, np.inf, -np.inf, 1e-300, 1e300]))
        arrays[name] = data.draw(ARRAYS | right_shape)
    else:
        del arrays[data.draw(st.sampled_from(MEMBERS))]
    tr = _victim()
    with tempfile.TemporaryDirectory() as d:
        path = _write(os.path.join(d, "c.npz"), arrays)
        if not _loads_or_refuses_whole(tr, path):
            return
    # loaded: every rule holds
    shapes = [(a, b) for a, b in zip(SIZES[:-1], SIZES[1:])]
    for w, m, v, s in zip(tr.shadow, tr.optimiser.m, tr.optimiser.v, shapes):
        assert w.shape == m.shape == v.shape == s and w.dtype == np.float64
        assert np.all(np.isfinite(w)) and np.all(np.isfinite(m)) and np.all(v >= 0)
    for x, s in zip(tr.quantiser.lsb, shapes):
        assert np.broadcast_shapes(x.shape, s) == s and np.all(np.isfinite(x) & (x > 0))
    assert np.all(np.isfinite(tr.network.unit_uS) & (tr.network.unit_uS > 0))
    assert type(tr.iteration) is int and tr.iteration >= 0
    assert type(tr.quantiser.levels) is int and tr.quantiser.levels >= 1
    TrainerConfig(**dataclasses.asdict(tr.config))
    with np.errstate(all="ignore"):                # e.g. beta = 1e300 is a valid value
        tr.step()                                  # and it trains


# ------------------------------------------------------------------ 5. argument checks
def _fake_sim():
    """Enough of a PyNN backend for SpikingNetwork's argument checks (they come before
    any call into it)."""
    names = ("Population", "Projection", "IF_cond_exp", "SpikeSourceArray",
             "AllToAllConnector", "StaticSynapse", "run", "get_current_time",
             "get_time_step")
    return types.SimpleNamespace(__name__="fake", **{n: None for n in names})


def _cfg_after(**kw):
    cfg = TrainerConfig()
    for k, v in kw.items():
        setattr(cfg, k, v)


_X = np.full((3, 4), 0.5)
BAD_ARGUMENTS = [
    # TrainerConfig
    ("config_batch_size_float", lambda: TrainerConfig(batch_size=2.5), TypeError,
     r"^TrainerConfig\.batch_size = 2\.5 must be an integer >= 1"),
    ("config_eval_batch_bool", lambda: TrainerConfig(eval_batch=True), TypeError,
     r"^TrainerConfig\.eval_batch = True"),
    ("config_lr_string", lambda: TrainerConfig(lr="0.1"), TypeError,
     r"^TrainerConfig\.lr = '0\.1' must be a real number"),
    ("config_a_sat_inf", lambda: TrainerConfig(a_sat=float("inf")), ValueError,
     r"^TrainerConfig\.a_sat = inf must be > 0"),
    ("config_set_after", lambda: _cfg_after(batch_size=0), ValueError,
     r"^TrainerConfig\.batch_size = 0 must be >= 1$"),
    ("config_set_unknown", lambda: _cfg_after(batchsize=3), AttributeError, r"batchsize"),
    # Dataset
    ("dataset_float_labels", lambda: Dataset("d", _X, np.array([0.0, 1.0, 0.0]), _X,
                                             np.zeros(3, int), 2),
     TypeError, r"^y_train must hold integer class labels, got dtype float64"),
    ("dataset_nan_labels", lambda: Dataset("d", _X, np.zeros(3, int), _X,
                                           np.array([0, np.nan, 1]), 2),
     TypeError, r"^y_test must hold integer class labels"),
    ("dataset_bool_labels", lambda: Dataset("d", _X, np.array([True, False, True]), _X,
                                            np.zeros(3, int), 2), TypeError, r"^y_train"),
    ("dataset_n_classes_float", lambda: Dataset("d", _X, np.zeros(3, int), _X,
                                                np.zeros(3, int), 2.5),
     TypeError, r"^Dataset\.n_classes = 2\.5"),
    ("dataset_string_features", lambda: Dataset("d", np.full((3, 4), "a"), np.zeros(3, int),
                                                _X, np.zeros(3, int), 2),
     TypeError, r"^x_train must be a numeric array"),
    ("dataset_no_features", lambda: Dataset("d", np.zeros((3, 0)), np.zeros(3, int),
                                            np.zeros((3, 0)), np.zeros(3, int), 2),
     ValueError, r"^x_train has shape \(3, 0\)"),
    ("subset_negative", lambda: _data().subset(-1), ValueError, r"^n_train = -1 must be >= 0"),
    ("subset_float", lambda: _data().subset(None, 2.5), TypeError, r"^n_test = 2\.5"),
    ("yin_yang_n_float", lambda: yin_yang_samples(2.5, seed=1), TypeError, r"^n = 2\.5"),
    ("yin_yang_n_train_negative", lambda: yin_yang_dataset(n_train=-1), ValueError,
     r"^n_train = -1"),
    ("yin_yang_seed_negative", lambda: yin_yang_samples(3, seed=-1), ValueError,
     r"^seed = -1 must be >= 0"),
    # trainer methods
    ("train_iterations_float", lambda: _trainer().train(1.5, progress=False), TypeError,
     r"^iterations = 1\.5 must be an integer >= 0"),
    ("train_eval_every_float", lambda: _trainer().train(2, eval_every=0.5, progress=False),
     TypeError, r"^eval_every = 0\.5"),
    ("train_progress_string", lambda: _trainer().train(2, progress="no"), TypeError,
     r"^progress = 'no' must be True or False"),
    ("train_callback_not_callable",
     lambda: _trainer().train(2, callbacks=[1], progress=False), TypeError,
     r"^callbacks\[0\] = 1 is not callable"),
    ("train_checkpoint_int", lambda: _trainer().train(2, checkpoint=5, progress=False),
     TypeError, r"^checkpoint = 5 must be a file name"),
    ("forward_batch_zero", lambda: _trainer().forward(_X, batch=0), ValueError,
     r"^batch = 0 must be >= 1"),
    ("forward_batch_float", lambda: _trainer().forward(_X, batch=2.5), TypeError,
     r"^batch = 2\.5"),
    ("forward_no_samples", lambda: _trainer().forward(np.zeros((0, 4))), ValueError,
     r"^x has no samples"),
    ("evaluate_float_labels", lambda: _trainer().evaluate(_X, np.array([0.0, 1.0, 1.0])),
     TypeError, r"^y must hold integer class labels"),
    ("evaluate_x_without_y", lambda: _trainer().evaluate(_X), ValueError,
     r"^evaluate needs both x and y"),
    ("evaluate_labels_out_of_range", lambda: _trainer().evaluate(_X, np.array([0, 1, 2])),
     ValueError, r"^y labels must be in 0\.\.1, got 0\.\.2"),
    ("characterise_rounds_float", lambda: _trainer().characterise(rounds=1.5), TypeError,
     r"^rounds = 1\.5"),
    ("characterise_damping_nan", lambda: _trainer().characterise(damping=float("nan")),
     ValueError, r"^damping = nan must be in \(0, 1\]"),
    ("save_path_int", lambda: _trainer().save_checkpoint(3), TypeError,
     r"^path = 3 must be a file name"),
    ("load_path_none", lambda: _trainer().load_checkpoint(None), TypeError,
     r"^path = None must be a file name"),
    # the trainer's constructor
    ("trainer_nan_weights", lambda: InTheLoopTrainer(
        StandInNetwork(), [np.full((4, 3), np.nan), np.ones((3, 2))], _data()),
     ValueError, r"^weight matrix 0 has non-finite values"),
    ("trainer_weight_shape", lambda: InTheLoopTrainer(
        StandInNetwork(), [np.ones((3, 4)), np.ones((3, 2))], _data()),
     ValueError, r"^weight matrix 0 has shape \(3, 4\); layer 0 needs \(4, 3\)"),
    ("trainer_seed_float", lambda: InTheLoopTrainer(
        StandInNetwork(), _weights(), _data(), stimulus_seed=1.5),
     TypeError, r"^stimulus_seed = 1\.5"),
    ("trainer_seed_negative", lambda: InTheLoopTrainer(
        StandInNetwork(), _weights(), _data(), data_seed=-3),
     ValueError, r"^data_seed = -3 must be >= 0"),
    ("trainer_config_dict", lambda: InTheLoopTrainer(
        StandInNetwork(), _weights(), _data(), {"lr": 0.1}),
     TypeError, r"^config must be a TrainerConfig"),
    ("trainer_empty_training_set", lambda: InTheLoopTrainer(
        StandInNetwork(), _weights(), _data().subset(0)),
     ValueError, r"has no training samples"),
    ("trainer_quantiser_grid_shape", lambda: InTheLoopTrainer(
        StandInNetwork(), _weights(), _data(),
        quantiser=Quantiser([np.ones((3, 1)), np.ones((3, 1))], 15)),
     ValueError, r"^quantiser grid 0 has shape \(3, 1\)"),
    # the other public constructors
    ("relu_sizes_float", lambda: ReLUNetwork.initialise((4, 2.5, 2)), TypeError,
     r"^sizes\[1\] = 2\.5 must be an integer >= 1"),
    ("relu_sizes_string", lambda: ReLUNetwork.initialise("432"), TypeError,
     r"^sizes = '432' must be a sequence"),
    ("relu_weights_shape", lambda: ReLUNetwork((4, 3, 2), [np.ones((3, 4)), np.ones((3, 2))]),
     ValueError, r"^ReLUNetwork\.weights\[0\] has shape \(3, 4\)"),
    ("relu_weights_nan", lambda: ReLUNetwork((4, 2), [np.full((4, 2), np.nan)]),
     ValueError, r"^ReLUNetwork\.weights\[0\] has non-finite values"),
    ("train_ann_float_labels", lambda: train_ann(ReLUNetwork.initialise((4, 2)), _X,
                                                 np.array([0.0, 1.0, 0.0]), epochs=1),
     TypeError, r"^y must hold integer class labels"),
    ("train_ann_batch_zero", lambda: train_ann(ReLUNetwork.initialise((4, 2)), _X,
                                               np.array([0, 1, 0]), epochs=1, batch_size=0),
     ValueError, r"^batch_size = 0 must be >= 1"),
    ("train_ann_epochs_float", lambda: train_ann(ReLUNetwork.initialise((4, 2)), _X,
                                                 np.array([0, 1, 0]), epochs=2.5),
     TypeError, r"^epochs = 2\.5"),
    ("adam_lr_nan", lambda: Adam([(2, 2)], lr=float("nan")), ValueError,
     r"^learning rate lr = nan must be > 0"),
    ("adam_load_state_shape", lambda: Adam([(2, 2)]).load_state(
        {"t": 1, "lr": 0.1, "m": [np.zeros((3, 2))], "v": [np.zeros((2, 2))]}),
     ValueError, r"^Adam state m\[0\] has shape \(3, 2\)"),
    ("spiking_config_bool", lambda: SpikingConfig(t_present=True), TypeError,
     r"^SpikingConfig\.t_present = True"),
    ("spiking_config_string", lambda: SpikingConfig(r_max="100"), TypeError,
     r"^SpikingConfig\.r_max = '100' must be a real number"),
    ("spiking_config_cell_param", lambda: SpikingConfig(cell_params={"tau_m": "x"}),
     TypeError, r"^SpikingConfig\.cell_params\['tau_m'\]"),
    ("spiking_network_sizes_float", lambda: SpikingNetwork(_fake_sim(), (4, 2.5)),
     TypeError, r"^sizes\[1\] = 2\.5"),
    ("spiking_network_config_dict", lambda: SpikingNetwork(_fake_sim(), (4, 2), {}),
     TypeError, r"^config must be a SpikingConfig"),
    ("quantiser_zero_lsb", lambda: Quantiser([np.array(0.0)], 15), ValueError,
     r"^Quantiser\.lsb\[0\] must be finite and > 0 everywhere, it holds 0\.0"),
    ("quantiser_levels_float", lambda: Quantiser([np.array(0.1)], 2.5), TypeError,
     r"^Quantiser\.levels = 2\.5"),
    ("quantiser_for_nan_weights", lambda: Quantiser.for_weights([np.full((2, 2), np.nan)]),
     ValueError, r"^weights\[0\] has non-finite values"),
    ("quantiser_for_levels_float", lambda: Quantiser.for_weights([np.ones((2, 2))],
                                                                 levels=2.5),
     TypeError, r"^levels = 2\.5"),
    ("normalise_percentile_string", lambda: normalise_weights(
        ReLUNetwork.initialise((4, 2)), _X, percentile="99"), TypeError, r"^percentile = '99'"),
    ("normalise_nan_inputs", lambda: normalise_weights(
        ReLUNetwork.initialise((4, 2)), np.full((3, 4), np.nan)), ValueError,
     r"^x_calib has non-finite values"),
    ("normalise_no_samples", lambda: normalise_weights(
        ReLUNetwork.initialise((4, 2)), np.zeros((0, 4))), ValueError,
     r"^x_calib has no samples"),
]


@pytest.mark.parametrize("call, error, pattern", [c[1:] for c in BAD_ARGUMENTS],
                         ids=[c[0] for c in BAD_ARGUMENTS])
def test_bad_arguments_are_refused_naming_the_parameter(call, error, pattern, tmp_path,
                                                        monkeypatch):
    """Each case ran (or failed deep inside with an unrelated message) before the fix."""
    monkeypatch.chdir(tmp_path)              # nothing may be written in the working dir
    with pytest.raises(error) as info:
        call()
    assert re.search(pattern, str(info.value)), str(info.value)
    assert os.listdir(tmp_path) == []


def test_a_refused_train_call_runs_no_iteration():
    """Every argument of ``train`` is checked before the first iteration."""
    tr = _trainer()
    before = snapshot(tr)
    for kwargs in (dict(callbacks=[print, 3]), dict(checkpoint=b"x.npz"),
                   dict(eval_every=-1), dict(progress=None)):
        with pytest.raises((TypeError, ValueError)):
            tr.train(2, **kwargs)
        assert_same(snapshot(tr), before)


# ------------------------------------------------------------------ 6. hypothesis: arguments
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(-10 ** 20, 10 ** 20),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4),
    st.sampled_from([np.float64(0.5), np.int64(3), np.float32(2.0), np.bool_(True),
                     np.int8(-1), [1], (2,), 1 + 2j]),
    st.floats(0.0, 2.0), st.integers(-2, 600))
#: the rule of each field: (integer field, low, high, low end allowed)
RULES = {"lr": (False, 0.0, None, False), "lr_decay": (False, 0.0, 1.0, False),
         "beta": (False, 0.0, None, False), "a_sat": (False, 0.0, None, False),
         "batch_size": (True, 1, None, True), "eval_batch": (True, 1, None, True)}


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(CONFIG_FIELDS), ANY_VALUE))
def test_random_trainer_configs_are_valid_or_refused_naming_the_field(kwargs):
    """Any values for any fields: a clear TypeError / ValueError naming one of the given
    fields, or a configuration whose every field has the right type and range."""
    try:
        cfg = TrainerConfig(**kwargs)
    except (TypeError, ValueError) as err:
        named = re.match(r"TrainerConfig\.(\w+) = ", str(err))
        assert named and named.group(1) in kwargs, str(err)
        return
    for name, (integral, low, high, closed) in RULES.items():
        v = getattr(cfg, name)
        if integral:
            assert type(v) is int and v >= low, (name, v)
        else:
            assert type(v) is float and np.isfinite(v) and v > low, (name, v)
            assert high is None or v <= high, (name, v)


def _maybe_arrays(elements):
    return hnp.arrays(dtype=st.sampled_from([np.float64, np.float32, np.int64, np.bool_,
                                             np.dtype("U2")]),
                      shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                      elements=elements)


X_VALUES = st.one_of(
    _maybe_arrays(None),
    hnp.arrays(np.float64, st.tuples(st.integers(0, 4), st.integers(0, 3)),
               elements=st.floats(-0.5, 1.5) | st.sampled_from([0.0, 1.0, np.nan, np.inf])))
Y_VALUES = st.one_of(
    _maybe_arrays(None),
    hnp.arrays(st.sampled_from([np.int64, np.int8, np.float64]), st.integers(0, 4),
               elements=st.integers(-1, 3)),
    hnp.arrays(np.uint8, st.integers(0, 4), elements=st.integers(0, 3)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(x_train=X_VALUES, y_train=Y_VALUES, x_test=X_VALUES, y_test=Y_VALUES,
       n_classes=st.one_of(st.integers(-1, 4), st.floats(0, 4), st.booleans(), st.none()))
def test_random_datasets_are_valid_or_refused_naming_the_field(x_train, y_train, x_test,
                                                               y_test, n_classes):
    """Random arrays (dtype, shape, NaN, out-of-range values, float labels) for every
    field: a TypeError / ValueError naming a field, or a data set of float features in
    [0, 1] and int64 labels in range with consistent shapes."""
    try:
        with np.errstate(all="ignore"):
            d = Dataset("r", x_train, y_train, x_test, y_test, n_classes)
    except (TypeError, ValueError) as err:
        assert re.search(r"\b(x_train|y_train|x_test|y_test|Dataset\.n_classes)\b",
                         str(err)), str(err)
        return
    assert type(d.n_classes) is int and d.n_classes >= 1
    for x, y in ((d.x_train, d.y_train), (d.x_test, d.y_test)):
        assert x.dtype == np.float64 and x.ndim == 2 and x.shape[1] == d.n_features >= 1
        assert np.all(np.isfinite(x)) and np.all((x >= 0) & (x <= 1))
        assert y.dtype == np.int64 and y.shape == (x.shape[0],)
        assert np.all((y >= 0) & (y < d.n_classes))
