"""Defect (blacklist) maps of the emulated wafer, in the spirit of the redman database.

A :class:`DefectMap` holds boolean availability masks (``True`` = usable):

=============  ================  =====================================================
attribute      shape             component
=============  ================  =====================================================
``hicann_ok``  (384,)            whole HICANN (``HICANNOnWafer`` enum)
``denmem_ok``  (384, 2, 256)     denmem ``[hicann, row y (0 top, 1 bottom), column x]``
``driver_ok``  (384, 224)        synapse driver ``SynapseDriverOnHICANN``
``hline_ok``   (384, 64)         horizontal L1 bus segment ``HLineOnHICANN``
``vline_ok``   (384, 256)        vertical L1 bus segment ``VLineOnHICANN``
=============  ================  =====================================================

The masks are read-only numpy arrays.  Every map is *normalised* on construction:

* a blacklisted HICANN has all its denmems, drivers and buses blacklisted too;
* buses driven from a blacklisted neighbour are blacklisted (reference section 6.4, guidebook
  pm/using_pm_newflow.rst: "every second bus is driven from the neighbouring chip; if a
  neighbour cannot be initialised, all buses it drives must be blacklisted").  Which half is
  affected follows the repeater positions of halco (``include/halco/hicann/v2/l1.h``,
  ``src/halco/hicann/v2/l1.cpp``): an H-bus has its own repeater on the left border if even,
  on the right border if odd, and the far end of the segment meets the east (even) or west
  (odd) neighbour's repeater.  A V-bus has its own repeater at the top (left half odd, right
  half even) or bottom (left even, right odd); the far end meets the south (top repeater) or
  north (bottom repeater) neighbour's repeater.  So a dead HICANN D blacklists the even
  H-buses of its west neighbour, the odd H-buses of its east neighbour, the V-buses with a
  top repeater of its north neighbour and those with a bottom repeater of its south
  neighbour (32 H-buses or 128 V-buses each).

Constructors
------------
``DefectMap.none()``
    Nothing blacklisted.
``DefectMap.generate(seed, rates=None)``
    Independent seeded draws per component (``numpy.random.default_rng(seed)``; every mask is
    always drawn in the same order, so changing one rate leaves the others' draws unchanged).
    ``rates`` maps component keys to blacklisting probabilities in [0, 1]; missing keys take
    :data:`DEFAULT_RATES`; a preset name of :data:`PRESETS` ("none", "typical" = "default",
    "harsh") is accepted too.  Keys:

    - ``"hicanns"``: probability that a single HICANN is unavailable;
    - ``"reticles"``: probability that a whole reticle (8 HICANNs, e.g. a dead FPGA or
      power domain) is unavailable (clustered loss);
    - ``"denmems"``, ``"drivers"``, ``"hlines"``, ``"vlines"``: per component.

    The defaults (section 12.3 of the reference gives only [E] estimates; no public defect
    statistics exist) sit at the low end of its suggested ranges, i.e. a good, calibrated
    wafer: HICANNs 1.5 %, reticles 0 (off), denmems 2 %, drivers 1 %, H/V buses 0.5 % each
    (plus the buses driven by dead neighbours).  ``"harsh"`` uses the upper end.
``DefectMap.from_json(path)`` / ``DefectMap.from_dict(d)``
    A user-supplied defect file (format below).
``DefectMap.from_spec(spec, seed=0)``
    ``None``/"none", a preset name, a rates dict, a JSON path, or a DefectMap.

Defect file format (JSON, version 1)
------------------------------------
All keys are optional; unknown keys are an error::

    {
      "format": "pyNN.bss_emu defects 1",   # optional; if present must be exactly this
      "comment": "any text",                # optional, ignored
      "reticles": [3],                      # reticle/DNC enums 0..47: all 8 HICANNs dead
      "hicanns": [5, 17],                   # HICANNOnWafer enums 0..383
      "denmems": {"283": [[0, 10], [1, 11]]},   # per HICANN: [row y 0..1, column x 0..255]
                                                # pairs, or NeuronOnHICANN enums
                                                # y * 256 + x (0..511)
      "drivers": {"283": [3, 4]},           # SynapseDriverOnHICANN 0..223
      "hlines":  {"283": [6]},              # HLineOnHICANN 0..63
      "vlines":  {"283": [130]}             # VLineOnHICANN 0..255
    }

Keys of the per-HICANN objects are HICANN enums written as decimal strings (JSON object keys
are strings).  Duplicate list entries are allowed; a key given twice in one object is an
error (JSON parsers keep only the last).  The file must be UTF-8 and nest at most
:data:`MAX_JSON_DEPTH` levels.  Buses driven by dead neighbours need not be listed
(they are derived).  Any invalid content (unknown key, wrong type, out-of-range enum or
index) raises ``ValueError`` naming the entry, the value and the valid range.
:meth:`DefectMap.to_json` writes this format (dead HICANNs under "hicanns", component lists
only for usable HICANNs), and ``from_json(to_json(m)) == m``.
"""
from __future__ import annotations

