"""Each NumPy binding against the CLI (`clscale ...`, env CLSCALE_BIN) on the
same input. Where the CLI and the binding run the same C path the results are
compared bit for bit where the CLI writes binary (.npy gradients) and to
cJSON's printing precision where it writes JSON: cJSON prints 15 significant
digits whenever they read back within DBL_EPSILON relative, so JSON numbers are
compared with |x - y| <= 2 eps max(|x|, |y|) (`same`). Where the paths differ
the tolerance is stated at the check."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(os.environ.get("CLS_SOURCE_DIR", Path(__file__).parents[2])) / "python"))
import clscale  # noqa: E402

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")


EPS = np.finfo(np.float64).eps


def same(x, y):
    """Equal up to cJSON's printing: elementwise |x - y| <= 2 eps max(|x|, |y|)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return x.shape == y.shape and bool(np.all(np.abs(x - y) <= 2 * EPS * np.maximum(abs(x), abs(y))))


def cli(*args):
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    d = tmp_path_factory.mktemp("pair")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((120, 16)).astype(np.float32)
    b = rng.standard_normal((150, 16)).astype(np.float32)
    np.save(d / "a.npy", a)
    np.save(d / "b.npy", b)
    np.save(d / "b120.npy", b[:120])
    return d, a, b


@pytest.mark.parametrize("kind,extra", [("clip", ["--normalize"]), ("siglip", ["--bias", "-3"]),
                                        ("ntxent", ["--label-smoothing", "0.1"]),
                                        ("infonce", ["--reduction", "sum"])])
def test_loss_bit_identical_to_cli(pair, kind, extra):
    d, a, b = pair
    bfile = "b.npy" if kind == "infonce" else "b120.npy"
    bb = b if kind == "infonce" else b[:120]
    out = cli("loss", "--a", d / "a.npy", "--b", d / bfile, "--loss", kind, "--logit-scale", 7.5,
              "--grad-a", d / "ga.npy", "--grad-b", d / "gb.npy", "--json", *extra)
    kw = dict(normalize="--normalize" in extra,
              bias=float(extra[1]) if "--bias" in extra else -10.0,
              label_smoothing=float(extra[1]) if "--label-smoothing" in extra else 0.0,
              reduction="sum" if "sum" in extra else "mean")
    r = clscale.loss(a, bb, kind=kind, logit_scale=7.5, **kw)
    assert same(r.loss, out["loss"])
    assert same(r.grad_logit_scale, out["grad_logit_scale"])
    if kind == "siglip":
        assert same(r.grad_bias, out["grad_bias"])
    assert np.array_equal(r.grad_a, np.load(d / "ga.npy"))
    assert np.array_equal(r.grad_b, np.load(d / "gb.npy"))


def test_split_kernels_match_the_one_call(pair):
    """Split forward/backward against cls_loss_compute: a different C path, so
    loss |diff| <= 1e-6 |ref|, gradients max|diff| <= 1e-5 max|g|."""
    _, a, b = pair
    b = b[:120]

    def close(fw, bw, kind, **kw):
        one = clscale.loss(a, b, kind=kind, logit_scale=5.0, **kw)
        assert abs(fw - one.loss) <= 1e-6 * abs(one.loss)
        ga, gb, gs = bw
        assert np.abs(ga - one.grad_a).max() <= 1e-5 * np.abs(one.grad_a).max()
        assert np.abs(gb - one.grad_b).max() <= 1e-5 * np.abs(one.grad_b).max()
        assert abs(gs - one.grad_logit_scale) <= 1e-5 * abs(one.grad_logit_scale) + 1e-7

    loss, row, col = clscale.clip_forward(a, b, logit_scale=5.0)
    close(loss, clscale.clip_backward(a, b, row, col, logit_scale=5.0), "clip")
    loss, row = clscale.infonce_forward(a, b, logit_scale=5.0)
    close(loss, clscale.infonce_backward(a, b, row, logit_scale=5.0), "infonce")
    loss, lse = clscale.ntxent_forward(a, b, logit_scale=5.0)
    close(loss, clscale.ntxent_backward(a, b, lse, logit_scale=5.0), "ntxent")
    r = clscale.siglip_forward_backward(a, b, logit_scale=5.0, bias=-2.0)
    close(r.loss, (r.grad_a, r.grad_b, r.grad_logit_scale), "siglip", bias=-2.0)
    with pytest.raises(ValueError, match="row_lse must have shape"):
        clscale.clip_backward(a, b, row[:5], col, logit_scale=5.0)


