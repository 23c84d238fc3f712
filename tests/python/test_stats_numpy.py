"""src/core/stats.c against NumPy through the shared library (ctypes):
weighted log-log least squares vs numpy.polyfit (weights sqrt(w)),
percentile vs numpy.percentile, mean/SE vs numpy. Tolerances per check."""
import ctypes
import os

import numpy as np

LIB = ctypes.CDLL(os.environ.get("CLSCALE_LIB", "build/libclscale.so"))
D = ctypes.POINTER(ctypes.c_double)


def ptr(a):
    return a.ctypes.data_as(D)


def test_loglog_fit_vs_polyfit():
    rng = np.random.default_rng(3)
    for n in (2, 5, 40, 300):
        x = np.exp(rng.uniform(-3, 9, n))
        y = 2.5 * x ** -0.4 * np.exp(rng.normal(0, 0.3, n))
        w = rng.uniform(0.1, 2.0, n)
        s, c, used = ctypes.c_double(), ctypes.c_double(), ctypes.c_int64()
        st = LIB.cls_stats_loglog_fit(ptr(x), ptr(y), ptr(w), ctypes.c_int64(n), ctypes.byref(s),
                                      ctypes.byref(c), ctypes.byref(used))
        assert st == 0
        # polyfit minimises sum (w_p (y - f))^2: pass w_p = sqrt(w)
        ref = np.polyfit(np.log(x), np.log(y), 1, w=np.sqrt(w))
        assert used.value == n
        assert abs(s.value - ref[0]) <= 1e-10 + 1e-10 * abs(ref[0])
        assert abs(c.value - ref[1]) <= 1e-10 + 1e-10 * abs(ref[1])


def test_percentile_vs_numpy():
    rng = np.random.default_rng(4)
    for n in (1, 2, 7, 1000):
        v = rng.standard_normal(n)
        for q in (0.0, 2.5, 10.0, 50.0, 90.0, 97.5, 100.0):
            out = ctypes.c_double()
            assert LIB.cls_stats_percentile(ptr(v), ctypes.c_int64(n), ctypes.c_double(q),
                                            ctypes.byref(out)) == 0
            ref = np.percentile(v, q)
            assert abs(out.value - ref) <= 1e-14 + 1e-14 * abs(ref)


def test_mean_se_vs_numpy():
    rng = np.random.default_rng(5)
    v = rng.standard_normal(37) * 3 + 1
    m, se = ctypes.c_double(), ctypes.c_double()
    assert LIB.cls_stats_mean_se(ptr(v), ctypes.c_int64(37), ctypes.byref(m), ctypes.byref(se)) == 0
    assert abs(m.value - v.mean()) <= 1e-14
    ref = v.std(ddof=1) / np.sqrt(37)
    assert abs(se.value - ref) <= 1e-14 + 1e-12 * ref
