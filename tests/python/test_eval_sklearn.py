"""Linear probe vs scikit-learn's LogisticRegression (multinomial, lbfgs) at the
same C = 1/lambda, and k-NN vs a brute-force NumPy reference.

Probe: synthetic non-separable and separable blobs and a Fashion-MNIST pixel
subset; the objective sum(log-loss) + ||W||^2/(2C) evaluated in float64 NumPy
at both solutions agrees within 1e-5 relative, test accuracy within 0.2
points, the standardisation equals StandardScaler's. k-NN: predictions
identical to tests/python/eval_ctypes.knn_reference on several shapes, with
exact ties, under several chunk sizes and thread counts."""
import gzip
import os
import sys

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.dirname(__file__))
import eval_ctypes as E  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"
LIB = E.library()


def blobs(rng, n, d, k, sep):
    centres = rng.normal(size=(k, d)) * sep
    y = rng.integers(0, k, n)
    return (centres[y] + rng.normal(size=(n, d))).astype(np.float32), y


def compare_with_sklearn(xtr, ytr, xte, yte, lam):
    C = 1.0 / lam
    # one thread each: quick and steady on a shared machine (thread invariance: tests/test_eval.c)
    r = E.probe(LIB, xtr, ytr, xte, yte, grid_n=1, grid_lo=lam, grid_hi=lam, threads=1, tol=1e-8, max_iter=5000)
    sc = StandardScaler().fit(xtr.astype(np.float64))
    np.testing.assert_allclose(r["mean"], sc.mean_, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(r["scale"], sc.scale_, rtol=1e-6, atol=1e-9)
    xs, xts = sc.transform(xtr.astype(np.float64)), sc.transform(xte.astype(np.float64))
    classes, yi = np.unique(ytr, return_inverse=True)
    with threadpool_limits(limits=1):
        m = LogisticRegression(C=C, tol=1e-10, max_iter=20000).fit(xs, yi)
    f_ours = E.objective(r["coef"], r["intercept"], xs, yi, C)
    f_sk = E.objective(m.coef_, m.intercept_, xs, yi, C)
    # |f_ours - f_sk| <= 1e-5 |f_sk|; ours is not worse than sklearn's beyond that
    assert abs(f_ours - f_sk) <= 1e-5 * abs(f_sk), (f_ours, f_sk)
    assert abs(r["objective"] - f_ours) <= 1e-5 * abs(f_ours), (r["objective"], f_ours)
    acc_sk = float((classes[m.predict(xts)] == yte).mean())
    assert abs(r["accuracy"] - acc_sk) <= 0.002 + 1e-12, (r["accuracy"], acc_sk)
    assert r["l2"] == lam and abs(r["C"] - C) <= 1e-12 * C
    return r, acc_sk


def test_probe_nonseparable():
    rng = np.random.default_rng(0)
    xtr, ytr = blobs(rng, 3000, 20, 4, 0.5)
    xte, yte = xtr[2000:], ytr[2000:]
    xtr, ytr = xtr[:2000], ytr[:2000]
    for lam in (0.1, 10.0):
        r, acc = compare_with_sklearn(xtr, ytr, xte, yte, lam)
        assert 0.5 < r["accuracy"] < 0.99


def test_probe_separable_noncontiguous_labels():
    rng = np.random.default_rng(1)
    x, y = blobs(rng, 1500, 10, 3, 8.0)
    y = np.array([3, 11, 50])[y]
    r, acc = compare_with_sklearn(x[:1000], y[:1000], x[1000:], y[1000:], 1.0)
    assert r["accuracy"] == 1.0
    assert list(r["classes"]) == [3, 11, 50]
    assert set(np.unique(r["predictions"])) <= {3, 11, 50}


def load_fmnist(n_train, n_test):
    def images(name, n):
        with gzip.open(os.path.join(FMNIST, name)) as f:
            return np.frombuffer(f.read(), np.uint8, offset=16)[: n * 784].reshape(n, 784).astype(np.float32) / 255

    def labels(name, n):
        with gzip.open(os.path.join(FMNIST, name)) as f:
            return np.frombuffer(f.read(), np.uint8, offset=8)[:n].astype(np.int64)

    return (images("train-images-idx3-ubyte.gz", n_train), labels("train-labels-idx1-ubyte.gz", n_train),
            images("t10k-images-idx3-ubyte.gz", n_test), labels("t10k-labels-idx1-ubyte.gz", n_test))


@pytest.mark.skipif(not os.path.exists(FMNIST), reason="dataset-fashion-mnist not installed")
def test_probe_pixel_subset():
    xtr, ytr, xte, yte = load_fmnist(1000, 1000)
    r, acc = compare_with_sklearn(xtr, ytr, xte, yte, 100.0)
    assert 0.70 < r["accuracy"] < 0.90  # 1000 training images


def test_probe_grid_choice():
    rng = np.random.default_rng(2)
    x, y = blobs(rng, 2000, 30, 5, 0.4)
    r = E.probe(LIB, x[:1500], y[:1500], x[1500:], y[1500:], grid_lo=1e-2, grid_hi=1e3, grid_n=6, threads=2)
    np.testing.assert_allclose(r["grid"], np.logspace(3, -2, 6), rtol=1e-12)
    best = r["grid_accuracy"].max()
    # the chosen lambda is the largest one reaching the best held-out accuracy
    assert r["l2"] == r["grid"][np.flatnonzero(r["grid_accuracy"] == best)[0]]
    again = E.probe(LIB, x[:1500], y[:1500], x[1500:], y[1500:], grid_lo=1e-2, grid_hi=1e3, grid_n=6, threads=1)
    assert again["objective"] == r["objective"] and again["l2"] == r["l2"]


KNN_SHAPES = [  # n_train, n_test, dim, classes, k
    (500, 100, 8, 3, 50),
    (2000, 300, 32, 10, 200),
    (50, 20, 4, 5, 200),  # k > n_train: clamped
    (3000, 64, 64, 100, 200),
]


@pytest.mark.parametrize("shape", KNN_SHAPES)
@pytest.mark.parametrize("weighted", [1, 0])
def test_knn_reference(shape, weighted):
    n, m, d, K, k = shape
    rng = np.random.default_rng(n + d)
    x, y = blobs(rng, n + m, d, K, 0.7)
    y = y * 3 + 1  # non-contiguous labels
    ref = E.knn_reference(x[:n], y[:n], x[n:], k=k, weighted=bool(weighted))
    first = None
    for chunk, threads in [(0, 2), (1, 1), (13, 3)]:
        r = E.knn(LIB, x[:n], y[:n], x[n:], y[n:], k=k, weighted=weighted, chunk=chunk, threads=threads)
        np.testing.assert_array_equal(r["predictions"], ref)
        assert r["accuracy"] == (ref == y[n:]).mean()
        first = first or r["accuracy"]


@pytest.mark.parametrize("weighted", [1, 0])
def test_knn_ties(weighted):
    # small integer features: many exactly equal similarities and equal votes
    rng = np.random.default_rng(7)
    xtr = rng.integers(-1, 2, size=(400, 3)).astype(np.float32)
    xtr[np.abs(xtr).sum(1) == 0] = 1
    ytr = rng.integers(0, 4, 400) * 10
    xte = rng.integers(-1, 2, size=(150, 3)).astype(np.float32)
    xte[np.abs(xte).sum(1) == 0] = 1
    yte = rng.integers(0, 4, 150) * 10
    for k in (1, 2, 7, 40):
        ref = E.knn_reference(xtr, ytr, xte, k=k, weighted=bool(weighted))
        for chunk, threads in [(0, 1), (1, 2), (16, 3)]:
            r = E.knn(LIB, xtr, ytr, xte, yte, k=k, weighted=weighted, chunk=chunk, threads=threads)
            np.testing.assert_array_equal(r["predictions"], ref, err_msg=f"k={k} chunk={chunk}")
