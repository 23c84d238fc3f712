"""NumPy bindings of the loss engine (include/clscale/loss.h)."""
import ctypes
from dataclasses import dataclass

import numpy as np

from . import _abi
from ._lib import C, check, load, f32p, f64p, i64p

_REDUCTIONS = ("mean", "sum")


@dataclass
class LossResult:
    loss: float
    grad_logit_scale: float
    grad_bias: float
    grad_a: np.ndarray
    grad_b: np.ndarray


def as_matrix(x, name, dtype=np.float32):
    """A C-contiguous 2-D array of `dtype` (a copy only when needed)."""
    x = np.asarray(x)
    if x.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be a numeric array, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=dtype)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows x dim), got {x.ndim}-D")
    return x


def ptr(x, kind=f32p):
    return None if x is None else x.ctypes.data_as(kind)


def kind_code(kind):
    load()
    v = ctypes.c_int()
    check(C.loss_kind_parse(str(kind).encode(), ctypes.byref(v)))
    return v.value


def options(kind="clip", logit_scale=1 / 0.07, bias=-10.0, normalize=False, reduction="mean",
            label_smoothing=0.0, tile=0, threads=0, precision=None):
    """A cls_loss_options filled from the library's defaults and these values.
    precision ("fp32" | "bf16" tile products) needs a library with that option."""
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    opt = _abi.LossOptions()
    C.loss_options_init(ctypes.byref(opt), kind_code(kind))
    opt.logit_scale = float(logit_scale)
    opt.bias = float(bias)
    opt.normalize = int(bool(normalize))
    opt.reduction = _REDUCTIONS.index(reduction)
    opt.label_smoothing = float(label_smoothing)
    opt.tile = int(tile)
    opt.threads = int(threads)
    if precision is not None:
        has = any(f[0] == "precision" for f in _abi.LossOptions._fields_)
        if not has or C.loss_precision_parse is None:
            if precision != "fp32":
                raise ValueError("this libclscale has no precision option (fp32 only)")
        else:
            v = ctypes.c_int()
            check(C.loss_precision_parse(str(precision).encode(), ctypes.byref(v)))
            opt.precision = v.value
    return opt


def _pair(a, b, same_rows):
    a = as_matrix(a, "a")
    b = as_matrix(b, "b")
    if a.shape[1] != b.shape[1]:  # the library is told one d: never let it over-read b
        raise ValueError(f"a has {a.shape[1]} columns but b has {b.shape[1]}")
    if same_rows and a.shape[0] != b.shape[0]:
        raise ValueError(f"a has {a.shape[0]} rows but b has {b.shape[0]}")
    return a, b


def _labels(labels, na):
    if labels is None:
        return None
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    if labels.shape != (na,):
        raise ValueError(f"labels must have one entry per row of a ({na}), got shape {labels.shape}")
    return labels


def _vector(x, n, name):
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {x.shape}")
    return x


def loss(a, b, kind="clip", logit_scale=1 / 0.07, bias=-10.0, normalize=False,
         reduction="mean", label_smoothing=0.0, labels=None, tile=0, threads=0, grads=True,
         precision=None):
    """Exact tiled contrastive loss and (if grads) its gradients: cls_loss_compute."""
    load()
    a, b = _pair(a, b, kind != "infonce")
    opt = options(kind, logit_scale, bias, normalize, reduction, label_smoothing, tile, threads,
                  precision)
    labels = _labels(labels, a.shape[0])
    grad_a = np.empty_like(a) if grads else None
    grad_b = np.empty_like(b) if grads else None
    res = _abi.LossResult()
    check(C.loss_compute(ctypes.byref(res), ptr(grad_a), ptr(grad_b), ptr(a), a.shape[0],
                         ptr(b), b.shape[0], a.shape[1], ptr(labels, i64p), ctypes.byref(opt)))
    return LossResult(res.loss, res.grad_logit_scale, res.grad_bias, grad_a, grad_b)


def loss_workspace_bytes(na, nb, d, **kw):
    """Bytes cls_loss_compute allocates beyond its inputs and outputs."""
    load()
    opt = options(**kw)
    return int(C.loss_workspace_bytes(na, nb, d, ctypes.byref(opt)))


# ---- the split kernels: forward saves log-sum-exp state, backward consumes it ----

def clip_forward(a, b, logit_scale=1 / 0.07, reduction="mean", label_smoothing=0.0, tile=0,
                 threads=0):
    """Symmetric InfoNCE forward: (loss, row_lse, col_lse). No normalisation here."""
    load()
    a, b = _pair(a, b, True)
    n, d = a.shape
    opt = options("clip", logit_scale, 0.0, False, reduction, label_smoothing, tile, threads)
    out = ctypes.c_double()
    row, col = np.empty(n, np.float32), np.empty(n, np.float32)
    check(C.clip_forward(ctypes.byref(out), ptr(row), ptr(col), ptr(a), ptr(b), n, d,
                         ctypes.byref(opt)))
    return out.value, row, col


