"""Small immutable coordinate types with the names of the BSS-1 coordinate library (halco).

A BSS-1 user can read and write them as in pyhalco::

    >>> h = HICANNOnWafer(Enum(283))          # or HICANNOnWafer(283)
    >>> h
    HICANNOnWafer(Enum(283), X(23), Y(10))
    >>> HICANNOnWafer(X(23), Y(10)) == h      # or HICANNOnWafer(x=23, y=10)
    True
    >>> h.reticle, h.fpga, h.neighbour("east")
    (37, 37, HICANNOnWafer(Enum(284), X(24), Y(10)))
    >>> NeuronOnHICANN(X(10), Y(1)).block
    NeuronBlockOnHICANN(0)
    >>> DNCMergerOnHICANN(0).sending_hline
    HLineOnHICANN(62)

Everything is computed from the tables and functions of :mod:`~pyNN_bss_emu.hardware.wafer` (no formula is
repeated here).  Conventions:

* ``HICANNOnWafer``: enum 0..383 row by row from the top, left to right; ``x`` 0..35,
  ``y`` 0..15 (only the positions of ``wafer.ROW_X_RANGE`` exist).  ``.reticle`` is the
  DNC/reticle enum 0..47 (row by row, like halco's ``DNCOnWafer``); ``.fpga`` uses
  ``wafer.FPGA_OF`` (identity with the reticle, NOT halco's ``reticle_fpga_grid_bss``
  permutation, see wafer.py).
* ``NeuronOnHICANN(x, y)``: denmem column x 0..255, row y 0..1 (0 = top); ``.enum`` is
  ``y * 256 + x``.
* Directions for :meth:`HICANNOnWafer.neighbour`: ``"north"`` (y - 1), ``"south"`` (y + 1),
  ``"east"`` (x + 1), ``"west"`` (x - 1), or the ``wafer.NORTH/SOUTH/EAST/WEST`` constants.
* Sides are ints as in the mapper records: 0 = left, 1 = right; arrays 0 = top, 1 = bottom.

All types are hashable, ordered within their own type, usable as numpy indices (``__index__``),
and raise :class:`CoordinateError` (a ``ValueError``) for values outside their range; the
message names the type, the value and the valid range.  Single-valued types compare equal
only to the same type (``HLineOnHICANN(5) != VLineOnHICANN(5)``).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from . import wafer as _w

__all__ = [
    "CoordinateError", "X", "Y", "Enum",
    "NORTH", "SOUTH", "EAST", "WEST", "LEFT", "RIGHT", "TOP", "BOTTOM",
    "HICANNOnWafer", "NeuronOnHICANN", "NeuronBlockOnHICANN", "SynapseDriverOnHICANN",
    "HLineOnHICANN", "VLineOnHICANN", "DNCMergerOnHICANN", "L1Address",
    "NeuronOnWafer", "LogicalNeuron", "direction",
]

NORTH, SOUTH, EAST, WEST = _w.NORTH, _w.SOUTH, _w.EAST, _w.WEST
LEFT, RIGHT = 0, 1
TOP, BOTTOM = 0, 1
_DIRECTION_NAMES = ("north", "south", "east", "west")


class CoordinateError(ValueError, TypeError):
    """An invalid coordinate value (out of range, not on the wafer, or not an integer).

    Subclasses ``ValueError`` (the documented exception) and ``TypeError`` (for non-integer
    arguments), so either ``except`` clause catches it."""


# ---------------------------------------------------------------- halco-style tag ints
class _Tag(int):
    """An int tagged with its role, as halco's ``X(5)``, ``Y(3)``, ``Enum(283)``."""

    def __repr__(self):
        return f"{type(self).__name__}({int(self)})"

    __str__ = __repr__


class X(_Tag):
    """x component (column) of a grid coordinate: ``HICANNOnWafer(X(5), Y(6))``."""


class Y(_Tag):
    """y component (row) of a grid coordinate."""


