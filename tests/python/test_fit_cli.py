"""The fit and plan commands end to end: JSON keys, exit codes, error
messages, the plan against the closed form computed here, and save/plot."""
import json
import os
import subprocess

import numpy as np

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")
DATA = os.environ["CLS_DATA_DIR"]
EPOCH = os.path.join(DATA, "chinchilla-epoch", "svg_extracted_data.csv")
OPENCLIP = os.path.join(DATA, "openclip-scaling", "zeroshot_results.csv")


def run(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True)


def test_help_lists_options():
    r = run("fit", "--help")
    assert r.returncode == 0
    for opt in ["--law", "--x", "--y", "--where", "--group", "--frontier", "--bins", "--bootstrap",
                "--seed", "--drop-top", "--save", "--plot", "--threads", "--json",
                "--tokens-from-compute", "--one-minus-y"]:
        assert opt in r.stdout, opt
    assert run("plan", "--help").returncode == 0


def test_openclip_json():
    r = run("fit", OPENCLIP, "--law", "power", "--x", "gmacs_total", "--y", "acc1", "--one-minus-y",
            "--where", "downstream_dataset=imagenet1k", "--where", "upstream_dataset!=CLIP-WIT",
            "--frontier", "binned", "--bootstrap", "200", "--json")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().split("\n")
    assert len(lines) == 1
    o = json.loads(lines[0])
    for k in ["law", "params", "ci80", "ci95", "objective", "n_points", "starts_converged_fraction",
              "warnings"]:
        assert k in o, k
    assert abs(o["params"]["A"] - 5.858) <= 5e-4
    assert abs(o["params"]["alpha"] - 0.1114) <= 5e-5
    lo, hi = o["ci95"]["alpha"]
    assert lo <= o["params"]["alpha"] <= hi


def test_epoch_save_plan_plot(tmp_path):
    fit_json = tmp_path / "fit.json"
    png = tmp_path / "fit.png"
    r = run("fit", EPOCH, "--law", "chinchilla", "--x", "Model Size,Training FLOP",
            "--tokens-from-compute", "--y", "loss", "--drop-top", "5", "--bootstrap", "100",
            "--save", str(fit_json), "--plot", str(png), "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert set(o["allocation"]) == {"a", "b", "G"}
    assert set(o["params"]) == {"E", "A", "B", "alpha", "beta"}
    assert o["n_points"] == 240
    p = o["params"]
    al, be = p["alpha"], p["beta"]
    assert abs(o["allocation"]["a"] - be / (al + be)) < 1e-12
    G = (al * p["A"] / (be * p["B"])) ** (1 / (al + be))
    assert abs(o["allocation"]["G"] - G) <= 1e-9 * G
    if subprocess.run(["sh", "-c", "command -v gnuplot"], capture_output=True).returncode == 0:
        assert png.exists() and png.stat().st_size > 1000
    r = run("plan", str(fit_json), "--compute", "1e21,1e24", "--json")
    assert r.returncode == 0, r.stderr
    plans = json.loads(r.stdout)["plans"]
    a, b = be / (al + be), al / (al + be)
    for q, C in zip(plans, [1e21, 1e24]):
        assert abs(q["N"] - G * (C / 6) ** a) <= 1e-8 * q["N"]
        assert abs(q["D"] - (C / 6) ** b / G) <= 1e-8 * q["D"]
        loss = p["E"] + p["A"] / q["N"] ** al + p["B"] / q["D"] ** be
        assert abs(q["loss"] - loss) <= 1e-9 * loss
        lo, hi = q["ci95"]["N"]
        assert lo <= q["N"] <= hi
    # Numerical planner under a different cost model still meets the budget.
    r = run("plan", str(fit_json), "--compute", "1e22", "--cost-factor", "8", "--cost-powers",
            "1,1.2", "--json")
    assert r.returncode == 0, r.stderr
    q = json.loads(r.stdout)["plans"][0]
    assert abs(8 * q["N"] * q["D"] ** 1.2 - 1e22) <= 1e-8 * 1e22


def test_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("N,L\n1e8,3.1\n2e8,oops\n")
    r = run("fit", str(bad), "--law", "power", "--x", "N", "--y", "L")
    assert r.returncode == 1
    assert "line 3" in r.stderr and "'L'" in r.stderr and r.stderr.startswith("clscale: error:")
    neg = tmp_path / "neg.csv"
    neg.write_text("N,L\n1e8,3.1\n-2e8,3.0\n1e10,2.0\n")
    r = run("fit", str(neg), "--law", "power", "--x", "N", "--y", "L")
    assert r.returncode == 1 and "line 3" in r.stderr and "not positive" in r.stderr
    r = run("fit", str(neg), "--law", "chinchilla", "--x", "N", "--y", "L")
    assert r.returncode == 2 and "2 --x columns" in r.stderr
    r = run("fit", EPOCH, "--law", "power", "--x", "nope", "--y", "loss")
    assert r.returncode == 1 and "no column 'nope'" in r.stderr
    r = run("fit", EPOCH, "--law", "cubic", "--x", "loss", "--y", "loss")
    assert r.returncode == 2
    few = tmp_path / "few.csv"
    few.write_text("N,D,L\n1e8,1e9,3\n1e9,1e10,2.5\n1e10,1e11,2.2\n")
    r = run("fit", str(few), "--law", "chinchilla", "--x", "N,D", "--y", "L")
    assert r.returncode == 1 and "too few points" in r.stderr
    r = run("plan", str(few), "--compute", "1e20")
    assert r.returncode == 1
    r = run("plan", "--compute", "1e20")
    assert r.returncode == 2


def test_narrow_range_warning(tmp_path):
    rng = np.random.default_rng(0)
    x = np.linspace(1e8, 5e8, 12)
    y = 1.5 + 40 * x ** -0.2 * np.exp(0.01 * rng.standard_normal(12))
    f = tmp_path / "narrow.csv"
    f.write_text("x,y\n" + "".join(f"{a!r},{b!r}\n" for a, b in zip(x, y)))
    r = run("fit", str(f), "--law", "saturating", "--x", "x", "--y", "y", "--bootstrap", "20", "--json")
    assert r.returncode == 0, r.stderr
    o = json.loads(r.stdout)
    assert any("less than one decade" in w for w in o["warnings"])
    assert "clscale: warning:" in r.stderr


def test_group_bootstrap():
    # Cluster bootstrap over the 29 LAION runs grouped by architecture (5 groups:
    # too few, so a warning) against the point bootstrap: same fit, other intervals.
    base = [OPENCLIP, "--law", "power", "--x", "gmacs_total", "--y", "acc1", "--one-minus-y",
            "--where", "downstream_dataset=imagenet1k", "--where", "upstream_dataset!=CLIP-WIT",
            "--bootstrap", "200", "--json"]
    r1 = run("fit", *base)
    r2 = run("fit", *base, "--group", "arch")
    assert r1.returncode == 0 and r2.returncode == 0, r2.stderr
    o1, o2 = json.loads(r1.stdout), json.loads(r2.stdout)
    assert o1["params"] == o2["params"]
    assert o1["ci95"] != o2["ci95"]
    assert any("groups to resample" in w for w in o2["warnings"])
