"""NumPy bindings of the three theory simulators (include/clscale/lcl.h,
dynamics.h, featlearn.h): their main entry points."""
import ctypes
import math

import numpy as np

from . import _abi
from ._lib import C, check, constant, load, f64p, i64p

_INF = (None, math.inf, "inf")


def _struct_dict(s, skip=()):
    out = {}
    for name, _ in s._fields_:
        if name in skip:
            continue
        v = getattr(s, name)
        out[name] = v
    return out


def _texts(arr, n):
    return [arr[i].value.decode(errors="replace") for i in range(n)]


# ---- sketched linear contrastive learning -----------------------------------

_UNSET = object()


def lcl(d=4000, a=1.5, a2=0.0, b=2.0, rho0=0.9, M=64, N=1000, steps=_UNSET, lr=None,
        schedule=None, mode="P", draws=16, monte_carlo=0, sampler="auto", seed=1, data_seed=1,
        threads=0):
    """Risk decomposition of one sketched model (cls_lcl_risk), as `clscale sim lcl`.
    N=None or inf: no variance; steps=None or inf: GD to convergence;
    schedule=[(steps, lr), ...] replaces steps/lr; lr=None: the sketch's
    default stable step. Returns a dict of the cls_lcl_result fields."""
    load()
    steps = 1000 if steps is _UNSET and schedule is None else steps
    data = _abi.LclData()
    C.lcl_data_init(ctypes.byref(data))
    data.d, data.a, data.a2, data.b, data.rho0 = int(d), float(a), float(a2), float(b), float(rho0)
    model = ctypes.c_void_p()
    check(C.lcl_model_create(ctypes.byref(model), ctypes.byref(data), int(M), int(seed),
                             int(threads)))
    try:
        cfg = _abi.LclConfig()
        C.lcl_config_init(ctypes.byref(cfg))
        modes = {"P": "CLS_LCL_MODE_P", "E": "CLS_LCL_MODE_E"}
        samplers = {k: f"CLS_LCL_SAMPLER_{k.upper()}"
                    for k in ("auto", "wishart", "explicit", "full")}
        if mode not in modes:
            raise ValueError(f"mode must be 'P' or 'E', got {mode!r}")
        if sampler not in samplers:
            raise ValueError(f"sampler must be one of {sorted(samplers)}, got {sampler!r}")
        cfg.mode = constant(modes[mode])
        cfg.N = 0 if N in _INF else int(N)
        cfg.draws, cfg.monte_carlo = int(draws), int(monte_carlo)
        cfg.sampler = constant(samplers[sampler])
        cfg.seed, cfg.threads = int(data_seed), int(threads)
        if schedule is not None:
            if steps is not _UNSET or lr is not None:
                raise ValueError("schedule replaces steps and lr: give one or the other")
            seg = np.ascontiguousarray([s for s, _ in schedule], dtype=np.int64)
            seg_lr = np.ascontiguousarray([g for _, g in schedule], dtype=np.float64)
        elif steps in _INF:
            seg = seg_lr = None
            cfg.schedule.infinite = 1
        else:
            seg = np.array([int(steps)], dtype=np.int64)
            seg_lr = np.array([C.lcl_model_default_lr(model) if lr is None else float(lr)])
        if seg is not None:
            cfg.schedule.nseg = len(seg)
            cfg.schedule.steps = seg.ctypes.data_as(i64p)
            cfg.schedule.lr = seg_lr.ctypes.data_as(f64p)
        res = _abi.LclResult()
        check(C.lcl_risk(model, ctypes.byref(cfg), ctypes.byref(res)))
    finally:
        C.lcl_model_free(model)
    out = _struct_dict(res, skip=("nwarnings", "warnings", "sampler_used"))
    out["sampler_used"] = {constant(v): k for k, v in samplers.items()}.get(res.sampler_used)
    out["warnings"] = _texts(res.warnings, res.nwarnings)
    return out


_SWEEPS = {f"S{k}": k for k in range(1, 7)}


