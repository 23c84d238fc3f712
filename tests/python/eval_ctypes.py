"""ctypes access to cls_eval_probe / cls_eval_knn / cls_probe_objective for the
eval tests and benchmarks (mirrors include/clscale/eval.h)."""
import ctypes
import os
import sys
from pathlib import Path

import numpy as np

c_int64_p = ctypes.POINTER(ctypes.c_int64)
c_double_p = ctypes.POINTER(ctypes.c_double)
c_float_p = ctypes.POINTER(ctypes.c_float)


# The library-checked mirrors of the eval structs (python/clscale/_abi.py verifies
# sizes and offsets against the library at import), never hand copies.
sys.path.insert(0, str(Path(os.environ.get("CLS_SOURCE_DIR", Path(__file__).resolve().parents[2])) / "python"))
from clscale._abi import KnnOptions, KnnResult, ProbeOptions, ProbeResult  # noqa: E402,F401


def library():
    path = os.environ.get("CLSCALE_LIB") or str(Path(__file__).resolve().parents[2] / "build" / "libclscale.so")
    lib = ctypes.CDLL(path)
    lib.cls_last_error.restype = ctypes.c_char_p
    return lib


def _arr(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


def _check(lib, st):
    if st != 0:
        raise RuntimeError(f"status {st}: {lib.cls_last_error().decode()}")


def _call(lib, entry, init, opt_type, res_type, xtr, ytr, xte, yte, opts):
    xtr, xte = _arr(xtr, np.float32), _arr(xte, np.float32)
    ytr, yte = _arr(ytr, np.int64), _arr(yte, np.int64)
    o = opt_type()
    getattr(lib, init)(ctypes.byref(o))
    for k, v in opts.items():
        setattr(o, k, v)
    r = res_type()
    st = getattr(lib, entry)(xtr.ctypes.data_as(c_float_p), ytr.ctypes.data_as(c_int64_p), ctypes.c_int64(len(xtr)),
                             xte.ctypes.data_as(c_float_p), yte.ctypes.data_as(c_int64_p), ctypes.c_int64(len(xte)),
                             ctypes.c_int64(xtr.shape[1]), ctypes.byref(o), ctypes.byref(r))
    _check(lib, st)
    return r


def probe(lib, xtr, ytr, xte, yte, **opts):
    r = _call(lib, "cls_eval_probe", "cls_probe_options_init", ProbeOptions, ProbeResult, xtr, ytr, xte, yte, opts)
    K, d = r.n_classes, r.dim
    out = dict(accuracy=r.accuracy, l2=r.l2, C=r.C, objective=r.objective, iterations=r.iterations,
               evaluations=r.evaluations,
               grid=np.ctypeslib.as_array(r.grid, (r.grid_n,)).copy(),
               grid_accuracy=np.ctypeslib.as_array(r.grid_accuracy, (r.grid_n,)).copy(),
               classes=np.ctypeslib.as_array(r.classes, (K,)).copy(),
               per_class=np.ctypeslib.as_array(r.per_class, (K,)).copy(),
               predictions=np.ctypeslib.as_array(r.predictions, (len(xte),)).copy(),
               coef=np.ctypeslib.as_array(r.coef, (K, d)).copy(),
               intercept=np.ctypeslib.as_array(r.intercept, (K,)).copy(),
               mean=np.ctypeslib.as_array(r.mean, (d,)).copy(),
               scale=np.ctypeslib.as_array(r.scale, (d,)).copy())
    if r.confusion:
        out["confusion"] = np.ctypeslib.as_array(r.confusion, (K, K)).copy()
    lib.cls_probe_result_free(ctypes.byref(r))
    return out


def knn(lib, xtr, ytr, xte, yte, **opts):
    r = _call(lib, "cls_eval_knn", "cls_knn_options_init", KnnOptions, KnnResult, xtr, ytr, xte, yte, opts)
    out = dict(accuracy=r.accuracy, k=r.k, predictions=np.ctypeslib.as_array(r.predictions, (len(xte),)).copy())
    lib.cls_knn_result_free(ctypes.byref(r))
    return out


def objective(W, b, xs, y, C):
    """scikit-learn's LogisticRegression objective (sum of log-losses +
    ||W||^2/(2C)) in float64 on standardised features xs."""
    z = xs.astype(np.float64) @ W.T + b
    m = z.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(z - m).sum(axis=1, keepdims=True)))[:, 0]
    return float((lse - z[np.arange(len(y)), y]).sum() + 0.5 / C * (W * W).sum())


def knn_reference(xtr, ytr, xte, k=200, weighted=True, temperature=0.07):
    """Brute-force k-NN in NumPy: cosine similarities in float64 (the same
    rounding steps as the library: normalised queries in float32, similarity
    times the train row's inverse norm), top-k by (similarity desc, index asc),
    votes summed best-first; the lower class among equal votes."""
    xtr, xte = np.asarray(xtr, np.float32), np.asarray(xte, np.float32)
    classes, yi = np.unique(ytr, return_inverse=True)
    ninv_tr = 1.0 / np.sqrt((xtr.astype(np.float64) ** 2).sum(1))
    ninv_te = (1.0 / np.sqrt((xte.astype(np.float64) ** 2).sum(1))).astype(np.float32)
    q = (xte * ninv_te[:, None]).astype(np.float32)
    s = q.astype(np.float64) @ xtr.astype(np.float64).T * ninv_tr[None, :]
    k = min(k, len(xtr))
    pred = np.empty(len(xte), np.int64)
    idx = np.arange(len(xtr))
    for i in range(len(xte)):
        order = np.lexsort((idx, -s[i]))[:k]
        votes = np.zeros(len(classes))
        for j in order:
            votes[yi[j]] += np.exp(s[i, j] / temperature) if weighted else 1.0
        pred[i] = classes[int(np.argmax(votes))]
    return pred
