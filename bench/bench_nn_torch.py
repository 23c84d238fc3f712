#!/usr/bin/python3
"""Layer-level speed of the encoders: forward + backward (cached forward,
backward of sum(z * R), parameter gradients) of mlp W=1024 and cnn c=32 with
their projection heads at batch 512, libclscale (ctypes, env CLSCALE_LIB,
default build/libclscale.so) against the same model in PyTorch (float32,
torch.set_num_threads(T), the same T for both). Prints samples/s and the
ratio clscale/torch: medians of paired runs.

Usage: bench/bench_nn_torch.py [--threads T] [--batch B] [--reps R]
(the training helper's bench_train_torch.py measures whole training steps)
"""
import argparse
import ctypes
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
import test_nn_torch as T  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    lib = T.load()
    print(f"# threads {a.threads}, batch {a.batch}, load {os.getloadavg()[0]:.2f}, torch {torch.__version__}")
    print("model clscale_samples_s torch_samples_s ratio")
    for kind, width, name in [(0, 1024, "mlp W=1024"), (1, 32, "cnn c=32")]:
        m = T.Model(lib, kind, width, 128, seed=1)
        enc, head = T.twin(kind, width, 128)
        enc, head = enc.float(), head.float()
        T.load_flat([enc, head], m.params())
        params = list(enc.parameters()) + list(head.parameters())
        rng = np.random.default_rng(0)
        x = rng.random((a.batch, m.D), dtype=np.float32)
        R = rng.normal(size=(a.batch, m.Z)).astype(np.float32)
        X, RT = torch.from_numpy(x), torch.from_numpy(R)

        cache = ctypes.c_void_p()
        assert lib.cls_model_cache_create(ctypes.byref(cache), m.h, a.batch) == 0
        z = np.zeros((a.batch, m.Z), np.float32)

        def run_cls():  # cached forward, zero_grad, backward (the cache is made once, as in training)
            t0 = time.perf_counter()
            lib.cls_model_forward(m.h, x.ctypes.data, a.batch, None, z.ctypes.data, cache, a.threads)
            lib.cls_model_zero_grad(m.h)
            lib.cls_model_backward(m.h, cache, R.ctypes.data, None, a.batch, a.threads)
            return time.perf_counter() - t0

        def run_torch():
            t0 = time.perf_counter()
            for p in params:
                p.grad = None
            (head(enc(X)) * RT).sum().backward()
            return time.perf_counter() - t0

        run_cls(), run_torch()  # warm-up
        tc, tt, ratio = [], [], []
        for _ in range(a.reps):
            c, t = run_cls(), run_torch()
            tc.append(c), tt.append(t), ratio.append(t / c)
        print(f"{name} {a.batch / np.median(tc):.0f} {a.batch / np.median(tt):.0f} {np.median(ratio):.2f}",
              flush=True)
        lib.cls_model_cache_free(cache)


if __name__ == "__main__":
    main()
