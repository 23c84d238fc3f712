"""NT-Xent and SigLIP through the shared library (ctypes) against PyTorch in
float64 on the full logits: F.cross_entropy on the masked logits for NT-Xent,
F.logsigmoid for SigLIP, gradients by autograd.

Tolerances: loss relative error <= 1e-6; gradients max|diff| <= 1e-5 * max|g|;
dL/ds and dL/dbeta within 1e-5 * max(|ref|, max|g|)."""
import ctypes
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

LIB_PATH = os.environ.get("CLSCALE_LIB")
pytestmark = pytest.mark.skipif(not LIB_PATH, reason="CLSCALE_LIB is not set")

CLS_LOSS_NTXENT, CLS_LOSS_SIGLIP = 2, 3
CLS_REDUCE_MEAN, CLS_REDUCE_SUM = 0, 1


# The options struct comes from the bindings, which check its layout against the
# library at import (no hand-copied layout to drift).
sys.path.insert(0, str(Path(os.environ.get("CLS_SOURCE_DIR", Path(__file__).parents[2])) / "python"))
from clscale._abi import LossOptions as Options  # noqa: E402
from clscale._abi import LossResult as Result  # noqa: E402


F32P = ctypes.POINTER(ctypes.c_float)
F64P = ctypes.POINTER(ctypes.c_double)


@pytest.fixture(scope="module")
def lib():
    lib = ctypes.CDLL(LIB_PATH)
    i64 = ctypes.c_int64
    lib.cls_ntxent_forward.argtypes = [F64P, F32P, F32P, F32P, i64, i64, ctypes.POINTER(Options)]
    lib.cls_ntxent_backward.argtypes = [F32P, F32P, F64P, F32P, F32P, F32P, i64, i64, ctypes.POINTER(Options)]
    lib.cls_siglip_forward_backward.argtypes = [ctypes.POINTER(Result), F32P, F32P, F32P, F32P, i64, i64,
                                                ctypes.POINTER(Options)]
    for f in (lib.cls_ntxent_forward, lib.cls_ntxent_backward, lib.cls_siglip_forward_backward):
        f.restype = ctypes.c_int
    lib.cls_last_error.restype = ctypes.c_char_p
    return lib


def ptr(x, t=F32P):
    return x.ctypes.data_as(t)


def options(kind, s, beta=0.0, reduction=CLS_REDUCE_MEAN, eps=0.0, tile=0, threads=2):
    o = Options()
    o.kind, o.logit_scale, o.bias, o.normalize = kind, s, beta, 0
    o.reduction, o.label_smoothing, o.tile, o.threads = reduction, eps, tile, threads
    return o  # precision stays 0 = fp32


def rows(rng, n, d):
    x = rng.standard_normal((n, d))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def ntxent_clscale(lib, a, b, opt):
    n, d = a.shape
    loss = ctypes.c_double()
    lse = np.zeros(2 * n, np.float32)
    assert lib.cls_ntxent_forward(ctypes.byref(loss), ptr(lse), ptr(a), ptr(b), n, d, ctypes.byref(opt)) == 0
    ga, gb, gs = np.zeros_like(a), np.zeros_like(b), ctypes.c_double()
    assert lib.cls_ntxent_backward(ptr(ga), ptr(gb), ctypes.byref(gs), ptr(lse), ptr(a), ptr(b), n, d,
                                   ctypes.byref(opt)) == 0
    return loss.value, ga, gb, gs.value


def ntxent_torch(a, b, s, reduction, eps):
    A = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    B = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    S = torch.tensor(s, dtype=torch.float64, requires_grad=True)
    n = a.shape[0]
    N = 2 * n
    Z = torch.cat([A, B])
    X = S * Z @ Z.T
    pos = torch.cat([torch.arange(n, N), torch.arange(0, n)])
    red = "sum" if reduction == CLS_REDUCE_SUM else "mean"
    if eps == 0.0:
        X = X.masked_fill(torch.eye(N, dtype=torch.bool), float("-inf"))
        loss = F.cross_entropy(X, pos, reduction=red)
    else:  # smoothing over the 2n-1 candidates: drop the diagonal column
        keep = ~torch.eye(N, dtype=torch.bool)
        Xc = X[keep].view(N, N - 1)
        idx = torch.arange(N)
        target = torch.where(pos < idx, pos, pos - 1)
        loss = F.cross_entropy(Xc, target, reduction=red, label_smoothing=eps)
    loss.backward()
    return loss.item(), A.grad.numpy(), B.grad.numpy(), S.grad.item()


