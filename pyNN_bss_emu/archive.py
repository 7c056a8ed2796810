"""Reading and writing ``.npz`` archives that may come from someone else.

A ``.npz`` file is a zip archive of ``.npy`` members.  ``numpy.load`` trusts it: it inflates
whatever a member declares (a 3 MB file can hold a 3 GB member), loads members the caller
never asked for, and leaves checking dtypes and shapes to the caller.  This module reads only
the members the caller expects, refuses a member whose declared size, dtype or shape does not
fit *before* inflating it, never unpickles, and raises one exception class (the caller's)
with a message naming the file and the member.  Writing is atomic: a crash or Ctrl-C leaves
either the old file or the new one, never a truncated file or a stray temporary file.

Standalone on purpose: only numpy and the standard library are imported (no other module of
the package), so the mapper, the backend and the training package can all use it.

API
---
``MemberSpec(kinds, shape=None, *, max_itemsize=8, max_bytes=None, required=True)``
    What one member must look like:

    * ``kinds``: allowed numpy dtype kinds, e.g. ``"b"`` (bool), ``"iu"`` (integers),
      ``"f"`` (floats), ``"biu"``, ``"U"`` (unicode string); object dtypes (``"O"``) and
      structured dtypes are always refused (they need pickle or hide fields).
    * ``shape``: ``None`` (any shape) or a tuple whose entries are an ``int`` (that length),
      a ``str`` (a named dimension: every member using the name must have the same length;
      ``read_npz``'s ``dims`` may fix it) or ``None`` (any length).  The tuple's length is the
      required ``ndim``.
    * ``max_itemsize``: the largest item size in bytes accepted (8: up to int64/float64).
    * ``max_bytes``: a cap on the member's data bytes; by default derived from the shape when
      all its lengths are known (``prod(shape) * itemsize``), else ``read_npz``'s
      ``default_max_bytes``.
    * ``required``: a missing member is an error (else it is left out of the result).

``read_npz(path, expected, **options) -> dict[str, ndarray]``
    Options (keyword only): ``what="archive"``, ``error=ArchiveError``, ``dims=None``,
    ``allow_unknown=False``, ``default_max_bytes`` (256 MiB), ``max_total_bytes=None``.
    Open ``path`` as a zip file and return ``{name: array}`` for the expected members (member
    ``"x.npy"`` is returned as ``"x"``).  Errors (all raised as ``error(message)``, the message
    starting with ``"{what} '{path}'"``): not a zip/npz file or truncated, unknown members
    (unless ``allow_unknown``), missing required members, duplicate members, a compression
    other than stored/deflated, encryption, a declared uncompressed size above the member's
    maximum or a total above ``max_total_bytes`` (checked on the zip directory, before
    anything is inflated), a bad ``.npy`` header, a dtype kind, item size, ndim or length not
    allowed, a named dimension inconsistent between members, data shorter or longer than the
    header says, or a CRC mismatch.  ``OSError`` from opening the file propagates unchanged
    (``FileNotFoundError`` and ``PermissionError`` already name the file).  ``dims`` (also
    returned filled in: the dict passed is updated with the lengths found) fixes named
    dimensions in advance.

``write_npz_atomic(path, arrays, *, compress=True) -> None``
    Write ``arrays`` (``{name: array_like}``) to exactly ``path`` (no suffix is appended) via a
    temporary file in the same directory and ``os.replace``; the temporary file is removed on
    any error, including ``KeyboardInterrupt``.  Object arrays are refused (``ValueError``).
    The new file gets the permissions a newly created file gets (the umask applies).

``ArchiveError(ValueError)``: the default exception class.
"""
from __future__ import annotations

import math
import os
import secrets
import zipfile
import zlib
from dataclasses import dataclass
from typing import Mapping

import numpy as np

__all__ = ["ArchiveError", "MemberSpec", "read_npz", "write_npz_atomic"]

#: largest ``.npy`` header accepted (numpy writes 128 bytes for ordinary arrays and reads at
#: most 10000 by default; format 2 would allow 4 GiB)
MAX_HEADER_BYTES = 10000
#: default cap on one member whose size is not fixed by its shape
DEFAULT_MAX_BYTES = 256 * 2 ** 20


class ArchiveError(ValueError):
    """An archive is not what the reader expects (the message names file and member)."""


@dataclass(frozen=True)
class MemberSpec:
    """What one ``.npy`` member must look like (see the module docstring)."""
    kinds: str
    shape: tuple | None = None
    max_itemsize: int = 8
    max_bytes: int | None = None
    required: bool = True


def _describe_shape(shape: tuple) -> str:
    return "(" + ", ".join("any" if s is None else str(s) for s in shape) + \
        ("," if len(shape) == 1 else "") + ")"


