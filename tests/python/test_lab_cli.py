"""clscale lab end to end on the synthetic runner (hidden --runner synthetic):
files written, report.html parses with every plot inline and nothing outside
referenced, every number of summary.json shown in the report, the fit
recovers the exponents of a runs.csv generated here with NumPy from a known
law, kill -9 + --resume gives the same runs.csv, bad sweep files and options
give clear errors with exit codes 1 and 2."""
import json
import math
import os
import re
import shutil
import signal
import subprocess
import time
from html.parser import HTMLParser

import numpy as np
import pytest

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")
FAST = ["--bootstrap", "10", "--permutations", "300", "--threads", "2"]
SWEEP = {"grid": {"width": [32, 64, 128, 256], "train_subset": [60000], "steps": [20, 60, 200]}}


def run(args, **kw):
    return subprocess.run([BIN, "lab"] + args, capture_output=True, text=True, timeout=300, **kw)


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack, self.svgs, self.figures, self.refs, self.text = [], 0, 0, [], []
        self.svg_depth = 0

    def handle_starttag(self, tag, attrs):
        if tag == "svg":
            if self.svg_depth == 0:
                self.svgs += 1
            self.svg_depth += 1
        if tag == "figure":
            self.figures += 1
        for k, v in attrs:
            if k in ("src", "href", "xlink:href") and v is not None:
                self.refs.append(v)

    def handle_endtag(self, tag):
        if tag == "svg":
            self.svg_depth -= 1

    def handle_data(self, data):
        if self.svg_depth == 0:
            self.text.append(data)


def json_numbers(o):
    if isinstance(o, bool) or o is None or isinstance(o, str):
        return
    if isinstance(o, (int, float)):
        yield o
    elif isinstance(o, dict):
        for v in o.values():
            yield from json_numbers(v)
    elif isinstance(o, list):
        for v in o:
            yield from json_numbers(v)


