#!/usr/bin/python3
"""clscale.torch.ClipLoss against PyTorch's own full-logits CLIP loss, from Python.

  speed     forward+backward at b x d (default 16384 x 512): medians of paired
            runs (the bare C call, ClipLoss, torch, in turn), ratios torch /
            ClipLoss and ClipLoss / C call; --precision bf16|both adds the
            bf16 tile products (ClipLoss(precision="bf16")).
  memory    forward+backward at b x d (default 65536 x 128) in a fresh process:
            peak RSS growth (VmHWM reset after setup) against inputs + gradients
            + 128 MiB. PyTorch's loss is not run there: it would hold about
            three b x b float32 matrices (logits and both softmax gradients),
            ~3 * 4 b^2 bytes = 48 GiB at b = 65536.
  overhead  b x d (default 256 x 512): ClipLoss forward+backward through
            autograd against the bare C call (cls_loss_compute through ctypes
            on preallocated buffers), medians of interleaved runs.

Run under nice with OMP_WAIT_POLICY=passive on a shared machine; the load
average is printed beside the figures.
    CLSCALE_LIB=build/libclscale.so nice /usr/bin/python3 bench/bench_py_torch.py
"""
import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import clscale  # noqa: E402
import clscale.torch as ct  # noqa: E402
from clscale import _abi, _lib  # noqa: E402


def features(b, d, seed):
    g = torch.Generator().manual_seed(seed)
    x = F.normalize(torch.randn(b, d, generator=g), dim=1)
    return x.requires_grad_(True)


def torch_clip(a, b, s):
    x = s * a @ b.T
    t = torch.arange(a.shape[0])
    return (F.cross_entropy(x, t) + F.cross_entropy(x.T, t)) / 2


def fwd_bwd(loss_fn, a, b, s):
    a.grad = b.grad = None
    t0 = time.perf_counter()
    loss_fn(a, b, s).backward()
    return time.perf_counter() - t0


def c_call_fn(a, bb, s, precision=None):
    """The bare C call (cls_loss_compute through ctypes on preallocated NumPy
    buffers over the same memory as the tensors): the floor the binding adds to."""
    b, d = a.shape
    an, bn = a.detach().numpy(), bb.detach().numpy()
    ga, gb = np.empty_like(an), np.empty_like(bn)
    opt = clscale._loss.options("clip", float(s), precision=precision)
    res = _abi.LossResult()
    p = _lib.f32p
    args = (ctypes.byref(res), ga.ctypes.data_as(p), gb.ctypes.data_as(p), an.ctypes.data_as(p),
            b, bn.ctypes.data_as(p), b, d, None, ctypes.byref(opt))
    call = clscale._C.loss_compute

    def c_call():
        t0 = time.perf_counter()
        _lib.check(call(*args))
        return time.perf_counter() - t0
    return c_call


def speed(b, d, reps, precision=None):
    """Paired runs, in turn: the C call, ClipLoss fwd+bwd, PyTorch's loss. The
    ratios: PyTorch / ClipLoss (the target) and ClipLoss / C call (what the
    Python path adds)."""
    a, bb = features(b, d, 1), features(b, d, 2)
    clip = ct.ClipLoss(precision=precision)
    s = torch.tensor(1 / 0.07)
    c_call = c_call_fn(a, bb, s, precision)
    c_call()  # warm up all three
    fwd_bwd(clip, a, bb, s)
    fwd_bwd(torch_clip, a, bb, s)
    cs, ours, theirs = [], [], []
    for _ in range(reps):
        cs.append(c_call())
        ours.append(fwd_bwd(clip, a, bb, s))
        theirs.append(fwd_bwd(torch_clip, a, bb, s))
    mc, mo, mt = statistics.median(cs), statistics.median(ours), statistics.median(theirs)
    r = lambda xs: [round(x, 3) for x in xs]  # noqa: E731
    print(f"speed b={b} d={d} precision={precision or 'fp32'}: C call {mc:.3f} s, ClipLoss "
          f"{mo:.3f} s, torch {mt:.3f} s (medians of {reps} triples; C {r(cs)}, ClipLoss "
          f"{r(ours)}, torch {r(theirs)}) -> torch/ClipLoss {mt / mo:.2f}x, "
          f"ClipLoss/C call {mo / mc:.3f}, load {os.getloadavg()[0]:.2f}")