class Enum(_Tag):
    """Linear enum of a coordinate: ``HICANNOnWafer(Enum(283))``."""


def _as_int(owner: str, name: str, value, lo: int, hi: int) -> int:
    """``value`` as a plain int in ``lo..hi`` (inclusive) or CoordinateError naming it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise CoordinateError(
            f"{owner}: {name} must be an integer in {lo}..{hi}, got {value!r} "
            f"({type(value).__name__})")
    v = int(value)
    if not lo <= v <= hi:
        raise CoordinateError(f"{owner}: {name} {v} out of range {lo}..{hi}")
    return v


def direction(d) -> int:
    """Direction index (``wafer.NORTH`` .. ``wafer.WEST``) from a name or an index."""
    if isinstance(d, str):
        key = d.strip().lower()
        for k, name in enumerate(_DIRECTION_NAMES):
            if key in (name, name[0]):
                return k
    elif isinstance(d, numbers.Integral) and not isinstance(d, bool) and 0 <= int(d) < 4:
        return int(d)
    raise CoordinateError(
        f"direction {d!r} is not one of 'north', 'south', 'east', 'west' "
        f"(or wafer.NORTH=0, SOUTH=1, EAST=2, WEST=3)")


# ---------------------------------------------------------------- single-valued coordinates
@dataclass(frozen=True, order=True, slots=True)
class _Ranged:
    """Base of the single-valued coordinates: ``value`` in ``0.._MAX``."""
    value: int
    _MAX: ClassVar[int] = 0

    def __post_init__(self):
        object.__setattr__(self, "value",
                           _as_int(type(self).__name__, "value", self.value, 0, self._MAX))

    def __index__(self) -> int:
        return self.value

    __int__ = __index__

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.value})"

    __str__ = __repr__

    @property
    def enum(self) -> int:
        return self.value

    def toEnum(self) -> int:   # noqa: N802 (halco spelling)
        return self.value

    @classmethod
    def all(cls) -> tuple:
        """Every value of this coordinate, in enum order."""
        return tuple(cls(v) for v in range(cls._MAX + 1))

    @classmethod
    def size(cls) -> int:
        return cls._MAX + 1


@dataclass(frozen=True, order=True, slots=True, repr=False)
class NeuronBlockOnHICANN(_Ranged):
    """Neuron block 0..7: denmem columns ``32 b .. 32 b + 31`` in both rows, one priority
    encoder."""
    _MAX: ClassVar[int] = _w.N_NEURON_BLOCKS - 1

    @property
    def columns(self) -> range:
        return range(self.value * _w.BLOCK_COLUMNS, (self.value + 1) * _w.BLOCK_COLUMNS)

    def denmems(self) -> tuple:
        """The 64 denmems of the block (top row first)."""
        return tuple(NeuronOnHICANN(x, y) for y in range(_w.DENMEM_ROWS) for x in self.columns)

    @property
    def dnc_mergers(self) -> tuple:
        """DNC mergers that can collect this block through the fixed merger tree."""
        return tuple(DNCMergerOnHICANN(m) for m, blocks in enumerate(_w.DNC_MERGER_BLOCKS)
                     if self.value in blocks)


@dataclass(frozen=True, order=True, slots=True, repr=False)
class DNCMergerOnHICANN(_Ranged):
    """DNC merger 0..7: output of the merger tree, one sending repeater and one GbitLink."""
    _MAX: ClassVar[int] = _w.N_DNC_MERGERS - 1

    @property
    def neuron_blocks(self) -> tuple:
        """Neuron blocks this merger can collect (``wafer.DNC_MERGER_BLOCKS``)."""
        return tuple(NeuronBlockOnHICANN(b) for b in _w.DNC_MERGER_BLOCKS[self.value])

    @property
    def sending_hline(self) -> "HLineOnHICANN":
        """H-bus driven by this merger's sending repeater (merger 0 -> 62 ... 7 -> 6)."""
        return HLineOnHICANN(int(_w.sending_hline(self.value)))


