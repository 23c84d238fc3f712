"""The encoders of libclscale (mlp, cnn + projection head) against PyTorch
twins built with the same layout and loaded with the same flat parameters,
through ctypes (env CLSCALE_LIB; public functions only).

Checks, for mlp (W=48) and cnn (c=4) with and without a head:
  - forward h and z against the float64 twin: max|x - ref| <= 1e-4 max|ref|;
  - a loss L = sum(z * R) (R fixed random, so dL/dz = R), and every parameter
    gradient tensor: max|g - ref| <= 1e-4 max|ref| per tensor, the backward
    run in two chunks (gradients accumulate);
  - the initialisation: every weight within PyTorch's kaiming_uniform_(a=sqrt(5))
    bound 1/sqrt(fan_in), biases 0;
  - 3 optimiser steps (fresh gradients of the updated model each step, the
    same gradient vectors fed to both sides) of SGD (plain and Nesterov),
    AdamW (torch.optim.*, biases in a group without weight decay) and LARS (a
    NumPy SimCLR LARS, tests/python/test_optim_lars.py): parameters within
    |p - ref| <= 1e-5 |ref| + 1e-5 max|ref| per tensor.
"""
import ctypes
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from test_optim_lars import LIB, Optimizer, _abi, lars_ref, setup_optim  # noqa: E402

f32p = ctypes.POINTER(ctypes.c_float)


# the library-checked mirror of cls_model_config (python/clscale/_abi.py), never a copy
ModelConfig = _abi.ModelConfig


def load():
    if not os.path.exists(LIB):
        pytest.skip(f"{LIB} not built")
    lib = ctypes.CDLL(LIB)
    vp = ctypes.c_void_p
    lib.cls_model_config_init.argtypes = [ctypes.POINTER(ModelConfig), ctypes.c_int]
    lib.cls_model_create.argtypes = [ctypes.POINTER(vp), ctypes.POINTER(ModelConfig)]
    for f in ("cls_model_param_count", "cls_model_in_dim", "cls_model_repr_dim", "cls_model_out_dim"):
        getattr(lib, f).argtypes = [vp]
        getattr(lib, f).restype = ctypes.c_int64
    lib.cls_model_params.argtypes = [vp]
    lib.cls_model_params.restype = f32p
    lib.cls_model_grads.argtypes = [vp]
    lib.cls_model_grads.restype = f32p
    lib.cls_model_zero_grad.argtypes = [vp]
    lib.cls_model_segments.argtypes = [vp, ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.POINTER(ctypes.c_int64)),
                                       ctypes.POINTER(ctypes.POINTER(ctypes.c_int64)),
                                       ctypes.POINTER(ctypes.POINTER(ctypes.c_uint8))]
    lib.cls_model_cache_create.argtypes = [ctypes.POINTER(vp), vp, ctypes.c_int64]
    lib.cls_model_cache_free.argtypes = [vp]
    lib.cls_model_forward.argtypes = [vp, vp, ctypes.c_int64, vp, vp, vp, ctypes.c_int]
    lib.cls_model_backward.argtypes = [vp, vp, vp, vp, ctypes.c_int64, ctypes.c_int]
    lib.cls_model_free.argtypes = [vp]
    return setup_optim(lib)


