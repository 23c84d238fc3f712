"""The Python bindings of eval (probe, k-NN), train/embed, the featlearn
bottleneck/frontier and the dynamics fixed points, each against the CLI on the
same input. The C path is the same (the CLI calls the same library function
with the same options), so the numbers must be the same bits. Checkpoints and
embeddings are compared byte for byte; numbers read from the CLI's JSON within
one unit of DBL_EPSILON relative (`same`), because cJSON prints 15 significant
digits whenever those read back within DBL_EPSILON relative of the value, which
is not always the exact double. Bad input raises (ClscaleError with the
library's message, or TypeError/ValueError for what Python checks first),
never a crash."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SRC = Path(os.environ.get("CLS_SOURCE_DIR", Path(__file__).parents[2])).resolve()
sys.path.insert(0, str(SRC / "python"))
import clscale  # noqa: E402
from clscale import ClscaleError  # noqa: E402

BIN = os.environ.get("CLSCALE_BIN", str(SRC / "build" / "clscale"))
MNIST = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def cli(*args, check=True):
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=300)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def same(a, b):
    """Equal up to cJSON's printing: |a - b| <= DBL_EPSILON * max(|a|, |b|), elementwise."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(
        (a == b) | (np.abs(a - b) <= np.finfo(np.float64).eps * np.maximum(np.abs(a), np.abs(b)))))


def cli_json(*args):
    return json.loads(cli(*args, "--json").stdout)


# ---- eval ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def evaldata(tmp_path_factory):
    d = tmp_path_factory.mktemp("pyeval")
    rng = np.random.default_rng(7)
    centres = rng.normal(size=(4, 12)) * 1.1
    y = rng.integers(0, 4, 900)
    x = (centres[y] + rng.normal(size=(900, 12))).astype(np.float32)
    labels = np.array([1, 4, 6, 30])[y]  # non-contiguous label values
    xtr, xte, ytr, yte = x[:600], x[600:], labels[:600], labels[600:]
    for name, a in (("xtr", xtr), ("xte", xte), ("ytr", ytr.astype(np.int64)),
                    ("yte", yte.astype(np.int64))):
        np.save(d / f"{name}.npy", a)
    files = ["--train", d / "xtr.npy", "--train-labels", d / "ytr.npy",
             "--test", d / "xte.npy", "--test-labels", d / "yte.npy"]
    return xtr, ytr, xte, yte, files


def test_probe_matches_cli(evaldata):
    xtr, ytr, xte, yte, files = evaldata
    j = cli_json("eval", *files, "--probe", "--seed", 3, "--threads", 2)
    r = clscale.eval.probe(xtr, ytr, xte, yte, seed=3, threads=2)
    assert same([r.accuracy, r.l2, r.C], [j["probe_accuracy"], j["probe_l2"], j["probe_C"]])
    assert same(r.objective, j["probe_objective"]) and r.iterations == j["probe_iterations"]
    assert same(r.grid, j["probe_grid"])
    assert same(r.grid_accuracy, j["probe_grid_accuracy"])
    assert same(r.per_class, j["probe_per_class"]) and r.classes.tolist() == j["classes"]
    # self-consistency: the predictions give the accuracy; coef/intercept give the predictions
    assert np.mean(r.predictions == yte) == r.accuracy
    z = ((xte - r.mean) / r.scale) @ r.coef.T + r.intercept
    agree = np.mean(r.classes[np.argmax(z, axis=1)] == r.predictions)
    assert agree >= 0.99, agree  # float32 logits in C vs float64 here: ties may differ
    # a non-contiguous float64 view is converted, not refused, and gives the same bits
    wide = np.zeros((xtr.shape[0], 2 * xtr.shape[1]))
    wide[:, ::2] = xtr
    r2 = clscale.eval.probe(wide[:, ::2], ytr, xte, yte, seed=3, threads=2)
    assert r2.objective == r.objective
    c = clscale.eval.probe(xtr, ytr, xte, yte, seed=3, threads=2, confusion=True)
    assert c.confusion.shape == (4, 4) and c.confusion.sum() == len(yte)
    assert np.trace(c.confusion) == np.sum(c.predictions == yte)