@dataclass(frozen=True, order=True, slots=True, repr=False)
class SynapseDriverOnHICANN(_Ranged):
    """Synapse driver 0..223 (0..111 top array, 112..223 bottom), 2 synapse rows each."""
    _MAX: ClassVar[int] = _w.N_SYNAPSE_DRIVERS - 1

    @property
    def side(self) -> int:
        """0 = left, 1 = right (top half: odd left, even right; bottom half mirrored)."""
        return int(_w.driver_side(self.value))

    @property
    def is_left(self) -> bool:
        return self.side == LEFT

    @property
    def array(self) -> int:
        """0 = top synapse array, 1 = bottom."""
        return int(_w.driver_array(self.value))

    @property
    def rows(self) -> tuple:
        """The 2 synapse rows (``SynapseRowOnHICANN`` enums 0..447) this driver drives."""
        n = _w.SYNAPSE_ROWS // _w.N_SYNAPSE_DRIVERS
        return tuple(range(n * self.value, n * self.value + n))


@dataclass(frozen=True, order=True, slots=True, repr=False)
class HLineOnHICANN(_Ranged):
    """Horizontal L1 bus 0..63."""
    _MAX: ClassVar[int] = _w.N_HLINES - 1

    def east(self) -> "HLineOnHICANN":
        """Number of this bus on the east neighbour (shift +2)."""
        return HLineOnHICANN(int(_w.hline_towards(self.value, _w.EAST)))

    def west(self) -> "HLineOnHICANN":
        """Number of this bus on the west neighbour (shift -2)."""
        return HLineOnHICANN(int(_w.hline_towards(self.value, _w.WEST)))

    def vlines(self) -> tuple:
        """The 8 V-buses reachable through crossbar switches (4 left, 4 right)."""
        return tuple(VLineOnHICANN(int(v)) for v in _w.crossbar_vlines(self.value))

    toVLineOnHICANN = vlines   # noqa: N815 (halco spelling)

    @property
    def is_sending(self) -> bool:
        """True for the 8 buses driven by a sending repeater."""
        return self.value in _SENDING_HLINES

    @property
    def dnc_merger(self) -> "DNCMergerOnHICANN | None":
        """The DNC merger whose sending repeater drives this bus, or None."""
        m = _SENDING_HLINES.get(self.value)
        return None if m is None else DNCMergerOnHICANN(m)


@dataclass(frozen=True, order=True, slots=True, repr=False)
class VLineOnHICANN(_Ranged):
    """Vertical L1 bus 0..255 (0..127 left half, 128..255 right half)."""
    _MAX: ClassVar[int] = _w.N_VLINES - 1

    def north(self) -> "VLineOnHICANN":
        return VLineOnHICANN(int(_w.vline_towards(self.value, _w.NORTH)))

    def south(self) -> "VLineOnHICANN":
        return VLineOnHICANN(int(_w.vline_towards(self.value, _w.SOUTH)))

    def hlines(self) -> tuple:
        """The 2 H-buses reachable through crossbar switches."""
        return tuple(HLineOnHICANN(int(h)) for h in _w.crossbar_hlines(self.value))

    toHLineOnHICANN = hlines   # noqa: N815 (halco spelling)

    @property
    def side(self) -> int:
        """0 = left half (0..127), 1 = right half."""
        return LEFT if self.value < _w.N_VLINES // 2 else RIGHT

    @property
    def is_left(self) -> bool:
        return self.side == LEFT


@dataclass(frozen=True, order=True, slots=True, repr=False)
class L1Address(_Ranged):
    """6-bit L1 address 0..63; 59 are usable (not 0, 1, 17, 33, 49)."""
    _MAX: ClassVar[int] = 63

    @property
    def is_usable(self) -> bool:
        return self.value in _USABLE

    @property
    def driver_decoder(self) -> int:
        """The 2 most significant bits (matched per half row by the synapse driver)."""
        return self.value >> 4

    @property
    def synapse_decoder(self) -> int:
        """The 4 least significant bits (matched by each synapse)."""
        return self.value & 0xF

    @classmethod
    def usable(cls) -> tuple:
        """The 59 usable addresses in marocco's default ``high_first`` order."""
        return tuple(cls(a) for a in _w.USABLE_ADDRESSES)


