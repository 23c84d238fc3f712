"""`mpirun -np P clscale lab` against the serial `clscale lab` (synthetic runner).

Rank 0 deals the runs to ranks 1 .. P-1 and alone writes runs.csv, record.json
and the report; each run is trained by one rank. Checks (a 12-run sweep whose
width-64 runs fail, seconds in all):
- P = 3 and P = 1 under mpirun: runs.csv equals the serial one in every column
  but the wall time `seconds` (status and error of the failed runs included),
  summary.json too (but the seconds), rank 0 alone prints (--json: one line,
  summary.json's object),
  and with P = 3 both workers trained runs;
- rank 2 killed with SIGKILL mid-sweep: mpirun fails, rank 0 says how to
  continue, runs.csv is a valid part of the sweep (no partial row), and
  `--resume` under mpirun completes it to the serial runs.csv.
Skipped when mpirun is missing or the CLI was built without MPI.
"""
import csv
import io
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")
MPIRUN = shutil.which("mpirun")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")
FAST = ["--runner", "synthetic", "--synthetic-fail-width", "64", "--bootstrap", "10", "--permutations", "300",
        "--threads", "1", "--no-plots"]
SWEEP = {"grid": {"width": [32, 64, 128, 256], "train_subset": [60000], "steps": [20, 60, 200]}}

pytestmark = pytest.mark.skipif(MPIRUN is None, reason="mpirun not found")


def serial(args):
    r = subprocess.run([BIN, "lab"] + args, capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def mpi_cmd(P, args):
    return [MPIRUN, "--oversubscribe", "-np", str(P), BIN, "lab"] + args


def mpi(P, args):
    return subprocess.run(mpi_cmd(P, args), capture_output=True, text=True, env=ENV, timeout=300)


def rows(d):
    """runs.csv as dicts, without the wall-time column."""
    text = open(os.path.join(d, "runs.csv")).read()
    assert text.endswith("\n")
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        row.pop("seconds")
        out.append(row)
    return out


def summary(d):
    s = json.load(open(os.path.join(d, "summary.json")))
    s.pop("seconds", None)
    s.pop("wall_seconds", None)
    for r in s["runs"]:
        r.pop("seconds", None)
    return s


@pytest.fixture(scope="module")
def ref(tmp_path_factory):
    d = tmp_path_factory.mktemp("labmpi")
    sweep = d / "s.json"
    sweep.write_text(json.dumps(SWEEP))
    serial(["--sweep", str(sweep), "--out", str(d / "serial")] + FAST)
    r = mpi(1, ["--help"])
    if r.returncode != 0:
        pytest.skip("mpirun cannot start processes here: " + r.stderr[-300:])
    return d


@pytest.mark.parametrize("P", [1, 3])
def test_mpi_sweep_equals_serial(ref, P):
    out = str(ref / ("mpi%d" % P))
    r = mpi(P, ["--sweep", str(ref / "s.json"), "--out", out, "--json"] + FAST)
    if P > 1 and "on %d ranks" % P not in r.stderr:
        pytest.skip("clscale built without MPI")
    assert r.returncode == 0, r.stderr
    want = rows(str(ref / "serial"))
    got = rows(out)
    assert len(want) == 12 and [x["status"] for x in want].count("failed") == 3
    assert got == want
    assert summary(out) == summary(str(ref / "serial"))
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r.stdout  # rank 0 alone prints: --json is one object on one line
    assert json.loads(lines[0]) == json.load(open(os.path.join(out, "summary.json")))
    if P == 3:
        assert "running on rank 1" in r.stderr and "running on rank 2" in r.stderr, r.stderr
        assert r.stderr.count(": done in ") == 9 and r.stderr.count("FAILED") == 3, r.stderr
    # --report-only under mpirun: rank 0 alone rewrites the report, the same summary
    r = mpi(P, ["--report-only", out] + FAST)
    assert r.returncode == 0, r.stderr
    assert summary(out) == summary(str(ref / "serial"))


def rank_pid(rank, marker):
    """The pid of the clscale process of this rank whose command line holds marker."""
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cmd = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
            env = open("/proc/%s/environ" % p, "rb").read().split(b"\0")
        except OSError:
            continue
        if marker.encode() in cmd and cmd[0].endswith(b"clscale") and \
                ("OMPI_COMM_WORLD_RANK=%d" % rank).encode() in env:
            return int(p)
    return None


def test_worker_killed_then_resume(ref):
    out = str(ref / "killed")
    args = ["--sweep", str(ref / "s.json"), "--out", out, "--synthetic-delay", "0.05"] + FAST
    proc = subprocess.Popen(mpi_cmd(3, args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    csv_path = os.path.join(out, "runs.csv")
    deadline = time.time() + 120
    killed = False
    while time.time() < deadline and proc.poll() is None:
        n = len(open(csv_path).read().splitlines()) - 1 if os.path.exists(csv_path) else 0
        if n >= 3:
            pid = rank_pid(2, out)
            if pid:
                os.kill(pid, signal.SIGKILL)
                killed = True
                break
        time.sleep(0.01)
    _, err = proc.communicate(timeout=120)
    if not killed and "on 3 ranks" not in err:
        pytest.skip("clscale built without MPI")
    assert killed, err
    assert proc.returncode != 0, err
    assert "--resume" in err, err
    part = rows(out)
    assert 3 <= len(part) < 12
    want = rows(str(ref / "serial"))
    assert all(r in want for r in part)  # whole rows of the serial sweep, nothing half-written
    r = mpi(3, ["--resume", out] + FAST)
    assert r.returncode == 0, r.stderr
    assert "already finished, skipped" in r.stderr
    assert rows(out) == want
