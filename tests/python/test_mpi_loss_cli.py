"""`mpirun -np P clscale loss` against the single-process `clscale loss`.

Each rank reads only its row range of A and B, the ring computes the global
loss, the gradients are written as one .npy (every rank writes its rows at
their offset into a preallocated PATH.partial; rank 0 renames it to PATH).
Checks (uneven shards: 53 rows over 2 and 3 ranks; CLIP, NT-Xent, SigLIP, InfoNCE with 41 queries
and 67 keys split independently, labels given):
- P = 1 under mpirun: the same loss digits and byte-identical gradient files;
- P = 2, 3: loss |diff| <= 1e-6 |ref|, gradients max|diff| <= 1e-6 max|g|
  against the single-process files (which test_loss_torch checks against
  PyTorch), and no PATH.partial left behind;
- a NaN in the rows of the last rank: exit status != 0, the message names the
  rank, the file, row and column, and no gradient file is written.
Skipped when mpirun is missing or the CLI was built without MPI.
"""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")
MPIRUN = shutil.which("mpirun")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")

pytestmark = pytest.mark.skipif(MPIRUN is None, reason="mpirun not found")


def single(*args):
    r = subprocess.run([BIN, "loss", *map(str, args)], capture_output=True, text=True, env=ENV)
    assert r.returncode == 0, r.stderr
    return r


def mpi(P, *args):
    return subprocess.run([MPIRUN, "--oversubscribe", "-np", str(P), BIN, "loss", *map(str, args)],
                          capture_output=True, text=True, env=ENV, timeout=120)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("mpi")
    rng = np.random.default_rng(7)
    np.save(d / "A.npy", (0.3 * rng.standard_normal((53, 24))).astype(np.float32))
    np.save(d / "B.npy", (0.3 * rng.standard_normal((53, 24))).astype(np.float32))
    np.save(d / "Q.npy", (0.3 * rng.standard_normal((41, 24))).astype(np.float32))
    np.save(d / "K.npy", rng.standard_normal((67, 24)))  # float64 keys
    np.save(d / "L.npy", (np.arange(41) * 5 + 2) % 67)
    r = mpi(1, "--help")
    if r.returncode != 0:
        pytest.skip("mpirun cannot start processes here: " + r.stderr[-300:])
    return d


CASES = {
    "clip": ["--a", "A.npy", "--b", "B.npy", "--tile", "8"],
    "siglip": ["--a", "A.npy", "--b", "B.npy", "--loss", "siglip", "--logit-scale", "10", "--tile", "8"],
    "ntxent": ["--a", "A.npy", "--b", "B.npy", "--loss", "ntxent", "--logit-scale", "5", "--label-smoothing", "0.1"],
    "clip-normalize-smoothing": ["--a", "A.npy", "--b", "B.npy", "--normalize", "--label-smoothing", "0.1",
                                 "--reduction", "sum"],
    "infonce-labels": ["--a", "Q.npy", "--b", "K.npy", "--loss", "infonce", "--labels", "L.npy", "--tile", "16"],
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("P", [1, 2, 3])
def test_same_files_as_single_process(data, case, P):
    args = [str(data / x) if x.endswith(".npy") else x for x in CASES[case]]
    ref = json.loads(single(*args, "--threads", "1", "--json", "--grad-a", data / f"{case}_ga.npy",
                            "--grad-b", data / f"{case}_gb.npy").stdout)
    ga, gb = data / f"{case}_ga_{P}.npy", data / f"{case}_gb_{P}.npy"
    r = mpi(P, *args, "--threads", "1", "--json", "--grad-a", ga, "--grad-b", gb)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
    assert len(lines) == 1, r.stdout  # rank 0 alone prints
    out = json.loads(lines[0])
    if "ranks" not in out:
        pytest.skip("clscale built without MPI")
    assert out["ranks"] == P
    assert abs(out["loss"] - ref["loss"]) <= 1e-6 * abs(ref["loss"])
    assert abs(out["grad_logit_scale"] - ref["grad_logit_scale"]) <= 1e-6 * max(1.0, abs(ref["grad_logit_scale"]))
    if "grad_bias" in ref:
        assert abs(out["grad_bias"] - ref["grad_bias"]) <= 1e-6 * max(1e-3, abs(ref["grad_bias"]))
    for mine, theirs in ((ga, data / f"{case}_ga.npy"), (gb, data / f"{case}_gb.npy")):
        x, y = np.load(mine), np.load(theirs)
        assert x.dtype == np.float32 and x.shape == y.shape
        if P == 1:
            assert mine.read_bytes() == theirs.read_bytes()
        assert np.abs(x - y).max() <= 1e-6 * np.abs(y).max()
        assert not os.path.exists(str(mine) + ".partial")


def test_bad_rows_on_one_rank_end_the_job(data, tmp_path):
    b = np.load(data / "B.npy")
    b[50, 3] = np.nan  # rows 35..52 belong to rank 2 of 3
    np.save(tmp_path / "Bnan.npy", b)
    r = mpi(3, "--a", data / "A.npy", "--b", tmp_path / "Bnan.npy", "--grad-a", tmp_path / "ga.npy")
    assert r.returncode != 0
    assert "rank 2" in r.stderr and "Bnan.npy" in r.stderr and "row 50" in r.stderr and "NaN" in r.stderr, r.stderr
    assert not (tmp_path / "ga.npy").exists() and not (tmp_path / "ga.npy.partial").exists()
