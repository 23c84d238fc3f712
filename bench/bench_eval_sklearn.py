#!/usr/bin/env python3
"""Benchmarks of clscale's evaluation against in-run baselines (ratios).

probe: cls_eval_probe on n x dim float32 features (10 Gaussian classes,
       power-law spectrum), the
       full default grid (7 lambdas 1e4..1e-2 on a seeded 90/10 split, then a
       refit on all rows), against scikit-learn's LogisticRegression(
       solver="lbfgs") running the same protocol on the same standardised
       features and the same grid (C = 1/lambda), BLAS limited to the same
       threads (threadpoolctl).
knn:   cls_eval_knn (k = 200, cosine, weighted) on m x n x dim against a NumPy
       reference (normalise, similarities in blocks of 1000 test rows,
       argpartition, weighted votes), predictions checked equal; peak RSS of
       `clscale eval --knn 200` on the same .npy inputs vs input bytes.

Medians of --repeats paired runs. Usage:
  OMP_WAIT_POLICY=passive nice python3 bench/bench_eval_sklearn.py [--what probe|knn|both]
      [--n 60000] [--dim 512] [--test 10000] [--threads 2] [--repeats 3]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
import eval_ctypes as E  # noqa: E402


def features(rng, n, dim, k=10, sep=0.25):
    """10 Gaussian classes with a power-law covariance spectrum (variance of
    direction j ~ 1/j, as real embeddings have), so the probe is ill-conditioned
    the way real ones are."""
    scale = (np.arange(1, dim + 1, dtype=np.float32) ** -0.5)
    centres = rng.normal(size=(k, dim)).astype(np.float32) * sep * scale
    y = rng.integers(0, k, n)
    x = centres[y] + rng.normal(size=(n, dim)).astype(np.float32) * scale
    # a fixed random rotation mixes the directions (standardisation alone would undo the scales)
    q, _ = np.linalg.qr(np.random.default_rng(12345).normal(size=(dim, dim)))
    return (x @ q.astype(np.float32)).astype(np.float32), y


def sklearn_probe(x, y, xt, yt, grid, seed, threads):
    from sklearn.linear_model import LogisticRegression
    x = x.astype(np.float64)
    mean, sd = x.mean(0), x.std(0)
    sd[sd == 0] = 1
    xs, xts = (x - mean) / sd, (xt.astype(np.float64) - mean) / sd
    perm = np.random.default_rng(seed).permutation(len(x))
    nval = int(round(0.1 * len(x)))
    fit, val = perm[:-nval], perm[-nval:]
    best, best_acc = None, -1
    with threadpool_limits(limits=threads):
        for lam in grid:
            m = LogisticRegression(C=1.0 / lam, solver="lbfgs", max_iter=1000).fit(xs[fit], y[fit])
            acc = m.score(xs[val], y[val])
            if acc > best_acc:
                best, best_acc = lam, acc
        m = LogisticRegression(C=1.0 / best, solver="lbfgs", max_iter=1000).fit(xs, y)
        return m.score(xts, yt), best


def bench_probe(args, lib):
    rng = np.random.default_rng(0)
    x, y = features(rng, args.n, args.dim)
    xt, yt = features(np.random.default_rng(0), 2000, args.dim)  # same centres (same first draw)
    grid = np.logspace(4, -2, 7)
    ours, theirs = [], []
    for rep in range(args.repeats):
        t = time.perf_counter()
        r = E.probe(lib, x, y, xt, yt, threads=args.threads)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        acc, lam = sklearn_probe(x, y, xt, yt, grid, rep, args.threads)
        theirs.append(time.perf_counter() - t)
        print(f"  probe run {rep}: clscale {ours[-1]:.2f} s (acc {r['accuracy']:.4f}, lambda {r['l2']:g}, "
              f"{r['evaluations']} evaluations)  scikit-learn {theirs[-1]:.2f} s (acc {acc:.4f}, lambda {lam:g})",
              flush=True)
    mo, mt = np.median(ours), np.median(theirs)
    print(f"probe {args.n}x{args.dim}, 10 classes, 7-point grid + refit, {args.threads} threads: "
          f"clscale {mo:.2f} s, scikit-learn {mt:.2f} s, speed-up {mt / mo:.2f}x (median of {args.repeats})")


def numpy_knn(xtr, ytr, xte, k=200, temperature=0.07, block=1000):
    classes, yi = np.unique(ytr, return_inverse=True)
    t = xtr / np.linalg.norm(xtr, axis=1, keepdims=True)
    pred = np.empty(len(xte), np.int64)
    for s in range(0, len(xte), block):
        q = xte[s:s + block]
        q = q / np.linalg.norm(q, axis=1, keepdims=True)
        sim = q @ t.T
        top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        w = np.exp(np.take_along_axis(sim, top, 1).astype(np.float64) / temperature)
        votes = np.zeros((len(q), len(classes)))
        np.add.at(votes, (np.arange(len(q))[:, None], yi[top]), w)
        pred[s:s + block] = classes[votes.argmax(1)]
    return pred


def bench_knn(args, lib):
    rng = np.random.default_rng(1)
    xtr, ytr = features(rng, args.n, args.dim)
    xte, yte = features(np.random.default_rng(1), args.test, args.dim)
    ours, theirs = [], []
    for rep in range(args.repeats):
        t = time.perf_counter()
        r = E.knn(lib, xtr, ytr, xte, yte, threads=args.threads)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        with threadpool_limits(limits=args.threads):
            p = numpy_knn(xtr, ytr, xte)
        theirs.append(time.perf_counter() - t)
        agree = (p == r["predictions"]).mean()
        print(f"  knn run {rep}: clscale {ours[-1]:.2f} s (acc {r['accuracy']:.4f})  NumPy {theirs[-1]:.2f} s "
              f"(predictions agree on {agree:.4%})", flush=True)
    mo, mt = np.median(ours), np.median(theirs)
    print(f"knn {args.test}x{args.n}x{args.dim}, k 200, {args.threads} threads: clscale {mo:.2f} s, "
          f"NumPy {mt:.2f} s, speed-up {mt / mo:.2f}x (median of {args.repeats})")
    # peak memory of the CLI on the same inputs
    binary = os.environ.get("CLSCALE_BIN", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build",
                                                        "clscale"))
    with tempfile.TemporaryDirectory() as d:
        for name, a in (("xtr", xtr), ("ytr", ytr), ("xte", xte), ("yte", yte)):
            np.save(os.path.join(d, name + ".npy"), a)
        inputs = xtr.nbytes + xte.nbytes + ytr.nbytes + yte.nbytes
        p = subprocess.run(["/usr/bin/time", "-f", "%M", binary, "eval", "--train", f"{d}/xtr.npy", "--train-labels",
                            f"{d}/ytr.npy", "--test", f"{d}/xte.npy", "--test-labels", f"{d}/yte.npy", "--knn", "200",
                            "--threads", str(args.threads), "--json"], capture_output=True, text=True)
        peak = int(p.stderr.strip().splitlines()[-1]) * 1024
        print(f"knn peak RSS (clscale eval --knn 200): {peak / 2**20:.1f} MiB, inputs {inputs / 2**20:.1f} MiB, "
              f"excess {(peak - inputs) / 2**20:.1f} MiB (target <= 64)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--what", default="both", choices=["probe", "knn", "both"])
    ap.add_argument("--n", type=int, default=60000)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--test", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    lib = E.library()
    print(f"load: {open('/proc/loadavg').read().strip()}", flush=True)
    if args.what in ("probe", "both"):
        bench_probe(args, lib)
    if args.what in ("knn", "both"):
        bench_knn(args, lib)
    print(f"load: {open('/proc/loadavg').read().strip()}")


if __name__ == "__main__":
    main()