@pytest.mark.parametrize("vote", ["weighted", "majority"])
def test_knn_matches_cli_and_numpy(evaldata, vote):
    xtr, ytr, xte, yte, files = evaldata
    j = cli_json("eval", *files, "--knn", 15, "--knn-vote", vote)
    r = clscale.eval.knn(xtr, ytr, xte, yte, k=15, weighted=(vote == "weighted"))
    assert same(r.accuracy, j["knn_accuracy"]) and r.k == j["knn_k"] == 15 and r.n_classes == 4
    if vote == "majority":  # independent: cosine k-NN in float64, ties to the lower index/class
        a = xtr / np.linalg.norm(xtr, axis=1, keepdims=True)
        b = xte / np.linalg.norm(xte, axis=1, keepdims=True)
        s = b.astype(np.float64) @ a.T.astype(np.float64)
        classes = np.unique(ytr)
        pred = []
        for row in s:
            nn = np.lexsort((np.arange(len(row)), -row))[:15]
            votes = np.array([(ytr[nn] == c).sum() for c in classes])
            pred.append(classes[np.argmax(votes)])
        assert np.mean(np.array(pred) == r.predictions) >= 0.99


def test_eval_bad_input(evaldata):
    xtr, ytr, xte, yte, _ = evaldata
    bad = xtr.copy()
    bad[17, 3] = np.nan
    with pytest.raises(ClscaleError, match=r"17\]\[3\] is NaN"):
        clscale.eval.probe(bad, ytr, xte, yte)
    with pytest.raises(ClscaleError, match=r"17\]\[3\] is NaN"):
        clscale.eval.knn(bad, ytr, xte, yte)
    neg = ytr.copy()
    neg[5] = -3
    with pytest.raises(ClscaleError, match=r"\[5\] is -3"):
        clscale.eval.knn(xtr, neg, xte, yte)
    with pytest.raises(ClscaleError):
        clscale.eval.probe(xtr, np.zeros_like(ytr), xte, yte)  # a single class
    with pytest.raises(ValueError, match="columns"):
        clscale.eval.knn(xtr, ytr, xte[:, :5], yte)
    with pytest.raises(ValueError, match="labels"):
        clscale.eval.knn(xtr, ytr[:-1], xte, yte)
    with pytest.raises(ValueError, match="2-D"):
        clscale.eval.probe(xtr[0], ytr[:1], xte, yte)
    with pytest.raises(TypeError, match="integer labels"):
        clscale.eval.knn(xtr, ytr + 0.5, xte, yte)
    with pytest.raises(TypeError):
        clscale.eval.knn(xtr.astype(str), ytr, xte, yte)
    with pytest.raises(ClscaleError):
        clscale.eval.knn(xtr[:0], ytr[:0], xte, yte)  # empty training set


# ---- train / embed ----------------------------------------------------------------

TRAIN = dict(steps=3, batch=64, train_subset=512, width=32, threads=2, log_every=1)
TRAIN_ARGS = ["--steps", 3, "--batch", 64, "--train-subset", 512, "--width", 32, "--threads", 2,
              "--log-every", 1]


@pytest.mark.skipif(not MNIST.exists(), reason="dataset-fashion-mnist is not installed")
def test_train_and_embed_match_cli(tmp_path):
    seen = []
    r = clscale.train(tmp_path / "py", progress=lambda p: seen.append(p["loss"]), **TRAIN)
    j = cli_json("train", "--out", tmp_path / "cli", *TRAIN_ARGS)
    for k in ("steps", "epochs", "final_loss", "params", "flops_per_image", "train_flops", "chunk",
              "start_step", "stopped_early"):
        assert same(getattr(r, k), j[k]), k
    assert len(seen) == 3 and seen[-1] == r.final_loss
    assert (tmp_path / "py/checkpoint.bin").read_bytes() == \
        (tmp_path / "cli/checkpoint.bin").read_bytes()
    X, y = clscale.embed(tmp_path / "py", split="test")
    cli("embed", tmp_path / "cli", "--out", tmp_path / "h.npy", "--labels-out", tmp_path / "y.npy",
        "--split", "test")
    assert X.dtype == np.float32 and X.shape == (10000, 32)
    assert np.array_equal(X, np.load(tmp_path / "h.npy"))
    assert np.array_equal(y, np.load(tmp_path / "y.npy"))
    # a run stopped after 2 of 4 steps (checkpoint written) and resumed from its
    # config.json reaches the uninterrupted CLI run's bits
    half = clscale.train(tmp_path / "half", progress=lambda p: p["step"] >= 2,
                         **dict(TRAIN, steps=4))
    assert half.stopped_early and half.steps == 2
    rest = clscale.train(tmp_path / "half", resume=True)
    assert rest.start_step == 2 and rest.steps == 4
    cli("train", "--out", tmp_path / "cli4", *TRAIN_ARGS[2:], "--steps", 4)
    assert (tmp_path / "half/checkpoint.bin").read_bytes() == \
        (tmp_path / "cli4/checkpoint.bin").read_bytes()


