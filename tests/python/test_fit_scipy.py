"""Cross-check clscale's Chinchilla fit on Epoch's data against SciPy's
L-BFGS-B minimising the same objective (written independently in NumPy)."""
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import fit_common as fc  # noqa: E402

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")


def clscale_fit():
    out = subprocess.run(
        [BIN, "fit", fc.EPOCH_CSV, "--law", "chinchilla", "--x", "Model Size,Training FLOP",
         "--tokens-from-compute", "--y", "loss", "--drop-top", "5", "--bootstrap", "0", "--json"],
        check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def test_objective_and_optimum_match_scipy():
    N, D, L = fc.epoch_data()
    logN, logD, logL = np.log(N), np.log(D), np.log(L)
    res = clscale_fit()
    p = res["params"]
    theta = np.array([np.log(p["E"]), np.log(p["A"]), np.log(p["B"]), p["alpha"], p["beta"]])
    f, g = fc.objective(theta, logN, logD, logL)
    # The CLI's reported objective equals the NumPy objective at its optimum
    # (rtol 1e-9: same formula, different summation order).
    assert abs(f - res["objective"]) <= 1e-9 * abs(f)
    assert res["n_points"] == 240
    # SciPy from every 30th grid start (150 of 4,500): SciPy's best must not beat clscale's by more than 1e-7 relative,
    # and both must agree on the exponents and E (the A, B directions are flat:
    # rtol 2 %).
    starts = fc.grid()[::30]
    best = fc.scipy_fit(logN, logD, logL, starts)
    assert best.fun >= f * (1 - 1e-7), (best.fun, f)
    assert abs(best.fun - f) <= 1e-4 * f, (best.fun, f)
    e, a, b, al, be = best.x
    assert abs(al - p["alpha"]) <= 2e-3
    assert abs(be - p["beta"]) <= 2e-3
    assert abs(np.exp(e) - p["E"]) <= 2e-3
    assert abs(np.exp(a) - p["A"]) <= 0.02 * p["A"]
    assert abs(np.exp(b) - p["B"]) <= 0.02 * p["B"]