def lcl_sweep(sweep, d=0, a=1.5, a2=0.0, b=2.0, rho0=0.9, M=0, N=0, grid=None, t_grid=None,
              lr=0.0, draws=0, seed=1, data_seed=1, threads=0):
    """One of the spec's sweeps S1..S6 (cls_lcl_sweep_run), as `clscale sim lcl
    --sweep`: 0 for d, M, N, lr, draws and None for the grids mean the sweep's
    defaults. Returns a dict: columns (name -> array), slope, intercept, used,
    predicted_slope, predicted_effective, predicted, x/y columns and labels,
    x_opt, x_opt_predicted, M, d, N, lr, warnings."""
    load()
    k = _SWEEPS.get(sweep, sweep) if isinstance(sweep, str) else int(sweep)
    if k not in range(1, 7):
        raise ValueError(f"sweep must be S1..S6 or 1..6, got {sweep!r}")
    c = _abi.LclSweepConfig()
    C.lcl_sweep_config_init(ctypes.byref(c), k)
    C.lcl_data_init(ctypes.byref(c.data))
    c.data.d, c.data.a, c.data.a2 = int(d), float(a), float(a2)
    c.data.b, c.data.rho0 = float(b), float(rho0)
    c.M, c.N, c.lr, c.draws = int(M), int(N), float(lr), int(draws)
    c.seed, c.data_seed, c.threads = int(seed), int(data_seed), int(threads)
    keep = []
    for field, count, values in (("grid", "ngrid", grid), ("t_grid", "nt", t_grid)):
        if values is not None:
            v = np.ascontiguousarray(values, dtype=np.float64)
            keep.append(v)
            setattr(c, field, v.ctypes.data_as(f64p))
            setattr(c, count, len(v))
    r = _abi.LclSweepResult()
    check(C.lcl_sweep_run(ctypes.byref(c), ctypes.byref(r)))
    try:
        names = [r.colnames[i].value.decode() for i in range(r.ncols)]
        table = (np.ctypeslib.as_array(r.table, shape=(r.npoints, r.ncols)).copy()
                 if r.npoints > 0 else np.empty((0, r.ncols)))
        return {
            "sweep": f"S{r.sweep}", "columns": {n: table[:, i] for i, n in enumerate(names)},
            "x": names[r.xcol], "y": names[r.ycol],
            "pred": names[r.predcol] if r.predcol >= 0 else None,
            "slope": r.slope, "intercept": r.intercept, "used": r.used,
            "predicted_slope": r.predicted_slope, "predicted_effective": r.predicted_effective,
            "predicted": r.predicted_text.decode(), "x_label": r.x_label.decode(),
            "y_label": r.y_label.decode(), "x_opt": r.x_opt, "x_opt_predicted": r.x_opt_predicted,
            "M": r.M, "d": r.d, "N": r.N, "lr": r.lr,
            "warnings": _texts(r.warnings, r.nwarnings)}
    finally:
        C.lcl_sweep_result_free(ctypes.byref(r))


# ---- high-dimensional SGD dynamics ---------------------------------------------

def _dyn_model(K, p, tau, mu, eps, rho, lambda_, c):
    m = _abi.DynModel()
    C.dyn_model_init(ctypes.byref(m))
    m.K, m.p = int(K), int(p)
    m.tau, m.mu, m.eps, m.rho = float(tau), float(mu), float(eps), float(rho)
    setattr(m, "lambda", float(lambda_))
    laws = [c] if isinstance(c, str) else list(c)
    if len(laws) not in (1, m.p):
        raise ValueError(f"c: give one law for all features or p = {m.p} laws, got {len(laws)}")
    if not 1 <= m.p <= _abi.DYN_MAX_P:
        raise ValueError(f"p must be in 1..{_abi.DYN_MAX_P}, got {m.p}")
    for j in range(m.p):
        check(C.dyn_law_parse(ctypes.byref(m.law[j]), laws[j if len(laws) > 1 else 0].encode()))
    check(C.dyn_model_check(ctypes.byref(m)))
    return m