@pytest.mark.parametrize("center,method", [(True, "exact"), (False, "auto")])
def test_spectrum_bit_identical_to_cli(pair, tmp_path, center, method):
    d, a, _ = pair
    flag = "--center" if center else "--no-center"
    out = cli("spectrum", d / "a.npy", "--fit-range", "2:12", flag, "--method", method,
              "--bootstrap", 20, "--eigenvalues-out", tmp_path / "eig.csv", "--json")
    for X in (d / "a.npy", a):  # the file (streamed) and the array in memory
        r = clscale.spectrum(X, fit_range=(2, 12), center=center, method=method, bootstrap=20)
        for k in ("alpha", "intercept", "r2", "rankme", "effective_rank",
                  "effective_rank_eig", "participation_ratio"):
            assert same(getattr(r, k), out[k]), k
        assert list(r.fit_range) == out["fit_range"] and r.method == out["method"]
        assert same(r.total, out["total_variance"])
        assert r.warnings == out["warnings"]
    eig = np.loadtxt(tmp_path / "eig.csv", delimiter=",", skiprows=1)
    assert np.allclose(r.eigenvalues, eig[:, 1], rtol=1e-12, atol=0)  # CSV text: %.17g or less


def test_spectrum_float64_and_errors(pair):
    _, a, _ = pair
    r64 = clscale.spectrum(a.astype(np.float64), fit_range=(2, 12))
    r32 = clscale.spectrum(a, fit_range=(2, 12))
    assert abs(r64.alpha - r32.alpha) <= 1e-5 * abs(r64.alpha)  # f32 vs f64 input path
    bad = a.copy()
    bad[7, 3] = np.inf
    with pytest.raises(clscale.ClscaleError, match=r"\[7\].*\[3\]|row 7"):
        clscale.spectrum(bad)
    with pytest.raises(ValueError, match="2-D"):
        clscale.spectrum(a[0])
    with pytest.raises(ValueError, match="method"):
        clscale.spectrum(a, method="fast")


@pytest.fixture(scope="module")
def chin(tmp_path_factory):
    d = tmp_path_factory.mktemp("fit")
    rng = np.random.default_rng(5)
    N = 10 ** rng.uniform(6, 9, 40)
    D = 10 ** rng.uniform(8, 11, 40)
    L = (1.7 + 400 / N ** 0.34 + 410 / D ** 0.28) * np.exp(rng.normal(0, 0.01, 40))
    with open(d / "runs.csv", "w") as f:
        f.write("N,D,L\n")
        for row in zip(N, D, L):
            f.write(",".join(repr(float(v)) for v in row) + "\n")
    return d, N, D, L


def chinchilla_plan_condition(raw, compute, c0=6.0):
    """sum_i |d ln x / d r_i| |r_i| for x = N*, D* of the closed form
    N* = G (C/c0)^a, D* = (C/c0)^b / G, a = beta/s, b = alpha/s, s = alpha + beta,
    ln G = (ln alpha + ln A - ln beta - ln B) / s, raw r = (ln E, ln A, ln B, alpha, beta)."""
    _, lnA, lnB, al, be = raw[:5]
    s, L = al + be, np.log(compute / c0)
    lnG = (np.log(al) + lnA - np.log(be) - lnB) / s
    dG = np.array([0, 1 / s, -1 / s, (1 / al - lnG) / s, (-1 / be - lnG) / s])
    da = np.array([0, 0, 0, -be / s ** 2, al / s ** 2])  # d a; d b = -d a
    dlnN, dlnD = dG + da * L, -da * L - dG
    r = np.abs(np.asarray(raw[:5]))
    return np.array([np.sum(np.abs(dlnN) * r), np.sum(np.abs(dlnD) * r)])