import json
import math
import re
import numbers
import os
from pathlib import Path

import numpy as np

from . import wafer as _w

__all__ = ["DefectMap", "DEFAULT_RATES", "PRESETS", "RATE_KEYS", "FORMAT"]

FORMAT = "pyNN.bss_emu defects 1"

#: rate keys accepted by :meth:`DefectMap.generate`
RATE_KEYS = ("hicanns", "reticles", "denmems", "drivers", "hlines", "vlines")

#: default blacklisting probabilities (low end of reference section 12.3 [E])
DEFAULT_RATES = {"hicanns": 0.015, "reticles": 0.0, "denmems": 0.02, "drivers": 0.01,
                 "hlines": 0.005, "vlines": 0.005}

#: named rate sets (section 12.3 suggests a 'none' | 'typical' | 'harsh' | path switch)
PRESETS = {
    "none": dict.fromkeys(RATE_KEYS, 0.0),
    "typical": dict(DEFAULT_RATES),
    "default": dict(DEFAULT_RATES),    # alias of "typical" (setup(defects='default'))
    # upper end of 12.3: whole HICANNs 3-8 % in total (about 1-2 reticles + single chips)
    "harsh": {"hicanns": 0.03, "reticles": 0.03, "denmems": 0.05, "drivers": 0.03,
              "hlines": 0.02, "vlines": 0.02},
}

# component name -> (attribute, per-HICANN shape, index description(s))
_COMPONENTS = {
    "denmems": ("denmem_ok", (_w.DENMEM_ROWS, _w.DENMEM_COLUMNS)),
    "drivers": ("driver_ok", (_w.N_SYNAPSE_DRIVERS,)),
    "hlines": ("hline_ok", (_w.N_HLINES,)),
    "vlines": ("vline_ok", (_w.N_VLINES,)),
}
_FILE_KEYS = ("format", "comment", "reticles", "hicanns") + tuple(_COMPONENTS)
_MASKS = ("hicann_ok",) + tuple(a for a, _ in _COMPONENTS.values())


# ---------------------------------------------------------------- bus repeater geometry
def _far_neighbour_tables():
    """Direction of the neighbour whose repeater sits at the far end of each bus segment
    (halco l1.h/l1.cpp: HLineOnHICANN::toHRepeaterOnHICANN, VLineOnHICANN::toVRepeaterOnHICANN,
    HLineOnWafer::toHRepeaterOnWafer, VLineOnWafer::toVRepeaterOnWafer)."""
    h = np.arange(_w.N_HLINES)
    h_far = np.where(h % 2 == 0, _w.EAST, _w.WEST)           # even: own repeater left
    v = np.arange(_w.N_VLINES)
    left = v < _w.N_VLINES // 2
    own_top = np.where(left, v % 2 == 1, v % 2 == 0)
    v_far = np.where(own_top, _w.SOUTH, _w.NORTH)
    return h_far, v_far


_HLINE_FAR, _VLINE_FAR = _far_neighbour_tables()


def _frozen(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=bool, copy=True)
    a.setflags(write=False)
    return a