def _dyn_setup(K, p, tau, mu, eps, rho, lambda_, c, q0, r0, T, every):
    load()
    m = _dyn_model(K, p, tau, mu, eps, rho, lambda_, c)
    n_rec = C.dyn_n_records(float(T), float(every))
    if n_rec <= 0:
        raise ValueError(f"T = {T} and every = {every} give no records (need 0 < every <= T)")
    Q0, R0 = np.empty(m.p * m.K), np.empty(m.K * m.K)
    C.dyn_initial_state(ctypes.byref(m), float(q0), float(r0), Q0.ctypes.data_as(f64p),
                        R0.ctypes.data_as(f64p))
    check(C.dyn_check_state(ctypes.byref(m), Q0.ctypes.data_as(f64p), R0.ctypes.data_as(f64p)))
    return m, n_rec, Q0, R0


def _cosines(Q, R):
    diag = np.sqrt(np.diagonal(R, axis1=-2, axis2=-1))
    return Q / diag[..., None, :]


def dynamics_ode(K=1, p=1, tau=0.5, mu=1.0, eps=0.0, rho=0.0, lambda_=1.0,
                 c="rademacher:m2=2", q0=0.1, r0=1.0, T=16.0, dt=0.01, every=0.1, nodes=0):
    """The N -> infinity ODE limit (RK4): dict with t [n_rec], Q [n_rec, p, K],
    R [n_rec, K, K] and cos = Q / sqrt(diag R)."""
    m, n_rec, Q0, R0 = _dyn_setup(K, p, tau, mu, eps, rho, lambda_, c, q0, r0, T, every)
    Q, R = np.empty((n_rec, m.p, m.K)), np.empty((n_rec, m.K, m.K))
    ode = ctypes.c_void_p()
    check(C.dyn_ode_create(ctypes.byref(ode), ctypes.byref(m), int(nodes)))
    try:
        check(C.dyn_ode_integrate(ode, Q0.ctypes.data_as(f64p), R0.ctypes.data_as(f64p),
                                  float(T), float(dt), float(every), Q.ctypes.data_as(f64p),
                                  R.ctypes.data_as(f64p)))
    finally:
        C.dyn_ode_free(ode)
    return {"t": np.arange(n_rec) * float(every), "Q": Q, "R": R, "cos": _cosines(Q, R)}


def dynamics_sgd(N=2000, seeds=16, seed=1, threads=0, K=1, p=1, tau=0.5, mu=1.0, eps=0.0,
                 rho=0.0, lambda_=1.0, c="rademacher:m2=2", q0=0.1, r0=1.0, T=16.0, every=0.1):
    """Finite-N online SGD, `seeds` runs: dict with t, Q [seeds, n_rec, p, K],
    R [seeds, n_rec, K, K] and cos."""
    m, n_rec, Q0, R0 = _dyn_setup(K, p, tau, mu, eps, rho, lambda_, c, q0, r0, T, every)
    Q = np.empty((int(seeds), n_rec, m.p, m.K))
    R = np.empty((int(seeds), n_rec, m.K, m.K))
    check(C.dyn_sgd_run(ctypes.byref(m), int(N), Q0.ctypes.data_as(f64p),
                        R0.ctypes.data_as(f64p), float(T), float(every), int(seeds), int(seed),
                        int(threads), Q.ctypes.data_as(f64p), R.ctypes.data_as(f64p), None, None))
    return {"t": np.arange(n_rec) * float(every), "Q": Q, "R": R, "cos": _cosines(Q, R)}


def dynamics_threshold(p=1, tau=0.5, mu=1.0, eps=0.0, rho=0.0, lambda_=1.0,
                       c="rademacher:m2=2", nodes=0):
    """K = 1: the uninformative point r_u, the learnability threshold m2_c and
    each feature's growth rate (cls_dynamics_threshold_compute): a dict."""
    load()
    m = _dyn_model(1, p, tau, mu, eps, rho, lambda_, c)
    t = _abi.DynThreshold()
    check(C.dyn_threshold_compute(ctypes.byref(m), int(nodes), ctypes.byref(t)))
    return {"r_u": t.r_u, "S1": t.S1, "D0": t.D0, "m2_c": t.m2_c,
            "growth_rate": np.array(t.growth_rate[:m.p])}


# ---- feature learning and scaling exponents -------------------------------------

_ENGINES = {"auto": "CLS_FEATLEARN_AUTO", "function": "CLS_FEATLEARN_FUNCTION",
            "width": "CLS_FEATLEARN_WIDTH", "reference": "CLS_FEATLEARN_REFERENCE"}


