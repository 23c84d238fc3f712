"""Loading libclscale and declaring the C functions the bindings call.

Every C function is named in exactly one place: the `_FUNCTIONS` table below,
under a stable Python alias (the key). A renamed C function needs only its
name changed here; a tuple of names lists the new name first and the old one
after, so the package works with the library before and after the rename.
"""
import ctypes
import ctypes.util
import os
from pathlib import Path

from . import _abi

_here = Path(__file__).resolve().parent


class ClscaleError(RuntimeError):
    """A libclscale call returned a non-zero cls_status; the message is the
    library's own (cls_last_error()), `status` the code and `status_name` its
    name (cls_strerror())."""

    def __init__(self, status, message, status_name=""):
        super().__init__(f"{message} ({status_name or 'status'} {status})")
        self.status = status
        self.status_name = status_name
        self.message = message


def _candidates():
    env = os.environ.get("CLSCALE_LIB")
    if env:
        return [("CLSCALE_LIB", env)]
    out = []
    for name in ("libclscale.so", "libclscale.so.0", "libclscale.dylib"):
        out.append(("next to the package", str(_here / name)))
    # An installed package under PREFIX/lib/python3*/{site,dist}-packages (or
    # PREFIX/local/lib/..., Debian's pip with --prefix): the library is in
    # PREFIX/lib or PREFIX/lib/<arch> (make install / cmake --install).
    for up in _here.parents:
        if up.name.startswith("lib") and up.parent.name != "lib":
            libdirs = [up]
            if up.parent.name == "local":
                libdirs.append(up.parent.parent / up.name)
            for d in libdirs:
                for name in ("libclscale.so", "libclscale.so.0"):
                    out.append(("installation prefix", str(d / name)))
                for arch in sorted(d.glob("*-linux-gnu")):
                    out.append(("installation prefix", str(arch / "libclscale.so")))
            break
    # A source checkout: python/clscale -> build/libclscale.so.
    out.append(("source checkout", str(_here.parents[1] / "build" / "libclscale.so")))
    found = ctypes.util.find_library("clscale")
    if found:
        out.append(("system path", found))
    return out


def library_path():
    """The path the shared library is (or would be) loaded from."""
    if _lib is not None:
        return _lib._name
    for where, path in _candidates():
        if where in ("CLSCALE_LIB", "system path") or os.path.exists(path):
            return path
    raise ImportError("libclscale not found: set CLSCALE_LIB, install it (make install) "
                      "or build it (make build); looked in: "
                      + ", ".join(p for _, p in _candidates()))


c_int, c_int64, c_double, c_size_t = ctypes.c_int, ctypes.c_int64, ctypes.c_double, ctypes.c_size_t
c_char_p, c_void_p, c_uint64 = ctypes.c_char_p, ctypes.c_void_p, ctypes.c_uint64
f32p = ctypes.POINTER(ctypes.c_float)
f64p = ctypes.POINTER(ctypes.c_double)
i64p = ctypes.POINTER(ctypes.c_int64)
intp = ctypes.POINTER(ctypes.c_int)
P = ctypes.POINTER
S = _abi  # struct types

