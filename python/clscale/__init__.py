"""ctypes bindings over libclscale.

The shared library is found through the CLSCALE_LIB environment variable, or
as build/libclscale.so beside this checkout. Arrays are NumPy arrays; inputs
are converted to C-contiguous float32 (the library's data type). Failures
raise ClscaleError with the library's own message (cls_last_error()).

    import numpy as np, clscale
    a = np.random.randn(4096, 128).astype(np.float32)
    b = np.random.randn(4096, 128).astype(np.float32)
    out = clscale.loss(a, b, kind="clip", normalize=True)
    out.loss, out.grad_a.shape, out.grad_logit_scale
"""
import ctypes
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ClscaleError", "LossResult", "library_path", "version", "loss"]

_KINDS = {"clip": 0, "infonce": 1, "ntxent": 2, "siglip": 3}
_REDUCTIONS = {"mean": 0, "sum": 1}


class ClscaleError(RuntimeError):
    """A libclscale call returned a non-zero cls_status."""

    def __init__(self, status, message):
        super().__init__(f"{message} (status {status})")
        self.status = status


class _LossOptions(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int),
        ("logit_scale", ctypes.c_double),
        ("bias", ctypes.c_double),
        ("normalize", ctypes.c_int),
        ("reduction", ctypes.c_int),
        ("label_smoothing", ctypes.c_double),
        ("tile", ctypes.c_int64),
        ("threads", ctypes.c_int),
        ("precision", ctypes.c_int),
    ]


class _LossResult(ctypes.Structure):
    _fields_ = [
        ("loss", ctypes.c_double),
        ("grad_logit_scale", ctypes.c_double),
        ("grad_bias", ctypes.c_double),
    ]


@dataclass
class LossResult:
    loss: float
    grad_logit_scale: float
    grad_bias: float
    grad_a: np.ndarray
    grad_b: np.ndarray


def library_path():
    """Where the shared library is loaded from."""
    env = os.environ.get("CLSCALE_LIB")
    if env:
        return env
    return str(Path(__file__).resolve().parents[2] / "build" / "libclscale.so")


_lib = None


def _load():
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(library_path())
        lib.cls_version.restype = ctypes.c_char_p
        lib.cls_last_error.restype = ctypes.c_char_p
        lib.cls_loss_options_init.argtypes = [ctypes.POINTER(_LossOptions), ctypes.c_int]
        f32p = ctypes.POINTER(ctypes.c_float)
        lib.cls_loss_compute.argtypes = [
            ctypes.POINTER(_LossResult), f32p, f32p,
            f32p, ctypes.c_int64, f32p, ctypes.c_int64, ctypes.c_int64,
            ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(_LossOptions),
        ]
        lib.cls_loss_compute.restype = ctypes.c_int
        _lib = lib
    return _lib


def _check(status):
    if status != 0:
        raise ClscaleError(status, _load().cls_last_error().decode(errors="replace"))


def version():
    """The library's version string."""
    return _load().cls_version().decode()


def _f32(x, name):
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (rows x dim), got {x.ndim}-D")
    return x


def loss(a, b, kind="clip", logit_scale=1 / 0.07, bias=-10.0, normalize=False,
         reduction="mean", label_smoothing=0.0, labels=None, tile=0, threads=0,
         precision="fp32"):
    """Exact tiled contrastive loss and gradients (see docs/loss.md).
    precision: "fp32" or "bf16" tile products (fp32 accumulation)."""
    lib = _load()
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {sorted(_KINDS)}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {sorted(_REDUCTIONS)}")
    a = _f32(a, "a")
    b = _f32(b, "b")
    if a.shape[1] != b.shape[1]:  # the library is told one d: never let it over-read b
        raise ValueError(f"a has {a.shape[1]} columns but b has {b.shape[1]}")
    opt = _LossOptions()
    lib.cls_loss_options_init(ctypes.byref(opt), _KINDS[kind])
    opt.logit_scale = float(logit_scale)
    opt.bias = float(bias)
    opt.normalize = int(bool(normalize))
    opt.reduction = _REDUCTIONS[reduction]
    opt.label_smoothing = float(label_smoothing)
    opt.tile = int(tile)
    opt.threads = int(threads)
    if precision not in ("fp32", "bf16"):
        raise ValueError("precision must be 'fp32' or 'bf16'")
    opt.precision = 0 if precision == "fp32" else 1
    lab_ptr = None
    if labels is not None:
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        if labels.shape != (a.shape[0],):
            raise ValueError("labels must have one entry per row of a")
        lab_ptr = labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int64))
    grad_a = np.empty_like(a)
    grad_b = np.empty_like(b)
    res = _LossResult()
    f32p = ctypes.POINTER(ctypes.c_float)
    _check(lib.cls_loss_compute(
        ctypes.byref(res), grad_a.ctypes.data_as(f32p), grad_b.ctypes.data_as(f32p),
        a.ctypes.data_as(f32p), a.shape[0], b.ctypes.data_as(f32p), b.shape[0], a.shape[1],
        lab_ptr, ctypes.byref(opt)))
    return LossResult(res.loss, res.grad_logit_scale, res.grad_bias, grad_a, grad_b)