def test_train_pairs_callbacks_and_errors(tmp_path):
    rng = np.random.default_rng(1)
    s = rng.standard_normal((256, 8))
    np.save(tmp_path / "a.npy", (s @ rng.standard_normal((8, 20))).astype(np.float32))
    np.save(tmp_path / "b.npy", (s @ rng.standard_normal((8, 12))).astype(np.float32))
    np.save(tmp_path / "short.npy", np.zeros((255, 12), np.float32))
    pairs = (tmp_path / "a.npy", tmp_path / "b.npy")
    cfg = dict(pairs=pairs, loss="clip", width=16, batch=64, steps=4, threads=2, log_every=1)
    r = clscale.train(tmp_path / "py", **cfg)
    j = cli_json("train", "--out", tmp_path / "cli", "--pairs", *pairs, "--loss", "clip",
                 "--width", 16, "--batch", 64, "--steps", 4, "--threads", 2, "--log-every", 1)
    assert same(r.final_loss, j["final_loss"]) and r.params == j["params"]
    assert (tmp_path / "py/checkpoint.bin").read_bytes() == \
        (tmp_path / "cli/checkpoint.bin").read_bytes()
    # the progress callback stops the run; an exception in it is re-raised here
    s = clscale.train(tmp_path / "stop", progress=lambda p: p["step"] >= 2, **cfg)
    assert s.stopped_early and s.steps == 2

    def boom(p):
        raise KeyError("from the callback")
    with pytest.raises(KeyError, match="from the callback"):
        clscale.train(tmp_path / "boom", progress=boom, **cfg)
    with pytest.raises(ClscaleError, match="rows"):
        clscale.train(tmp_path / "x", **dict(cfg, pairs=(pairs[0], tmp_path / "short.npy")))
    with pytest.raises(ClscaleError, match="nope"):
        clscale.train(tmp_path / "x", **dict(cfg, pairs=(pairs[0], tmp_path / "nope.npy")))
    with pytest.raises(ClscaleError):
        clscale.train(tmp_path / "x", **dict(cfg, model="rnn"))
    with pytest.raises(ValueError, match="infonce"):
        clscale.train(tmp_path / "x", **dict(cfg, loss="infonce"))
    with pytest.raises(TypeError, match="unknown training option"):
        clscale.train(tmp_path / "x", **dict(cfg, batchsize=3))
    with pytest.raises(TypeError, match="unknown augmentation"):
        clscale.train(tmp_path / "x", **dict(cfg, augment={"rotate": 1}))
    for bad in (dict(batch=1), dict(steps=-1), dict(steps=0), dict(lr=0), dict(threads=-2)):
        with pytest.raises(ValueError, match=next(iter(bad))):  # the CLI's ranges
            clscale.train(tmp_path / "x", **dict(cfg, **bad))
    with pytest.raises(ClscaleError):
        clscale.embed(tmp_path / "does-not-exist")
    with pytest.raises(ValueError):
        clscale.embed(tmp_path / "py", split="valid")


# ---- theory entry points -------------------------------------------------------------

