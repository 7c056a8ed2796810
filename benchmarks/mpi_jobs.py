"""Running a benchmark's worker in a fresh job, alone or under ``mpiexec``, and reading the
one result line it prints.

The MPI benchmarks (``mpi_scaling.py``, ``multi_wafer.py``, ``wafer_scaling.py``) start their
own script again with ``--worker`` for every configuration, so that each measurement has a
fresh process (numba cache loads, peak RSS) and several ranks can be started by the
``mpiexec`` of the ``.[mpi]`` extra, which sits next to this interpreter.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def run_worker(script: str, worker_args: list[str], mark: str, n_ranks: int = 1) -> dict:
    """Run ``python script --worker *worker_args`` (under ``mpiexec -n n_ranks`` when
    ``n_ranks > 1``) and return the JSON after ``mark`` on the last line that starts with
    it (rank 0 prints it).  A failed job raises with the end of its stderr."""
    cmd = [sys.executable, str(Path(script).resolve()), "--worker", *worker_args]
    if n_ranks > 1:
        mpiexec = Path(sys.executable).parent / "mpiexec"
        cmd = [str(mpiexec), "-n", str(n_ranks), sys.executable, "-m", "mpi4py"] + cmd[1:]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    line = [ln for ln in out.stdout.splitlines() if ln.startswith(mark)][-1]
    return json.loads(line[len(mark):])
