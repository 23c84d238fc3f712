"""ctypes mirrors of the public C structs, checked against the library.

The layouts below are written from the headers, but never trusted: at load
time `verify` asks the library (cls_abi_sizeof / cls_abi_offsetof /
cls_abi_field_name, src/core/abi.c) for the size, the member names in order
and every member's offset, and raises ImportError naming the first mismatch.
Array lengths (e.g. CLS_FIT_MAX_PARAMS) are part of that check: a different
length moves the members after it or changes the size.
"""
import ctypes

i32, i64, u32, u64, f64 = ctypes.c_int, ctypes.c_int64, ctypes.c_uint, ctypes.c_uint64, ctypes.c_double
ptr = ctypes.c_void_p


class _Struct(ctypes.Structure):
    _c_name_ = None


class LossOptions(_Struct):
    _c_name_ = "cls_loss_options"
    _fields_ = [("kind", i32), ("logit_scale", f64), ("bias", f64), ("normalize", i32),
                ("reduction", i32), ("label_smoothing", f64), ("tile", i64), ("threads", i32), ("precision", i32)]


class LossResult(_Struct):
    _c_name_ = "cls_loss_result"
    _fields_ = [("loss", f64), ("grad_logit_scale", f64), ("grad_bias", f64)]


class SpectrumOptions(_Struct):
    _c_name_ = "cls_spectrum_options"
    _fields_ = [("center", i32), ("rankme_center", i32), ("method", i32), ("fit_lo", i64),
                ("fit_hi", i64), ("weights", i32), ("bootstrap", i64), ("seed", u64),
                ("threads", i32), ("chunk_rows", i64), ("oversample", i32),
                ("power_iters", i32), ("rank", i64)]


class SpectrumEig(_Struct):
    _c_name_ = "cls_spectrum_eig"
    _fields_ = [("n", i64), ("d", i64), ("centered", i32), ("method", i32), ("count", i64),
                ("full_count", i64), ("values", ctypes.POINTER(f64)), ("total", f64),
                ("total_sq", f64), ("zero_variance_columns", i64),
                ("first_zero_variance_column", i64)]


SPECTRUM_MAX_WARNINGS, SPECTRUM_WARNING_LEN = 8, 240


class SpectrumResult(_Struct):
    _c_name_ = "cls_spectrum_result"
    _fields_ = [("n", i64), ("d", i64), ("method", i32), ("centered", i32), ("eig", SpectrumEig),
                ("fit_lo", i64), ("fit_hi", i64), ("alpha", f64), ("intercept", f64),
                ("r2", f64), ("bootstrap", i64), ("alpha_ci95", f64 * 2), ("rankme", f64),
                ("effective_rank", f64), ("effective_rank_eig", f64),
                ("participation_ratio", f64), ("warnings", u32), ("n_warnings", i32),
                ("warning_text", (ctypes.c_char * SPECTRUM_WARNING_LEN) * SPECTRUM_MAX_WARNINGS)]


FIT_MAX_VARS = 4
FIT_MAX_PARAMS = 1 + 2 * FIT_MAX_VARS
FIT_MAX_DERIVED = 3
FIT_MAX_QUANT = FIT_MAX_PARAMS + FIT_MAX_DERIVED
FIT_MAX_WARNINGS, FIT_NAME_LEN = 8, 16


class FitOptions(_Struct):
    _c_name_ = "cls_fit_options"
    _fields_ = [("law", i32), ("nvars", i32), ("frontier_binned", i32), ("bins", i32),
                ("bootstrap", i32), ("boot_random_starts", i32), ("seed", u64),
                ("threads", i32), ("huber_delta", f64), ("max_iterations", i32),
                ("grid_stride", i32)]


class FitResult(_Struct):
    _c_name_ = "cls_fit_result"
    _fields_ = [("law", i32), ("nvars", i32), ("frontier_binned", i32), ("bins", i32),
                ("nparams", i32),
                ("param_names", (ctypes.c_char * FIT_NAME_LEN) * FIT_MAX_PARAMS),
                ("params", f64 * FIT_MAX_PARAMS), ("nraw", i32), ("raw", f64 * FIT_MAX_PARAMS),
                ("nderived", i32),
                ("derived_names", (ctypes.c_char * FIT_NAME_LEN) * FIT_MAX_DERIVED),
                ("derived", f64 * FIT_MAX_DERIVED), ("ci80", (f64 * 2) * FIT_MAX_QUANT),
                ("ci95", (f64 * 2) * FIT_MAX_QUANT), ("objective", f64), ("n_points", i64),
                ("n_starts", i64), ("starts_converged_fraction", f64), ("bootstrap", i32),
                ("bootstrap_failed", i32), ("boot_raw", ctypes.POINTER(f64)),
                ("warning_flags", u32), ("nwarnings", i32),
                ("warnings", (ctypes.c_char * 200) * FIT_MAX_WARNINGS)]