def test_featlearn_bottleneck_and_frontier_match_cli():
    j = cli_json("sim", "featlearn", "--M", 300, "--N", 64, "--T", 2000, "--seeds", 2,
                 "--gamma", 0.5, "--bottleneck", "--frontier")
    b = clscale.featlearn_bottleneck(M=300, seeds=2)
    for k in ("N", "measured", "measured_sd", "equivalent", "kappa"):
        assert same(b[k], j["bottleneck"][k]), k
    for k in ("slope_measured", "slope_equivalent", "slope_predicted"):
        assert same(b[k], j["bottleneck"][k]), k
    f = clscale.featlearn_frontier(M=300, N=64, steps=2000, seeds=2, gamma=0.5)
    jf = j["frontier"][0]
    assert f["widths"].tolist() == jf["widths"] == [8, 16, 32, 64]
    assert same(f["C"], jf["C"]) and same(f["loss"], jf["loss"])
    assert f["N_best"].tolist() == jf["N_best"]
    for k in ("exponent", "exponent_predicted", "N_exponent", "fit_points", "loss_increases"):
        assert same(f[k], jf[k]), k
    # explicit widths; bad ones are the library's error
    e = clscale.featlearn_bottleneck(M=300, seeds=2, widths=[50, 100])
    assert e["N"].tolist() == [50, 100] and e["measured"][0] == b["measured"][0]
    with pytest.raises(ClscaleError):
        clscale.featlearn_bottleneck(M=300, widths=[50, 400])  # N must be < M
    with pytest.raises(ValueError, match="M > 142"):
        clscale.featlearn_bottleneck(M=100)
    with pytest.raises(ClscaleError):
        clscale.featlearn_frontier(alpha=0.5, N=64, M=300, steps=100)  # alpha must be > 1


def test_dynamics_fixed_points_match_cli():
    j = cli_json("sim", "dynamics", "--fixed-points", "--tau", 0.4, "--q0", 0.2)
    p = clscale.dynamics_fixed_points(tau=0.4, q0=0.2)
    pts = {x["kind"]: x for x in j["points"]}
    for kind in ("uninformative", "informative"):
        a, c = p[kind], pts[kind]
        assert same([a["q"], a["r"], a["cos"]], [c["q"], c["r"], c["cos"]])
        assert a["stable"] == c["stable"] and same(a["jacobian"], c["jacobian"])
        assert same([(z.real, z.imag) for z in a["eigenvalues"]],
                    [(e["re"], e["im"]) for e in c["eigenvalues"]])
        # independent: the eigenvalues are those of the Jacobian
        ev = np.sort_complex(np.linalg.eigvals(a["jacobian"]))
        assert np.allclose(ev, np.sort_complex(a["eigenvalues"]), rtol=1e-10, atol=1e-12)
    assert p["informative"]["stable"] and 0 < p["informative"]["cos"] <= 1
    with pytest.raises(ClscaleError):
        clscale.dynamics_fixed_points(tau=-1.0)
    with pytest.raises(ClscaleError):
        clscale.dynamics_fixed_points(c="nonsense")


# ---- the example of docs/python.md ------------------------------------------------

@pytest.mark.skipif(not MNIST.exists(), reason="dataset-fashion-mnist is not installed")
def test_doc_example_runs(tmp_path):
    import re
    text = (SRC / "docs" / "python.md").read_text()
    block = re.search(r"## Training, evaluation and the simulators' studies.*?```python\n(.*?)```",
                      text, re.S).group(1)
    small = {"width=256, batch=512, steps=300": "width=16, batch=64, steps=2, train_subset=512",
             "clscale.eval.probe(Xtr, ytr, Xte, yte)":
                 "clscale.eval.probe(Xtr[:2000], ytr[:2000], Xte, yte)",
             "clscale.eval.knn(Xtr, ytr, Xte, yte, k=200)":
                 "clscale.eval.knn(Xtr[:5000], ytr[:5000], Xte, yte, k=200)",
             "N=256, M=1000, gamma=0.5, steps=5000": "N=64, M=1000, gamma=0.5, steps=1000"}
    for k, v in small.items():
        assert k in block, k
        block = block.replace(k, v)
    env = dict(os.environ, PYTHONPATH=str(SRC / "python"))
    p = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, env=env,
                       cwd=tmp_path, timeout=600)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "2 steps, final loss" in out and (tmp_path / "runs/mlp/checkpoint.bin").exists()
    probe = float(re.search(r"probe ([0-9.]+)", out).group(1))
    assert 0.3 < probe <= 1.0, out  # 10 classes, chance 0.1: even 2 steps' features beat it
    slope = float(re.search(r"bottleneck slope (-?[0-9.]+)", out).group(1))
    assert -1.6 < slope < -0.8, out  # predicted -alpha min(1, beta) = -1
    assert "informative point: cos" in out and "stable" in out