def clip_backward(a, b, row_lse, col_lse, logit_scale=1 / 0.07, reduction="mean",
                  label_smoothing=0.0, tile=0, threads=0):
    """Symmetric InfoNCE backward: (grad_a, grad_b, grad_logit_scale)."""
    load()
    a, b = _pair(a, b, True)
    n, d = a.shape
    row, col = _vector(row_lse, n, "row_lse"), _vector(col_lse, n, "col_lse")
    opt = options("clip", logit_scale, 0.0, False, reduction, label_smoothing, tile, threads)
    ga, gb, gs = np.empty_like(a), np.empty_like(b), ctypes.c_double()
    check(C.clip_backward(ptr(ga), ptr(gb), ctypes.byref(gs), ptr(row), ptr(col), ptr(a),
                          ptr(b), n, d, ctypes.byref(opt)))
    return ga, gb, gs.value


def infonce_forward(a, b, labels=None, logit_scale=1 / 0.07, reduction="mean",
                    label_smoothing=0.0, tile=0, threads=0):
    """One-directional InfoNCE forward (a: queries, b: keys): (loss, row_lse)."""
    load()
    a, b = _pair(a, b, False)
    labels = _labels(labels, a.shape[0])
    opt = options("infonce", logit_scale, 0.0, False, reduction, label_smoothing, tile, threads)
    out, row = ctypes.c_double(), np.empty(a.shape[0], np.float32)
    check(C.infonce_forward(ctypes.byref(out), ptr(row), ptr(a), a.shape[0], ptr(b), b.shape[0],
                            a.shape[1], ptr(labels, i64p), ctypes.byref(opt)))
    return out.value, row


def infonce_backward(a, b, row_lse, labels=None, logit_scale=1 / 0.07, reduction="mean",
                     label_smoothing=0.0, tile=0, threads=0):
    """One-directional InfoNCE backward: (grad_a, grad_b, grad_logit_scale)."""
    load()
    a, b = _pair(a, b, False)
    labels = _labels(labels, a.shape[0])
    row = _vector(row_lse, a.shape[0], "row_lse")
    opt = options("infonce", logit_scale, 0.0, False, reduction, label_smoothing, tile, threads)
    ga, gb, gs = np.empty_like(a), np.empty_like(b), ctypes.c_double()
    check(C.infonce_backward(ptr(ga), ptr(gb), ctypes.byref(gs), ptr(row), ptr(a), a.shape[0],
                             ptr(b), b.shape[0], a.shape[1], ptr(labels, i64p),
                             ctypes.byref(opt)))
    return ga, gb, gs.value


def ntxent_forward(a, b, logit_scale=1 / 0.07, reduction="mean", label_smoothing=0.0, tile=0,
                   threads=0):
    """NT-Xent (SimCLR) forward: (loss, lse) with lse of length 2n."""
    load()
    a, b = _pair(a, b, True)
    n, d = a.shape
    opt = options("ntxent", logit_scale, 0.0, False, reduction, label_smoothing, tile, threads)
    out, lse = ctypes.c_double(), np.empty(2 * n, np.float32)
    check(C.ntxent_forward(ctypes.byref(out), ptr(lse), ptr(a), ptr(b), n, d, ctypes.byref(opt)))
    return out.value, lse


def ntxent_backward(a, b, lse, logit_scale=1 / 0.07, reduction="mean", label_smoothing=0.0,
                    tile=0, threads=0):
    """NT-Xent backward: (grad_a, grad_b, grad_logit_scale)."""
    load()
    a, b = _pair(a, b, True)
    n, d = a.shape
    lse = _vector(lse, 2 * n, "lse")
    opt = options("ntxent", logit_scale, 0.0, False, reduction, label_smoothing, tile, threads)
    ga, gb, gs = np.empty_like(a), np.empty_like(b), ctypes.c_double()
    check(C.ntxent_backward(ptr(ga), ptr(gb), ctypes.byref(gs), ptr(lse), ptr(a), ptr(b), n, d,
                            ctypes.byref(opt)))
    return ga, gb, gs.value


def siglip_forward_backward(a, b, logit_scale=10.0, bias=-10.0, reduction="mean", tile=0,
                            threads=0):
    """SigLIP loss and every gradient in one pass: a LossResult."""
    load()
    a, b = _pair(a, b, True)
    n, d = a.shape
    opt = options("siglip", logit_scale, bias, False, reduction, 0.0, tile, threads)
    ga, gb, res = np.empty_like(a), np.empty_like(b), _abi.LossResult()
    check(C.siglip_forward_backward(ctypes.byref(res), ptr(ga), ptr(gb), ptr(a), ptr(b), n, d,
                                    ctypes.byref(opt)))
    return LossResult(res.loss, res.grad_logit_scale, res.grad_bias, ga, gb)