class PlanPoint(_Struct):
    _c_name_ = "cls_plan_point"
    _fields_ = [("compute", f64), ("nvars", i32), ("x", f64 * FIT_MAX_VARS), ("loss", f64),
                ("x_ci80", (f64 * 2) * FIT_MAX_VARS), ("x_ci95", (f64 * 2) * FIT_MAX_VARS),
                ("loss_ci80", f64 * 2), ("loss_ci95", f64 * 2)]


class LclData(_Struct):
    _c_name_ = "cls_lcl_data"
    _fields_ = [("d", i64), ("a", f64), ("a2", f64), ("b", f64), ("rho0", f64)]


class LclSchedule(_Struct):
    _c_name_ = "cls_lcl_schedule"
    _fields_ = [("nseg", i32), ("steps", ctypes.POINTER(i64)), ("lr", ctypes.POINTER(f64)),
                ("infinite", i32)]


class LclConfig(_Struct):
    _c_name_ = "cls_lcl_config"
    _fields_ = [("mode", i32), ("N", i64), ("schedule", LclSchedule), ("draws", i64),
                ("monte_carlo", i64), ("sampler", i32), ("seed", u64), ("threads", i32)]


LCL_MAX_WARNINGS = 4


class LclResult(_Struct):
    _c_name_ = "cls_lcl_result"
    _fields_ = [(n, f64) for n in ("R_star", "approx", "bias", "variance", "cross", "excess",
                                   "risk", "bias_se", "variance_se", "cross_se", "excess_se",
                                   "t", "lr", "D_M", "lr_bound")] + [
        ("draws", i64), ("mc_excess", f64), ("mc_se", f64), ("mc_runs", i64),
        ("sampler_used", i32), ("nwarnings", i32),
        ("warnings", (ctypes.c_char * 256) * LCL_MAX_WARNINGS)]


LCL_SWEEP_MAXCOLS = 12


class LclSweepConfig(_Struct):
    _c_name_ = "cls_lcl_sweep_config"
    _fields_ = [("sweep", i32), ("data", LclData), ("M", i64), ("N", i64), ("ngrid", i64),
                ("grid", ctypes.POINTER(f64)), ("nt", i64), ("t_grid", ctypes.POINTER(f64)),
                ("lr", f64), ("draws", i64), ("seed", u64), ("data_seed", u64), ("threads", i32)]


class LclSweepResult(_Struct):
    _c_name_ = "cls_lcl_sweep_result"
    _fields_ = [("sweep", i32), ("npoints", i64), ("ncols", i32),
                ("colnames", (ctypes.c_char * 24) * LCL_SWEEP_MAXCOLS),
                ("table", ctypes.POINTER(f64)), ("xcol", i32), ("ycol", i32), ("predcol", i32),
                ("slope", f64), ("intercept", f64), ("used", i64), ("predicted_slope", f64),
                ("predicted_effective", f64), ("predicted_text", ctypes.c_char * 96),
                ("x_label", ctypes.c_char * 32), ("y_label", ctypes.c_char * 48),
                ("x_opt", f64), ("x_opt_predicted", f64), ("M", i64), ("d", i64), ("N", i64),
                ("lr", f64), ("nwarnings", i32),
                ("warnings", (ctypes.c_char * 256) * LCL_MAX_WARNINGS)]


DYN_LAW_MAX, DYN_MAX_K, DYN_MAX_P = 16, 8, 8
FEATLEARN_MAX_WIDTHS = 8


class DynLaw(_Struct):
    _c_name_ = "cls_dynamics_law"
    _fields_ = [("n", i32), ("value", f64 * DYN_LAW_MAX), ("prob", f64 * DYN_LAW_MAX)]


class DynModel(_Struct):
    _c_name_ = "cls_dynamics_model"
    _fields_ = [("K", i32), ("p", i32), ("tau", f64), ("mu", f64), ("eps", f64), ("rho", f64),
                ("lambda", f64), ("law", DynLaw * DYN_MAX_P)]


class DynThreshold(_Struct):
    _c_name_ = "cls_dynamics_threshold"
    _fields_ = [("r_u", f64), ("S1", f64), ("D0", f64), ("m2_c", f64),
                ("growth_rate", f64 * DYN_MAX_P)]