class Model:
    def __init__(self, lib, kind, width, proj_dim, seed=11):
        self.lib = lib
        cfg = ModelConfig()
        lib.cls_model_config_init(ctypes.byref(cfg), kind)
        cfg.width, cfg.proj_dim, cfg.seed = width, proj_dim, seed
        self.h = ctypes.c_void_p()
        assert lib.cls_model_create(ctypes.byref(self.h), ctypes.byref(cfg)) == 0, lib.cls_last_error()
        self.n = lib.cls_model_param_count(self.h)
        self.D, self.R, self.Z = (lib.cls_model_in_dim(self.h), lib.cls_model_repr_dim(self.h),
                                  lib.cls_model_out_dim(self.h))
        cnt = ctypes.c_int64()
        off, ln, b = ctypes.POINTER(ctypes.c_int64)(), ctypes.POINTER(ctypes.c_int64)(), ctypes.POINTER(ctypes.c_uint8)()
        lib.cls_model_segments(self.h, ctypes.byref(cnt), ctypes.byref(off), ctypes.byref(ln), ctypes.byref(b))
        self.segments = [(off[i], ln[i], b[i]) for i in range(cnt.value)]

    def params(self):
        return np.ctypeslib.as_array(self.lib.cls_model_params(self.h), shape=(self.n,))

    def grads(self):
        return np.ctypeslib.as_array(self.lib.cls_model_grads(self.h), shape=(self.n,))

    def forward_backward(self, x, R, chunks=2, threads=2):
        """h, z of x and the gradient of sum(z * R), backward in `chunks` chunks."""
        n = x.shape[0]
        h = np.zeros((n, self.R), np.float32)
        z = np.zeros((n, self.Z), np.float32)
        cache = ctypes.c_void_p()
        assert self.lib.cls_model_cache_create(ctypes.byref(cache), self.h, n) == 0
        self.lib.cls_model_zero_grad(self.h)
        for idx in np.array_split(np.arange(n), chunks):
            xs = np.ascontiguousarray(x[idx])
            hs, zs = np.zeros((len(idx), self.R), np.float32), np.zeros((len(idx), self.Z), np.float32)
            Rs = np.ascontiguousarray(R[idx])
            assert self.lib.cls_model_forward(self.h, xs.ctypes.data, len(idx), hs.ctypes.data, zs.ctypes.data,
                                              cache, threads) == 0, self.lib.cls_last_error()
            assert self.lib.cls_model_backward(self.h, cache, Rs.ctypes.data, None, len(idx), threads) == 0
            h[idx], z[idx] = hs, zs
        self.lib.cls_model_cache_free(cache)
        return h, z, self.grads().copy()

    def __del__(self):
        if getattr(self, "h", None):
            self.lib.cls_model_free(self.h)


def twin(kind, width, proj_dim, in_dim=784):
    """PyTorch encoder + head with clscale's parameter order; returns (encoder, head)."""
    nn = torch.nn
    if kind == 0:
        enc = nn.Sequential(nn.Linear(in_dim, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU())
        R = width
    else:
        c = width

        class Cnn(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Conv2d(1, c, 3, 1, 1), nn.ReLU(), nn.Conv2d(c, 2 * c, 3, 2, 1), nn.ReLU(),
                                          nn.Conv2d(2 * c, 4 * c, 3, 2, 1), nn.ReLU(),
                                          nn.Conv2d(4 * c, 4 * c, 3, 1, 1), nn.ReLU())

            def forward(self, x):
                return self.body(x.view(-1, 1, 28, 28)).mean(dim=(2, 3))

        enc = Cnn()
        R = 4 * c
    head = nn.Sequential(nn.Linear(R, R), nn.ReLU(), nn.Linear(R, proj_dim)) if proj_dim else nn.Identity()
    return enc.double(), head.double()


def load_flat(mods, flat):
    ps = [p for m in mods for p in m.parameters()]
    k = 0
    with torch.no_grad():
        for p in ps:
            p.copy_(torch.from_numpy(flat[k:k + p.numel()].astype(np.float64)).view_as(p))
            k += p.numel()
    assert k == flat.size
    return ps


def close(x, ref, rel, what):
    err = np.abs(x - ref).max()
    assert err <= rel * np.abs(ref).max() + 1e-12, f"{what}: max|diff| {err:.3g} vs max|ref| {np.abs(ref).max():.3g}"


CASES = [(0, 48, 16), (0, 24, 0), (1, 4, 8), (1, 3, 0)]


@pytest.mark.parametrize("kind,width,proj", CASES)
def test_forward_backward_against_torch(kind, width, proj):
    lib = load()
    m = Model(lib, kind, width, proj)
    assert m.n == sum(ln for _, ln, _ in m.segments)
    rng = np.random.default_rng(kind * 10 + width)
    n = 13
    x = rng.random((n, m.D), dtype=np.float32)
    R = rng.normal(size=(n, m.Z)).astype(np.float32)
    h, z, g = m.forward_backward(x, R, chunks=2)
    enc, head = twin(kind, width, proj)
    ps = load_flat([enc, head], m.params())
    # init: PyTorch's kaiming_uniform_(a=sqrt(5)) bound, biases 0
    for (off, ln, bias), p in zip(m.segments, ps):
        v = m.params()[off:off + ln]
        if bias:
            assert np.all(v == 0)
        else:
            bound = 1.0 / np.sqrt(p[0].numel())
            assert np.abs(v).max() <= bound and np.abs(v).max() > 0.5 * bound
    X = torch.from_numpy(x.astype(np.float64))
    H = enc(X)
    Z = head(H)
    loss = (Z * torch.from_numpy(R.astype(np.float64))).sum()
    loss.backward()
    close(h, H.detach().numpy(), 1e-4, "h")
    close(z, Z.detach().numpy(), 1e-4, "z")
    lib_loss = float((z.astype(np.float64) * R).sum())
    assert abs(lib_loss - loss.item()) <= 1e-4 * np.abs(z * R).sum()
    for i, ((off, ln, bias), p) in enumerate(zip(m.segments, ps)):
        close(g[off:off + ln], p.grad.numpy().ravel(), 1e-4, f"grad of segment {i} (bias={bias})")


def torch_opt(kind, ps, segments, lr, wd, nesterov=False):
    w = [p for p, s in zip(ps, segments) if not s[2]]
    b = [p for p, s in zip(ps, segments) if s[2]]
    groups = [{"params": w, "weight_decay": wd}, {"params": b, "weight_decay": 0.0}]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=nesterov)
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)


