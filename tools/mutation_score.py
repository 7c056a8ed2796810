"""Mutation score of the modules that hold the wafer's hardware rules (mutmut 3).

mutmut (``pip install ".[dev]"``) copies the package to ``mutants/``, makes small changes to
the code inside functions (``<`` -> ``<=``, ``+`` -> ``-``, a number + 1, a call argument
dropped, ...) and runs the tests that cover each changed function.  A mutant the tests fail on
is *killed*; one they pass is *survived*: a change of behaviour nobody would notice.  The
modules and test files are configured in ``setup.cfg`` (section ``[mutmut]``).

Checking all ~7,400 mutants of those modules takes hours on two cores, so by default this
script checks a seeded random sample per module and reports the score with its 95 % Wilson
interval; ``--sample 0`` checks every mutant.  mutmut keeps the results in ``mutants/``:
``--report-only`` prints them again without running anything (each run re-checks the mutants
it names; after the tests change, delete ``mutants/`` so that mutmut also re-collects which
tests cover which function).

    .venv/bin/python tools/mutation_score.py                   # 40 mutants per module
    .venv/bin/python tools/mutation_score.py --sample 100 --modules readout event_loss
    .venv/bin/python tools/mutation_score.py --report-only      # table of what is in mutants/

What mutmut does not mutate (by design of mutmut 3): module-level constants (service times,
FIFO depth, delay per hop, spreads) and decorated functions, i.e. the numba kernels of the
event paths; ``tools/planted_bugs.py`` plants those regressions by hand.
"""
from __future__ import annotations

import argparse
import json
import math
import random
import subprocess
import sys
from collections import Counter
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KILLED = {1: "killed", 3: "killed"}
TIMEOUT = {-24, 24, 36, 152, 255}


def _status(code) -> str:
    """mutmut's exit-code classes (mutmut/stats.py), timeouts kept apart."""
    if code is None:
        return "not checked"
    if code in KILLED:
        return "killed"
    if code in TIMEOUT:
        return "timeout"
    return {0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
            37: "type check", -11: "segfault", -9: "segfault"}.get(code, "suspicious")


def configured_modules() -> list[str]:
    cfg = ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    return [p.strip() for p in cfg.get("mutmut", "only_mutate").splitlines() if p.strip()]


def mutmut(*names: str, max_children: int) -> None:
    cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(max_children), *names]
    # mutmut prints a spinner per mutant; keep only its summary lines
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"mutmut run failed (exit {proc.returncode})")


def read_meta() -> dict[str, dict[str, int | None]]:
    """Exit code per mutant name, per mutated source file (from mutants/*.meta)."""
    out = {}
    for meta in sorted((ROOT / "mutants").rglob("*.py.meta")):
        rel = meta.relative_to(ROOT / "mutants").as_posix()[:-len(".meta")]
        out[rel] = json.loads(meta.read_text())["exit_code_by_key"]
    return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion k/n."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def pick(names: list[str], sample: int, seed: int) -> list[str]:
    """A seeded sample; nested: a larger sample holds every mutant of a smaller one."""
    if sample <= 0 or sample >= len(names):
        return sorted(names)
    order = sorted(names)
    random.Random(seed).shuffle(order)
    return sorted(order[:sample])


def selection(module: str, meta: dict, args) -> list[str]:
    """The mutants of ``module`` to check: those named in ``--names-file`` or a sample."""
    names = list(meta.get(module, {}))
    if args.names_file:
        wanted = set(args.names_file.read_text().split())
        return sorted(n for n in names if n in wanted)
    return pick(names, args.sample, args.seed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", nargs="+", default=None,
                    help="file stems or paths of setup.cfg's only_mutate (default: all)")
    ap.add_argument("--sample", type=int, default=40,
                    help="mutants checked per module (0: all; default 40)")
    ap.add_argument("--seed", type=int, default=2026, help="seed of the sample (default 2026)")
    ap.add_argument("--max-children", type=int, default=2, help="parallel mutmut workers")
    ap.add_argument("--report-only", action="store_true",
                    help="only print the scores of what mutants/ already holds")
    ap.add_argument("--names-file", type=Path,
                    help="check exactly the mutants named in this file (one per line; e.g. "
                         "to compare two versions of the tests on the same mutants)")
    ap.add_argument("--json", type=Path, help="write the per-module results here")
    ap.add_argument("--survivors", action="store_true", help="list surviving mutants")
    args = ap.parse_args(argv)

    modules = configured_modules()
    if args.modules:
        want = args.modules
        modules = [m for m in modules if any(w == m or Path(m).stem == w for w in want)]
        if not modules:
            ap.error(f"no configured module matches {want}")
    if not args.report_only:
        if not (ROOT / "mutants").exists() or not read_meta():
            # generate every mutant and collect which tests cover which function (the
            # pattern matches no mutant, so nothing else runs yet)
            mutmut("__generate_only__*", max_children=args.max_children)
        meta = read_meta()
        chosen = []
        for m in modules:
            chosen += selection(m, meta, args)
        if chosen:
            mutmut(*chosen, max_children=args.max_children)
    meta = read_meta()

    rows = []
    for m in modules:
        codes = meta.get(m, {})
        names = selection(m, meta, args) if not args.report_only \
            else [k for k, v in codes.items() if v is not None]
        st = Counter(_status(codes[k]) for k in names)
        checked = sum(v for k, v in st.items() if k != "not checked")
        killed = st["killed"] + st["timeout"]
        lo, hi = wilson(killed, checked)
        rows.append({"module": m, "mutants": len(codes), "checked": checked, "killed": killed,
                     "survived": st["survived"], "no_tests": st["no tests"],
                     "other": checked - killed - st["survived"] - st["no tests"],
                     "score": killed / checked if checked else float("nan"),
                     "ci95": [lo, hi],
                     "checked_names": sorted(k for k in names if codes[k] is not None),
                     "survivors": sorted(k for k in names
                                         if _status(codes[k]) in ("survived", "no tests"))})
    print(f"{'module':42s} {'mutants':>7s} {'checked':>7s} {'killed':>6s} {'surv.':>5s} "
          f"{'no test':>7s} {'score':>6s}  95 % interval")
    tk = tc = 0
    for r in rows:
        tk += r["killed"]
        tc += r["checked"]
        print(f"{r['module']:42s} {r['mutants']:7d} {r['checked']:7d} {r['killed']:6d} "
              f"{r['survived']:5d} {r['no_tests']:7d} {100 * r['score']:5.1f}%  "
              f"{100 * r['ci95'][0]:.0f}-{100 * r['ci95'][1]:.0f} %")
    lo, hi = wilson(tk, tc)
    print(f"{'all':42s} {'':7s} {tc:7d} {tk:6d} {'':5s} {'':7s} "
          f"{100 * tk / max(tc, 1):5.1f}%  {100 * lo:.0f}-{100 * hi:.0f} %")
    if args.survivors:
        for r in rows:
            for name in r["survivors"]:
                print("  survived:", name)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