class FeatlearnConfig(_Struct):
    _c_name_ = "cls_featlearn_config"
    _fields_ = [("alpha", f64), ("beta", f64), ("N", i64), ("M", i64), ("gamma", f64),
                ("eta", f64), ("batch", i64), ("steps", i64), ("seeds", i64), ("seed", u64),
                ("checkpoints_per_decade", i32), ("threads", i32), ("engine", i32)]


class FeatlearnWindow(_Struct):
    _c_name_ = "cls_featlearn_window"
    _fields_ = [("lo", f64), ("hi", f64), ("slope", f64), ("points", i64)]


class FeatlearnResult(_Struct):
    _c_name_ = "cls_featlearn_result"
    _fields_ = [("config", FeatlearnConfig), ("n", i64), ("step", ctypes.POINTER(i64)),
                ("eta_t", ctypes.POINTER(f64)), ("loss", ctypes.POINTER(f64)),
                ("loss_draws", ctypes.POINTER(f64)), ("loss0", f64), ("loss_increases", i64),
                ("n_windows", i64), ("windows", ctypes.POINTER(FeatlearnWindow)),
                ("seconds", f64)]


class FeatlearnPrediction(_Struct):
    _c_name_ = "cls_featlearn_prediction"
    _fields_ = [("regime", i32), ("regime_name", ctypes.c_char_p)] + [
        (n, f64) for n in ("time_lazy", "time_rich", "width", "c_lazy", "n_lazy", "t_lazy",
                           "c_rich", "n_rich", "t_rich")]


class ProbeOptions(_Struct):
    _c_name_ = "cls_probe_options"
    _fields_ = [("threads", i32), ("seed", u64), ("grid_lo", f64), ("grid_hi", f64),
                ("grid_n", i32), ("holdout", f64), ("max_iter", i32), ("tol", f64),
                ("chunk", i64), ("confusion", i32)]


class ProbeResult(_Struct):
    _c_name_ = "cls_probe_result"
    _fields_ = [("accuracy", f64), ("l2", f64), ("C", f64), ("grid_n", i32),
                ("grid", ctypes.POINTER(f64)), ("grid_accuracy", ctypes.POINTER(f64)),
                ("n_classes", i64), ("classes", ctypes.POINTER(i64)),
                ("per_class", ctypes.POINTER(f64)), ("confusion", ctypes.POINTER(i64)),
                ("predictions", ctypes.POINTER(i64)), ("dim", i64),
                ("coef", ctypes.POINTER(f64)), ("intercept", ctypes.POINTER(f64)),
                ("mean", ctypes.POINTER(f64)), ("scale", ctypes.POINTER(f64)),
                ("objective", f64), ("iterations", i32), ("evaluations", i64)]


class KnnOptions(_Struct):
    _c_name_ = "cls_knn_options"
    _fields_ = [("k", i64), ("weighted", i32), ("temperature", f64), ("threads", i32),
                ("chunk", i64)]


class KnnResult(_Struct):
    _c_name_ = "cls_knn_result"
    _fields_ = [("accuracy", f64), ("k", i64), ("n_classes", i64),
                ("predictions", ctypes.POINTER(i64))]


class AugmentOptions(_Struct):
    _c_name_ = "cls_augment_options"
    _fields_ = [(n, f64) for n in ("crop_area_min", "crop_area_max", "aspect_min", "aspect_max",
                                   "flip_prob", "brightness", "contrast", "noise_std",
                                   "erase_prob")]


class TrainProgress(_Struct):
    _c_name_ = "cls_train_progress"
    _fields_ = [("step", i64), ("total_steps", i64)] + [
        (n, f64) for n in ("epoch", "loss", "lr", "temperature", "samples_per_s", "seconds")]


TRAIN_PROGRESS_FN = ctypes.CFUNCTYPE(i32, ptr, ctypes.POINTER(TrainProgress))


class TrainConfig(_Struct):
    _c_name_ = "cls_train_config"
    _fields_ = [("data", ctypes.c_char_p), ("model", i32), ("width", i64), ("loss", i32),
                ("temperature", f64), ("learn_temperature", i32), ("batch", i64),
                ("chunk", i64), ("memory_budget", i64), ("optimizer", i32), ("lr", f64),
                ("lr_scaling", i32), ("weight_decay", f64), ("warmup_epochs", f64),
                ("epochs", f64), ("steps", i64), ("train_subset", i64), ("seed", u64),
                ("threads", i32), ("log_every", i64), ("checkpoint_every", i64),
                ("progress", TRAIN_PROGRESS_FN), ("progress_user", ptr),
                ("pairs_a", ctypes.c_char_p), ("pairs_b", ctypes.c_char_p), ("proj_dim", i64),
                ("augment", AugmentOptions), ("owned_strings_", ptr),
                ("precision", i32)]