_USABLE = frozenset(_w.USABLE_ADDRESSES)
_SENDING_HLINES = {int(h): m for m, h in
                   enumerate(_w.sending_hline(np.arange(_w.N_DNC_MERGERS)))}


# ---------------------------------------------------------------- HICANN on the wafer
def _reject_swapped(owner, x, y):
    if isinstance(x, (Y, Enum)) or isinstance(y, (X, Enum)):
        raise CoordinateError(f"{owner}: arguments must be (X, Y), got ({x!r}, {y!r})")


def _enum_from_xy(x, y) -> int:
    owner = "HICANNOnWafer"
    _reject_swapped(owner, x, y)
    x = _as_int(owner, "x", x, 0, _w.GRID_WIDTH - 1)
    y = _as_int(owner, "y", y, 0, _w.GRID_HEIGHT - 1)
    e = int(_w.ENUM_AT[x, y])
    if e < 0:
        x0, x1 = _w.ROW_X_RANGE[y]
        raise CoordinateError(
            f"HICANNOnWafer: (x={x}, y={y}) is not on the wafer; row y={y} has x in {x0}..{x1}")
    return e


@dataclass(frozen=True, order=True, slots=True, init=False, repr=False)
class HICANNOnWafer:
    """One of the 384 HICANNs.

    ``HICANNOnWafer(283)``, ``HICANNOnWafer(Enum(283))``, ``HICANNOnWafer(enum=283)``,
    ``HICANNOnWafer(X(23), Y(10))``, ``HICANNOnWafer(23, 10)`` or
    ``HICANNOnWafer(x=23, y=10)`` (all the same chip).
    """
    enum: int

    def __init__(self, *args, x=None, y=None, enum=None):
        owner = "HICANNOnWafer"
        given_xy = x is not None or y is not None
        if enum is not None:
            if args or given_xy:
                raise CoordinateError(f"{owner}: give either enum or (x, y), not both")
            args = (enum,)
        if given_xy:
            if args or x is None or y is None:
                raise CoordinateError(f"{owner}: give both x and y (or one enum), got "
                                      f"args={args!r}, x={x!r}, y={y!r}")
            e = _enum_from_xy(x, y)
        elif len(args) == 1:
            a = args[0]
            if isinstance(a, HICANNOnWafer):
                e = a.enum
            elif isinstance(a, (X, Y)):
                raise CoordinateError(f"{owner}: a single {a!r} is not a HICANN; give "
                                      f"X and Y, or an Enum")
            elif isinstance(a, tuple) and len(a) == 2:
                e = _enum_from_xy(*a)
            else:
                e = _as_int(owner, "enum", a, 0, _w.N_HICANN - 1)
        elif len(args) == 2:
            e = _enum_from_xy(*args)
        else:
            raise CoordinateError(f"{owner}: expected an enum or (x, y), got {args!r}")
        object.__setattr__(self, "enum", e)

    def __repr__(self) -> str:
        return f"HICANNOnWafer(Enum({self.enum}), X({self.x}), Y({self.y}))"

    __str__ = __repr__

    def __index__(self) -> int:
        return self.enum

    __int__ = __index__

    def toEnum(self) -> int:   # noqa: N802 (halco spelling)
        return self.enum

    @property
    def x(self) -> int:
        return int(_w.HICANN_X[self.enum])

    @property
    def y(self) -> int:
        return int(_w.HICANN_Y[self.enum])

    @property
    def reticle(self) -> int:
        """Reticle / DNC enum 0..47 (8 HICANNs, 4 wide x 2 tall)."""
        return int(_w.RETICLE_OF[self.enum])

    dnc = reticle

    @property
    def fpga(self) -> int:
        """FPGA serving this HICANN (``wafer.FPGA_OF``)."""
        return int(_w.FPGA_OF[self.enum])

    def neighbour(self, d) -> "HICANNOnWafer | None":
        """The adjacent HICANN in direction ``d`` ('north', 'south', 'east', 'west' or a
        ``wafer`` direction constant), or None at the wafer edge."""
        e = int(_w.NEIGHBOUR[direction(d), self.enum])
        return None if e < 0 else HICANNOnWafer(e)

    def has_neighbour(self, d) -> bool:
        return int(_w.NEIGHBOUR[direction(d), self.enum]) >= 0

    def neighbours(self) -> dict:
        """``{direction name: HICANNOnWafer}`` for the existing neighbours."""
        out = {}
        for k, name in enumerate(_DIRECTION_NAMES):
            n = self.neighbour(k)
            if n is not None:
                out[name] = n
        return out

    @classmethod
    def all(cls) -> tuple:
        """All 384 HICANNs in enum order."""
        return _ALL_HICANNS

    @classmethod
    def size(cls) -> int:
        return _w.N_HICANN


