"""Benchmark of `clscale spectrum` (run with Debian's /usr/bin/python3).

Part 1 (the issue's target): n = 60000, d = 2048 float32 embeddings with a
rotated power-law spectrum (alpha = 1). NumPy's
np.linalg.eigvalsh(np.cov(X, rowvar=False)) runs in this script on the array
already in memory; clscale runs as the CLI on the .npy file (reading it,
streaming, both the centred and the uncentred spectrum, all metrics), with
the same number of BLAS threads. Prints median times, the ratio, the worst
relative difference on the top 100 eigenvalues, CPU seconds (user + sys,
all threads) of both sides (less sensitive to other jobs on the machine than
wall time), the load average before and after, and clscale's peak RSS
against the input size and d^2 doubles.

Part 2: the randomized path at d = 16384 (n = 8000 by default: 0.5 GB of
float32, so that the exact Gram path (n x n) can serve as the reference on a
24 GB machine), time and top-100 accuracy against clscale's exact path.

--baseline-bin B also runs another clscale binary (an older build) on the
same file in every repetition of part 1, interleaved with the new one, and
prints the new/old ratios of wall and CPU time (paired, same load).

usage: CLSCALE_BIN=build/clscale /usr/bin/python3 bench/bench_spectrum.py
       [--threads T] [--reps R] [--n2 N] [--skip-part2] [--baseline-bin B]
"""
import argparse
import os
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--threads", type=int, default=os.cpu_count())
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--n", type=int, default=60000)
ap.add_argument("--d", type=int, default=2048)
ap.add_argument("--n2", type=int, default=8000)
ap.add_argument("--d2", type=int, default=16384)
ap.add_argument("--skip-part2", action="store_true")
ap.add_argument("--baseline-bin", default=None, help="an older clscale to run alongside (part 1)")
ap.add_argument("--tmp", default=os.environ.get("TMPDIR", "/tmp"))
args = ap.parse_args()
# NumPy's OpenBLAS reads these at import: same thread count as clscale.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(args.threads)
# On a shared, oversubscribed machine OpenMP's default spin-waiting makes
# multi-threaded BLAS up to 20x slower; passive waiting, for both sides.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import ctypes  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

BIN = os.environ.get("CLSCALE_BIN", os.path.join(os.path.dirname(__file__), "..", "build", "clscale"))
LIB = os.environ.get("CLSCALE_LIB", os.path.join(os.path.dirname(BIN), "libclscale.so"))


