"""Cross-check `clscale spectrum` against NumPy on the spec's definitions.

Run with Debian's /usr/bin/python3 (numpy, pytest); CLSCALE_BIN is the CLI.
Tolerances are stated per check."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")


def run(*args, check=True):
    p = subprocess.run([BIN, "spectrum", *map(str, args)], capture_output=True, text=True)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def powerlaw(n, d, alpha, seed, offset=0.0):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d)) * np.arange(1, d + 1) ** (-alpha / 2)
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return (z @ q.T + offset).astype(np.float32)


def cov_eigs(x, center=True):
    x = x.astype(np.float64)
    if center:
        return np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1]
    return np.linalg.eigvalsh(x.T @ x / x.shape[0])[::-1]


def alpha_fit(lam, total, lo, hi, weights="inv"):
    k = np.arange(lo, hi + 1)
    x, y = np.log(k), np.log(lam[lo - 1:hi] / total)
    w = 1.0 / k if weights == "inv" else np.ones_like(x)
    # np.polyfit weights multiply the residuals: sqrt of the LS weights
    slope, icpt = np.polyfit(x, y, 1, w=np.sqrt(w))
    r2 = 1 - np.sum((y - (icpt + slope * x)) ** 2) / np.sum((y - y.mean()) ** 2)
    return -slope, icpt, r2


def entropy_rank(s, eps):
    p = s / s.sum() + eps
    p = p[p > 0]
    return float(np.exp(-(p * np.log(p)).sum()))


@pytest.mark.parametrize("n,d,center,weights", [(3000, 256, True, "inv"), (3000, 256, False, "none"),
                                                  (120, 300, True, "inv")])
def test_against_numpy(tmp_path, n, d, center, weights):
    x = powerlaw(n, d, 1.0, 7, offset=0.5)
    path = tmp_path / "x.npy"
    np.save(path, x)
    csv = tmp_path / "e.csv"
    hi = min(100, min(n, d) - 2)
    p = run(path, "--json", "--fit-range", f"4:{hi}", "--weights", weights,
            "--center" if center else "--no-center", "--eigenvalues-out", csv)
    out = json.loads(p.stdout)
    lam = cov_eigs(x, center)
    full = min(d, n - 1) if center else min(n, d)
    lam = lam[:full]
    got = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert got.shape[0] == full
    # top 100 eigenvalues: 1e-6 relative (float32 input, the target)
    np.testing.assert_allclose(got[:100, 1], lam[:100], rtol=1e-6)
    # the whole spectrum: 1e-8 of the largest eigenvalue, absolute
    # (ranks past the refined top max(100, HI) + 8 carry the float32 blocks' ~2e-9 l1 error)
    np.testing.assert_allclose(got[:, 1], lam, rtol=0, atol=1e-8 * lam[0])
    a, c, r2 = alpha_fit(lam, lam.sum(), 4, hi, weights)
    assert out["alpha"] == pytest.approx(a, rel=1e-6, abs=1e-9)
    assert out["intercept"] == pytest.approx(c, rel=1e-6, abs=1e-9)
    assert out["r2"] == pytest.approx(r2, rel=1e-6, abs=1e-9)
    assert out["fit_range"] == [4, hi] and out["n"] == n and out["d"] == d
    assert out["method"] == "exact" and isinstance(out["warnings"], list)
    xd = x.astype(np.float64)
    # RankMe: singular values of the uncentred X, eps 1e-7 (rel 1e-6)
    s_unc = np.linalg.svd(xd, compute_uv=False)
    assert out["rankme"] == pytest.approx(entropy_rank(s_unc, 1e-7), rel=1e-6)
    # effective rank: singular values of the (centred) X, eps 0 (rel 1e-6)
    s = np.linalg.svd(xd - xd.mean(0) if center else xd, compute_uv=False)[:full]
    assert out["effective_rank"] == pytest.approx(entropy_rank(s, 0.0), rel=1e-6)
    assert out["effective_rank_eig"] == pytest.approx(entropy_rank(lam.clip(0), 0.0), rel=1e-6)
    # participation ratio (rel 1e-9)
    assert out["participation_ratio"] == pytest.approx(lam.sum() ** 2 / (lam ** 2).sum(), rel=1e-9)
    if n < d:
        assert any("finite-n" in w for w in out["warnings"])


def test_bootstrap_and_readable(tmp_path):
    x = powerlaw(600, 64, 1.0, 3)
    path = tmp_path / "x.npy"
    np.save(path, x)
    out = json.loads(run(path, "--json", "--bootstrap", "30", "--seed", "4").stdout)
    lo, hi = out["alpha_ci95"]
    assert lo < hi and out["bootstrap"] == 30
    again = json.loads(run(path, "--json", "--bootstrap", "30", "--seed", "4").stdout)
    assert again["alpha_ci95"] == out["alpha_ci95"]  # deterministic
    p = run(path)  # readable table; hi = 100 > 64: clamped and finite-n warnings on stderr
    assert "alpha" in p.stdout and "RankMe" in p.stdout
    assert "clscale: warning:" in p.stderr and "clamped" in p.stderr


def test_randomized_matches_exact(tmp_path):
    x = powerlaw(3000, 400, 2.0, 5)
    path = tmp_path / "x.npy"
    np.save(path, x)
    e1, e2 = tmp_path / "a.csv", tmp_path / "b.csv"
    ex = json.loads(run(path, "--json", "--method", "exact", "--eigenvalues-out", e1).stdout)
    rz = json.loads(run(path, "--json", "--method", "randomized", "--eigenvalues-out", e2).stdout)
    a = np.loadtxt(e1, delimiter=",", skiprows=1)[:100, 1]
    b = np.loadtxt(e2, delimiter=",", skiprows=1)[:100, 1]
    np.testing.assert_allclose(b, a, rtol=1e-6)  # top 100 on a steep spectrum
    assert rz["alpha"] == pytest.approx(ex["alpha"], abs=1e-6)
    assert rz["rankme"] is None and rz["method"] == "randomized"


def test_errors(tmp_path):
    x = powerlaw(50, 8, 1.0, 1)
    x[7, 3] = np.nan
    bad = tmp_path / "nan.npy"
    np.save(bad, x)
    p = run(bad, check=False)
    assert p.returncode == 1 and "row 7 column 3 is NaN" in p.stderr
    junk = tmp_path / "junk.npy"
    junk.write_bytes(b"\x93NUMPY garbage")
    p = run(junk, check=False)
    assert p.returncode == 1 and p.stderr.startswith("clscale: error:")
    p = run(bad, "--fit-range", "5", check=False)
    assert p.returncode == 2
    p = run(bad, "--method", "fast", check=False)
    assert p.returncode == 2
    p = run(bad, "--bogus", check=False)
    assert p.returncode == 2
    tiny = tmp_path / "tiny.npy"
    np.save(tiny, powerlaw(4, 8, 1.0, 1))
    p = run(tiny, check=False)  # n = 4: 3 ranks, LO = 4
    assert p.returncode == 1 and "needs more eigenvalues" in p.stderr
    const = tmp_path / "const.npy"
    y = powerlaw(400, 16, 1.0, 2)
    y[:, 2] = 1.25
    np.save(const, y)
    out = json.loads(run(const, "--json", "--fit-range", "2:10").stdout)
    assert any("zero variance" in w for w in out["warnings"])


def test_help_lists_every_option():
    p = run("--help")
    for opt in ["--fit-range", "--weights", "--center", "--no-center", "--method", "--bootstrap",
                "--seed", "--eigenvalues-out", "--plot", "--json", "--threads", "--help"]:
        assert opt in p.stdout
    assert "default" in p.stdout


def test_plot(tmp_path):
    x = powerlaw(500, 64, 1.0, 3)
    path = tmp_path / "x.npy"
    np.save(path, x)
    svg = tmp_path / "s.svg"
    p = run(path, "--fit-range", "2:15", "--plot", svg)
    if shutil.which("gnuplot"):
        assert svg.exists() and "<svg" in svg.read_text()
    else:
        assert "note: gnuplot is not installed" in p.stderr
