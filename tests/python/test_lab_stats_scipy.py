"""The rank statistics the lab uses (src/core/stats.c: cls_stats_ranks,
cls_stats_pearson, cls_stats_spearman; cls_lab_spearman is the same function)
against SciPy through the shared library (ctypes): ranks vs
scipy.stats.rankdata (ties averaged), Pearson vs scipy.stats.pearsonr,
Spearman rho vs scipy.stats.spearmanr with and without ties, and the
permutation p-value vs the exact p-value over all n! orders (n = 6)."""
import ctypes
import itertools
import os

import numpy as np
import pytest
from scipy import stats

LIB = ctypes.CDLL(os.environ.get("CLSCALE_LIB", "build/libclscale.so"))
D = ctypes.POINTER(ctypes.c_double)
LIB.cls_stats_ranks.argtypes = [D, ctypes.c_int64, D]
LIB.cls_stats_pearson.argtypes = [D, D, ctypes.c_int64, D]
LIB.cls_stats_spearman.argtypes = [D, D, ctypes.c_int64, ctypes.c_int, ctypes.c_uint64, D, D]
LIB.cls_lab_spearman.argtypes = LIB.cls_stats_spearman.argtypes


def ptr(a):
    return a.ctypes.data_as(D)


def spearman(x, y, perms=0, seed=0, fn=LIB.cls_stats_spearman):
    x, y = np.ascontiguousarray(x, float), np.ascontiguousarray(y, float)
    rho, p = ctypes.c_double(), ctypes.c_double()
    assert fn(ptr(x), ptr(y), len(x), perms, seed, ctypes.byref(rho), ctypes.byref(p)) == 0
    return rho.value, p.value


@pytest.mark.parametrize("n,levels", [(7, None), (40, None), (40, 5), (200, 3)])
def test_ranks_pearson_spearman_vs_scipy(n, levels):
    rng = np.random.default_rng(n + (levels or 0))
    x = rng.standard_normal(n)
    y = 0.6 * x + rng.standard_normal(n)
    if levels:  # many ties
        x, y = np.round(x * levels / 3), np.round(y * levels / 3)
    r = np.zeros(n)
    assert LIB.cls_stats_ranks(ptr(x), n, ptr(r)) == 0
    assert np.array_equal(r, stats.rankdata(x))  # exact: halves of integers
    pr = ctypes.c_double()
    assert LIB.cls_stats_pearson(ptr(x), ptr(y), n, ctypes.byref(pr)) == 0
    # tolerance: |r - ref| <= 1e-12 (both are one pass of double sums)
    assert abs(pr.value - stats.pearsonr(x, y)[0]) <= 1e-12
    rho, p = spearman(x, y)
    assert abs(rho - stats.spearmanr(x, y)[0]) <= 1e-12
    assert np.isnan(p)  # no permutations asked
    assert spearman(x, y, fn=LIB.cls_lab_spearman)[0] == rho


def test_permutation_p_value_vs_exact():
    """n = 6: the exact two-sided p over all 720 orders; 20000 seeded
    permutations are within 4 binomial standard errors of it."""
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([2.0, 1.0, 4.0, 3.0, 6.0, 5.0])
    rho0 = stats.spearmanr(x, y)[0]
    hits = sum(abs(stats.spearmanr(x, np.array(q))[0]) >= abs(rho0) - 1e-12 for q in itertools.permutations(y))
    exact = hits / 720.0
    P = 20000
    rho, p = spearman(x, y, P, 11)
    assert abs(rho - rho0) <= 1e-12
    se = np.sqrt(exact * (1 - exact) / P)
    assert abs(p - exact) <= 4 * se + 1.0 / (P + 1), (p, exact)
    assert spearman(x, y, P, 11) == (rho, p)  # same seed, same bits


def test_bad_input():
    x = np.array([1.0, np.nan, 3.0])
    r = np.zeros(3)
    assert LIB.cls_stats_ranks(ptr(x), 3, ptr(r)) != 0
    rho, p = ctypes.c_double(), ctypes.c_double()
    y = np.array([1.0, 2.0])
    assert LIB.cls_stats_spearman(ptr(y), ptr(y), 2, 10, 0, ctypes.byref(rho), ctypes.byref(p)) != 0