def _fixed_elements(spec: MemberSpec, dims: Mapping[str, int]) -> int | None:
    """Number of elements if the spec's shape fixes it (named dims looked up), else None."""
    if spec.shape is None:
        return None
    n = 1
    for s in spec.shape:
        if isinstance(s, str):
            s = dims.get(s)
        if s is None:
            return None
        n *= int(s)
    return n


def read_npz(path: str | os.PathLike, expected: Mapping[str, MemberSpec], *,
             what: str = "archive", error: type[Exception] = ArchiveError,
             dims: dict[str, int] | None = None, allow_unknown: bool = False,
             default_max_bytes: int = DEFAULT_MAX_BYTES,
             max_total_bytes: int | None = None) -> dict[str, np.ndarray]:
    """Read the expected members of a ``.npz`` file, checking them before inflating them.

    See the module docstring for the arguments and every error raised.
    """
    fspath = os.fspath(path)
    where = f"{what} '{fspath}'"
    dims = {} if dims is None else dims

    def fail(message: str) -> Exception:
        exc = error(f"{where}: {message}")
        exc._from_archive_reader = True     # raised as it is, never wrapped again
        return exc

    try:
        zf = zipfile.ZipFile(fspath)
    except zipfile.BadZipFile as err:
        # a truncated write or another kind of file: numpy would say "EOF" or "pickle"
        raise fail(f"not a readable .npz (zip) archive ({err}); was it written completely? "
                   "Delete it to create it anew") from None
    with zf:
        infos = zf.infolist()
        members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            if name in members:
                raise fail(f"member '{name}' appears twice")
            if name not in expected:
                if allow_unknown:
                    continue
                # only the header is inflated (at most MAX_HEADER_BYTES), to say why a
                # Python object would be refused in any case
                pickled = " (it holds Python objects, which would need pickle: "\
                    "allow_pickle is off)" if _holds_objects(zf, info) else ""
                raise fail(f"unexpected member '{name}'{pickled}; expected: "
                           f"{', '.join(sorted(expected)) or 'none'}")
            if not info.filename.endswith(".npy"):
                raise fail(f"member '{info.filename}' is not a .npy array")
            members[name] = info
        missing = [n for n, s in expected.items() if s.required and n not in members]
        if missing:
            raise fail(f"member(s) missing: {', '.join(sorted(missing))}")
        total = 0
        for name, info in members.items():
            spec = expected[name]
            if info.flag_bits & 0x1:
                raise fail(f"member '{name}' is encrypted")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise fail(f"member '{name}' uses compression method {info.compress_type}; "
                           "only stored (0) and deflated (8) are read")
            # the declared size bounds what zipfile will inflate; check it first
            limit = _byte_limit(spec, dims, default_max_bytes) + MAX_HEADER_BYTES
            if info.file_size > limit:
                raise fail(f"member '{name}' declares {info.file_size} bytes uncompressed, "
                           f"more than the {limit} its expected shape and dtype allow")
            total += info.file_size
        if max_total_bytes is not None and total > max_total_bytes:
            raise fail(f"the members declare {total} bytes uncompressed, more than the "
                       f"{max_total_bytes} allowed")
        out: dict[str, np.ndarray] = {}
        # members with fixed shapes first, so named dimensions are known for the others'
        # byte limits (a named dimension is fixed by the first member that has it)
        order = sorted(members, key=lambda n: _fixed_elements(expected[n], dims) is None)
        for name in order:
            out[name] = _read_member(zf, members[name], name, expected[name], dims,
                                     default_max_bytes, fail)
    return {name: out[name] for name in expected if name in out}   # the caller's order


def _read_header(f) -> tuple[tuple, bool, np.dtype]:
    """(shape, fortran order, dtype) of the ``.npy`` stream ``f`` (ValueError if bad)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
    if version in ((2, 0), (3, 0)):
        return np.lib.format.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
    raise ValueError(f"unknown .npy format version {version}")


def _holds_objects(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bool:
    """Whether a member's ``.npy`` header declares an object dtype (False if unreadable)."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) \
            or info.flag_bits & 0x1:
        return False
    try:
        with zf.open(info) as f:
            return bool(_read_header(f)[2].hasobject)
    except Exception:          # a damaged header: nothing to add to the message
        return False


