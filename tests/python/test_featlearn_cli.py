"""CLI tests of `clscale sim featlearn`: options, JSON, CSV, plot, errors,
and independent NumPy/SciPy checks of the closed forms it prints."""
import json
import os
import shutil
import subprocess

import numpy as np
import pytest
from scipy import optimize, special

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")


def run(*args):
    return subprocess.run([BIN, "sim", "featlearn", *args], capture_output=True, text=True,
                          timeout=600)


SMALL = ["--N", "300", "--M", "200", "--T", "2000", "--seeds", "2"]


def test_help_lists_every_option_with_default():
    p = run("--help")
    assert p.returncode == 0 and p.stderr == ""
    text = p.stdout
    for opt, default in [("--alpha", "2"), ("--beta", "0.5"), ("--N", "2000"), ("--M", "1000"),
                         ("--gamma", "0,0.5"), ("--eta", "0.1"), ("--batch", "0"),
                         ("--T", "20000"), ("--seeds", "8"), ("--bottleneck", "off"),
                         ("--frontier", "off"), ("--csv", None), ("--plot", None),
                         ("--json", None)]:
        start = text.index("\n  " + opt + " ") if ("\n  " + opt + " ") in text \
            else text.index("\n  " + opt + "\n")
        block = text[start + 3:]
        block = block[:block.find("\n  --")] if "\n  --" in block else block
        if default:
            assert f"(default {default})" in block, (opt, block)


def test_json_runs_slopes_predicted():
    p = run(*SMALL, "--json")
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("\n") == 1
    d = json.loads(p.stdout)
    assert [r["gamma"] for r in d["runs"]] == [0, 0.5]
    for r in d["runs"]:
        assert len(r["eta_t"]) == len(r["loss"]) > 10
        assert r["loss_increases"] == 0
        assert [s["window"] for s in r["slopes"]] == [[3, 10], [10, 30], [30, 100], [100, 200]]
        assert np.all(np.diff(r["loss"]) < 0)
    assert d["predicted"]["lazy"] == pytest.approx(0.5)
    assert d["predicted"]["rich"] == pytest.approx(2 / 3)
    assert d["predicted"]["regime"] == "hard"
    assert d["predicted"]["compute"]["lazy"] == pytest.approx(1 / 3)
    assert d["predicted"]["compute"]["rich"] == pytest.approx(0.4)
    # Feature learning speeds up the hard task.
    lazy, rich = d["runs"]
    assert rich["slopes"][-1]["slope"] > lazy["slopes"][-1]["slope"] + 0.05


