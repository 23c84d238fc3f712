"""NumPy binding of scaling-law fitting and planning (include/clscale/fit.h)."""
import ctypes
import os
from dataclasses import dataclass

import numpy as np

from . import _abi
from ._lib import C, check, load, f64p, i64p


def _law_code(law):
    v = ctypes.c_int()
    check(C.fit_law_parse(str(law).encode(), ctypes.byref(v)))
    return v.value


def _table(x, nvars_hint):
    """x as an n x k float64 array plus column names: a dict of columns, a
    1-D array (one variable) or an n x k array."""
    names = None
    if isinstance(x, dict):
        names = [str(k) for k in x]
        x = np.column_stack([np.asarray(v, dtype=np.float64) for v in x.values()])
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"x must be 1-D, 2-D or a dict of columns, got {x.ndim}-D")
    return np.ascontiguousarray(x), names


class FitResult:
    """A fitted law: parameters, intervals and the bootstrap refits (the C
    cls_fit_result, owned and released by this object)."""

    def __init__(self, c_result, xnames=None, yname=None):
        self._c = c_result
        r = c_result
        self.xnames, self.yname = xnames, yname
        self.law = _LAW_NAMES.get(r.law, str(r.law))
        self.nvars = r.nvars
        names = [r.param_names[i].value.decode() for i in range(r.nparams)]
        dnames = [r.derived_names[i].value.decode() for i in range(r.nderived)]
        self.params = {k: r.params[i] for i, k in enumerate(names)}
        self.derived = {k: r.derived[i] for i, k in enumerate(dnames)}
        allq = names + dnames
        self.ci80 = {k: (r.ci80[i][0], r.ci80[i][1]) for i, k in enumerate(allq)}
        self.ci95 = {k: (r.ci95[i][0], r.ci95[i][1]) for i, k in enumerate(allq)}
        self.raw = np.array(r.raw[:r.nraw])
        self.objective = r.objective
        self.n_points = r.n_points
        self.n_starts = r.n_starts
        self.starts_converged_fraction = r.starts_converged_fraction
        self.bootstrap = r.bootstrap
        self.bootstrap_failed = r.bootstrap_failed
        self.boot_raw = (np.ctypeslib.as_array(r.boot_raw, shape=(r.bootstrap, r.nraw)).copy()
                         if r.bootstrap > 0 and r.boot_raw else np.empty((0, r.nraw)))
        self.warning_flags = r.warning_flags
        self.warnings = [r.warnings[i].value.decode(errors="replace") for i in range(r.nwarnings)]

    def __del__(self):
        c = getattr(self, "_c", None)
        if c is not None and _abi is not None and getattr(C, "fit_result_free", None):
            C.fit_result_free(ctypes.byref(c))
            self._c = None

    def __repr__(self):
        p = ", ".join(f"{k}={v:.6g}" for k, v in self.params.items())
        return f"FitResult({self.law}: {p})"

    def predict(self, x):
        """The fitted law at each row of x (n x nvars, or 1-D for one variable)."""
        x, _ = _table(x, self.nvars)
        if x.shape[1] != self.nvars:
            raise ValueError(f"x must have {self.nvars} column(s), got {x.shape[1]}")
        return np.array([C.fit_predict(ctypes.byref(self._c), row.ctypes.data_as(f64p))
                         for row in x])

    def save(self, path):
        """Write the fit as JSON (readable by `clscale plan` and `load_fit`)."""
        xn = None
        if self.xnames:
            xn = (ctypes.c_char_p * len(self.xnames))(*[s.encode() for s in self.xnames])
        check(C.fit_save(ctypes.byref(self._c), xn,
                         self.yname.encode() if self.yname else None, os.fsencode(path)))


_LAW_NAMES = {}


