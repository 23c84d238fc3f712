#!/usr/bin/python3
"""Loss engine against PyTorch, and its memory footprint (run with Debian's /usr/bin/python3).

1. Speed: PyTorch's plain full-logits CLIP loss, forward + backward
   (logits = s * A @ B.T; (F.cross_entropy(logits, i) + F.cross_entropy(logits.T, i)) / 2;
   loss.backward()), at --batch x --dim with torch.set_num_threads(--threads), against
   `clscale bench loss --batch B --dim D --threads T --json --no-sgemm --repeats 1`, the two
   alternating --repeats times after a PyTorch warm-up; prints the median of the paired ratios
   torch_seconds / clscale_seconds (the issue's target: >= 2.5), then one full
   `clscale bench loss --batch B --dim D --json` for its in-run sgemm ratio.
2. Memory: `clscale bench loss --batch 131072 --dim 64 --no-sgemm --json` (one run); its peak
   RSS above the process baseline against inputs + gradients + 64 MB (prints the margin).

The machine may be shared: the script prints the load average next to each figure.
Usage: /usr/bin/python3 bench/bench_loss_torch.py [--batch 16384] [--dim 512] [--threads N]
       [--repeats 3] [--memory-batch 131072] [--memory-dim 64] [--skip-speed] [--skip-memory]
       [--skip-sgemm] [--precision fp32|bf16] [--json]

--precision bf16 runs clscale's tile products with bfloat16 inputs (fp32 accumulation; see
docs/loss.md for its error bound) while PyTorch stays at its fp32 full-logits loss: it shows
what the option buys, not a like-for-like comparison (the fp32 figure is that).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_BIN = os.environ.get("CLSCALE_BIN", os.path.join(HERE, "..", "build", "clscale"))


def load():
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def torch_clip_setup(batch, dim, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(batch, dim, generator=g), dim=1)
    b = F.normalize(a + torch.randn(batch, dim, generator=g), dim=1)
    labels = torch.arange(batch)

    def run_once():
        A = a.clone().requires_grad_(True)
        B = b.clone().requires_grad_(True)
        s = torch.tensor(1 / 0.07, requires_grad=True)
        t0 = time.perf_counter()
        logits = s * A @ B.T
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        loss.backward()
        return time.perf_counter() - t0

    return run_once


def clscale_bench(binary, *args):
    p = subprocess.run([binary, "bench", "loss", *map(str, args), "--json"], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("clscale bench loss failed: " + p.stderr.strip())
    return json.loads(p.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch", type=int, default=16384)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory-batch", type=int, default=131072)
    ap.add_argument("--memory-dim", type=int, default=64)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-sgemm", action="store_true", help="skip the full clscale bench (sgemm ratio)")
    ap.add_argument("--json", action="store_true", help="print one JSON object at the end")
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32",
                    help="clscale's tile products (PyTorch stays fp32)")
    ap.add_argument("--clscale", default=DEFAULT_BIN)
    args = ap.parse_args()
    out = {"threads": args.threads, "precision": args.precision}
    prec = ["--precision", args.precision]

    if not args.skip_speed:
        print("speed: CLIP loss forward+backward, batch %d, dim %d, %d threads, clscale %s (%s)"
              % (args.batch, args.dim, args.threads, args.precision, load()), flush=True)
        # Runs alternate (PyTorch, clscale, PyTorch, clscale, ...) so that both see the machine in
        # the same state; each clscale run is `clscale bench loss ... --no-sgemm --repeats 1`
        # (one timed forward+backward), and one full `clscale bench loss` gives the sgemm ratio.
        run_torch = torch_clip_setup(args.batch, args.dim, args.threads)
        run_torch()  # warm-up
        all_torch, all_cls, pair = [], [], []
        for _ in range(args.repeats):
            all_torch.append(run_torch())
            r = clscale_bench(args.clscale, "--batch", args.batch, "--dim", args.dim, "--threads", args.threads,
                              "--repeats", 1, "--no-sgemm", *prec)
            all_cls.append(r["seconds"])
            pair.append(all_torch[-1] / all_cls[-1])
            print("  run: PyTorch %.3f s, clscale %.3f s, ratio %.2f (%s)" % (all_torch[-1], all_cls[-1], pair[-1],
                                                                            load()), flush=True)
        t_torch, t_cls = statistics.median(all_torch), statistics.median(all_cls)
        print("  PyTorch full logits   median %.3f s" % t_torch, flush=True)
        print("  clscale tiled         median %.3f s" % t_cls, flush=True)
        speedup = statistics.median(pair)
        out.update(batch=args.batch, dim=args.dim, torch_seconds=t_torch, torch_runs=all_torch,
                   clscale_seconds=t_cls, clscale_runs=all_cls, speedup_vs_torch=speedup)
        if not args.skip_sgemm:
            r = clscale_bench(args.clscale, "--batch", args.batch, "--dim", args.dim, "--threads", args.threads,
                              "--repeats", args.repeats, *prec)
            print("  clscale bench loss    median %.3f s, sgemm ratio %.3f (%s)" % (r["seconds"], r["sgemm_ratio"],
                                                                                 load()), flush=True)
            out.update(clscale_bench_seconds=r["seconds"], clscale_sgemm_ratio=r["sgemm_ratio"])
        naive = 4.0 * args.batch * args.batch
        print("  speed-up vs PyTorch   %.2fx (median of the paired runs; issue 11's target >= 5x); PyTorch holds"
              " >= %.2f GB of logits" % (speedup, 2 * naive / 1e9), flush=True)

    if not args.skip_memory:
        b, d = args.memory_batch, args.memory_dim
        print("memory: batch %d, dim %d, %d threads, one forward+backward (%s)" % (b, d, args.threads, load()),
              flush=True)
        r = clscale_bench(args.clscale, "--batch", b, "--dim", d, "--threads", args.threads, "--no-sgemm",
                          "--repeats", 1)
        above = r["peak_rss_bytes"] - r["baseline_rss_bytes"]
        budget = r["inputs_gradients_bytes"] + 64 * 2**20
        print("  peak RSS above baseline %.1f MiB; inputs + gradients + 64 MiB = %.1f MiB; margin %.1f MiB (%s)"
              % (above / 2**20, budget / 2**20, (budget - above) / 2**20, "PASS" if above <= budget else "FAIL"))
        print("  time %.1f s; a naive b x b float32 logits matrix alone: %.1f GB" % (r["seconds"],
                                                                                  r["naive_logits_bytes"] / 1e9))
        out.update(memory_batch=b, memory_dim=d, peak_rss_above_baseline_bytes=above, memory_budget_bytes=budget,
                   memory_margin_bytes=budget - above, memory_seconds=r["seconds"])
    if args.json:
        print(json.dumps(out))


if __name__ == "__main__":
    main()