class TrainResult(_Struct):
    _c_name_ = "cls_train_result"
    _fields_ = [("steps", i64), ("samples_seen", i64), ("params", i64), ("peak_rss_bytes", i64),
                ("epochs", f64), ("final_loss", f64), ("samples_per_s", f64), ("seconds", f64),
                ("flops_per_image", f64), ("train_flops", f64), ("chunk", i64),
                ("start_step", i64), ("stopped_early", i32)]


class FeatlearnBottleneck(_Struct):
    _c_name_ = "cls_featlearn_bottleneck_result"
    _fields_ = [("n", i64), ("N", ctypes.POINTER(i64)), ("measured", ctypes.POINTER(f64)),
                ("measured_sd", ctypes.POINTER(f64)), ("equivalent", ctypes.POINTER(f64)),
                ("kappa", ctypes.POINTER(f64)), ("slope_measured", f64),
                ("slope_equivalent", f64), ("slope_predicted", f64), ("seconds", f64)]


class FeatlearnFrontier(_Struct):
    _c_name_ = "cls_featlearn_frontier_result"
    _fields_ = [("nC", i64), ("C", ctypes.POINTER(f64)), ("loss", ctypes.POINTER(f64)),
                ("N_best", ctypes.POINTER(i64)), ("n_widths", i64), ("N", ctypes.POINTER(i64)),
                ("loss_increases", i64), ("exponent", f64), ("N_exponent", f64),
                ("fit_points", i64), ("exponent_predicted", f64), ("seconds", f64)]


class DynFixedPoint(_Struct):
    _c_name_ = "cls_dynamics_fixed_point"
    _fields_ = [("q", f64), ("r", f64), ("eig_re", f64 * 2), ("eig_im", f64 * 2),
                ("jacobian", f64 * 4), ("stable", i32), ("found", i32)]


class ModelConfig(_Struct):
    _c_name_ = "cls_model_config"
    _fields_ = [("kind", i32), ("width", i64), ("height", i64), ("image_w", i64), ("in_dim", i64),
                ("proj_dim", i64), ("seed", u64)]


class OptimOptions(_Struct):
    _c_name_ = "cls_optim_options"
    _fields_ = [("kind", i32), ("momentum", f64), ("nesterov", i32), ("beta1", f64), ("beta2", f64),
                ("eps", f64), ("weight_decay", f64), ("trust", f64), ("threads", i32)]


STRUCTS = [LossOptions, LossResult, SpectrumOptions, SpectrumEig, SpectrumResult, FitOptions,
           FitResult, PlanPoint, LclData, LclSchedule, LclConfig, LclResult, LclSweepConfig,
           LclSweepResult, DynLaw, DynModel, DynThreshold,
           FeatlearnConfig, FeatlearnWindow, FeatlearnResult, FeatlearnPrediction,
           ProbeOptions, ProbeResult, KnnOptions, KnnResult, AugmentOptions, TrainProgress,
           TrainConfig, TrainResult, FeatlearnBottleneck, FeatlearnFrontier, DynFixedPoint,
           ModelConfig, OptimOptions]


def c_name(cls, C):
    """The C type name of a mirror: the first of its names the library knows."""
    names = (cls._c_name_,) if isinstance(cls._c_name_, str) else cls._c_name_
    for n in names:
        if C.abi_sizeof(n.encode()):
            return n
    return names[0]


def mismatches(C):
    """Every difference between these layouts and the library's, as sentences."""
    out = []
    for cls in STRUCTS:
        name = c_name(cls, C)
        b = name.encode()
        size = C.abi_sizeof(b)
        if size == 0:
            out.append(f"{name}: the library does not describe this struct")
            continue
        if size != ctypes.sizeof(cls):
            out.append(f"{name}: sizeof is {size} in the library, {ctypes.sizeof(cls)} here")
        c_fields = [C.abi_field_name(b, i).decode() for i in range(C.abi_field_count(b))]
        py_fields = [f[0] for f in cls._fields_]
        if c_fields != py_fields:
            extra = [f for f in c_fields if f not in py_fields]
            gone = [f for f in py_fields if f not in c_fields]
            out.append(f"{name}: members differ (library {c_fields}, bindings {py_fields}; "
                       f"new in the library: {extra}, missing there: {gone})")
        for f in py_fields:
            off = C.abi_offsetof(b, f.encode())
            here = getattr(cls, f).offset
            if off != here and f in c_fields:
                out.append(f"{name}.{f}: offset {off} in the library, {here} here")
    return out


def verify(C):
    bad = mismatches(C)
    if bad:
        raise ImportError("clscale bindings do not match the library's struct layouts: "
                          + "; ".join(bad))