def test_fit_and_plan_bit_identical_to_cli(chin):
    d, N, D, L = chin
    out = cli("fit", d / "runs.csv", "--law", "chinchilla", "--x", "N,D", "--y", "L",
              "--bootstrap", 8, "--seed", 3, "--save", d / "fit.json", "--json")
    f = clscale.fit({"N": N, "D": D}, L, law="chinchilla", bootstrap=8, seed=3, yname="L")
    assert list(f.params) == list(out["params"])
    assert all(same(f.params[k], out["params"][k]) for k in f.params)
    assert all(same(f.ci95[k], out["ci95"][k]) for k in f.ci95)
    assert same(f.objective, out["objective"]) and f.n_starts == out["n_starts"]
    assert f.bootstrap == 8 and f.boot_raw.shape == (8, 5)
    budgets = [1e20, 1e22]
    p_cli = cli("plan", d / "fit.json", "--compute", ",".join(map(str, budgets)), "--json")
    # The CLI plans from fit.json; the fit read back from it plans to the same bits.
    g = clscale.load_fit(d / "fit.json")
    p = clscale.plan(g, compute=budgets)
    for i, row in enumerate(p_cli["plans"]):
        assert same(p.x[i], [row["N"], row["D"]]) and same(p.loss[i], row["loss"])
    # The in-memory fit f is not bit for bit the saved one: cls_fit_save prints
    # with cJSON, which writes 15 significant digits whenever they read back
    # within DBL_EPSILON relative, so each raw parameter (ln E, ln A, ln B,
    # alpha, beta) may move by up to eps |r_i| on the way through fit.json (the
    # portable build, -DCLS_NATIVE=OFF, lands on such values: 1-ulp changes of
    # ln E and ln B, 1.4e-15 relative in N*, D*). The closed form's sensitivity
    # bounds what that does to N*, D*: |d ln x| <= eps * sum_i |d ln x/d r_i| |r_i|,
    # plus a few roundings of ln x itself in exp/pow (the 4 (|ln x| + 1) term).
    assert np.all(np.abs(f.raw - g.raw) <= EPS * np.abs(g.raw))
    p = clscale.plan(f, compute=budgets)
    for i, row in enumerate(p_cli["plans"]):
        x_cli = np.array([row["N"], row["D"]])
        rtol = EPS * (chinchilla_plan_condition(g.raw, budgets[i])
                      + 4 * (np.abs(np.log(x_cli)) + 1))
        assert np.all(np.abs(p.x[i] - x_cli) <= rtol * x_cli), (p.x[i], x_cli, rtol)
        # L = e^lnE + e^(lnA - alpha ln N) + e^(lnB - beta ln D): each term moves by
        # eps (|its exponent's parts|); N*, D* move along C = 6 N D, where L is flat
        lnE, lnA, lnB, al, be = g.raw[:5]
        lnN, lnD = np.log(x_cli)
        t = np.exp([lnE, lnA - al * lnN, lnB - be * lnD])
        ltol = EPS * (t[0] * abs(lnE) + t[1] * (abs(lnA) + abs(al * lnN))
                      + t[2] * (abs(lnB) + abs(be * lnD)) + 4 * row["loss"])
        assert abs(p.loss[i] - row["loss"]) <= ltol, (p.loss[i], row["loss"], ltol)
    # the binding's own save round-trips through the CLI planner
    f.save(d / "fit2.json")
    assert same(cli("plan", d / "fit2.json", "--compute", "1e20", "--json")["plans"][0]["loss"],
                p_cli["plans"][0]["loss"])
    pred = f.predict(np.column_stack([N[:3], D[:3]]))
    assert np.all(np.abs(np.log(pred / L[:3])) < 0.1)


def test_fit_errors(chin):
    _, N, D, L = chin
    with pytest.raises(ValueError, match="takes 2"):
        clscale.fit(N, L, law="chinchilla", bootstrap=0)
    with pytest.raises(clscale.ClscaleError, match="law"):
        clscale.fit(N, L, law="exponential", bootstrap=0)
    bad = L.copy()
    bad[4] = -1
    with pytest.raises(clscale.ClscaleError, match="4"):
        clscale.fit({"N": N, "D": D}, bad, bootstrap=0)


def test_lcl_bit_identical_to_cli():
    args = dict(d=300, M=24, N=200, steps=150, a=1.7, b=2.5, seed=4)
    out = cli("sim", "lcl", *sum(([f"--{k}", v] for k, v in args.items()), []), "--json")
    r = clscale.lcl(**args)
    for k in ("R_star", "approx", "bias", "variance", "cross", "excess", "risk", "t", "lr",
              "D_M", "lr_bound"):
        assert same(r[k], out[k]), k
    e = clscale.lcl(d=300, M=24, N=200, steps=150, mode="E", draws=4)
    oe = cli("sim", "lcl", "--d", 300, "--M", 24, "--N", 200, "--steps", 150, "--mode", "E",
             "--draws", 4, "--json")
    assert same(e["excess"], oe["excess"])
    inf = clscale.lcl(d=300, M=24, N=None, steps=None)
    assert inf["variance"] == 0.0 and inf["t"] == float("inf")
    with pytest.raises(clscale.ClscaleError, match="M"):
        clscale.lcl(d=10, M=20)