_ALL_HICANNS = tuple(HICANNOnWafer(e) for e in range(_w.N_HICANN))


# ---------------------------------------------------------------- denmems
@dataclass(frozen=True, order=True, slots=True, repr=False)
class NeuronOnHICANN:
    """Denmem at column ``x`` 0..255 and row ``y`` 0..1 (0 = top); ``NeuronOnHICANN(X(10),
    Y(1))``.  Ordered by (x, y) as halco's grid coordinates are constructed."""
    x: int
    y: int

    def __post_init__(self):
        _reject_swapped("NeuronOnHICANN", self.x, self.y)
        object.__setattr__(self, "x", _as_int("NeuronOnHICANN", "x", self.x, 0,
                                              _w.DENMEM_COLUMNS - 1))
        object.__setattr__(self, "y", _as_int("NeuronOnHICANN", "y", self.y, 0,
                                              _w.DENMEM_ROWS - 1))

    def __repr__(self) -> str:
        return f"NeuronOnHICANN(X({self.x}), Y({self.y}))"

    __str__ = __repr__

    @property
    def enum(self) -> int:
        """``y * 256 + x`` (0..511)."""
        return self.y * _w.DENMEM_COLUMNS + self.x

    def __index__(self) -> int:
        return self.enum

    __int__ = __index__

    def toEnum(self) -> int:   # noqa: N802 (halco spelling)
        return self.enum

    @classmethod
    def from_enum(cls, e) -> "NeuronOnHICANN":
        e = _as_int("NeuronOnHICANN", "enum", e, 0, _w.DENMEMS_PER_HICANN - 1)
        return cls(e % _w.DENMEM_COLUMNS, e // _w.DENMEM_COLUMNS)

    @property
    def block(self) -> NeuronBlockOnHICANN:
        return NeuronBlockOnHICANN(self.x // _w.BLOCK_COLUMNS)

    @property
    def is_top(self) -> bool:
        return self.y == TOP

    @classmethod
    def all(cls) -> tuple:
        """All 512 denmems in enum order (top row first)."""
        return tuple(cls.from_enum(e) for e in range(_w.DENMEMS_PER_HICANN))

    @classmethod
    def size(cls) -> int:
        return _w.DENMEMS_PER_HICANN


def _as_hicann(owner, value) -> HICANNOnWafer:
    if isinstance(value, HICANNOnWafer):
        return value
    try:
        return HICANNOnWafer(value)
    except CoordinateError as err:
        raise CoordinateError(f"{owner}: hicann: {err}") from None


@dataclass(frozen=True, order=True, slots=True, repr=False)
class NeuronOnWafer:
    """A denmem on a given HICANN: ``NeuronOnWafer(NeuronOnHICANN(X(3), Y(0)),
    HICANNOnWafer(Enum(283)))``.  ``neuron`` may also be given as its enum 0..511 and
    ``hicann`` as its enum."""
    neuron: NeuronOnHICANN
    hicann: HICANNOnWafer

    def __post_init__(self):
        n = self.neuron
        if not isinstance(n, NeuronOnHICANN):
            try:
                n = NeuronOnHICANN.from_enum(n)
            except CoordinateError as err:
                raise CoordinateError(f"NeuronOnWafer: neuron: {err}") from None
        object.__setattr__(self, "neuron", n)
        object.__setattr__(self, "hicann", _as_hicann("NeuronOnWafer", self.hicann))

    def __repr__(self) -> str:
        return f"NeuronOnWafer({self.neuron!r}, {self.hicann!r})"

    __str__ = __repr__

    @property
    def enum(self) -> int:
        """``hicann.enum * 512 + neuron.enum``."""
        return self.hicann.enum * _w.DENMEMS_PER_HICANN + self.neuron.enum

    def __index__(self) -> int:
        return self.enum


@dataclass(frozen=True, order=True, slots=True, repr=False)
class LogicalNeuron:
    """A logical (compound) neuron: columns ``x0 .. x0 + width - 1`` of both denmem rows of
    one neuron block, i.e. ``2 * width`` denmems (size 2..64, even), as marocco places them.

    ``x0`` is the absolute first column 0..255 (as in ``mapping.types.NeuronPlacement``); it
    and the last column must lie in ``block``.  The first denmem (``front``, top-left) is the
    one that fires and sends L1 events.
    """
    hicann: HICANNOnWafer
    block: NeuronBlockOnHICANN
    x0: int
    width: int

    def __post_init__(self):
        owner = "LogicalNeuron"
        object.__setattr__(self, "hicann", _as_hicann(owner, self.hicann))
        b = self.block
        if not isinstance(b, NeuronBlockOnHICANN):
            try:
                b = NeuronBlockOnHICANN(b)
            except CoordinateError as err:
                raise CoordinateError(f"{owner}: block: {err}") from None
        object.__setattr__(self, "block", b)
        cols = b.columns
        x0 = _as_int(owner, "x0", self.x0, 0, _w.DENMEM_COLUMNS - 1)
        if x0 not in cols:
            raise CoordinateError(f"{owner}: x0 {x0} is not in neuron block {b.value} "
                                  f"(columns {cols.start}..{cols.stop - 1})")
        w = _as_int(owner, "width", self.width, 1, _w.BLOCK_COLUMNS)
        if x0 + w > cols.stop:
            raise CoordinateError(
                f"{owner}: width {w} from x0 {x0} reaches column {x0 + w - 1}, beyond neuron "
                f"block {b.value} (columns {cols.start}..{cols.stop - 1}); at most "
                f"{cols.stop - x0} columns fit")
        object.__setattr__(self, "x0", x0)
        object.__setattr__(self, "width", w)

    def __repr__(self) -> str:
        return (f"LogicalNeuron({self.hicann!r}, {self.block!r}, x0={self.x0}, "
                f"width={self.width})")

    __str__ = __repr__

    @property
    def size(self) -> int:
        """Number of denmems (2 * width)."""
        return _w.DENMEM_ROWS * self.width

    @property
    def columns(self) -> range:
        return range(self.x0, self.x0 + self.width)

    def front(self) -> NeuronOnHICANN:
        """The firing (top-left) denmem."""
        return NeuronOnHICANN(self.x0, TOP)

    def denmems(self) -> tuple:
        """The ``size`` denmems, top row left to right, then the bottom row."""
        return tuple(NeuronOnHICANN(x, y) for y in range(_w.DENMEM_ROWS) for x in self.columns)

    def denmems_on_wafer(self) -> tuple:
        return tuple(NeuronOnWafer(n, self.hicann) for n in self.denmems())
