"""CLI checks for `clscale sim dynamics`: options, JSON structures, CSV, exit codes.

Cheap settings only (small N, short T); the numerics are tested in test_dynamics.c.
"""
import csv
import json
import os
import subprocess

import pytest

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")


def run(*args):
    return subprocess.run([BIN, "sim", "dynamics", *args], capture_output=True, text=True, timeout=600)


def run_json(*args):
    p = run(*args, "--json")
    assert p.returncode == 0, p.stderr
    lines = p.stdout.strip().splitlines()
    assert len(lines) == 1, "--json prints one line"
    return json.loads(lines[0])


def test_help_lists_every_option_with_defaults():
    p = run("--help")
    assert p.returncode == 0
    for opt, default in [("--N", "2000"), ("--K", "1"), ("--p", "1"), ("--tau", "0.5"), ("--mu", "1"),
                         ("--eps", "0"), ("--rho", "0"), ("--lambda", "1"), ("--c", "rademacher:m2=2"),
                         ("--q0", "0.1"), ("--r0", "1"), ("--T", "16"), ("--dt", "0.01"), ("--every", "0.1"),
                         ("--seeds", "16")]:
        line = [l for l in p.stdout.splitlines() if l.strip().startswith(opt + " ")]
        assert line, opt
        assert "default " + default in p.stdout, (opt, default)
    for flag in ["--ode-only", "--sgd-only", "--threshold", "--fixed-points", "--basins", "--csv", "--plot", "--json"]:
        assert flag in p.stdout


def test_json_k1_p1_ode_and_sgd(tmp_path):
    out = run_json("--N", "400", "--seeds", "4", "--T", "2", "--every", "0.5", "--csv", str(tmp_path / "t.csv"))
    assert set(out["ode"]) >= {"t", "cos", "r"}
    assert set(out["sgd"]) >= {"t", "cos", "r", "cos_sd"}
    assert out["ode"]["t"] == [0, 0.5, 1, 1.5, 2]
    assert all(isinstance(v, float) or isinstance(v, int) for v in out["sgd"]["cos"])
    assert out["ode"]["cos"][0] == pytest.approx(0.1) and out["sgd"]["cos"][0] == pytest.approx(0.1)
    assert out["sgd"]["cos_sd"][0] == pytest.approx(0.0, abs=1e-12)
    # the ODE at t = 2 (spec: .150 / .498)
    assert out["ode"]["cos"][-1] == pytest.approx(0.150, abs=0.005)
    assert out["ode"]["r"][-1] == pytest.approx(0.498, abs=0.005)
    rows = list(csv.DictReader(open(tmp_path / "t.csv")))
    assert len(rows) == 5 and float(rows[-1]["ode_cos_1_1"]) == pytest.approx(out["ode"]["cos"][-1], abs=1e-6)


def test_json_general_k_p_matrices():
    out = run_json("--K", "2", "--p", "3", "--N", "300", "--seeds", "2", "--T", "1", "--every", "1")
    for side in ("ode", "sgd"):
        cos = out[side]["cos"]
        assert len(cos) == 2 and len(cos[0]) == 3 and len(cos[0][0]) == 2  # time x p x K
        r = out[side]["r"]
        assert len(r[0]) == 2 and len(r[0][0]) == 2  # K x K
    assert len(out["sgd"]["cos_sd"][1]) == 3


def test_threshold_and_fixed_points():
    th = run_json("--threshold", "--eps", "0.7", "--rho", "-1")
    assert th["r_u"] == pytest.approx(0.1833, abs=1e-3)
    assert th["m2_c"] == pytest.approx(1.4500, abs=1e-3)
    assert th["growth_rate"] > 0
    fp = run_json("--fixed-points")
    kinds = [p["kind"] for p in fp["points"]]
    assert kinds == ["uninformative", "informative"]
    u, i = fp["points"]
    assert u["eigenvalues"][0]["re"] == pytest.approx(0.28694, abs=1e-4)  # = growth rate
    assert not u["stable"] and i["stable"]
    assert i["cos"] == pytest.approx(0.960, abs=1e-3)


def test_plot_with_or_without_gnuplot(tmp_path):
    png = tmp_path / "cos.png"
    p = run("--N", "200", "--seeds", "2", "--T", "1", "--every", "0.5", "--plot", str(png))
    assert p.returncode == 0, p.stderr
    assert png.exists() or "gnuplot is not installed" in p.stderr


@pytest.mark.parametrize("args, word", [
    (["--eps", "-0.1"], "eps"),
    (["--rho", "1.5"], "rho"),
    (["--c", "table:1:1.2,-1:-0.2"], "negative"),
    (["--K", "5", "--N", "5"], "--K"),
    (["--p", "3", "--N", "2"], "--p"),
    (["--seeds", "0"], "--seeds"),
    (["--ode-only", "--sgd-only"], "exclude"),
    (["--bogus"], "unknown option"),
    (["--plot", "x.jpg"], ".png"),
])
def test_bad_input_is_a_usage_error(args, word):
    p = run(*args)
    assert p.returncode == 2
    assert p.stderr.startswith("clscale: error:") and word in p.stderr, p.stderr
    assert p.stdout == ""