def test_lcl_sweep_matches_cli(tmp_path):
    out = cli("sim", "lcl", "--sweep", "S1", "--d", 400, "--grid", "8,16,32", "--no-plot",
              "--out", tmp_path, "--json")
    r = clscale.lcl_sweep("S1", d=400, grid=[8, 16, 32])
    assert same(r["slope"], out["slope_measured"])
    assert same(r["predicted_slope"], out["slope_predicted"]) and r["M"] == out["M"]
    csv = np.genfromtxt(tmp_path / "lcl_S1.csv", delimiter=",", names=True)
    for name, col in r["columns"].items():  # the CSV prints %.10g or so: 1e-9 relative
        assert np.allclose(col, csv[name], rtol=1e-9, atol=0), name
    with pytest.raises(ValueError, match="S1..S6"):
        clscale.lcl_sweep("S7")


def test_dynamics_threshold_matches_cli():
    out = cli("sim", "dynamics", "--threshold", "--json")
    t = clscale.dynamics_threshold()
    for k in ("r_u", "m2_c", "S1", "D0"):
        assert same(t[k], out[k]), k
    assert same(t["growth_rate"][0], out["growth_rate"])


def test_dynamics_bit_identical_to_cli():
    common = ["--T", 2, "--every", 0.5, "--tau", 0.4, "--c", "sparse:m2=2,s=0.5"]
    ode = cli("sim", "dynamics", "--ode-only", *common, "--json")["ode"]
    r = clscale.dynamics_ode(T=2, every=0.5, tau=0.4, c="sparse:m2=2,s=0.5")
    assert same(r["cos"][:, 0, 0], ode["cos"]) and same(r["R"][:, 0, 0], ode["r"])
    sgd = cli("sim", "dynamics", "--sgd-only", "--N", 300, "--seeds", 3, *common, "--json")["sgd"]
    s = clscale.dynamics_sgd(N=300, seeds=3, T=2, every=0.5, tau=0.4, c="sparse:m2=2,s=0.5")
    # the CLI reports the mean over seeds: same numbers, summed in its own order
    assert np.allclose(s["cos"][:, :, 0, 0].mean(axis=0), sgd["cos"], rtol=1e-13, atol=1e-15)
    assert np.allclose(s["R"][:, :, 0, 0].mean(axis=0), sgd["r"], rtol=1e-13, atol=1e-15)
    with pytest.raises(clscale.ClscaleError, match="rho"):
        clscale.dynamics_ode(rho=2.0)


def test_featlearn_bit_identical_to_cli():
    out = cli("sim", "featlearn", "--N", 40, "--M", 90, "--T", 300, "--seeds", 2,
              "--gamma", 0.5, "--json")["runs"][0]
    r = clscale.featlearn(N=40, M=90, steps=300, seeds=2, gamma=0.5)
    assert np.allclose(r["eta_t"], out["eta_t"], rtol=1e-12, atol=0)  # the CLI rounds eta*t
    assert same(r["loss"], out["loss"])
    assert same([w[2] for w in r["windows"]], [s["slope"] for s in out["slopes"]])
    p = clscale.featlearn_predict(2.0, 0.5)
    assert p["regime_name"] == "hard" and p["time_lazy"] == 0.5
    with pytest.raises(clscale.ClscaleError, match="alpha"):
        clscale.featlearn(alpha=0.5)


def test_lcl_schedule_matches_cli():
    out = cli("sim", "lcl", "--d", 300, "--M", 24, "--N", 200, "--schedule", "50:0.1,100:0.05",
              "--json")
    r = clscale.lcl(d=300, M=24, N=200, schedule=[(50, 0.1), (100, 0.05)])
    assert same(r["excess"], out["excess"]) and same(r["t"], out["t"])
    with pytest.raises(ValueError, match="replaces"):
        clscale.lcl(steps=10, schedule=[(5, 0.1)])
