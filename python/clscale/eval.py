"""Frozen-representation evaluation (include/clscale/eval.h): a linear probe
and k-NN on any embeddings + labels, NumPy in and out, as `clscale eval`.

    r = clscale.eval.probe(train, ytrain, test, ytest)   # r.accuracy, r.C, ...
    k = clscale.eval.knn(train, ytrain, test, ytest, k=20)

Features are converted to C-contiguous float32 (a copy only when needed),
labels to int64. The library checks the values (NaN/Inf features, negative
labels, a single class) and a failure raises ClscaleError with its message.
"""
import ctypes
from dataclasses import dataclass
from typing import Optional

import numpy as np

from . import _abi
from ._lib import C, check, load, f32p, i64p
from ._loss import as_matrix, ptr


@dataclass
class ProbeResult:
    accuracy: float           # test accuracy in [0, 1]
    l2: float                 # the chosen lambda (= 1/C)
    C: float
    grid: np.ndarray          # the lambdas tried, descending
    grid_accuracy: np.ndarray  # held-out accuracy of each
    classes: np.ndarray       # label value of each class (increasing)
    per_class: np.ndarray     # test accuracy per class (NaN if absent from test)
    confusion: Optional[np.ndarray]  # K x K [true][predicted] when confusion=True
    predictions: np.ndarray   # predicted label per test row
    coef: np.ndarray          # K x dim, on the standardised features
    intercept: np.ndarray     # K
    mean: np.ndarray          # dim: the standardisation
    scale: np.ndarray         # dim
    objective: float          # f(W, b) of the final fit
    iterations: int
    evaluations: int


@dataclass
class KnnResult:
    accuracy: float
    k: int                    # neighbours used (k clamped to n_train)
    n_classes: int
    predictions: np.ndarray   # predicted label per test row


def _labels(y, n, name):
    y = np.asarray(y)
    if y.dtype.kind not in "iu":
        if y.dtype.kind == "f" and y.size and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
            pass  # integral floats (e.g. read from a CSV) are accepted
        else:
            raise TypeError(f"{name} must be integer labels, got dtype {y.dtype}")
    y = np.ascontiguousarray(y, dtype=np.int64)
    if y.ndim != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must be a 1-D array of {n} labels, got shape {y.shape}")
    return y


def _inputs(train, ytrain, test, ytest):
    load()
    train = as_matrix(train, "train")
    test = as_matrix(test, "test")
    if train.shape[1] != test.shape[1]:  # the library is told one dim
        raise ValueError(f"train has {train.shape[1]} columns but test has {test.shape[1]}")
    ytrain = _labels(ytrain, train.shape[0], "ytrain")
    ytest = _labels(ytest, test.shape[0], "ytest")
    return train, ytrain, test, ytest


def _arr(p, n, dtype):
    return np.ctypeslib.as_array(p, shape=(n,)).astype(dtype, copy=True) if n else \
        np.empty(0, dtype)


def probe(train, ytrain, test, ytest, grid=(1e-2, 1e4, 7), holdout=0.1, seed=0, max_iter=1000,
          tol=1e-4, chunk=0, confusion=False, threads=0):
    """Multinomial logistic-regression probe (cls_eval_probe; defaults as
    `clscale eval --probe`): standardised features, lambda = 1/C chosen on a
    seeded held-out split over grid = (lo, hi, n) log-spaced lambdas, refitted
    on all training rows and scored on test. Returns a ProbeResult."""
    train, ytrain, test, ytest = _inputs(train, ytrain, test, ytest)
    opt = _abi.ProbeOptions()
    C.probe_options_init(ctypes.byref(opt))
    lo, hi, n = grid
    opt.grid_lo, opt.grid_hi, opt.grid_n = float(lo), float(hi), int(n)
    opt.holdout, opt.seed, opt.max_iter, opt.tol = float(holdout), int(seed), int(max_iter), float(tol)
    opt.chunk, opt.confusion, opt.threads = int(chunk), int(bool(confusion)), int(threads)
    r = _abi.ProbeResult()
    check(C.eval_probe(ptr(train), ptr(ytrain, i64p), train.shape[0], ptr(test),
                       ptr(ytest, i64p), test.shape[0], train.shape[1], ctypes.byref(opt),
                       ctypes.byref(r)))
    try:
        K, dim = r.n_classes, r.dim
        return ProbeResult(
            accuracy=r.accuracy, l2=r.l2, C=r.C,
            grid=_arr(r.grid, r.grid_n, np.float64),
            grid_accuracy=_arr(r.grid_accuracy, r.grid_n, np.float64),
            classes=_arr(r.classes, K, np.int64), per_class=_arr(r.per_class, K, np.float64),
            confusion=(_arr(r.confusion, K * K, np.int64).reshape(K, K)
                       if r.confusion else None),
            predictions=_arr(r.predictions, test.shape[0], np.int64),
            coef=_arr(r.coef, K * dim, np.float64).reshape(K, dim),
            intercept=_arr(r.intercept, K, np.float64), mean=_arr(r.mean, dim, np.float64),
            scale=_arr(r.scale, dim, np.float64), objective=r.objective,
            iterations=r.iterations, evaluations=r.evaluations)
    finally:
        C.probe_result_free(ctypes.byref(r))


def knn(train, ytrain, test, ytest, k=200, weighted=True, temperature=0.07, chunk=0, threads=0):
    """Cosine k-NN classifier (cls_eval_knn; defaults as `clscale eval --knn`):
    votes exp(s/temperature) when weighted, else majority. Returns a KnnResult."""
    train, ytrain, test, ytest = _inputs(train, ytrain, test, ytest)
    opt = _abi.KnnOptions()
    C.knn_options_init(ctypes.byref(opt))
    opt.k, opt.weighted, opt.temperature = int(k), int(bool(weighted)), float(temperature)
    opt.chunk, opt.threads = int(chunk), int(threads)
    r = _abi.KnnResult()
    check(C.eval_knn(ptr(train), ptr(ytrain, i64p), train.shape[0], ptr(test), ptr(ytest, i64p),
                     test.shape[0], train.shape[1], ctypes.byref(opt), ctypes.byref(r)))
    try:
        return KnnResult(accuracy=r.accuracy, k=r.k, n_classes=r.n_classes,
                         predictions=_arr(r.predictions, test.shape[0], np.int64))
    finally:
        C.knn_result_free(ctypes.byref(r))


__all__ = ["ProbeResult", "KnnResult", "probe", "knn"]
