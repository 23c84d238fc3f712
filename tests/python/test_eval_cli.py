"""clscale eval from the command line: JSON keys and values on small synthetic
embeddings (checked against the library through ctypes and by hand), the
--baseline pixels path on a small IDX directory written here, the confusion
CSV, and bad input: each a clear message, exit 1 (data) or 2 (usage)."""
import gzip
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
import eval_ctypes as E  # noqa: E402

BIN = os.environ.get("CLSCALE_BIN", os.path.join(os.path.dirname(__file__), "../../build/clscale"))
KEYS = {"probe_accuracy", "probe_l2", "probe_grid", "probe_per_class", "knn_accuracy", "knn_k", "alpha",
        "alpha_r2", "rankme", "effective_rank", "n_train", "n_test", "dim", "seconds"}


def run(*args):
    return subprocess.run([BIN, "eval", *map(str, args)], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval")
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(4, 16)) * 1.2
    y = rng.integers(0, 4, 1200)
    x = centres[y] + rng.normal(size=(1200, 16))
    labels = np.array([2, 5, 9, 100])[y]
    np.save(d / "xtr.npy", x[:900].astype(np.float32))
    np.save(d / "xte.npy", x[900:])  # float64 features are accepted
    np.save(d / "ytr.npy", labels[:900].astype(np.int32))
    np.save(d / "yte.npy", labels[900:].astype(np.int64))
    return d


def files(d):
    return ["--train", d / "xtr.npy", "--train-labels", d / "ytr.npy", "--test", d / "xte.npy",
            "--test-labels", d / "yte.npy"]


def test_json_all_metrics(data):
    p = run(*files(data), "--json", "--threads", "2", "--confusion", data / "c.csv")
    assert p.returncode == 0, p.stderr
    o = json.loads(p.stdout)
    assert KEYS <= set(o), KEYS - set(o)
    assert o["n_train"] == 900 and o["n_test"] == 300 and o["dim"] == 16 and o["knn_k"] == 200
    assert len(o["probe_grid"]) == 7 and o["probe_l2"] in o["probe_grid"]
    assert o["classes"] == [2, 5, 9, 100] and len(o["probe_per_class"]) == 4
    # the same numbers as the library through ctypes
    xtr, xte = np.load(data / "xtr.npy"), np.load(data / "xte.npy").astype(np.float32)
    ytr, yte = np.load(data / "ytr.npy"), np.load(data / "yte.npy")
    lib = E.library()
    r = E.probe(lib, xtr, ytr, xte, yte, threads=2)
    assert o["probe_accuracy"] == r["accuracy"] and o["probe_l2"] == r["l2"]
    k = E.knn(lib, xtr, ytr, xte, yte)
    assert o["knn_accuracy"] == k["accuracy"]
    assert o["knn_accuracy"] == (E.knn_reference(xtr, ytr, xte) == yte).mean()
    # per-class accuracy from the predictions
    for c, acc in zip(o["classes"], o["probe_per_class"]):
        sel = yte == c
        assert abs(acc - (r["predictions"][sel] == c).mean()) < 1e-12
    rows = (data / "c.csv").read_text().splitlines()
    assert rows[0] == "true\\predicted,2,5,9,100"
    conf = np.array([[int(v) for v in row.split(",")[1:]] for row in rows[1:]])
    assert conf.sum() == 300 and abs(np.trace(conf) / 300 - o["probe_accuracy"]) < 1e-12


def test_single_metrics_and_text(data):
    p = run(*files(data), "--knn", "5", "--knn-vote", "majority", "--json")
    o = json.loads(p.stdout)
    assert p.returncode == 0 and o["knn_k"] == 5 and "probe_accuracy" not in o and "alpha" not in o
    p = run(*files(data), "--probe", "--probe-grid", "0.5:0.5:1", "--json")
    o = json.loads(p.stdout)
    assert p.returncode == 0 and o["probe_grid"] == [0.5] and o["probe_l2"] == 0.5 and "knn_accuracy" not in o
    p = run(*files(data), "--spectrum")
    assert p.returncode == 0 and "alpha" in p.stdout and "RankMe" in p.stdout


