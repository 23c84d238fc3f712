"""NumPy binding of the spectrum metrics (include/clscale/spectrum.h)."""
import ctypes
import os
from dataclasses import dataclass, field

import numpy as np

from . import _abi
from ._lib import C, check, constant, load, f32p, f64p

_METHODS = {"auto": "CLS_SPECTRUM_AUTO", "exact": "CLS_SPECTRUM_EXACT",
            "randomized": "CLS_SPECTRUM_RANDOMIZED"}
_WEIGHTS = {"inv": "CLS_SPECTRUM_WEIGHTS_INV", "none": "CLS_SPECTRUM_WEIGHTS_NONE"}


@dataclass
class SpectrumResult:
    """What `clscale spectrum` reports; metrics not available are NaN."""
    n: int
    d: int
    method: str
    centered: bool
    fit_range: tuple
    alpha: float
    intercept: float
    r2: float
    bootstrap: int
    alpha_ci95: tuple
    rankme: float
    effective_rank: float
    effective_rank_eig: float
    participation_ratio: float
    eigenvalues: np.ndarray      # descending, of the matrix alpha was fitted on
    full_count: int              # length of the whole spectrum
    total: float                 # trace of the whole spectrum
    warning_flags: int
    warnings: list = field(default_factory=list)


def _choice(table, value, what):
    if value not in table:
        raise ValueError(f"{what} must be one of {sorted(table)}, got {value!r}")
    return constant(table[value])


def spectrum(X, fit_range=(4, 100), center=True, method="auto", bootstrap=0, weights="inv",
             rankme_center=False, seed=0, threads=0, rank=0, oversample=0, power_iters=None,
             chunk_rows=0):
    """alpha (power-law exponent), RankMe, effective rank, participation ratio and
    the eigenvalues of X (n x d float32/float64 array, or the path of a .npy
    file, streamed). float64 arrays stay float64; anything else becomes float32."""
    load()
    opt = _abi.SpectrumOptions()
    C.spectrum_options_init(ctypes.byref(opt))
    lo, hi = fit_range
    opt.fit_lo, opt.fit_hi = int(lo), int(hi)
    opt.center = int(bool(center))
    opt.rankme_center = int(bool(rankme_center))
    opt.method = _choice(_METHODS, method, "method")
    opt.weights = _choice(_WEIGHTS, weights, "weights")
    opt.bootstrap = int(bootstrap)
    opt.seed = int(seed)
    opt.threads = int(threads)
    opt.rank = int(rank)
    opt.oversample = int(oversample)
    opt.chunk_rows = int(chunk_rows)
    if power_iters is not None:
        opt.power_iters = int(power_iters)
    res = _abi.SpectrumResult()
    if isinstance(X, (str, os.PathLike)):
        check(C.spectrum_analyze_npy(os.fsencode(X), ctypes.byref(opt), ctypes.byref(res)))
    else:
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"X must be a 2-D array (samples x dim), got {X.ndim}-D")
        if X.dtype == np.float64:
            X = np.ascontiguousarray(X)
            fn, kind = C.spectrum_analyze_f64, f64p
        else:
            if X.dtype.kind not in "fiu":
                raise TypeError(f"X must be a numeric array, got dtype {X.dtype}")
            X = np.ascontiguousarray(X, dtype=np.float32)
            fn, kind = C.spectrum_analyze_f32, f32p
        check(fn(X.ctypes.data_as(kind), X.shape[0], X.shape[1], ctypes.byref(opt),
                 ctypes.byref(res)))
    try:
        e = res.eig
        values = (np.ctypeslib.as_array(e.values, shape=(e.count,)).copy()
                  if e.count > 0 and e.values else np.empty(0))
        methods = {constant(v): k for k, v in _METHODS.items()}
        return SpectrumResult(
            n=res.n, d=res.d, method=methods.get(res.method, str(res.method)),
            centered=bool(res.centered), fit_range=(res.fit_lo, res.fit_hi), alpha=res.alpha,
            intercept=res.intercept, r2=res.r2, bootstrap=res.bootstrap,
            alpha_ci95=(res.alpha_ci95[0], res.alpha_ci95[1]), rankme=res.rankme,
            effective_rank=res.effective_rank, effective_rank_eig=res.effective_rank_eig,
            participation_ratio=res.participation_ratio, eigenvalues=values,
            full_count=e.full_count, total=e.total, warning_flags=res.warnings,
            warnings=[res.warning_text[i].value.decode(errors="replace")
                      for i in range(res.n_warnings)])
    finally:
        C.spectrum_result_free(ctypes.byref(res))