def check_report(d, plots):
    for f in ["report.html", "report.md", "summary.json", "runs.csv", "sweep.json"]:
        assert os.path.getsize(os.path.join(d, f)) > 0, f
    html = open(os.path.join(d, "report.html"), encoding="utf-8").read()
    p = Page()
    p.feed(html)
    p.close()
    assert p.figures == 6
    assert p.svgs == (6 if plots else 0)
    # nothing outside the page: only in-page fragment references
    assert all(r.startswith("#") for r in p.refs), p.refs
    assert "<img" not in html and "<script src" not in html and "<link" not in html
    text = " ".join(p.text)
    shown = [float(t) for t in re.findall(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", text)]
    summary = json.load(open(os.path.join(d, "summary.json")))
    missing = []
    for v in json_numbers(summary):
        if not any(abs(s - v) <= 1e-9 * max(1.0, abs(v)) for s in shown):
            missing.append(v)
    assert not missing, "numbers of summary.json not in report.html: %s" % missing[:10]
    return summary


def gp_block(script, name):
    """The rows of the inline data block $name of a gnuplot script."""
    lines = script.split("\n")
    i = lines.index("$%s << EOD" % name)
    j = lines.index("EOD", i)
    return [tuple(float(v) for v in l.split()) for l in lines[i + 1:j]]


def check_frontier_plots(d, summary, plots):
    """The loss/error plots draw the compute frontier the analysis fits: the
    Pareto lower envelope computed here from summary.json's runs, as many
    points as the fit reports, named in the legend of the SVG."""
    if not plots:  # without gnuplot the scripts are not all written
        return
    for key, name, metric in [("loss_frontier", "loss_vs_compute", "heldout_loss"),
                              ("probe_frontier", "error_vs_compute", "probe_error")]:
        pts = sorted((r["flops"], r[metric]) for r in summary["runs"] if r["status"] == "ok")
        env, best = [], math.inf
        for c, y in pts:
            if y < best:
                env.append((c, y))
                best = y
        script = open(os.path.join(d, "plots", name + ".gp")).read()
        front = gp_block(script, "front")
        assert len(front) == len(env) == summary["fit"][key]["n_points"], (front, env)
        for (c, y), (c2, y2) in zip(front, env):  # summary.json rounds to 6 digits, the script to 10
            assert abs(c - c2) <= 1e-5 * c2 and abs(y - y2) <= 1e-5 * y2
        assert "$front with points" in script and "$front with steps" in script
        svg = open(os.path.join(d, "plots", name + ".svg")).read()
        assert "compute frontier (%d runs" % len(env) in svg


@pytest.fixture
def tmp(tmp_path):
    return str(tmp_path)


def test_pipeline_files_html_numbers(tmp):
    sweep = os.path.join(tmp, "s.json")
    json.dump(SWEEP, open(sweep, "w"))
    out = os.path.join(tmp, "lab")
    r = run(["--runner", "synthetic", "--sweep", sweep, "--out", out, "--json"] + FAST)
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    for k in ["runs", "fit", "extrapolation", "optimal", "alpha_accuracy", "seconds"]:
        assert k in obj
    assert len(obj["runs"]) == 12 and all(x["status"] == "ok" for x in obj["runs"])
    assert set(obj["fit"]) == {"loss_frontier", "loss_nd", "probe_frontier", "probe_nd"}
    assert "ci95" in obj["fit"]["loss_nd"] and len(obj["fit"]["loss_nd"]["ci95"]["alpha"]) == 2
    ex = obj["extrapolation"]["loss"]["runs"]
    assert len(ex) == 3 and all({"predicted", "ci95", "measured"} <= set(e) for e in ex)
    assert obj["alpha_accuracy"]["p_value"] > 0
    plots = shutil.which("gnuplot") is not None
    summary = check_report(out, plots)
    assert summary["runs"] == obj["runs"]
    check_frontier_plots(out, summary, plots)
    assert "[12/12]" in r.stderr  # a progress line per run

    # rebuilt from runs.csv and the run files alone: the same summary (but the lab's wall time)
    r2 = run(["--report-only", out, "--json"] + FAST)
    assert r2.returncode == 0, r2.stderr
    again = json.loads(r2.stdout)
    obj.pop("wall_seconds", None)
    assert again == obj

    # without gnuplot: a note in place of every plot, still a valid report
    env = dict(os.environ, PATH="/nonexistent")
    r3 = run(["--report-only", out] + FAST, env=env)
    assert r3.returncode == 0, r3.stderr
    html = open(os.path.join(out, "report.html")).read()
    assert html.count("gnuplot is not installed") >= 5
    check_report(out, False)


def test_fit_recovers_known_law(tmp):
    """runs.csv written here from L = E + A/N^a + B/D^b with 0.5 % noise."""
    rng = np.random.default_rng(3)
    E, A, a, B, b = 1.7, 400.0, 0.45, 900.0, 0.5
    rows = []
    for w in [16, 32, 64, 128, 256, 512, 1024]:
        N = 784 * w + w * w + 128 * w
        for s in [10, 30, 100, 300, 1000, 3000]:
            D = 256 * s
            L = (E + A / N**a + B / D**b) * math.exp(0.005 * rng.standard_normal())
            P = (0.1 + 5 / N**0.3 + 8 / D**0.4) * math.exp(0.005 * rng.standard_normal())
            rows.append(("mlp-w%d-n60000-s%d-seed0" % (w, s), w, s, N, D, 12.0 * N * D, L, P))
    d = os.path.join(tmp, "known")
    os.makedirs(d)
    with open(os.path.join(d, "runs.csv"), "w") as f:
        f.write("id,model,width,train_subset,steps,epochs,batch,seed,status,error,params,samples_seen,flops,"
                "heldout_loss,probe_error,knn_error,alpha,alpha_r2,rankme,seconds\n")
        for (i, w, s, N, D, C, L, P) in rows:
            f.write("%s,mlp,%d,60000,%d,1,0,0,ok,,%d,%d,%r,%r,%r,%r,%r,0.99,%r,1.0\n"
                    % (i, w, s, N, D, C, L, P, P * 1.1, 1 + 3 * P, 100 * (1 - P)))
    r = run(["--report-only", d, "--json", "--no-plots", "--bootstrap", "40", "--permutations", "500"])
    assert r.returncode == 0, r.stderr
    fit = json.loads(r.stdout)["fit"]["loss_nd"]
    p, ci = fit["params"], fit["ci95"]
    # tolerance: exponents within 0.05, E within 3 %, truth inside the 95 % interval
    assert abs(p["alpha"] - a) <= 0.05 and abs(p["beta"] - b) <= 0.05, p
    assert abs(p["E"] - E) <= 0.03 * E, p
    assert ci["alpha"][0] <= a <= ci["alpha"][1] and ci["beta"][0] <= b <= ci["beta"][1], ci
    pr = json.loads(r.stdout)["fit"]["probe_nd"]["params"]
    assert abs(pr["alpha"] - 0.3) <= 0.08 and abs(pr["beta"] - 0.4) <= 0.08, pr
    # alpha was built as 1 + 3 * error: |alpha - 1| against accuracy is a perfect inverse order
    aa = json.loads(r.stdout)["alpha_accuracy"]
    assert aa["spearman"] == pytest.approx(-1.0, abs=1e-9) and aa["p_value"] < 0.01


def test_kill_and_resume_same_runs_csv(tmp):
    sweep = os.path.join(tmp, "s.json")
    json.dump(SWEEP, open(sweep, "w"))
    ref = os.path.join(tmp, "ref")
    r = run(["--runner", "synthetic", "--sweep", sweep, "--out", ref, "--no-plots"] + FAST)
    assert r.returncode == 0, r.stderr
    out = os.path.join(tmp, "killed")
    proc = subprocess.Popen([BIN, "lab", "--runner", "synthetic", "--synthetic-delay", "0.05", "--sweep", sweep,
                             "--out", out, "--no-plots"] + FAST, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    csv = os.path.join(out, "runs.csv")
    deadline = time.time() + 120
    killed_mid_run = False
    while time.time() < deadline:
        n = len(open(csv).read().splitlines()) - 1 if os.path.exists(csv) else 0
        if n >= 3:
            # the 4th run is under way once its checkpoint exists
            ids = [json.loads(x) for x in [open(os.path.join(out, "sweep.json")).read()]][0]["runs"]
            ck = [os.path.join(out, "runs", d, "checkpoint.txt") for d in os.listdir(os.path.join(out, "runs"))]
            partial = [c for c in ck if os.path.exists(c) and open(c).read().strip() not in ("", "10")]
            if partial:
                proc.send_signal(signal.SIGKILL)
                killed_mid_run = True
                break
        time.sleep(0.01)
    proc.wait()
    assert killed_mid_run and len(ids) == 12
    before = len(open(csv).read().splitlines()) - 1
    assert 3 <= before < 12
    r = run(["--runner", "synthetic", "--resume", out, "--no-plots"] + FAST)
    assert r.returncode == 0, r.stderr
    assert "already finished, skipped" in r.stderr
    assert open(csv).read() == open(os.path.join(ref, "runs.csv")).read()
    # a finished lab cannot be started again over itself
    r = run(["--runner", "synthetic", "--sweep", sweep, "--out", out] + FAST)
    assert r.returncode == 1 and "--resume" in r.stderr


def test_failed_run_recorded_and_sweep_goes_on(tmp):
    sweep = os.path.join(tmp, "s.csv")
    open(sweep, "w").write("width,steps\n32,20\n64,20\n128,20\n")
    out = os.path.join(tmp, "f")
    r = run(["--runner", "synthetic", "--synthetic-fail-width", "64", "--sweep", sweep, "--out", out, "--json",
             "--no-plots"] + FAST)
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout)["runs"]
    assert [x["status"] for x in runs] == ["ok", "failed", "ok"]
    assert "width 64 diverged" in runs[1]["error"]
    assert "FAILED" in r.stderr
    # too few runs: laws reported as not fitted, the report is still written
    html = open(os.path.join(out, "report.html")).read()
    assert "not fitted" in html and "cannot" in html


@pytest.mark.parametrize("text,name,msg", [
    ('{"grid": {"width": [64], "depth": [2]}}', "b.json", "unknown key 'depth'"),
    ('{"runs": [{"width": 4, "steps": 5}', "b.json", "not valid JSON"),
    ('{"runs": [{"width": -1, "steps": 5}]}', "b.json", "runs[0]: width = -1"),
    ('{"runs": [{"width": 4, "steps": 5}, {"width": 4, "steps": 5}]}', "b.json", "same run"),
    ("width,steps\n4,five\n", "b.csv", "line 2, column 'steps'"),
    ("", "b.csv", ""),
])
def test_bad_sweep_files(tmp, text, name, msg):
    p = os.path.join(tmp, name)
    open(p, "w").write(text)
    r = run(["--runner", "synthetic", "--sweep", p, "--out", os.path.join(tmp, "x")])
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.startswith("clscale: error:") and msg in r.stderr and name in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(tmp, "x"))


def test_usage_errors(tmp):
    assert run(["--sweep", "/nonexistent.json"]).returncode == 1
    for args in [["--preset", "huge"], ["--threads", "-1"], ["--holdout", "1.5"], ["--bogus"],
                 ["--resume", tmp, "--preset", "demo"], ["--preset", "demo", "--sweep", "x.json"],
                 ["--runner", "magic"], ["extra"]]:
        r = run(args)
        assert r.returncode == 2, (args, r.returncode, r.stderr)
        assert "clscale" in r.stderr
    r = run(["--runner", "synthetic", "--resume", os.path.join(tmp, "none")])
    assert r.returncode == 1 and "sweep.json" in r.stderr
    r = run(["--report-only", os.path.join(tmp, "none")])
    assert r.returncode == 1 and "runs.csv" in r.stderr
    h = run(["--help"])
    assert h.returncode == 0 and "--report-only" in h.stdout and "default" in h.stdout