def _featlearn_config(alpha, beta, N, M, gamma, eta, batch, steps, seeds, seed,
                      checkpoints_per_decade, threads, engine):
    load()
    cfg = _abi.FeatlearnConfig()
    C.featlearn_config_init(ctypes.byref(cfg))
    if engine not in _ENGINES:
        raise ValueError(f"engine must be one of {sorted(_ENGINES)}, got {engine!r}")
    for k, v in (("alpha", float(alpha)), ("beta", float(beta)), ("N", int(N)), ("M", int(M)),
                 ("gamma", float(gamma)), ("eta", float(eta)), ("batch", int(batch)),
                 ("steps", int(steps)), ("seeds", int(seeds)), ("seed", int(seed)),
                 ("checkpoints_per_decade", int(checkpoints_per_decade)),
                 ("threads", int(threads)), ("engine", constant(_ENGINES[engine]))):
        setattr(cfg, k, v)
    return cfg


def featlearn(alpha=2.0, beta=0.5, N=2000, M=1000, gamma=0.0, eta=0.1, batch=0, steps=20000,
              seeds=8, seed=0, checkpoints_per_decade=20, threads=0, engine="auto"):
    """Projected-SGD runs of the feature-learning model (cls_featlearn_run):
    dict with step, eta_t, loss, loss_draws [seeds, n], loss0, windows
    (list of (lo, hi, slope, points)), loss_increases, seconds."""
    cfg = _featlearn_config(alpha, beta, N, M, gamma, eta, batch, steps, seeds, seed,
                            checkpoints_per_decade, threads, engine)
    rp = ctypes.POINTER(_abi.FeatlearnResult)()
    check(C.featlearn_run(ctypes.byref(cfg), ctypes.byref(rp)))
    try:
        r = rp.contents
        n = r.n
        arr = np.ctypeslib.as_array
        out = {
            "step": arr(r.step, shape=(n,)).copy(),
            "eta_t": arr(r.eta_t, shape=(n,)).copy(),
            "loss": arr(r.loss, shape=(n,)).copy(),
            "loss_draws": arr(r.loss_draws, shape=(r.config.seeds, n)).copy(),
            "loss0": r.loss0,
            "loss_increases": r.loss_increases,
            "windows": [(w.lo, w.hi, w.slope, w.points)
                        for w in (r.windows[i] for i in range(r.n_windows))],
            "seconds": r.seconds,
        }
    finally:
        C.featlearn_result_free(rp)
    return out


def featlearn_predict(alpha, beta):
    """The predicted exponents of the spec's table (cls_featlearn_predict)."""
    load()
    p = _abi.FeatlearnPrediction()
    check(C.featlearn_predict(float(alpha), float(beta), ctypes.byref(p)))
    out = _struct_dict(p, skip=("regime_name",))
    out["regime_name"] = p.regime_name.decode() if p.regime_name else None
    return out


def _widths(fn, size, what):
    buf = np.zeros(_abi.FEATLEARN_MAX_WIDTHS, np.int64)
    n = fn(int(size), buf.ctypes.data_as(i64p))
    return buf[:n]


def _width_grid(widths, default):
    if widths is None:
        return default
    w = np.ascontiguousarray(widths, dtype=np.int64)
    if w.ndim != 1 or w.size < 1:
        raise ValueError(f"widths must be a non-empty 1-D list of integers, got shape {w.shape}")
    return w