def write_idx(path, arr, magic_dims):
    with gzip.open(path, "wb") as f:
        f.write(struct.pack(">I", 0x800 + len(magic_dims)) + b"".join(struct.pack(">I", v) for v in magic_dims))
        f.write(arr.astype(np.uint8).tobytes())


def test_baseline_pixels_small_dir(tmp_path):
    rng = np.random.default_rng(4)
    for split, n in (("train", 300), ("t10k", 100)):
        y = rng.integers(0, 3, n)
        img = np.zeros((n, 6, 6))
        for c in range(3):
            img[y == c, c * 2:c * 2 + 2, :] = 200
        img += rng.integers(0, 50, img.shape)
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", img, (n, 6, 6))
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", y, (n,))
    p = run("--baseline", "pixels", "--data", tmp_path, "--json", "--knn", "10", "--probe")
    assert p.returncode == 0, p.stderr
    o = json.loads(p.stdout)
    assert o["n_train"] == 300 and o["n_test"] == 100 and o["dim"] == 36
    assert o["probe_accuracy"] == 1.0 and o["knn_accuracy"] == 1.0


def test_baseline_random_encoder_small_dir(tmp_path):
    rng = np.random.default_rng(6)
    for split, n in (("train", 120), ("t10k", 40)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 255, (n, 8, 8)), (n, 8, 8))
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", rng.integers(0, 3, n), (n,))
    outs = {}
    for model, width, seed in (("mlp", 24, 0), ("mlp", 24, 0), ("mlp", 24, 1), ("cnn", 4, 0)):
        p = run("--baseline", f"random-{model}", "--width", width, "--seed", seed, "--data", tmp_path,
                "--knn", "7", "--spectrum", "--json", "--threads", "1")
        assert p.returncode == 0, p.stderr
        o = json.loads(p.stdout)
        assert o["dim"] == (width if model == "mlp" else 4 * width) and o["baseline"] == f"random-{model}"
        outs.setdefault((model, seed), []).append(o)
    a, b = outs[("mlp", 0)]
    assert a["knn_accuracy"] == b["knn_accuracy"] and a["rankme"] == b["rankme"]  # seeded: same bits
    assert outs[("mlp", 1)][0]["rankme"] != a["rankme"]  # another seed, another encoder
    fail(run("--baseline", "random-rnn", "--data", tmp_path), 2, "random-cnn")
    fail(run("--baseline", "pixels", "--width", "8", "--data", tmp_path), 2, "--width")