def fit(x, y, law="chinchilla", bootstrap=1000, groups=None, seed=0, threads=0, nvars=None,
        frontier=None, bins=5, boot_random_starts=None, huber_delta=None, max_iterations=None,
        grid_stride=None, yname=None):
    """Fit a scaling law (cls_fit_law). x: n x nvars array or a dict of columns
    (chinchilla: N then D); y: n positive values; groups: optional ids for the
    cluster bootstrap; frontier="binned" for the binned power-law frontier."""
    load()
    if not _LAW_NAMES:
        for name in ("power", "saturating", "chinchilla", "additive"):
            _LAW_NAMES[_law_code(name)] = name
    x, names = _table(x, nvars)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have one value per row of x ({x.shape[0]}), got {y.shape}")
    opt = _abi.FitOptions()
    C.fit_options_init(ctypes.byref(opt))
    opt.law = _law_code(law)
    opt.nvars = int(nvars if nvars is not None else x.shape[1])
    k = C.fit_law_nvars(opt.law, opt.nvars)
    if k != x.shape[1]:
        raise ValueError(f"law {law!r} takes {k if k > 0 else 'a different number of'} "
                         f"x column(s), got {x.shape[1]}")
    if frontier not in (None, "binned"):
        raise ValueError("frontier must be None or 'binned'")
    opt.frontier_binned = int(frontier == "binned")
    opt.bins = int(bins)
    opt.bootstrap = int(bootstrap)
    opt.seed = int(seed)
    opt.threads = int(threads)
    for name, v in (("boot_random_starts", boot_random_starts), ("huber_delta", huber_delta),
                    ("max_iterations", max_iterations), ("grid_stride", grid_stride)):
        if v is not None:
            setattr(opt, name, v)
    g = None
    if groups is not None:
        g = np.ascontiguousarray(groups, dtype=np.int64)
        if g.shape != y.shape:
            raise ValueError(f"groups must have one id per point, got {g.shape}")
    res = _abi.FitResult()
    check(C.fit_law(x.ctypes.data_as(f64p), y.ctypes.data_as(f64p),
                    None if g is None else g.ctypes.data_as(i64p), x.shape[0],
                    ctypes.byref(opt), ctypes.byref(res)))
    return FitResult(res, names, yname)


def load_fit(path):
    """Read a fit saved by FitResult.save or `clscale fit --save`."""
    load()
    if not _LAW_NAMES:
        for name in ("power", "saturating", "chinchilla", "additive"):
            _LAW_NAMES[_law_code(name)] = name
    res = _abi.FitResult()
    check(C.fit_load(os.fsencode(path), ctypes.byref(res)))
    return FitResult(res)


@dataclass
class Plan:
    """Compute-optimal allocation per budget (one row per budget)."""
    compute: np.ndarray    # [k]
    x: np.ndarray          # [k, nvars] optimal variables (chinchilla: N, D)
    loss: np.ndarray       # [k]
    x_ci80: np.ndarray     # [k, nvars, 2] (NaN without bootstrap)
    x_ci95: np.ndarray
    loss_ci80: np.ndarray  # [k, 2]
    loss_ci95: np.ndarray
    cost_factor: float


def plan(fit_result, compute, cost_factor=None, cost_powers=None):
    """cls_fit_plan for each budget. Cost model C = cost_factor * prod x_k^p_k
    (default 6 with 2+ variables, i.e. C = 6 N D; 1 with one variable)."""
    load()
    r = fit_result._c
    compute = np.atleast_1d(np.asarray(compute, dtype=np.float64))
    if cost_factor is None:
        cost_factor = 6.0 if r.nvars >= 2 else 1.0
    pw = None
    if cost_powers is not None:
        pw = np.ascontiguousarray(cost_powers, dtype=np.float64)
        if pw.shape != (r.nvars,):
            raise ValueError(f"cost_powers needs {r.nvars} value(s), got {pw.shape}")
    k, nv = len(compute), r.nvars
    out = Plan(compute, np.empty((k, nv)), np.empty(k), np.empty((k, nv, 2)),
               np.empty((k, nv, 2)), np.empty((k, 2)), np.empty((k, 2)), float(cost_factor))
    for i, c in enumerate(compute):
        p = _abi.PlanPoint()
        check(C.fit_plan(ctypes.byref(r), float(c), float(cost_factor),
                         None if pw is None else pw.ctypes.data_as(f64p), ctypes.byref(p)))
        out.x[i] = p.x[:nv]
        out.loss[i] = p.loss
        out.x_ci80[i] = [[p.x_ci80[j][0], p.x_ci80[j][1]] for j in range(nv)]
        out.x_ci95[i] = [[p.x_ci95[j][0], p.x_ci95[j][1]] for j in range(nv)]
        out.loss_ci80[i] = [p.loss_ci80[0], p.loss_ci80[1]]
        out.loss_ci95[i] = [p.loss_ci95[0], p.loss_ci95[1]]
    return out
