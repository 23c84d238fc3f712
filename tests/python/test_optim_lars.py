"""LARS of libclscale (SimCLR's LARSOptimizer) against an independent NumPy
implementation, through ctypes (env CLSCALE_LIB).

Reference, per segment, float64: weights d = g + wd*w, trust = eta*||w||/||d||
(1 when a norm is 0); biases d = g, trust = 1; v = mu*v + lr*trust*d; w -= v.
Five steps with a changing learning rate, segments of mixed sizes, two of
them biases; tolerance |w - ref| <= 1e-5 * max|ref| + 1e-6 |ref|.
"""
import ctypes
import os
import sys
from pathlib import Path

import numpy as np
import pytest

SRC = Path(os.environ.get("CLS_SOURCE_DIR", Path(__file__).parents[2])).resolve()
sys.path.insert(0, str(SRC / "python"))
from clscale import _abi  # noqa: E402

LIB = os.environ.get("CLSCALE_LIB", "build/libclscale.so")


# the library-checked mirror of cls_optim_options (python/clscale/_abi.py), never a copy
OptimOptions = _abi.OptimOptions


KINDS = {"sgd": 0, "adamw": 1, "lars": 2}
i64p = ctypes.POINTER(ctypes.c_int64)


def load():
    if not os.path.exists(LIB):
        pytest.skip(f"{LIB} not built")
    return setup_optim(ctypes.CDLL(LIB))


def setup_optim(lib):
    """Declare the optimiser functions on a loaded libclscale."""
    lib.cls_optim_options_init.argtypes = [ctypes.POINTER(OptimOptions), ctypes.c_int]
    lib.cls_optimizer_create.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(OptimOptions),
                                         ctypes.c_int64, ctypes.c_int64, i64p, i64p,
                                         ctypes.POINTER(ctypes.c_uint8)]
    lib.cls_optimizer_step.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_double]
    lib.cls_optimizer_free.argtypes = [ctypes.c_void_p]
    lib.cls_last_error.restype = ctypes.c_char_p
    return lib


class Optimizer:
    """libclscale's optimiser over a float32 vector split into segments."""

    def __init__(self, lib, kind, n, offsets, lengths, is_bias, **opts):
        self.lib = lib
        o = OptimOptions()
        lib.cls_optim_options_init(ctypes.byref(o), KINDS[kind])
        for k, v in opts.items():
            setattr(o, k, v)
        self.off = np.asarray(offsets, dtype=np.int64)
        self.len = np.asarray(lengths, dtype=np.int64)
        self.bias = np.asarray(is_bias, dtype=np.uint8)
        self.h = ctypes.c_void_p()
        st = lib.cls_optimizer_create(ctypes.byref(self.h), ctypes.byref(o), n, len(self.off),
                                      self.off.ctypes.data_as(i64p), self.len.ctypes.data_as(i64p),
                                      self.bias.ctypes.data_as(ctypes.POINTER(ctypes.c_uint8)))
        assert st == 0, lib.cls_last_error()

    def step(self, params, grads, lr):
        assert params.dtype == np.float32 and grads.dtype == np.float32
        st = self.lib.cls_optimizer_step(self.h, params.ctypes.data, grads.ctypes.data, lr)
        assert st == 0, self.lib.cls_last_error()

    def __del__(self):
        if getattr(self, "h", None):
            self.lib.cls_optimizer_free(self.h)


def lars_ref(w, g, v, segments, lr, momentum=0.9, wd=1e-6, eta=0.001):
    """One SimCLR LARS step in float64 (w, v updated in place)."""
    for off, ln, bias in segments:
        s = slice(off, off + ln)
        if bias:
            d, trust = g[s].copy(), 1.0
        else:
            d = g[s] + wd * w[s]
            wn, dn = np.linalg.norm(w[s]), np.linalg.norm(d)
            trust = eta * wn / dn if wn > 0 and dn > 0 else 1.0
        v[s] = momentum * v[s] + lr * trust * d
        w[s] -= v[s]


def test_lars_matches_numpy():
    lib = load()
    rng = np.random.default_rng(3)
    lengths = [12, 3, 40, 5, 7]
    bias = [0, 1, 0, 1, 0]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    n = int(sum(lengths))
    segs = list(zip(offsets, lengths, bias))
    w32 = rng.normal(size=n).astype(np.float32)
    w32[offsets[4]:] = 0.0  # a zero weight tensor: trust ratio 1
    w = w32.astype(np.float64)
    v = np.zeros(n)
    opt = Optimizer(lib, "lars", n, offsets, lengths, bias, momentum=0.9, weight_decay=1e-3, trust=0.001)
    for t, lr in enumerate([0.5, 1.0, 2.0, 1.5, 0.3]):
        g32 = (rng.normal(size=n) * (t + 1)).astype(np.float32)
        opt.step(w32, g32, lr)
        lars_ref(w, g32.astype(np.float64), v, segs, lr, momentum=0.9, wd=1e-3, eta=0.001)
        np.testing.assert_allclose(w32, w, rtol=1e-6, atol=1e-5 * np.abs(w).max())