def test_run_dir_embeds_with_the_runs_encoder(tmp_path):
    """clscale eval RUN_DIR: a tiny training run, evaluated through its checkpoint, gives
    the same figures as clscale embed + eval on the exported files."""
    rng = np.random.default_rng(5)
    data = tmp_path / "idx"
    data.mkdir()
    for split, n in (("train", 200), ("t10k", 80)):
        y = rng.integers(0, 2, n)
        img = rng.integers(0, 60, (n, 28, 28))
        img[y == 1, :14, :] += 150
        write_idx(data / f"{split}-images-idx3-ubyte.gz", img, (n, 28, 28))
        write_idx(data / f"{split}-labels-idx1-ubyte.gz", y, (n,))
    out = tmp_path / "run"
    t = subprocess.run([BIN, "train", "--data", data, "--out", out, "--width", "16", "--batch", "64",
                        "--steps", "2", "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert t.returncode == 0, t.stderr
    p = run(out, "--knn", "5", "--probe", "--json", "--threads", "1")
    assert p.returncode == 0, p.stderr
    o = json.loads(p.stdout)
    assert o["n_train"] == 200 and o["n_test"] == 80 and o["dim"] == 16
    for split in ("train", "test"):
        e = subprocess.run([BIN, "embed", out, "--split", split, "--out", tmp_path / f"z_{split}.npy",
                            "--labels-out", tmp_path / f"y_{split}.npy"], capture_output=True, text=True)
        assert e.returncode == 0, e.stderr
    q = run("--train", tmp_path / "z_train.npy", "--train-labels", tmp_path / "y_train.npy", "--test",
            tmp_path / "z_test.npy", "--test-labels", tmp_path / "y_test.npy", "--knn", "5", "--probe",
            "--json", "--threads", "1")
    assert q.returncode == 0, q.stderr
    r = json.loads(q.stdout)
    assert o["knn_accuracy"] == r["knn_accuracy"] and o["probe_accuracy"] == r["probe_accuracy"]


def fail(p, code, *words):
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    for w in words:
        assert w in p.stderr, (w, p.stderr)


def test_bad_input(data, tmp_path):
    d = data
    xtr, ytr = d / "xtr.npy", d / "ytr.npy"
    np.save(tmp_path / "y_short.npy", np.load(ytr)[:-1])
    fail(run("--train", xtr, "--train-labels", tmp_path / "y_short.npy", "--test", d / "xte.npy",
             "--test-labels", d / "yte.npy"), 1, "899 values", "900 rows")
    neg = np.load(ytr).astype(np.int64)
    neg[17] = -3
    np.save(tmp_path / "y_neg.npy", neg)
    fail(run("--train", xtr, "--train-labels", tmp_path / "y_neg.npy", "--test", d / "xte.npy",
             "--test-labels", d / "yte.npy"), 1, "train_labels[17] is -3")
    np.save(tmp_path / "y_float.npy", np.load(ytr).astype(np.float32))
    fail(run("--train", xtr, "--train-labels", tmp_path / "y_float.npy", "--test", d / "xte.npy",
             "--test-labels", d / "yte.npy"), 1, "y_float.npy")
    bad = np.load(d / "xte.npy")
    bad[4, 7] = np.nan
    np.save(tmp_path / "x_nan.npy", bad)
    fail(run("--train", xtr, "--train-labels", ytr, "--test", tmp_path / "x_nan.npy", "--test-labels",
             d / "yte.npy"), 1, "test[4][7]", "NaN")
    bad[4, 7] = np.inf
    np.save(tmp_path / "x_inf.npy", bad)
    fail(run("--train", xtr, "--train-labels", ytr, "--test", tmp_path / "x_inf.npy", "--test-labels",
             d / "yte.npy", "--knn", "3"), 1, "test[4][7]")
    np.save(tmp_path / "x_wide.npy", np.zeros((300, 17), np.float32))
    fail(run("--train", xtr, "--train-labels", ytr, "--test", tmp_path / "x_wide.npy", "--test-labels",
             d / "yte.npy"), 1, "16 columns", "17")
    np.save(tmp_path / "y_one.npy", np.full(900, 4, np.int64))
    fail(run("--train", xtr, "--train-labels", tmp_path / "y_one.npy", "--test", d / "xte.npy",
             "--test-labels", d / "yte.npy"), 1, "single class")
    np.save(tmp_path / "x_empty.npy", np.zeros((0, 16), np.float32))
    np.save(tmp_path / "y_empty.npy", np.zeros(0, np.int64))
    fail(run("--train", xtr, "--train-labels", ytr, "--test", tmp_path / "x_empty.npy", "--test-labels",
             tmp_path / "y_empty.npy"), 1, "no rows")
    fail(run("--train", tmp_path / "missing.npy", "--train-labels", ytr, "--test", d / "xte.npy",
             "--test-labels", d / "yte.npy"), 1, "missing.npy")
    fail(run(tmp_path), 1, "not a training run")
    fail(run(tmp_path / "nope"), 1, "not a directory")
    fail(run("--baseline", "pixels", "--data", tmp_path), 1, "train-images-idx3-ubyte")


def test_usage_errors(data):
    fail(run(), 2, "--train")
    fail(run("--train", data / "xtr.npy"), 2, "go together")
    fail(run(*files(data), "--knn", "0"), 2, "--knn")
    fail(run(*files(data), "--knn-vote", "soft"), 2, "--knn-vote", "soft", "majority")
    fail(run(*files(data), "--probe-grid", "1:0.1:3"), 2, "--probe-grid")
    fail(run(*files(data), "--probe-grid", "1:2"), 2, "LO:HI:N")
    fail(run(*files(data), "--knn", "3", "--confusion", "c.csv"), 2, "--confusion")
    fail(run("--baseline", "random"), 2, "pixels")
    fail(run(*files(data), "--bogus"), 2, "--bogus")
    p = run("--help")
    assert p.returncode == 0 and "--probe-grid" in p.stdout and "--knn-vote" in p.stdout