def test_lazy_n_inf_curve_against_numpy():
    """--N 0 is infinite width: the runs and lazy_n_inf equal the exact sum
    computed here with NumPy (rtol 1e-9), and for large eta t the closed form
    Gamma(beta)/alpha (2 eta t)^-beta with the tail (1%)."""
    p = run("--N", "0", "--M", "1000", "--T", "20000", "--seeds", "1", "--gamma", "0", "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    k = np.arange(1, 1001, dtype=np.float64)
    lam = k ** -2.0
    c = k ** (-2.0 * 0.5 - 1.0)
    et = np.array(d["runs"][0]["eta_t"])
    steps = np.rint(et / 0.1)
    exact = np.array([np.sum(c * (1 - 0.1 * lam) ** (2 * t)) for t in steps])
    np.testing.assert_allclose(d["runs"][0]["loss"], exact, rtol=1e-9)
    np.testing.assert_allclose(d["lazy_n_inf"], exact, rtol=1e-9)
    kk = np.arange(1, 10**6 + 1, dtype=np.float64)
    for t in [100, 1000, 20000]:
        full = np.sum(kk ** -2.0 * np.exp(2 * t * np.log1p(-0.1 * kk ** -2.0)))
        assert full == pytest.approx(special.gamma(0.5) / 2 * (2 * 0.1 * t) ** -0.5, rel=0.01)


def test_bottleneck_against_scipy_root():
    p = run(*SMALL, "--M", "1000", "--T", "100", "--gamma", "0", "--bottleneck", "--json")
    assert p.returncode == 0, p.stderr
    b = json.loads(p.stdout)["bottleneck"]
    assert b["N"] == [50, 71, 100, 141, 200, 283, 400]
    k = np.arange(1, 1001, dtype=np.float64)
    lam = k ** -2.0
    for N, E, kap in zip(b["N"], b["equivalent"], b["kappa"]):
        root = optimize.brentq(lambda lk: np.sum(lam / (lam + np.exp(lk))) - N, -60, 10,
                               xtol=1e-14)
        assert kap == pytest.approx(np.exp(root), rel=1e-8)
        assert E == pytest.approx(np.sum(k ** -2.0 * np.exp(root) / (lam + np.exp(root))),
                                  rel=1e-8)
    np.testing.assert_allclose(b["measured"], b["equivalent"], rtol=0.15)
    assert b["slope_predicted"] == -1.0


def test_csv_matches_json(tmp_path):
    out = tmp_path / "c.csv"
    p = run(*SMALL, "--gamma", "0,1", "--csv", str(out), "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    rows = np.genfromtxt(out, delimiter=",", names=True)
    assert rows.dtype.names == ("gamma", "step", "eta_t", "loss", "loss_lazy_n_inf")
    for r in d["runs"]:
        sel = rows[rows["gamma"] == r["gamma"]]
        np.testing.assert_allclose(sel["loss"], r["loss"], rtol=1e-15)
        np.testing.assert_allclose(sel["eta_t"], r["eta_t"], rtol=1e-15)


def test_plot(tmp_path):
    out = tmp_path / "p.png"
    p = run(*SMALL, "--T", "500", "--plot", str(out))
    assert p.returncode == 0, p.stderr
    if shutil.which("gnuplot"):
        assert out.stat().st_size > 1000
    else:
        assert "note" in p.stderr
    p = run(*SMALL, "--plot", str(tmp_path / "p.txt"))
    assert p.returncode == 2


def test_frontier_keys():
    p = run("--N", "64", "--M", "400", "--T", "2000", "--eta", "0.5", "--seeds", "1", "--gamma",
            "0", "--frontier", "--json")
    assert p.returncode == 0, p.stderr
    f = json.loads(p.stdout)["frontier"][0]
    assert f["widths"] == [8, 16, 32, 64]
    assert f["exponent_predicted"] == pytest.approx(1 / 3)
    assert np.all(np.diff(f["loss"]) <= 0)  # a lower envelope falls with compute
    assert 0 < f["exponent"] < 1


@pytest.mark.parametrize("args,needle", [
    (["--alpha", "1"], "alpha"), (["--alpha", "0.5"], "alpha"), (["--beta", "0"], "beta"),
    (["--beta", "-1"], "beta"), (["--eta", "0"], "eta"), (["--gamma", "0,-1"], "gamma"),
    (["--M", "0"], "M"), (["--T", "x"], "--T"), (["--seeds", "0"], "seeds"),
    (["--nope"], "--nope"), (["extra"], "extra"), (["--M", "100", "--bottleneck"], "--bottleneck"),
    (["--N", "0", "--frontier"], "--frontier"), (["--plot", "p.jpg"], "p.jpg")])
def test_usage_errors(args, needle):
    p = run(*args)
    assert p.returncode == 2
    assert p.stderr.startswith("clscale: error:") and needle in p.stderr
    assert p.stdout == ""


def test_unstable_eta():
    # Diverges: an error (exit 1) that names the step and the increase count.
    p = run("--N", "0", "--M", "50", "--T", "500", "--seeds", "1", "--gamma", "0", "--eta", "3")
    assert p.returncode == 1
    assert "diverged" in p.stderr and "loss increases" in p.stderr
    # Unstable but short: a warning with the count, and the count in the JSON.
    p = run("--N", "0", "--M", "50", "--T", "30", "--seeds", "1", "--gamma", "0", "--eta", "2.05",
            "--json")
    assert p.returncode == 0, p.stderr
    assert "warning" in p.stderr and "rose on" in p.stderr
    assert json.loads(p.stdout)["runs"][0]["loss_increases"] > 0