# alias: (C name or (new name, old name, ...), restype, argtypes); restype c_int
# = cls_status; a name starting with "?" is optional (C.alias is None without it).
_FUNCTIONS = {
    # core
    "version": ("cls_version", c_char_p, []),
    "strerror": ("cls_strerror", c_char_p, [c_int]),
    "last_error": ("cls_last_error", c_char_p, []),
    "peak_rss": ("cls_peak_rss_bytes", c_int64, []),
    "abi_sizeof": ("cls_abi_sizeof", c_size_t, [c_char_p]),
    "abi_offsetof": ("cls_abi_offsetof", c_size_t, [c_char_p, c_char_p]),
    "abi_field_count": ("cls_abi_field_count", c_int, [c_char_p]),
    "abi_field_name": ("cls_abi_field_name", c_char_p, [c_char_p, c_int]),
    "abi_constant": ("cls_abi_constant", c_int, [c_char_p, i64p]),
    # loss
    "loss_options_init": ("cls_loss_options_init", None, [P(S.LossOptions), c_int]),
    "loss_kind_parse": ("cls_loss_kind_parse", c_int, [c_char_p, intp]),
    # optional (None restype marker below): present once the perf branch's
    # precision option is merged; options(precision=...) uses it then.
    "loss_precision_parse": ("?cls_loss_precision_parse", c_int, [c_char_p, intp]),
    "loss_compute": ("cls_loss_compute", c_int,
                     [P(S.LossResult), f32p, f32p, f32p, c_int64, f32p, c_int64, c_int64, i64p,
                      P(S.LossOptions)]),
    # the same function for callers holding raw addresses (clscale.torch:
    # tensor.data_ptr() ints pass without a ctypes.cast per argument)
    "loss_compute_addr": ("cls_loss_compute", c_int,
                          [c_void_p, c_void_p, c_void_p, c_void_p, c_int64, c_void_p, c_int64,
                           c_int64, c_void_p, c_void_p]),
    "loss_workspace_bytes": ("cls_loss_workspace_bytes", c_size_t,
                             [c_int64, c_int64, c_int64, P(S.LossOptions)]),
    "clip_forward": ("cls_clip_forward", c_int,
                     [f64p, f32p, f32p, f32p, f32p, c_int64, c_int64, P(S.LossOptions)]),
    "clip_backward": ("cls_clip_backward", c_int,
                      [f32p, f32p, f64p, f32p, f32p, f32p, f32p, c_int64, c_int64,
                       P(S.LossOptions)]),
    "infonce_forward": ("cls_infonce_forward", c_int,
                        [f64p, f32p, f32p, c_int64, f32p, c_int64, c_int64, i64p,
                         P(S.LossOptions)]),
    "infonce_backward": ("cls_infonce_backward", c_int,
                         [f32p, f32p, f64p, f32p, f32p, c_int64, f32p, c_int64, c_int64, i64p,
                          P(S.LossOptions)]),
    "ntxent_forward": ("cls_ntxent_forward", c_int,
                       [f64p, f32p, f32p, f32p, c_int64, c_int64, P(S.LossOptions)]),
    "ntxent_backward": ("cls_ntxent_backward", c_int,
                        [f32p, f32p, f64p, f32p, f32p, f32p, c_int64, c_int64,
                         P(S.LossOptions)]),
    "siglip_forward_backward": ("cls_siglip_forward_backward", c_int,
                                [P(S.LossResult), f32p, f32p, f32p, f32p, c_int64, c_int64,
                                 P(S.LossOptions)]),
    # spectrum
    "spectrum_options_init": ("cls_spectrum_options_init",
                              None, [P(S.SpectrumOptions)]),
    "spectrum_analyze_f32": ("cls_spectrum_analyze_f32", c_int,
                             [f32p, c_int64, c_int64, P(S.SpectrumOptions),
                              P(S.SpectrumResult)]),
    "spectrum_analyze_f64": ("cls_spectrum_analyze_f64", c_int,
                             [f64p, c_int64, c_int64, P(S.SpectrumOptions),
                              P(S.SpectrumResult)]),
    "spectrum_analyze_npy": ("cls_spectrum_analyze_npy", c_int,
                             [c_char_p, P(S.SpectrumOptions), P(S.SpectrumResult)]),
    "spectrum_result_free": ("cls_spectrum_result_free", None, [P(S.SpectrumResult)]),
    # fit
    "fit_options_init": ("cls_fit_options_init", None, [P(S.FitOptions)]),
    "fit_law_parse": ("cls_fit_law_parse", c_int, [c_char_p, intp]),
    "fit_law_nvars": ("cls_fit_law_nvars", c_int, [c_int, c_int]),
    "fit_law": ("cls_fit_law", c_int,
                [f64p, f64p, i64p, c_int64, P(S.FitOptions), P(S.FitResult)]),
    "fit_result_free": ("cls_fit_result_free", None, [P(S.FitResult)]),
    "fit_predict": ("cls_fit_predict", c_double, [P(S.FitResult), f64p]),
    "fit_plan": ("cls_fit_plan", c_int,
                 [P(S.FitResult), c_double, c_double, f64p, P(S.PlanPoint)]),
    "fit_save": ("cls_fit_save", c_int, [P(S.FitResult), P(c_char_p), c_char_p, c_char_p]),
    "fit_load": ("cls_fit_load", c_int, [c_char_p, P(S.FitResult)]),
    # lcl
    "lcl_data_init": ("cls_lcl_data_init", None, [P(S.LclData)]),
    "lcl_config_init": ("cls_lcl_config_init", None,
                        [P(S.LclConfig)]),
    "lcl_model_create": ("cls_lcl_model_create", c_int,
                         [P(c_void_p), P(S.LclData), c_int64, c_uint64, c_int]),
    "lcl_model_free": ("cls_lcl_model_free", None, [c_void_p]),
    "lcl_model_default_lr": ("cls_lcl_model_default_lr", c_double, [c_void_p]),
    "lcl_risk": ("cls_lcl_risk", c_int, [c_void_p, P(S.LclConfig), P(S.LclResult)]),
    "lcl_sweep_config_init": ("cls_lcl_sweep_config_init",
                              None, [P(S.LclSweepConfig), c_int]),
    "lcl_sweep_run": ("cls_lcl_sweep_run", c_int, [P(S.LclSweepConfig), P(S.LclSweepResult)]),
    "lcl_sweep_result_free": ("cls_lcl_sweep_result_free", None, [P(S.LclSweepResult)]),
    # dynamics
    "dyn_model_init": ("cls_dynamics_model_init", None, [P(S.DynModel)]),
    "dyn_model_check": ("cls_dynamics_model_check", c_int, [P(S.DynModel)]),
    "dyn_law_parse": ("cls_dynamics_law_parse", c_int, [P(S.DynLaw), c_char_p]),
    "dyn_n_records": ("cls_dynamics_n_records", c_int, [c_double, c_double]),
    "dyn_initial_state": ("cls_dynamics_initial_state", None,
                          [P(S.DynModel), c_double, c_double, f64p, f64p]),
    "dyn_check_state": ("cls_dynamics_check_state", c_int, [P(S.DynModel), f64p, f64p]),
    "dyn_ode_create": ("cls_dynamics_ode_create", c_int, [P(c_void_p), P(S.DynModel), c_int]),
    "dyn_ode_free": ("cls_dynamics_ode_free", None, [c_void_p]),
    "dyn_ode_integrate": ("cls_dynamics_ode_integrate", c_int,
                          [c_void_p, f64p, f64p, c_double, c_double, c_double, f64p, f64p]),
    "dyn_sgd_run": ("cls_dynamics_sgd_run", c_int,
                    [P(S.DynModel), c_int64, f64p, f64p, c_double, c_double, c_int, c_uint64,
                     c_int, f64p, f64p, c_void_p, c_void_p]),
    "dyn_threshold_compute": ("cls_dynamics_threshold_compute",
                              c_int, [P(S.DynModel), c_int, P(S.DynThreshold)]),
    # featlearn
    "featlearn_config_init": ("cls_featlearn_config_init",
                              None, [P(S.FeatlearnConfig)]),
    "featlearn_run": ("cls_featlearn_run", c_int,
                      [P(S.FeatlearnConfig), P(P(S.FeatlearnResult))]),
    "featlearn_result_free": ("cls_featlearn_result_free", None, [P(S.FeatlearnResult)]),
    "featlearn_predict": ("cls_featlearn_predict", c_int,
                          [c_double, c_double, P(S.FeatlearnPrediction)]),
    "featlearn_bottleneck_widths": ("cls_featlearn_bottleneck_widths", c_int64, [c_int64, i64p]),
    "featlearn_frontier_widths": ("cls_featlearn_frontier_widths", c_int64, [c_int64, i64p]),
    "featlearn_bottleneck": ("cls_featlearn_bottleneck", c_int,
                             [c_double, c_double, c_int64, i64p, c_int64, c_int, c_uint64, c_int,
                              P(P(S.FeatlearnBottleneck))]),
    "featlearn_bottleneck_free": ("cls_featlearn_bottleneck_free", None,
                                  [P(S.FeatlearnBottleneck)]),
    "featlearn_frontier": ("cls_featlearn_frontier", c_int,
                           [P(S.FeatlearnConfig), i64p, c_int64, P(P(S.FeatlearnFrontier))]),
    "featlearn_frontier_free": ("cls_featlearn_frontier_free", None, [P(S.FeatlearnFrontier)]),
    "dyn_fixed_points": ("cls_dynamics_fixed_points", c_int,
                         [P(S.DynModel), c_int, c_double, c_double, P(S.DynFixedPoint),
                          P(S.DynFixedPoint)]),
    # eval
    "probe_options_init": ("cls_probe_options_init", None, [P(S.ProbeOptions)]),
    "probe_result_free": ("cls_probe_result_free", None, [P(S.ProbeResult)]),
    "eval_probe": ("cls_eval_probe", c_int,
                   [f32p, i64p, c_int64, f32p, i64p, c_int64, c_int64, P(S.ProbeOptions),
                    P(S.ProbeResult)]),
    "knn_options_init": ("cls_knn_options_init", None, [P(S.KnnOptions)]),
    "knn_result_free": ("cls_knn_result_free", None, [P(S.KnnResult)]),
    "eval_knn": ("cls_eval_knn", c_int,
                 [f32p, i64p, c_int64, f32p, i64p, c_int64, c_int64, P(S.KnnOptions),
                  P(S.KnnResult)]),
    # train
    "free": ("cls_free", None, [c_void_p]),
    "train_config_init": ("cls_train_config_init", None, [P(S.TrainConfig)]),
    "train_config_load": ("cls_train_config_load", c_int, [P(S.TrainConfig), c_char_p]),
    "train_config_clear": ("cls_train_config_clear", None, [P(S.TrainConfig)]),
    "train_run": ("cls_train_run", c_int, [P(S.TrainConfig), c_char_p, c_int, P(S.TrainResult)]),
    "train_embed": ("cls_train_embed", c_int,
                    [c_char_p, c_int, P(f32p), P(i64p), i64p, i64p]),
    "model_kind_parse": ("cls_model_kind_parse", c_int, [c_char_p, intp]),
    "optim_kind_parse": ("cls_optim_kind_parse", c_int, [c_char_p, intp]),
    "lr_scaling_parse": ("cls_lr_scaling_parse", c_int, [c_char_p, intp]),
}