def siglip_torch(a, b, s, beta, reduction):
    A = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    B = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    S = torch.tensor(s, dtype=torch.float64, requires_grad=True)
    Beta = torch.tensor(beta, dtype=torch.float64, requires_grad=True)
    n = a.shape[0]
    z = 2 * torch.eye(n, dtype=torch.float64) - 1
    total = -F.logsigmoid(z * (S * A @ B.T + Beta)).sum()
    loss = total if reduction == CLS_REDUCE_SUM else total / n
    loss.backward()
    return loss.item(), A.grad.numpy(), B.grad.numpy(), S.grad.item(), Beta.grad.item()


def check_grads(ga, gb, ta, tb):
    gmax = max(np.abs(ta).max(), np.abs(tb).max())
    diff = max(np.abs(ga - ta).max(), np.abs(gb - tb).max())
    assert diff <= 1e-5 * gmax + 1e-12, (diff, gmax)
    return gmax


CASES = [(1, 3, 1.0, 0), (5, 17, 14.3, 2), (130, 64, 14.3, 0), (130, 3, 100.0, 7), (64, 513, 0.01, 24),
         (257, 40, 100.0, 0)]


@pytest.mark.parametrize("n,d,s,tile", CASES)
@pytest.mark.parametrize("reduction,eps", [(CLS_REDUCE_MEAN, 0.0), (CLS_REDUCE_SUM, 0.1)])
def test_ntxent_matches_torch(lib, n, d, s, tile, reduction, eps):
    rng = np.random.default_rng(n * 1000 + d)
    a, b = rows(rng, n, d), rows(rng, n, d)
    loss, ga, gb, gs = ntxent_clscale(lib, a, b, options(CLS_LOSS_NTXENT, s, 0.0, reduction, eps, tile))
    tl, ta, tb, ts = ntxent_torch(a, b, s, reduction, eps)
    assert abs(loss - tl) <= 1e-6 * abs(tl) + 1e-12, (loss, tl)
    gmax = check_grads(ga, gb, ta, tb)
    assert abs(gs - ts) <= 1e-5 * max(abs(ts), gmax) + 1e-12, (gs, ts)


@pytest.mark.parametrize("n,d,s,tile", CASES)
@pytest.mark.parametrize("beta,reduction", [(-10.0, CLS_REDUCE_MEAN), (1.5, CLS_REDUCE_SUM)])
def test_siglip_matches_torch(lib, n, d, s, tile, beta, reduction):
    rng = np.random.default_rng(n * 1000 + d + 1)
    a, b = rows(rng, n, d), rows(rng, n, d)
    res = Result()
    ga, gb = np.zeros_like(a), np.zeros_like(b)
    opt = options(CLS_LOSS_SIGLIP, s, beta, reduction, 0.0, tile)
    assert lib.cls_siglip_forward_backward(ctypes.byref(res), ptr(ga), ptr(gb), ptr(a), ptr(b), n, d,
                                           ctypes.byref(opt)) == 0
    tl, ta, tb, ts, tbeta = siglip_torch(a, b, s, beta, reduction)
    assert abs(res.loss - tl) <= 1e-6 * abs(tl), (res.loss, tl)
    gmax = check_grads(ga, gb, ta, tb)
    assert abs(res.grad_logit_scale - ts) <= 1e-5 * max(abs(ts), gmax), (res.grad_logit_scale, ts)
    assert abs(res.grad_bias - tbeta) <= 1e-5 * max(abs(tbeta), gmax), (res.grad_bias, tbeta)


def test_bad_input_reports_and_leaves_outputs(lib):
    a = np.ones((4, 3), np.float32)
    b = np.ones((4, 3), np.float32)
    a[1, 2] = np.nan
    res = Result(-1.0, -2.0, -3.0)
    ga, gb = np.full_like(a, 7.0), np.full_like(b, 7.0)
    st = lib.cls_siglip_forward_backward(ctypes.byref(res), ptr(ga), ptr(gb), ptr(a), ptr(b), 4, 3,
                                         ctypes.byref(options(CLS_LOSS_SIGLIP, 10.0, -10.0)))
    assert st == 2 and b"a[1][2] is NaN" in lib.cls_last_error()
    assert res.loss == -1.0 and (ga == 7.0).all() and (gb == 7.0).all()
    loss, lse = ctypes.c_double(-1.0), np.full(8, 7.0, np.float32)
    st = lib.cls_ntxent_forward(ctypes.byref(loss), ptr(lse), ptr(np.ones_like(a)), ptr(b), 4, 3,
                                ctypes.byref(options(CLS_LOSS_NTXENT, -1.0)))
    assert st == 1 and b"logit scale" in lib.cls_last_error()
    assert loss.value == -1.0 and (lse == 7.0).all()
