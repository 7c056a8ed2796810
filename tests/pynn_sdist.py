"""PyNN 0.13.0's source distribution for the conformance tests (issue 12).

The sdist (not the wheel) carries PyNN's backend conformance suite, ``test/system/scenarios/``,
and ``examples/``.  :func:`sdist_dir` downloads it once from PyPI, checks its sha256 against
the digest PyPI publishes, and unpacks it into a cache directory outside the repository:

* ``$PYNN_SDIST_DIR`` if set (the directory that holds, or will hold, ``pynn-0.13.0/``),
* else ``$XDG_CACHE_HOME/pyNN_bss_emu`` or ``~/.cache/pyNN_bss_emu``.

The download is tried with ``urllib`` (PyPI's JSON API gives the URL and digest), then with
``pip download`` (which honours pip's own index and proxy configuration).  When neither works
(offline) :class:`SdistUnavailable` is raised with the reason; the tests turn it into a skip,
or into a failure when ``PYNN_CONFORMANCE_REQUIRED=1`` (for a CI that must run them).

Never put the unpacked tree's root on ``sys.path``: its ``pyNN/`` would shadow the installed
PyNN and hide ``pyNN.bss_emu``.  :func:`load_scenarios` imports the scenario modules under a
private package name instead.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

VERSION = "0.13.0"
FILENAME = f"pynn-{VERSION}.tar.gz"
#: sha256 of pynn-0.13.0.tar.gz as published by PyPI (checked against the JSON API as well)
SHA256 = "da2821e45055a88de6cf34896067eaaebcabbfdfb7883dd147353e7b78617815"
JSON_URL = "https://pypi.org/pypi/PyNN/json"
TIMEOUT = 60
#: written into the unpacked tree once it is complete
_MARKER = ".pyNN_bss_emu-verified"


class SdistUnavailable(RuntimeError):
    """The sdist could not be obtained (offline, PyPI unreachable, ...)."""


def cache_root() -> Path:
    env = os.environ.get("PYNN_SDIST_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "pyNN_bss_emu"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def _published() -> tuple[str, str] | None:
    """(url, sha256) of the sdist from PyPI's JSON API, or None if PyPI is unreachable."""
    try:
        with urllib.request.urlopen(JSON_URL, timeout=TIMEOUT) as r:
            data = json.load(r)
    except Exception:
        return None
    for f in data.get("releases", {}).get(VERSION, []):
        if f.get("packagetype") == "sdist" and f.get("filename", "").lower() == FILENAME:
            return f["url"], f["digests"]["sha256"]
    return None


def _download(dest: Path) -> Path:
    """Fetch the tarball into ``dest`` (a directory); return its path (digest not yet checked)."""
    errors = []
    published = _published()
    if published is not None:
        url, digest = published
        if digest != SHA256:
            raise AssertionError(f"PyPI publishes sha256 {digest} for {FILENAME}, this test "
                                 f"suite pins {SHA256}: refusing the file")
        target = dest / FILENAME
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as r, open(target, "wb") as f:
                shutil.copyfileobj(r, f)
            return target
        except Exception as e:  # fall back to pip
            errors.append(f"urllib: {e}")
    else:
        errors.append(f"urllib: {JSON_URL} unreachable or without {FILENAME}")
    cmd = [sys.executable, "-m", "pip", "download", f"PyNN=={VERSION}", "--no-deps",
           "--no-binary", ":all:", "-d", str(dest), "-q"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        found = [p for p in dest.iterdir() if p.name.lower() == FILENAME]
        if found:
            return found[0]
        errors.append("pip download: " + (proc.stderr.strip().splitlines() or ["no file"])[-1])
    except Exception as e:
        errors.append(f"pip download: {e}")
    raise SdistUnavailable(f"cannot download {FILENAME} from PyPI (" + "; ".join(errors) + ")")


def sdist_dir() -> Path:
    """The unpacked, verified ``pynn-0.13.0`` tree (downloaded and unpacked on first use)."""
    root = cache_root()
    tree = root / f"pynn-{VERSION}"
    if (tree / _MARKER).is_file():
        return tree
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SdistUnavailable(f"cannot create the cache directory {root}: {e}") from e
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
        tmp = Path(tmp)
        cached = root / FILENAME
        if cached.is_file() and _sha256(cached) == SHA256:
            tarball = cached
        else:
            tarball = _download(tmp)
            got = _sha256(tarball)
            if got != SHA256:
                raise AssertionError(f"{FILENAME}: sha256 {got} differs from PyPI's {SHA256}")
            shutil.copyfile(tarball, tmp / "copy")
            os.replace(tmp / "copy", cached)
        unpack = tmp / "unpacked"
        with tarfile.open(tarball) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(unpack, filter="data")
            else:  # Python without extraction filters: the digest was checked above
                tar.extractall(unpack)
        (unpack / f"pynn-{VERSION}" / _MARKER).write_text(SHA256 + "\n")
        try:
            os.replace(unpack / f"pynn-{VERSION}", tree)
        except OSError:
            # another process unpacked it meanwhile (or a stale, unmarked tree is in the way)
            if not (tree / _MARKER).is_file():
                shutil.rmtree(tree, ignore_errors=True)
                os.replace(unpack / f"pynn-{VERSION}", tree)
    return tree


SCENARIO_PACKAGE = "_pynn013_scenarios"


def load_scenarios(tree: Path) -> dict[str, object]:
    """Import every ``test/system/scenarios/test_*.py`` of the unpacked sdist as a submodule of
    the private package ``_pynn013_scenarios`` (their ``from .fixtures import ...`` works, the
    sdist's ``pyNN/`` stays off ``sys.path``).  Returns {module name: module}."""
    directory = tree / "test" / "system" / "scenarios"
    if SCENARIO_PACKAGE not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            SCENARIO_PACKAGE, directory / "__init__.py",
            submodule_search_locations=[str(directory)])
        package = importlib.util.module_from_spec(spec)
        sys.modules[SCENARIO_PACKAGE] = package
        spec.loader.exec_module(package)
    modules = {}
    for path in sorted(directory.glob("test_*.py")):
        modules[path.stem] = importlib.import_module(f"{SCENARIO_PACKAGE}.{path.stem}")
    return modules


def scenario_functions(modules: dict[str, object]) -> dict[str, tuple[callable, tuple[str, ...]]]:
    """The registered scenarios: functions carrying PyNN's ``run_with_simulators`` mark (a
    ``parametrize("sim", ...)``), as {"module::function": (function, simulator names)}.
    Includes the decorated functions whose names do not start with ``test_`` (PyNN's own
    pytest run does not collect those)."""
    found = {}
    for mod_name, module in modules.items():
        for name, obj in vars(module).items():
            if not callable(obj) or getattr(obj, "__module__", None) != module.__name__:
                continue
            for mark in getattr(obj, "pytestmark", []):
                if mark.name == "parametrize" and mark.args and mark.args[0] == "sim":
                    sims = tuple(p.id for p in mark.args[1])
                    found[f"{mod_name}::{name}"] = (obj, sims)
    return found