def rss_child(b, d):
    a, bb = features(b, d, 1), features(b, d, 2)
    s = torch.tensor(1 / 0.07)
    ct.ClipLoss()(a[:64].detach().clone().requires_grad_(), bb[:64].detach().clone()
                  .requires_grad_(), s).backward()  # load everything once
    hwm_before = clscale._C.peak_rss()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    base = current_rss()
    t0 = time.perf_counter()
    ct.ClipLoss()(a, bb, s).backward()
    dt = time.perf_counter() - t0
    peak = clscale._C.peak_rss()
    io = 2 * b * d * 4 * 2  # inputs + gradients, float32
    grown = peak - base
    print(f"memory b={b} d={d}: {dt:.1f} s, peak RSS growth {grown / 2**20:.0f} MiB "
          f"(inputs + gradients {io / 2**20:.0f} MiB; bound {io / 2**20 + 128:.0f} MiB; "
          f"RSS at the reset {base / 2**20:.0f} MiB, setup peak {hwm_before / 2**20:.0f} MiB)"
          f" -> {'within' if grown <= io + 128 * 2**20 else 'OVER'} the bound; "
          f"PyTorch's full logits would need ~{3 * 4 * b * b / 2**30:.0f} GiB (not run)")


def current_rss():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def overhead(b, d, reps):
    """Returns (median C call, median ClipLoss) seconds at b x d."""
    a, bb = features(b, d, 1), features(b, d, 2)
    clip = ct.ClipLoss()
    s = torch.tensor(1 / 0.07)
    c_call = c_call_fn(a, bb, s)

    for _ in range(10):
        c_call()
        fwd_bwd(clip, a, bb, s)
    cs, ts = [], []
    for _ in range(reps):
        cs.append(c_call())
        ts.append(fwd_bwd(clip, a, bb, s))
    mc, mt = statistics.median(cs), statistics.median(ts)
    print(f"overhead b={b} d={d}: C call {mc * 1e3:.3f} ms, ClipLoss fwd+bwd {mt * 1e3:.3f} ms "
          f"(medians of {reps} interleaved) -> {100 * (mt / mc - 1):+.1f} %; "
          f"minima {min(cs) * 1e3:.3f} / {min(ts) * 1e3:.3f} ms -> "
          f"{100 * (min(ts) / min(cs) - 1):+.1f} %")
    return min(cs), min(ts)



def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--b", type=int, default=16384)
    ap.add_argument("--d", type=int, default=512)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rss-b", type=int, default=65536)
    ap.add_argument("--rss-d", type=int, default=128)
    ap.add_argument("--overhead-b", type=int, default=256)
    ap.add_argument("--overhead-reps", type=int, default=200)
    ap.add_argument("--only", choices=["speed", "memory", "overhead"])
    ap.add_argument("--precision", default="fp32",
                    help="tile products for the speed run: fp32 (default), bf16, or both")
    ap.add_argument("--rss-child", action="store_true", help=argparse.SUPPRESS)
    o = ap.parse_args()
    # PyTorch gets the cores the library uses (threads = 0: all of them).
    torch.set_num_threads(os.cpu_count())
    if o.rss_child:
        rss_child(o.rss_b, o.rss_d)
        return
    print(f"clscale {clscale.version()} ({clscale.library_path()}), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    if o.only in (None, "overhead"):
        c, t = overhead(o.overhead_b, o.d, o.overhead_reps)
        c8, t8 = overhead(8, 8, 10 * o.overhead_reps)
        print(f"binding cost (ClipLoss minus C call at 8 x 8, minima): {(t8 - c8) * 1e6:.0f} us "
              f"= {100 * (t8 - c8) / c:.1f} % of the C call at b={o.overhead_b} (minimum)")
    if o.only in (None, "speed"):
        for prec in (("fp32", "bf16") if o.precision == "both" else (o.precision,)):
            speed(o.b, o.d, o.reps, None if prec == "fp32" else prec)
    if o.only in (None, "memory"):
        subprocess.run([sys.executable, __file__, "--rss-child", "--rss-b", str(o.rss_b),
                        "--rss-d", str(o.rss_d)], check=True)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
