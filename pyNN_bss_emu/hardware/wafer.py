"""Geometry and fixed resources of one BrainScaleS-1 wafer, as numpy tables.

Numbers follow the BSS-1 coordinate library (halco) and are documented in
``shared/reference/brainscales1.md`` sections 1, 2, 5 and 6.  Everything here is a pure
function of the wafer layout (no defects, no state); enums are the halco ones:

* ``HICANNOnWafer`` enum 0..383 runs row by row (y = 0..15), left to right, from the top;
  the 36 x 16 grid is occupied only where ``ROW_X_RANGE`` says (an approximate circle).
* reticle (= DNC = FPGA module) of a HICANN: ``(x // 4, y // 2)``, 8 HICANNs (4 x 2) each.
* denmems (``NeuronOnHICANN``): 256 columns x 2 rows; neuron block b = columns 32b..32b+31.
* L1 buses: 64 horizontal (``HLineOnHICANN``), 256 vertical (``VLineOnHICANN``, two halves).
"""
from __future__ import annotations

import numpy as np

# ---------------------------------------------------------------- wafer grid
GRID_WIDTH = 36
GRID_HEIGHT = 16
#: inclusive x range of each grid row y
ROW_X_RANGE = ((12, 23), (12, 23), (8, 27), (8, 27), (4, 31), (4, 31),
               (0, 35), (0, 35), (0, 35), (0, 35),
               (4, 31), (4, 31), (8, 27), (8, 27), (12, 23), (12, 23))


def _grid_tables():
    xs, ys = [], []
    for y, (x0, x1) in enumerate(ROW_X_RANGE):
        for x in range(x0, x1 + 1):
            xs.append(x)
            ys.append(y)
    x = np.array(xs, dtype=np.int64)
    y = np.array(ys, dtype=np.int64)
    grid = np.full((GRID_WIDTH, GRID_HEIGHT), -1, dtype=np.int64)
    grid[x, y] = np.arange(x.size)
    return x, y, grid


#: x and y of every HICANN enum, and the enum at every grid point (-1 = no HICANN)
HICANN_X, HICANN_Y, ENUM_AT = _grid_tables()
N_HICANN = int(HICANN_X.size)   # 384

#: reticle / DNC / FPGA module of each HICANN (8 HICANNs each, 4 wide x 2 tall)
_reticle_xy = HICANN_X // 4 + 9 * (HICANN_Y // 2)
_unique_reticles = np.unique(_reticle_xy)
RETICLE_OF = np.searchsorted(_unique_reticles, _reticle_xy).astype(np.int64)
N_RETICLES = int(_unique_reticles.size)   # 48
#: one FPGA per reticle (halco has a fixed DNC->FPGA permutation; the identity is used here,
#: which only matters for naming, not for bandwidth or capacity)
FPGA_OF = RETICLE_OF


def hicann_enum(x, y):
    """Enum of the HICANN at grid (x, y); -1 where there is none (arrays or scalars)."""
    x = np.asarray(x)
    y = np.asarray(y)
    inside = (x >= 0) & (x < GRID_WIDTH) & (y >= 0) & (y < GRID_HEIGHT)
    out = np.full(np.broadcast(x, y).shape, -1, dtype=np.int64)
    if out.ndim:
        out[inside] = ENUM_AT[x[inside], y[inside]]
    elif inside:
        out[()] = ENUM_AT[x, y]
    return out if out.ndim else int(out)


def _neighbour_table():
    table = np.full((4, N_HICANN), -1, dtype=np.int64)
    for k, (dx, dy) in enumerate(((0, -1), (0, 1), (1, 0), (-1, 0))):
        table[k] = hicann_enum(HICANN_X + dx, HICANN_Y + dy)
    return table


#: NEIGHBOUR[d, h]: the neighbour of HICANN h in direction d (NORTH, SOUTH, EAST, WEST), or -1
NORTH, SOUTH, EAST, WEST = range(4)
NEIGHBOUR = _neighbour_table()

