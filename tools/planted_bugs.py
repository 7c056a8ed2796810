"""Re-plant known regressions one at a time and check that the test suite catches each.

Issue 10 planted fifteen small bugs in a copy of the code; ten passed all tests.  This script
keeps those bugs (and a few siblings) as exact source patches, so anyone can check after
changing the tests that the suite still fails on every one of them::

    .venv/bin/python tools/planted_bugs.py                 # every bug, whole suite, 2 at a time
    .venv/bin/python tools/planted_bugs.py encoder_service_halved fifo_depth_8
    .venv/bin/python tools/planted_bugs.py --tests tests/test_wafer_references.py

Each bug is applied to a private copy of the repository (the work tree is never touched), and
``python -m pytest -x`` runs there with that copy first on ``sys.path``; a bug counts as caught
when pytest reports failing tests (exit code 1).  A patch whose source text is no longer found
is reported as ``stale`` (the code moved: update the patch), not as caught.
Exit status: 0 when every selected bug was caught, 1 otherwise.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class PlantedBug:
    """One regression: replace ``old`` (must occur exactly once) by ``new`` in ``path``."""
    name: str
    path: str
    old: str
    new: str
    what: str


BUGS: tuple[PlantedBug, ...] = (
    PlantedBug("encoder_service_halved", "pyNN_bss_emu/hardware/event_paths.py",
               "ENCODER_CYCLES = 2\n", "ENCODER_CYCLES = 1\n",
               "priority-encoder service time halved (1 cycle of 125 MHz instead of 2)"),
    PlantedBug("merger_rate_doubled", "pyNN_bss_emu/hardware/event_paths.py",
               "MERGER_SLOW_RATE_HZ = PLL_HZ / 2\n", "MERGER_SLOW_RATE_HZ = PLL_HZ\n",
               "DNC merger (slow mode) event rate doubled (fast mode instead of slow)"),
    PlantedBug("fifo_depth_8", "pyNN_bss_emu/engine/event_loss.py",
               "depth: int = 16 ", "depth: int = 8 ",
               "stimulus playback FIFO depth 16 -> 8"),
    PlantedBug("delay_per_hicann_plus_10pct", "pyNN_bss_emu/mapping/pipeline.py",
               "DELAY_PER_HOP_MS = 0.0397\n", "DELAY_PER_HOP_MS = 0.0397 * 1.1\n",
               "routed delay per HICANN on the route +10 %"),
    PlantedBug("readout_noise_plus_20pct", "pyNN_bss_emu/hardware/readout.py",
               "READOUT_NOISE_SIGMA_MV_HW = 5.0\n", "READOUT_NOISE_SIGMA_MV_HW = 6.0\n",
               "ADC readout noise +20 %"),
    PlantedBug("tau_m_residual_plus_10pct", "pyNN_bss_emu/hardware/calibration.py",
               '"I_gl": 0.510},',
               '"I_gl": 0.510 * 1.1},',
               "calibrated tau_m residual (big-capacitor leak spread per denmem) +10 %"),
    PlantedBug("get_weight_times_1_15", "pyNN_bss_emu/backend/wafer.py",
               "            w = self._user_weight_uS(prj)\n",
               "            w = self._user_weight_uS(prj) * 1.15\n",
               "Projection.get reports realised weights x 1.15 (the engine keeps the true ones)"),
    PlantedBug("worse_merger_strategy", "pyNN_bss_emu/mapping/pipeline.py",
               "trial[-1].realized.sum() > best[-1].realized.sum()",
               "trial[-1].realized.sum() < best[-1].realized.sum()",
               "merger_routing='auto' keeps the strategy that realises fewer synapses"),
    PlantedBug("reset_keeps_stp_state", "pyNN_bss_emu/engine/network.py",
               "        self.refrac[:] = 0\n        self._reset_stp()\n",
               "        self.refrac[:] = 0\n",
               "reset() does not restore the short-term plasticity state"),
    PlantedBug("trainer_gate_removed", "pyNN_bss_emu/training/trainer.py",
               "delta = (delta @ q[i].T) * gate", "delta = (delta @ q[i].T)",
               "the trainer's gradient gate removed"),
    # siblings of the above that the new references should catch too
    PlantedBug("trainer_gate_no_saturation", "pyNN_bss_emu/training/trainer.py",
               "gate = ((a > 0) | (z > 0)) & (a < cfg.a_sat)", "gate = ((a > 0) | (z > 0))",
               "the gate's saturation half removed"),
    PlantedBug("reset_keeps_encoder_queue", "pyNN_bss_emu/engine/network.py",
               "        self.block_busy[:] = -np.inf\n", "",
               "reset() leaves the priority encoders busy"),
    PlantedBug("reset_keeps_poisson_streams", "pyNN_bss_emu/engine/network.py",
               "        self.poisson.rewind()\n", "",
               "reset() does not rewind the Poisson sources"),
    # issue 15: plasticity
    PlantedBug("pair_rule_without_dendritic_delay", "pyNN_bss_emu/engine/plasticity.py",
               "    t2 = t - d\n", "    t2 = t\n",
               "NEST's pair rule pairs the presynaptic spike with postsynaptic spikes up to t "
               "instead of t - d (the dendritic delay forgotten)"),
    PlantedBug("wafer_pairing_at_emission", "pyNN_bss_emu/engine/plasticity.py",
               "    hs[jj, HS_TA_PEND] = t + d\n", "    hs[jj, HS_TA_PEND] = t\n",
               "the wafer's sensor pairs the presynaptic spike at its emission, not at its "
               "arrival after the routed delay"),
    PlantedBug("driver_stp_factor_after_update", "pyNN_bss_emu/engine/kernels.py",
               "    state[j, 0] = inactive + U * (1.0 - inactive)\n    state[j, 3] = t\n"
               "    return factor if factor > 0.0 else 0.0\n",
               "    state[j, 0] = inactive + U * (1.0 - inactive)\n    state[j, 3] = t\n"
               "    factor = 1.0 - lam * (state[j, 0] - N)\n"
               "    return factor if factor > 0.0 else 0.0\n",
               "the synapse driver's STP factor from the inactive fraction after the spike's "
               "update (the first spike no longer carries the full weight)"),
    PlantedBug("no_subnormal_flush", "pyNN_bss_emu/engine/kernels.py",
               "G_FLUSH = 1e-300\n", "G_FLUSH = 0.0\n",
               "decaying conductances are no longer set to 0 below 1e-300 uS (they become "
               "subnormal floats, ~100x slower per operation)"),
    PlantedBug("mpi_spikes_in_rank_order", "pyNN_bss_emu/engine/network.py",
               "                order = np.lexsort((g_node, g_step))\n",
               "                order = np.argsort(g_step, kind=\"stable\")\n",
               "the gathered spikes of a window are delivered in rank order within a step, "
               "not by neuron index (results then depend on the number of MPI ranks)"),
)


def _copy_tree(dst: Path) -> None:
    ignore = shutil.ignore_patterns(".git", ".venv", "mutants", "__pycache__", "*.pyc",
                                    "_build", ".pytest_cache", ".hypothesis")
    shutil.copytree(ROOT, dst, ignore=ignore, dirs_exist_ok=True)


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy)] + [p for p in env.get("PYTHONPATH", "")
                                                       .split(os.pathsep) if p])
    env.setdefault("PYNN_BSS_EMU_PROGRESS", "0")
    return env


def run_one(bug: PlantedBug | None, pytest_args: list[str], keep: bool = False) -> dict:
    """Apply ``bug`` (None: no bug, the baseline) in a fresh copy and run pytest there."""
    t0 = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f"planted_{bug.name if bug else 'baseline'}_"))
    try:
        _copy_tree(tmp)
        if bug is not None:
            src = tmp / bug.path
            text = src.read_text()
            if text.count(bug.old) != 1:
                return {"bug": bug.name, "status": "stale", "seconds": 0.0,
                        "detail": f"{bug.path}: patch text found {text.count(bug.old)} times"}
            src.write_text(text.replace(bug.old, bug.new))
        env = _env(tmp)
        where = subprocess.run(
            [sys.executable, "-c", "import pyNN.bss_emu as s; print(s.__file__)"],
            cwd=tmp, env=env, capture_output=True, text=True)
        if not where.stdout.strip().startswith(str(tmp)):
            raise RuntimeError(f"the copy is not what gets imported: {where.stdout}"
                               f"{where.stderr}")
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p",
                               "no:cacheprovider", *pytest_args],
                              cwd=tmp, env=env, capture_output=True, text=True)
        failed = re.findall(r"^FAILED (\S+)", proc.stdout, flags=re.M)
        summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
        if bug is None:
            status = "passes" if proc.returncode == 0 else f"FAILS (exit {proc.returncode})"
        elif proc.returncode == 1:
            status = "caught"
        elif proc.returncode == 0:
            status = "MISSED"
        else:
            status = f"error (pytest exit {proc.returncode})"
        return {"bug": bug.name if bug else "(none)", "status": status,
                "seconds": time.perf_counter() - t0,
                "detail": failed[0] if failed else summary}
    finally:
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bugs", nargs="*", help="names of bugs to plant (default: all)")
    ap.add_argument("--tests", nargs="+", default=[],
                    help="test files or node ids for pytest (default: the whole suite)")
    ap.add_argument("--jobs", type=int, default=2, help="bugs tested at once (default 2)")
    ap.add_argument("--baseline", action="store_true",
                    help="first check that the unmodified copy passes")
    ap.add_argument("--list", action="store_true", help="list the bugs and exit")
    args = ap.parse_args(argv)
    if args.list:
        for b in BUGS:
            print(f"{b.name:32s} {b.what}")
        return 0
    by_name = {b.name: b for b in BUGS}
    unknown = [n for n in args.bugs if n not in by_name]
    if unknown:
        ap.error(f"unknown bug(s) {unknown}; --list shows them")
    chosen = [by_name[n] for n in args.bugs] if args.bugs else list(BUGS)
    if args.baseline:
        base = run_one(None, args.tests)
        print(f"baseline: {base['status']} ({base['seconds']:.0f} s) {base['detail']}")
        if base["status"] != "passes":
            return 1
    print(f"{'bug':32s} {'status':10s} {'s':>5s}  first failing test / note")
    ok = True
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for res in pool.map(lambda b: run_one(b, args.tests), chosen):
            ok &= res["status"] == "caught"
            print(f"{res['bug']:32s} {res['status']:10s} {res['seconds']:5.0f}  {res['detail']}",
                  flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