def featlearn_bottleneck(alpha=2.0, beta=0.5, M=1000, widths=None, seeds=8, seed=0, threads=0):
    """Width bottleneck (cls_featlearn_bottleneck), as `clscale sim featlearn
    --bottleneck`: measured E(N) = min_w of the lazy loss, averaged over `seeds`
    draws, against the deterministic equivalent. widths=None: the CLI's grid
    (50, 71, ..., 400 with 2N < M). Returns a dict of arrays and slopes."""
    load()
    N = _width_grid(widths, _widths(C.featlearn_bottleneck_widths, M, "M"))
    if N.size < 2 and widths is None:
        raise ValueError(f"the bottleneck needs M > 142 (widths 50..400 below M/2), got M = {M}")
    rp = ctypes.POINTER(_abi.FeatlearnBottleneck)()
    check(C.featlearn_bottleneck(float(alpha), float(beta), int(M), N.ctypes.data_as(i64p),
                                 N.size, int(seeds), int(seed), int(threads), ctypes.byref(rp)))
    try:
        r = rp.contents
        arr = np.ctypeslib.as_array
        out = {k: arr(getattr(r, k), shape=(r.n,)).copy()
               for k in ("N", "measured", "measured_sd", "equivalent", "kappa")}
        out.update(slope_measured=r.slope_measured, slope_equivalent=r.slope_equivalent,
                   slope_predicted=r.slope_predicted, seconds=r.seconds)
    finally:
        C.featlearn_bottleneck_free(rp)
    return out


def featlearn_frontier(alpha=2.0, beta=0.5, N=2000, M=1000, gamma=0.0, eta=0.1, batch=0,
                       steps=20000, seeds=8, seed=0, checkpoints_per_decade=20, threads=0,
                       engine="auto", widths=None):
    """Compute-optimal frontier L*(C) = min_N L(C/N, N) (cls_featlearn_frontier),
    as `clscale sim featlearn --frontier` for one gamma: runs of the model at
    each width (widths=None: the CLI's grid N, N/2, ... >= 8). Returns a dict
    with C, loss, N_best, widths and the fitted exponents."""
    cfg = _featlearn_config(alpha, beta, N, M, gamma, eta, batch, steps, seeds, seed,
                            checkpoints_per_decade, threads, engine)
    Ns = _width_grid(widths, _widths(C.featlearn_frontier_widths, N, "N"))
    if Ns.size < 2 and widths is None:
        raise ValueError(f"the frontier needs N >= 16 (widths N, N/2, ... >= 8), got N = {N}")
    rp = ctypes.POINTER(_abi.FeatlearnFrontier)()
    check(C.featlearn_frontier(ctypes.byref(cfg), Ns.ctypes.data_as(i64p), Ns.size,
                               ctypes.byref(rp)))
    try:
        r = rp.contents
        arr = np.ctypeslib.as_array
        out = {"C": arr(r.C, shape=(r.nC,)).copy(), "loss": arr(r.loss, shape=(r.nC,)).copy(),
               "N_best": arr(r.N_best, shape=(r.nC,)).copy(),
               "widths": arr(r.N, shape=(r.n_widths,)).copy(),
               "loss_increases": r.loss_increases, "exponent": r.exponent,
               "N_exponent": r.N_exponent, "fit_points": r.fit_points,
               "exponent_predicted": r.exponent_predicted, "seconds": r.seconds}
    finally:
        C.featlearn_frontier_free(rp)
    return out


def dynamics_fixed_points(tau=0.5, mu=1.0, eps=0.0, rho=0.0, lambda_=1.0, c="rademacher:m2=2",
                          q0=0.1, r0=1.0, nodes=0):
    """K = p = 1: the uninformative and informative fixed points of the ODE
    (cls_dynamics_fixed_points), as `clscale sim dynamics --fixed-points`: a
    dict {"uninformative": point, "informative": point}, each point a dict with
    q, r, cos, eigenvalues (2 complex), jacobian (2 x 2), stable; None when
    the point is not found."""
    load()
    m = _dyn_model(1, 1, tau, mu, eps, rho, lambda_, c)
    fp = (_abi.DynFixedPoint(), _abi.DynFixedPoint())
    check(C.dyn_fixed_points(ctypes.byref(m), int(nodes), float(q0), float(r0),
                             ctypes.byref(fp[0]), ctypes.byref(fp[1])))
    out = {}
    for kind, p in zip(("uninformative", "informative"), fp):
        out[kind] = None if not p.found else {
            "q": p.q, "r": p.r, "cos": p.q / math.sqrt(p.r),
            "eigenvalues": np.array([complex(p.eig_re[i], p.eig_im[i]) for i in range(2)]),
            "jacobian": np.array(p.jacobian[:]).reshape(2, 2), "stable": bool(p.stable)}
    return out