class _Functions:
    """Attribute access to the bound C functions by alias (C.loss_compute)."""


C = _Functions()
_lib = None


def _bind(lib):
    missing = []
    for alias, (names, restype, argtypes) in _FUNCTIONS.items():
        names = (names,) if isinstance(names, str) else names
        optional = names[0].startswith("?")
        names = tuple(n.lstrip("?") for n in names)
        setattr(C, alias, None)
        for name in names:
            try:
                fn = lib[name]  # a function object per alias (own argtypes)
            except AttributeError:
                continue
            if fn is not None:
                fn.restype = restype
                fn.argtypes = argtypes
                setattr(C, alias, fn)
                break
        else:
            if not optional:
                missing.append(" or ".join(names))
    if missing:
        raise ImportError(f"{lib._name} does not export: {', '.join(missing)} "
                          "(a library older or newer than this package?)")


def load():
    """Load the library once, bind every function and check the struct layouts."""
    global _lib
    if _lib is None:
        path = library_path()
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise ImportError(f"cannot load libclscale from {path}: {e}") from e
        _bind(lib)
        _abi.verify(C)
        _lib = lib
    return _lib


def check(status):
    """Raise ClscaleError with the library's message for a non-zero status."""
    if status != 0:
        raise ClscaleError(status, C.last_error().decode(errors="replace"),
                           C.strerror(status).decode(errors="replace"))


def constant(name):
    """An enum value or array-size macro of the library, by its C name."""
    v = ctypes.c_int64()
    check(C.abi_constant(name.encode(), ctypes.byref(v)))
    return v.value