@pytest.mark.parametrize("kind,width,proj", [(0, 32, 16), (1, 4, 8)])
@pytest.mark.parametrize("opt,nesterov", [("sgd", False), ("sgd", True), ("adamw", False), ("lars", False)])
def test_optimizer_steps_against_torch(kind, width, proj, opt, nesterov):
    lib = load()
    m = Model(lib, kind, width, proj, seed=5)
    rng = np.random.default_rng(17)
    n = 9
    x = rng.random((n, m.D), dtype=np.float32)
    R = rng.normal(size=(n, m.Z)).astype(np.float32)
    lr, wd = (0.05, 0.01) if opt != "lars" else (0.8, 1e-3)
    o = Optimizer(lib, opt, m.n, [s[0] for s in m.segments], [s[1] for s in m.segments],
                  [s[2] for s in m.segments], momentum=0.9, nesterov=int(nesterov), weight_decay=wd, trust=0.001)
    enc, head = twin(kind, width, proj)
    ps = load_flat([enc, head], m.params())
    ref = m.params().astype(np.float64)
    start = ref.copy()
    v = np.zeros(m.n)
    topt = torch_opt(opt, ps, m.segments, lr, wd, nesterov) if opt != "lars" else None
    for step in range(3):
        _, _, g = m.forward_backward(x, R, chunks=1)
        lr_t = lr * (1.0 - 0.2 * step)
        params = m.params()
        o.step(params, g, lr_t)
        if topt is not None:
            for gr in topt.param_groups:
                gr["lr"] = lr_t
            for (off, ln, _), p in zip(m.segments, ps):
                p.grad = torch.from_numpy(g[off:off + ln].astype(np.float64)).view_as(p).clone()
            topt.step()
            ref = np.concatenate([p.detach().numpy().ravel() for p in ps])
        else:
            lars_ref(ref, g.astype(np.float64), v, m.segments, lr_t, momentum=0.9, wd=wd, eta=0.001)
    assert np.abs(ref - start).max() > 1e-4, "the steps moved the parameters"
    for i, (off, ln, bias) in enumerate(m.segments):
        a, r = m.params()[off:off + ln], ref[off:off + ln]
        np.testing.assert_allclose(a, r, rtol=1e-5, atol=1e-5 * np.abs(r).max() + 1e-12,
                                   err_msg=f"{opt} nesterov={nesterov}: segment {i} (bias={bias})")