def _reject_unknown_keys(mapping: dict, valid, what: str) -> None:
    """ValueError ``"<what> [...]; valid keys: ..."`` if ``mapping`` has keys outside ``valid``."""
    unknown = [k for k in mapping if k not in valid]
    if unknown:
        raise ValueError(f"{what} {unknown!r}; valid keys: {', '.join(valid)}")


class DefectMap:
    """Availability masks of one wafer (see the module docstring)."""

    __slots__ = _MASKS

    def __init__(self, hicann_ok, denmem_ok, driver_ok, hline_ok, vline_ok):
        arrays = dict(zip(_MASKS, (hicann_ok, denmem_ok, driver_ok, hline_ok, vline_ok)))
        shapes = {"hicann_ok": (_w.N_HICANN,)}
        shapes.update({a: (_w.N_HICANN,) + s for a, s in _COMPONENTS.values()})
        for name, arr in arrays.items():
            arr = np.asarray(arr)
            if arr.shape != shapes[name] or arr.dtype != np.bool_:
                raise ValueError(f"DefectMap: {name} must be a bool array of shape "
                                 f"{shapes[name]}, got {arr.dtype} {arr.shape}")
        hicann_ok = np.array(arrays["hicann_ok"], dtype=bool)
        dead = ~hicann_ok
        nb = _w.NEIGHBOUR
        # dead_nb[d, h]: neighbour of h in direction d exists and is dead
        dead_nb = (nb >= 0) & dead[np.where(nb >= 0, nb, 0)]
        comp = {}
        for attr, _shape in _COMPONENTS.values():
            m = np.array(arrays[attr], dtype=bool)
            m[dead] = False
            comp[attr] = m
        comp["hline_ok"] &= ~dead_nb[_HLINE_FAR, :].T
        comp["vline_ok"] &= ~dead_nb[_VLINE_FAR, :].T
        object.__setattr__(self, "hicann_ok", _frozen(hicann_ok))
        for attr, m in comp.items():
            object.__setattr__(self, attr, _frozen(m))

    def __setattr__(self, name, value):
        raise AttributeError("DefectMap is immutable; build a new one (e.g. with combine())")

    # ------------------------------------------------------------ constructors
    @classmethod
    def none(cls) -> "DefectMap":
        """Nothing blacklisted."""
        n = _w.N_HICANN
        return cls(np.ones(n, bool),
                   *(np.ones((n,) + s, bool) for _a, s in _COMPONENTS.values()))

    @staticmethod
    def resolve_rates(rates=None) -> dict:
        """The complete rates dict used by :meth:`generate` for ``rates`` (validated)."""
        if rates is None:
            return dict(DEFAULT_RATES)
        if isinstance(rates, str):
            if rates not in PRESETS:
                raise ValueError(f"DefectMap: unknown defect preset {rates!r}; valid presets: "
                                 f"{', '.join(PRESETS)}")
            return dict(PRESETS[rates])
        if not isinstance(rates, dict):
            raise ValueError(f"DefectMap: rates must be a dict (keys {', '.join(RATE_KEYS)}), "
                             f"a preset name or None, got {type(rates).__name__}")
        _reject_unknown_keys(rates, RATE_KEYS, "DefectMap: unknown defect rate key(s)")
        out = dict(DEFAULT_RATES)
        for k, v in rates.items():
            ok = (isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
                  and math.isfinite(float(v)) and 0.0 <= float(v) <= 1.0)
            if not ok:
                raise ValueError(f"DefectMap: defect rate {k!r} = {v!r} must be a number in "
                                 f"[0, 1]")
            out[k] = float(v)
        return out

    @classmethod
    def generate(cls, seed: int, rates: dict | str | None = None) -> "DefectMap":
        """Seeded random defects with the given ``rates`` (see the module docstring)."""
        if (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral)
                or int(seed) < 0):
            raise ValueError(f"DefectMap.generate: seed must be a non-negative integer, "
                             f"got {seed!r}")
        r = cls.resolve_rates(rates)
        rng = np.random.default_rng(int(seed))
        n = _w.N_HICANN
        # fixed draw order and sizes, independent of the rate values
        reticle_dead = rng.random(_w.N_RETICLES) < r["reticles"]
        hicann_dead = rng.random(n) < r["hicanns"]
        hicann_ok = ~(hicann_dead | reticle_dead[_w.RETICLE_OF])
        masks = [rng.random((n,) + shape) >= r[key]
                 for key, (_attr, shape) in _COMPONENTS.items()]
        return cls(hicann_ok, *masks)

    @classmethod
    def from_spec(cls, spec=None, seed: int = 0) -> "DefectMap":
        """``None``/"none" -> :meth:`none`; a preset name ("typical", "harsh") or a rates dict
        -> :meth:`generate` with ``seed``; a path (str/Path) -> :meth:`from_json`; a DefectMap
        -> itself."""
        if isinstance(spec, DefectMap):
            return spec
        if spec is None or (isinstance(spec, str) and spec == "none"):
            return cls.none()
        if isinstance(spec, (dict,)) or (isinstance(spec, str) and spec in PRESETS):
            return cls.generate(seed, spec)
        if isinstance(spec, (str, os.PathLike)):
            return cls.from_json(spec)
        raise ValueError(f"DefectMap: defects spec must be None, one of {list(PRESETS)}, a "
                         f"rates dict, a JSON file path or a DefectMap, got {spec!r}")

    @classmethod
    def from_json(cls, path) -> "DefectMap":
        """Read a defect file (format in the module docstring).

        Every problem with the file's text is a ``ValueError`` naming the file: not UTF-8
        (with the byte position), not JSON, nested deeper than :data:`MAX_JSON_DEPTH`, or an
        object key given twice (JSON would keep only the last one, silently dropping the
        defects listed under the first).  A missing or unreadable file is the ``OSError``
        ``open`` raises (it names the file).
        """
        path = Path(path)
        source = f"defect file {str(path)!r}"
        with open(path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            # a UnicodeDecodeError cannot be re-raised with a new message (its constructor
            # takes 5 arguments), so the caller's "setup(defects=...)" prefix would fail
            raise ValueError(f"{source}: not UTF-8 text (byte 0x{raw[err.start]:02x} at "
                             f"position {err.start}: {err.reason})") from None
        where = _too_deep(text, MAX_JSON_DEPTH)
        if where is not None:
            # json's recursive parser would end in a bare RecursionError
            raise ValueError(f"{source}: JSON nested deeper than {MAX_JSON_DEPTH} levels (at "
                             f"character {where}); the format nests 4")
        try:
            data = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as err:
            raise ValueError(f"{source}: not valid JSON ({err})") from None
        except _DuplicateKey as err:
            raise ValueError(f"{source}: key {err.key!r} appears twice in one JSON object "
                             f"({err.where}); JSON would keep only the last: give each key "
                             "once") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data, source: str = "defect data") -> "DefectMap":
        """Build from the parsed content of a defect file."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: top level must be a JSON object with keys among "
                             f"{', '.join(_FILE_KEYS)}, got {type(data).__name__}")
        _reject_unknown_keys(data, _FILE_KEYS, f"{source}: unknown key(s)")
        if "format" in data and data["format"] != FORMAT:
            raise ValueError(f"{source}: 'format' = {data['format']!r}; this reader "
                             f"understands only {FORMAT!r}")
        if "comment" in data and not isinstance(data["comment"], str):
            raise ValueError(f"{source}: 'comment' must be a string, got "
                             f"{type(data['comment']).__name__}")
        n = _w.N_HICANN
        hicann_ok = np.ones(n, bool)
        for key, limit, what in (("reticles", _w.N_RETICLES, "reticle"),
                                 ("hicanns", n, "HICANN")):
            if key not in data:
                continue
            values = data[key]
            if not isinstance(values, list):
                raise ValueError(f"{source}: {key!r} must be a list of {what} enums "
                                 f"0..{limit - 1}, got {type(values).__name__}")
            for i, v in enumerate(values):
                e = _check_index(source, f"{key}[{i}]", v, limit, f"{what} enum")
                if key == "reticles":
                    hicann_ok[_w.RETICLE_OF == e] = False
                else:
                    hicann_ok[e] = False
        masks = {}
        for key, (attr, shape) in _COMPONENTS.items():
            m = np.ones((n,) + shape, bool)
            masks[attr] = m
            if key not in data:
                continue
            per = data[key]
            if not isinstance(per, dict):
                raise ValueError(f"{source}: {key!r} must be an object mapping HICANN enums "
                                 f"(strings '0'..'{n - 1}') to lists, got "
                                 f"{type(per).__name__}")
            for hkey, items in per.items():
                h = _hicann_key(source, key, hkey)
                entry = f"{key}[{hkey!r}]"
                if not isinstance(items, list):
                    raise ValueError(f"{source}: {entry} must be a list, got "
                                     f"{type(items).__name__}")
                for i, item in enumerate(items):
                    sub = f"{entry}[{i}]"
                    if key == "denmems":
                        y, x = _denmem_item(source, sub, item)
                        m[h, y, x] = False
                    else:
                        m[h, _check_index(source, sub, item, shape[0], _ITEM_NAMES[key])] = False
        return cls(hicann_ok, *(masks[a] for a, _s in _COMPONENTS.values()))

    # ------------------------------------------------------------ output
    def to_dict(self) -> dict:
        """The content of a defect file describing this map (JSON-serialisable)."""
        out = {"format": FORMAT,
               "hicanns": [int(h) for h in np.flatnonzero(~self.hicann_ok)]}
        alive = np.flatnonzero(self.hicann_ok)
        for key, (attr, _shape) in _COMPONENTS.items():
            mask = getattr(self, attr)
            per = {}
            for h in alive:
                bad = np.argwhere(~mask[h])
                if bad.size:
                    per[str(int(h))] = ([[int(y), int(x)] for y, x in bad] if key == "denmems"
                                        else [int(i) for i in bad[:, 0]])
            out[key] = per
        return out

    def to_json(self, path) -> None:
        """Write the defect file (one HICANN per line, human-readable)."""
        d = self.to_dict()
        lines = ["{", f' "format": {json.dumps(d["format"])},',
                 f' "hicanns": {json.dumps(d["hicanns"])},']
        keys = list(_COMPONENTS)
        for k, key in enumerate(keys):
            per = d[key]
            tail = "," if k < len(keys) - 1 else ""
            if not per:
                lines.append(f' {json.dumps(key)}: {{}}{tail}')
                continue
            lines.append(f' {json.dumps(key)}: {{')
            items = list(per.items())
            for j, (h, vals) in enumerate(items):
                comma = "," if j < len(items) - 1 else ""
                lines.append(f'  {json.dumps(h)}: {json.dumps(vals)}{comma}')
            lines.append(f' }}{tail}')
        lines.append("}")
        Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")

    # ------------------------------------------------------------ combination and queries
    def combine(self, other: "DefectMap") -> "DefectMap":
        """A map where a component is usable only if it is usable in both (logical AND)."""
        if not isinstance(other, DefectMap):
            raise TypeError(f"DefectMap.combine: expected a DefectMap, got "
                            f"{type(other).__name__}")
        return DefectMap(*(getattr(self, a) & getattr(other, a) for a in _MASKS))

    __and__ = combine

    def usable_hicanns(self) -> np.ndarray:
        """Enums of the usable HICANNs (ascending)."""
        return np.flatnonzero(self.hicann_ok)

    def summary(self) -> dict:
        """Counts per component: ``{"hicanns": {"total", "usable", "blacklisted"},
        "denmems": {..., "blacklisted_on_usable_hicanns"}, "drivers": ..., "hlines": ...,
        "vlines": ...}``."""
        ok = self.hicann_ok
        out = {"hicanns": {"total": int(ok.size), "usable": int(ok.sum()),
                           "blacklisted": int((~ok).sum())}}
        for key, (attr, _shape) in _COMPONENTS.items():
            m = getattr(self, attr)
            out[key] = {"total": int(m.size), "usable": int(m.sum()),
                        "blacklisted": int((~m).sum()),
                        "blacklisted_on_usable_hicanns": int((~m[ok]).sum())}
        return out

    def __eq__(self, other):
        if not isinstance(other, DefectMap):
            return NotImplemented
        return all(np.array_equal(getattr(self, a), getattr(other, a)) for a in _MASKS)

    __hash__ = None

    def __repr__(self):
        s = self.summary()
        parts = [f"hicanns {s['hicanns']['blacklisted']}/{s['hicanns']['total']}"]
        parts += [f"{k} {s[k]['blacklisted_on_usable_hicanns']}" for k in _COMPONENTS]
        return f"DefectMap(blacklisted: {', '.join(parts)} on usable HICANNs)"

    def __reduce__(self):
        return (DefectMap, tuple(np.array(getattr(self, a)) for a in _MASKS))


_ITEM_NAMES = {"drivers": "synapse driver", "hlines": "H-bus", "vlines": "V-bus"}

#: deepest JSON nesting a defect file may have (the format needs 4: {"denmems": {"3": [[
#: ...); well below Python's recursion limit, which json's parser would otherwise hit
MAX_JSON_DEPTH = 32


class _DuplicateKey(Exception):
    """Raised inside ``json.loads`` by :func:`_unique_keys` (caught by ``from_json``)."""

    def __init__(self, key: str, where: str) -> None:
        super().__init__(key)
        self.key, self.where = key, where


def _unique_keys(pairs: list) -> dict:
    """``object_pairs_hook`` refusing a key given twice in one object."""
    out: dict = {}
    for key, value in pairs:
        if key in out:
            # json gives no position here; the object's keys say which object it is
            keys = list(dict.fromkeys(k for k, _ in pairs))
            shown = ", ".join(map(repr, keys[:5])) + (", ..." if len(keys) > 5 else "")
            raise _DuplicateKey(key, f"the object with keys {shown}")
        out[key] = value
    return out


def _too_deep(text: str, limit: int) -> int | None:
    """Character position where JSON ``text`` first nests deeper than ``limit`` brackets
    (outside strings), or None (linear scan without recursion, so any depth is safe)."""
    depth = 0
    for m in _JSON_TOKENS.finditer(text):
        c = m.group()
        if c in "[{":
            depth += 1
            if depth > limit:
                return m.start()
        elif c in "]}":
            depth -= 1
    return None


#: strings (with escapes) and brackets: brackets inside strings do not nest
_JSON_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _check_index(source, entry, value, limit, what) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{source}: {entry} = {value!r} must be an integer {what} "
                         f"0..{limit - 1}")
    if not 0 <= value < limit:
        raise ValueError(f"{source}: {entry} = {value} out of range: {what} must be in "
                         f"0..{limit - 1}")
    return value


def _hicann_key(source, key, hkey) -> int:
    n = _w.N_HICANN
    if not (isinstance(hkey, str) and hkey.isascii() and hkey.isdigit()):
        raise ValueError(f"{source}: {key} key {hkey!r} is not a HICANN enum (a decimal "
                         f"string '0'..'{n - 1}')")
    h = int(hkey)
    if h >= n:
        raise ValueError(f"{source}: {key} key {hkey!r} out of range: HICANN enum must be in "
                         f"0..{n - 1}")
    return h


def _denmem_item(source, entry, item):
    rows, cols = _w.DENMEM_ROWS, _w.DENMEM_COLUMNS
    if isinstance(item, int) and not isinstance(item, bool):
        e = _check_index(source, entry, item, rows * cols, "denmem enum (y * 256 + x)")
        return divmod(e, cols)
    if not (isinstance(item, list) and len(item) == 2):
        raise ValueError(f"{source}: {entry} = {item!r} must be a [row, column] pair "
                         f"(row 0..{rows - 1}, column 0..{cols - 1}) or a denmem enum "
                         f"0..{rows * cols - 1}")
    y = _check_index(source, f"{entry} row", item[0], rows, "denmem row")
    x = _check_index(source, f"{entry} column", item[1], cols, "denmem column")
    return y, x