def _byte_limit(spec: MemberSpec, dims: Mapping[str, int], default_max_bytes: int) -> int:
    n = _fixed_elements(spec, dims)
    derived = n * spec.max_itemsize if n is not None else None
    caps = [c for c in (derived, spec.max_bytes) if c is not None]
    return min(caps) if caps else default_max_bytes


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, spec: MemberSpec,
                 dims: dict[str, int], default_max_bytes: int, fail) -> np.ndarray:
    """Parse one member's ``.npy`` header, check it against ``spec``, then read the data."""
    try:
        with zf.open(info) as f:
            try:
                shape, fortran, dtype = _read_header(f)
            except (ValueError, SyntaxError, TypeError, EOFError) as err:
                raise fail(f"member '{name}' has no valid .npy header ({err})") from None
            _check_header(name, spec, shape, dtype, dims, fail)
            nbytes = math.prod(shape) * dtype.itemsize
            limit = _byte_limit(spec, dims, default_max_bytes)
            if nbytes > limit:
                raise fail(f"member '{name}' has shape {shape} ({nbytes} bytes), more than the "
                           f"{limit} bytes allowed")
            header_len = f.tell()
            if header_len + nbytes != info.file_size:
                raise fail(f"member '{name}': the header says {nbytes} data bytes, the "
                           f"archive holds {info.file_size - header_len}")
            array = np.empty(shape, dtype=dtype, order="F" if fortran else "C")
            if nbytes:
                view = memoryview(array.reshape(-1, order="A").view(np.uint8))
                got = 0
                while got < nbytes:
                    n = f.readinto(view[got:])
                    if not n:
                        raise fail(f"member '{name}' ends after {got} of {nbytes} bytes")
                    got += n
            if f.read(1):          # also makes zipfile verify the CRC
                raise fail(f"member '{name}' holds more data than its header says")
    except zipfile.BadZipFile as err:
        raise fail(f"member '{name}' is damaged ({err})") from None
    except (EOFError, OSError, ValueError, zlib.error, NotImplementedError,
            RuntimeError) as err:
        # a damaged deflate stream (zlib.error), an unsupported zip feature or encryption
        # (NotImplementedError, RuntimeError) is a damaged file like any other
        if getattr(err, "_from_archive_reader", False):
            raise
        raise fail(f"member '{name}' cannot be read ({type(err).__name__}: {err})") from None
    return array


def _check_header(name: str, spec: MemberSpec, shape: tuple, dtype: np.dtype,
                  dims: dict[str, int], fail) -> None:
    """dtype kind, item size, ndim and lengths against the spec (no data read yet)."""
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise fail(f"member '{name}' has dtype {dtype}; object and structured dtypes are not "
                   "read")
    if dtype.kind not in spec.kinds:
        raise fail(f"member '{name}' has dtype {dtype} (kind '{dtype.kind}'); allowed kinds: "
                   f"{', '.join(repr(k) for k in spec.kinds)}")
    if dtype.itemsize > spec.max_itemsize:
        raise fail(f"member '{name}' has dtype {dtype} ({dtype.itemsize} bytes per item), "
                   f"more than {spec.max_itemsize}")
    if any(s < 0 for s in shape):
        raise fail(f"member '{name}' has a negative length in shape {shape}")
    if spec.shape is None:
        return
    if len(shape) != len(spec.shape):
        raise fail(f"member '{name}' has shape {shape} ({len(shape)} dimensions); expected "
                   f"{len(spec.shape)} dimensions {_describe_shape(spec.shape)}")
    for axis, (got, want) in enumerate(zip(shape, spec.shape)):
        if isinstance(want, str):
            if want in dims and dims[want] != got:
                raise fail(f"member '{name}' has length {got} on axis {axis}; expected "
                           f"{dims[want]} ({want})")
            dims.setdefault(want, got)
        elif want is not None and got != want:
            raise fail(f"member '{name}' has length {got} on axis {axis}; expected {want}")


def write_npz_atomic(path: str | os.PathLike, arrays: Mapping[str, object], *,
                     compress: bool = True) -> None:
    """Write ``arrays`` to exactly ``path`` atomically (see the module docstring)."""
    fspath = os.fspath(path)
    converted = {}
    for name, value in arrays.items():
        a = np.asanyarray(value)
        if a.dtype.hasobject:
            raise ValueError(f"writing '{fspath}': array '{name}' has dtype object, which "
                             "would need pickle to read")
        converted[name] = a
    directory = os.path.dirname(os.path.abspath(fspath))
    base = os.path.basename(fspath)
    # O_EXCL on a random name in the same directory (os.replace must not cross file
    # systems); mode 0o666 lets the umask apply as for any new file
    for _ in range(100):
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                         0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"cannot create a temporary file next to '{fspath}'")
    try:
        with os.fdopen(fd, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, **converted)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, fspath)
    except BaseException:          # KeyboardInterrupt too: no stale temporary file
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename durable where the OS allows it (best effort; not on Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
