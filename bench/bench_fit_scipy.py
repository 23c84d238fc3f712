#!/usr/bin/python3
"""Benchmark: the full Chinchilla fit on Epoch's data (4,500-start grid + 1000
bootstrap resamples, each refit from the warm start plus 4 random grid
starts) with the clscale CLI, against the same procedure with SciPy's
L-BFGS-B (NumPy objective with analytic gradient, same tolerances).

The SciPy procedure is 4,500 + 1000 x 5 = 9,500 L-BFGS-B runs; by default a
fraction of it is timed (every 10th grid start and 100 of the 1000 resamples)
and extrapolated linearly to the full procedure, as printed.

usage: /usr/bin/python3 bench/bench_fit_scipy.py [--clscale build/clscale] [--fraction 0.1] [--repeats 3]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "python"))
import fit_common as fc  # noqa: E402


def time_clscale(binary, threads, repeats):
    cmd = [binary, "fit", fc.EPOCH_CSV, "--law", "chinchilla", "--x", "Model Size,Training FLOP",
           "--tokens-from-compute", "--y", "loss", "--drop-top", "5", "--bootstrap", "1000",
           "--threads", str(threads), "--json"]
    times, cpus, out = [], [], None
    for _ in range(repeats):
        u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(cmd, check=True, capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(u1.ru_utime + u1.ru_stime - u0.ru_utime - u0.ru_stime)
        out = json.loads(r.stdout)
    return statistics.median(times), statistics.median(cpus), out


def time_scipy(fraction, seed=0):
    N, D, L = fc.epoch_data()
    logN, logD, logL = np.log(N), np.log(D), np.log(L)
    grid = fc.grid()
    stride = max(1, int(round(1 / fraction)))
    nboot = max(1, int(round(1000 * fraction)))
    c0 = time.process_time()
    t0 = time.perf_counter()
    best = fc.scipy_fit(logN, logD, logL, grid[::stride])
    t_grid = time.perf_counter() - t0
    c_grid = time.process_time() - c0
    rng = np.random.default_rng(seed)
    rand_starts = [grid[i] for i in rng.integers(0, len(grid), 4)]
    alphas = []
    c0 = time.process_time()
    t0 = time.perf_counter()
    for _ in range(nboot):
        idx = rng.integers(0, len(L), len(L))
        res = fc.scipy_fit(logN[idx], logD[idx], logL[idx], [best.x] + rand_starts)
        alphas.append(res.x[3])
    t_boot = time.perf_counter() - t0
    c_boot = time.process_time() - c0
    scale_grid, scale_boot = len(grid) / len(grid[::stride]), 1000 / nboot
    full = t_grid * scale_grid + t_boot * scale_boot
    full_cpu = c_grid * scale_grid + c_boot * scale_boot
    return full, full_cpu, t_grid, len(grid[::stride]), t_boot, nboot, best, alphas


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clscale", default=os.environ.get("CLSCALE_BIN", "build/clscale"))
    ap.add_argument("--fraction", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    t_all, c_all, out = time_clscale(args.clscale, 0, args.repeats)
    t_one, c_one, _ = time_clscale(args.clscale, 1, args.repeats)
    lo, hi = out["ci95"]["alpha"]
    print(f"clscale, all cores ({os.cpu_count()}): median {t_all:.2f} s wall, {c_all:.2f} s CPU over "
          f"{args.repeats} runs (4,500 starts + 1000 resamples); alpha {out['params']['alpha']:.4f} "
          f"95% CI [{lo:.4f}, {hi:.4f}]")
    print(f"clscale, 1 thread: median {t_one:.2f} s wall, {c_one:.2f} s CPU")
    full, full_cpu, t_grid, ng, t_boot, nb, best, alphas = time_scipy(args.fraction)
    print(f"SciPy L-BFGS-B: grid {ng} starts in {t_grid:.1f} s, {nb} resamples x 5 starts in "
          f"{t_boot:.1f} s -> extrapolated full procedure {full:.0f} s wall, {full_cpu:.0f} s CPU "
          f"(alpha {best.x[3]:.4f}, 95% CI from {nb} resamples "
          f"[{np.percentile(alphas, 2.5):.4f}, {np.percentile(alphas, 97.5):.4f}])")
    print(f"ratio SciPy / clscale: {full / t_all:.1f}x wall (all cores), {full / t_one:.1f}x wall "
          f"(1 thread vs 1 thread), {full_cpu / c_one:.1f}x CPU time (1 thread)")
    print(f"goal: clscale < 30 s: {'yes' if t_all < 30 else 'NO'}; >= 10x faster: "
          f"{'yes' if full / t_all >= 10 else 'NO'}")


if __name__ == "__main__":
    main()
