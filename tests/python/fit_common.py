"""Shared helpers for the fit tests and benchmark: Epoch's data and the
Huber objective of the spec in NumPy, minimised with SciPy's L-BFGS-B."""
import csv
import itertools
import os

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

DATA = os.environ["CLS_DATA_DIR"]
EPOCH_CSV = os.path.join(DATA, "chinchilla-epoch", "svg_extracted_data.csv")
DELTA = 1e-3


def epoch_data():
    """(N, D, L) with the 5 highest losses dropped and D = C / (6N)."""
    with open(EPOCH_CSV, newline="") as f:
        rows = list(csv.DictReader(f))
    N = np.array([float(r["Model Size"]) for r in rows])
    C = np.array([float(r["Training FLOP"]) for r in rows])
    L = np.array([float(r["loss"]) for r in rows])
    keep = np.sort(np.argsort(-L, kind="stable")[5:])
    return N[keep], C[keep] / (6 * N[keep]), L[keep]


def objective(theta, logN, logD, logL, delta=DELTA):
    """sum Huber_delta(LSE - ln L) / delta and its gradient; theta = (e, a, b, alpha, beta)."""
    e, a, b, al, be = theta
    t = np.stack([np.full_like(logN, e), a - al * logN, b - be * logD])
    lse = logsumexp(t, axis=0)
    r = lse - logL
    ar = np.abs(r)
    f = np.where(ar <= delta, 0.5 * r * r / delta, ar - 0.5 * delta).sum()
    psi = np.clip(r, -delta, delta) / delta
    s = np.exp(t - lse)
    g = np.array([
        (psi * s[0]).sum(),
        (psi * s[1]).sum(),
        (psi * s[2]).sum(),
        -(psi * s[1] * logN).sum(),
        -(psi * s[2] * logD).sum(),
    ])
    return f, g


def grid():
    """The spec's 4,500 starts, in clscale's order (e slowest, then a, b, alpha, beta)."""
    es = np.arange(-1, 1.01, 0.5)
    ab = np.arange(0, 25.1, 5)
    al = np.arange(0, 2.01, 0.5)
    return [np.array([e, a, b, x, y]) for e, a, b, x, y in itertools.product(es, ab, ab, al, al)]


def scipy_fit(logN, logD, logL, starts):
    """Best L-BFGS-B result over the given starts, with the spec's tolerances."""
    best = None
    for s in starts:
        res = minimize(objective, s, args=(logN, logD, logL), jac=True, method="L-BFGS-B",
                       options={"maxcor": 10, "gtol": 1e-10, "ftol": 1e-15, "maxiter": 10000})
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
            best = res
    return best