def cpu_seconds():
    """user + sys seconds of this process, all threads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def clscale(path, *extra, binary=None):
    """Run the CLI; return (seconds, peak RSS bytes, json, eigenvalues, CPU seconds)."""
    with tempfile.TemporaryDirectory(dir=args.tmp) as td:
        csv = os.path.join(td, "e.csv")
        out = os.path.join(td, "out.json")
        rss = os.path.join(td, "rss")
        # Peak RSS through /usr/bin/time: a child forked from this (large)
        # Python process would inherit its high-water mark in ru_maxrss.
        t = time.perf_counter()
        with open(out, "w") as f:
            p = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", rss, binary or BIN, "spectrum", path, "--json",
                                "--threads", str(args.threads), "--eigenvalues-out", csv, *extra],
                               stdout=f)
        dt = time.perf_counter() - t
        if p.returncode != 0:
            sys.exit(f"clscale failed ({p.returncode})")
        fields = open(rss).read().split()[-3:]
        peak = int(fields[0]) * 1024
        cpu = float(fields[1]) + float(fields[2])
        res = json.load(open(out))
        eig = np.loadtxt(csv, delimiter=",", skiprows=1, usecols=1)
    return dt, peak, res, eig, cpu


def library_eigenvalues(path):
    """cls_spectrum_eigenvalues_npy (centred only: the same output as eigvalsh(cov))."""
    # the bindings' struct mirrors, checked against the library when clscale loads it
    # (a hand copy here once had `bootstrap` 4 bytes short: options_init wrote past it)
    os.environ.setdefault("CLSCALE_LIB", LIB)
    from clscale import _abi, _lib
    lib = _lib.load()
    opt = _abi.SpectrumOptions()
    lib.cls_spectrum_options_init(ctypes.byref(opt))
    opt.threads = args.threads
    e = _abi.SpectrumEig()
    t, c = time.perf_counter(), cpu_seconds()
    st = lib.cls_spectrum_eigenvalues_npy(path.encode(), 1, ctypes.byref(opt), ctypes.byref(e))
    dt, dc = time.perf_counter() - t, cpu_seconds() - c
    if st != 0:
        sys.exit(f"cls_spectrum_eigenvalues_npy failed ({st})")
    vals = np.ctypeslib.as_array(e.values, shape=(e.count,)).copy()
    lib.cls_spectrum_eig_free(ctypes.byref(e))
    return dt, vals, dc


def powerlaw_f32(n, d, alpha, seed, rotate):
    rng = np.random.default_rng(seed)
    scale = (np.arange(1, d + 1) ** (-alpha / 2)).astype(np.float32)
    x = np.empty((n, d), dtype=np.float32)
    q = np.linalg.qr(rng.standard_normal((d, d)))[0].astype(np.float32) if rotate else None
    for i in range(0, n, 4096):
        z = rng.standard_normal((min(4096, n - i), d), dtype=np.float32) * scale
        x[i:i + len(z)] = z @ q.T if rotate else z
    return x


def part1():
    n, d = args.n, args.d
    print(f"== part 1: n={n} d={d} float32, alpha=1 rotated, {args.threads} BLAS threads, "
          f"{args.reps} reps, OMP_WAIT_POLICY={os.environ['OMP_WAIT_POLICY']}")
    x = powerlaw_f32(n, d, 1.0, 1, True)
    fd, path = tempfile.mkstemp(suffix=".npy", dir=args.tmp)
    os.close(fd)
    try:
        np.save(path, x)
        tn, tc, tl, rss, cn, cc, cl = [], [], [], [], [], [], []
        tb, cb, rb = [], [], []  # the baseline binary, if any
        load0 = os.getloadavg()
        for r in range(args.reps):
            t, c = time.perf_counter(), cpu_seconds()
            ref = np.linalg.eigvalsh(np.cov(x, rowvar=False))[::-1]
            tn.append(time.perf_counter() - t)
            cn.append(cpu_seconds() - c)
            dt, peak, res, eig, cpu = clscale(path)
            tc.append(dt)
            cc.append(cpu)
            rss.append(peak)
            dl, lvals, dcl = library_eigenvalues(path)
            tl.append(dl)
            cl.append(dcl)
            print(f"  rep {r}: numpy {tn[-1]:.2f} s ({cn[-1]:.2f} CPU s), clscale CLI {dt:.2f} s "
                  f"({cpu:.2f} CPU s), library eigenvalues {dl:.2f} s ({dcl:.2f} CPU s)", flush=True)
            if args.baseline_bin:
                db, pb, _, eb, cpb = clscale(path, binary=args.baseline_bin)
                tb.append(db)
                cb.append(cpb)
                rb.append(pb)
                print(f"         baseline CLI {db:.2f} s ({cpb:.2f} CPU s): new/old wall {dt / db:.3f}, "
                      f"CPU {cpu / cpb:.3f}", flush=True)
        load1 = os.getloadavg()
        top = np.max(np.abs(eig[:100] - ref[:100]) / ref[:100])
        topl = np.max(np.abs(lvals[:100] - ref[:100]) / ref[:100])
        mn, mc, ml = statistics.median(tn), statistics.median(tc), statistics.median(tl)
        qn, qc, ql = statistics.median(cn), statistics.median(cc), statistics.median(cl)
        inp = x.nbytes
        print(f"numpy eigvalsh(cov) median {mn:.2f} s; clscale CLI (all metrics, both spectra) median "
              f"{mc:.2f} s: ratio {mn / mc:.2f}x; library cls_spectrum_eigenvalues_npy (same output as "
              f"numpy) median {ml:.2f} s: ratio {mn / ml:.2f}x")
        print(f"CPU seconds (user+sys, all threads) medians: numpy {qn:.2f}, clscale CLI {qc:.2f} "
              f"(ratio {qn / qc:.2f}x), library {ql:.2f} (ratio {qn / ql:.2f}x)")
        print(f"load average (1/5/15 min) before {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, after "
              f"{load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f} on {os.cpu_count()} cores")
        print(f"top-100 eigenvalues: max relative difference CLI {top:.2e}, library {topl:.2e} (target 1e-12)")
        print(f"clscale peak RSS {max(rss) / 2**20:.0f} MiB; input {inp / 2**20:.0f} MiB; "
              f"d^2 doubles {d * d * 8 / 2**20:.0f} MiB; peak = input x {max(rss) / inp:.2f} "
              f"= d^2 doubles x {max(rss) / (d * d * 8):.1f}")
        print(f"numpy process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10:.0f} MiB "
              f"(includes X)")
        print(f"alpha {res['alpha']:.4f} R2 {res['r2']:.4f} rankme {res['rankme']:.1f}")
        if args.baseline_bin:
            topb = np.max(np.abs(eb[:100] - ref[:100]) / ref[:100])
            print(f"baseline CLI ({args.baseline_bin}) median {statistics.median(tb):.2f} s wall, "
                  f"{statistics.median(cb):.2f} CPU s, peak RSS {max(rb) / 2**20:.0f} MiB, top-100 {topb:.2e}; "
                  f"new/old medians of the paired ratios: wall "
                  f"{statistics.median([a / b for a, b in zip(tc, tb)]):.3f}, CPU "
                  f"{statistics.median([a / b for a, b in zip(cc, cb)]):.3f}; numpy / baseline wall "
                  f"{mn / statistics.median(tb):.2f}x")
    finally:
        os.unlink(path)


def part2():
    n, d = args.n2, args.d2
    print(f"== part 2: randomized path, n={n} d={d} float32 ({n * d * 4 / 2**30:.2f} GiB), alpha=1")
    x = powerlaw_f32(n, d, 1.0, 2, False)
    fd, path = tempfile.mkstemp(suffix=".npy", dir=args.tmp)
    os.close(fd)
    try:
        np.save(path, x)
        del x
        tr, _, rr, er, _ = clscale(path, "--method", "randomized")
        print(f"  randomized {tr:.2f} s (alpha {rr['alpha']:.6f})")
        te, pe, re_, ee, _ = clscale(path, "--method", "exact")
        print(f"  exact (Gram {n}x{n}) {te:.2f} s (alpha {re_['alpha']:.6f}), peak RSS {pe / 2**20:.0f} MiB")
        top = np.max(np.abs(er[:100] - ee[:100]) / ee[:100])
        print(f"randomized {tr:.2f} s vs exact {te:.2f} s: ratio {te / tr:.2f}x; top-100 max relative "
              f"difference {top:.2e}; |alpha difference| {abs(rr['alpha'] - re_['alpha']):.2e}")
    finally:
        os.unlink(path)


part1()
if not args.skip_part2:
    part2()