# ---------------------------------------------------------------- per-HICANN resources
DENMEM_COLUMNS = 256
DENMEM_ROWS = 2
DENMEMS_PER_HICANN = DENMEM_COLUMNS * DENMEM_ROWS        # 512
N_NEURON_BLOCKS = 8
BLOCK_COLUMNS = 32                                      # 64 denmems per block
MAX_NEURON_SIZE = 2 * BLOCK_COLUMNS                     # 64
N_SYNAPSE_DRIVERS = 224                                 # 112 per array, 56 per quadrant
DRIVERS_PER_QUADRANT = 56
SYNAPSE_ROWS = 448                                      # 2 per driver
SYNAPSES_PER_HICANN = SYNAPSE_ROWS * DENMEM_COLUMNS     # 114,688
N_HLINES = 64
N_VLINES = 256
N_DNC_MERGERS = 8
DEFAULT_CHAIN_LENGTH = 3
#: hardware / bio time ratio of an experiment, and the range the hardware supports
DEFAULT_SPEEDUP = 1e4
SPEEDUP_RANGE = (1e3, 1e5)

#: 6-bit L1 addresses no neuron may use: 0 is the background/locking address, synapse
#: decoder 1 (addresses 1, 17, 33, 49) disables a synapse
RESERVED_ADDRESSES = (0, 1, 17, 33, 49)
#: the 59 usable 6-bit L1 addresses, highest first (marocco's default ``high_first``)
USABLE_ADDRESSES = tuple(a for a in range(63, -1, -1) if a not in RESERVED_ADDRESSES)

#: neuron blocks each DNC merger can collect through the fixed merger tree
#: (0: Merger0[0], 1: Merger1[0], 2: Merger0[2], 3: Merger3[0], 4: Merger0[4], 5: Merger2[1],
#: 6: Merger1[3], 7: Merger0[7])
DNC_MERGER_BLOCKS = ((0,), (0, 1), (2,), tuple(range(8)), (4,), (4, 5, 6, 7), (6, 7), (7,))


def sending_hline(dnc_merger):
    """H-bus driven by the sending repeater of a DNC merger: 6 + 8 * (7 - merger)."""
    return 6 + 8 * (7 - np.asarray(dnc_merger))


# ---------------------------------------------------------------- L1 buses
def hline_towards(h, direction):
    """H-bus number on the east (+2) or west (-2) neighbour that continues H-bus ``h``."""
    shift = 2 if direction == EAST else -2
    return (np.asarray(h) + shift) % N_HLINES


def vline_towards(v, direction):
    """V-bus number on the north/south neighbour that continues V-bus ``v`` (shift by 2 within
    its half: left half north +2, right half north -2; south is the inverse)."""
    v = np.asarray(v)
    left = v < 128
    up = direction == NORTH
    shift_left = 2 if up else -2
    return np.where(left, (v + shift_left) % 128, 128 + (v - 128 - shift_left) % 128)


def crossbar_vlines(h):
    """The 8 V-buses reachable from H-bus ``h`` through crossbar switches (4 left, 4 right)."""
    h = np.asarray(h)[..., None]
    n = np.arange(4)
    left = 127 - h // 2 - 32 * (3 - n)
    right = 128 + h // 2 + 32 * n
    return np.concatenate([left, right], axis=-1)


def crossbar_hlines(v):
    """The 2 H-buses reachable from V-bus ``v`` through crossbar switches."""
    v = np.asarray(v)
    base = np.where(v < 128, 2 * ((63 - v) % 32), 2 * (v % 32))
    return np.stack([base, base + 1], axis=-1)


# ---------------------------------------------------------------- synapse drivers
def driver_array(driver):
    """0 for the top synapse array (drivers 0..111), 1 for the bottom one."""
    return (np.asarray(driver) >= 112).astype(np.int64)


def driver_side(driver):
    """0 = left, 1 = right.  Top half: odd drivers left, even right; bottom half mirrored."""
    d = np.asarray(driver)
    odd = d % 2 == 1
    return np.where(d < 112, np.where(odd, 0, 1), np.where(odd, 1, 0)).astype(np.int64)
