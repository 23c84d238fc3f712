#!/usr/bin/python3
"""Training throughput and memory of clscale against the same step in PyTorch.

Same model (mlp 784->W->W + head W->W->128, or the spec's cnn + head), same
loss (NT-Xent on L2-normalised z, tau 0.5), same optimiser (AdamW lr 1e-3,
wd 1e-6), same batch, same thread count, the same augmentations written in
torch ops (random resized crop by affine_grid + bilinear grid_sample with zero
padding, flip, contrast about the view mean, brightness, clamp). Each side runs
in its own process so its peak RSS is its own; figures are medians of the
timed steps after one warm-up step. Prints clscale/PyTorch samples/s ratios.
With --repeats R the runs are paired (clscale, [baseline clscale,] PyTorch, R
times, interleaved) and medians reported; --baseline BIN adds another clscale
binary (e.g. a build of the previous commit) to each pair. Beside samples/s
it prints each process's whole CPU time (user + system of all its threads,
INCLUDING start-up, data loading and the warm-up step; PyTorch's import alone
is ~1 s) divided by the timed steps: on a machine shared with other work wall
time follows the share of the cores a process gets, CPU time the work done.
Compare CPU columns between clscale binaries; against PyTorch only with
many steps (the start-up share differs).

With --precision bf16 clscale runs `--precision bf16` (Linear products with
bf16 inputs, fp32 accumulation) and PyTorch runs twice per pair: fp32 (the
issue's baseline, "same model") and under torch.autocast("cpu",
dtype=torch.bfloat16) around the forward and the loss (the like-for-like
mixed-precision comparison; autocast also runs the convolutions and the
similarity product in bf16, clscale keeps those fp32). Both ratios printed.

  bench_train_torch.py [--model mlp|cnn] [--width W] [--batch B ...] [--steps S]
                       [--threads T] [--repeats R] [--clscale BIN] [--baseline BIN]
                       [--precision fp32|bf16]
"""
import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def torch_child(a):
    import gzip

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz", "rb") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    data = torch.from_numpy(x.astype(np.float32) / 255.0)
    if a.model == "mlp":
        w = a.width or 1024
        enc = nn.Sequential(nn.Flatten(), nn.Linear(784, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU())
        h = w
    else:
        c = a.width or 32
        enc = nn.Sequential(nn.Conv2d(1, c, 3, 1, 1), nn.ReLU(), nn.Conv2d(c, 2 * c, 3, 2, 1), nn.ReLU(),
                            nn.Conv2d(2 * c, 4 * c, 3, 2, 1), nn.ReLU(), nn.Conv2d(4 * c, 4 * c, 3, 1, 1),
                            nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        h = 4 * c
    model = nn.Sequential(enc, nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 128))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-6)
    B = a.batch[0]
    gen = torch.Generator().manual_seed(0)

    def views(imgs):
        n = imgs.shape[0]
        area = 0.5 + 0.5 * torch.rand(n, generator=gen)
        logr = math.log(3 / 4) + (math.log(4 / 3) - math.log(3 / 4)) * torch.rand(n, generator=gen)
        r = torch.exp(logr)
        cw, ch = torch.sqrt(area * 784 * r), torch.sqrt(area * 784 / r)
        x0 = (28 - cw) * torch.rand(n, generator=gen)
        y0 = (28 - ch) * torch.rand(n, generator=gen)
        flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = cw / 28 * flip
        theta[:, 0, 2] = (2 * (x0 + cw / 2) / 28 - 1)
        theta[:, 1, 1] = ch / 28
        theta[:, 1, 2] = (2 * (y0 + ch / 2) / 28 - 1)
        grid = F.affine_grid(theta, (n, 1, 28, 28), align_corners=False)
        v = F.grid_sample(imgs, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        m = v.mean(dim=(1, 2, 3), keepdim=True)
        con = 0.6 + 0.8 * torch.rand(n, 1, 1, 1, generator=gen)
        bri = -0.4 + 0.8 * torch.rand(n, 1, 1, 1, generator=gen)
        return ((v - m) * con + m + bri).clamp(0, 1)

    def step():
        idx = torch.randint(0, data.shape[0], (B,), generator=gen)
        imgs = data[idx]
        x = torch.cat([views(imgs), views(imgs)])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.autocast):
            z = F.normalize(model(x), dim=1)
            s = z @ z.T / 0.5
            s.fill_diagonal_(float("-inf"))
            target = torch.cat([torch.arange(B, 2 * B), torch.arange(0, B)])
            loss = F.cross_entropy(s.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return float(loss)

    step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    sec = float(np.median(times))
    print(json.dumps({"samples_per_s": B / sec, "seconds_per_step": sec,
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--width", type=int, default=0)
    ap.add_argument("--batch", type=int, nargs="+", default=[512, 4096])
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=1, help="paired runs; medians reported")
    ap.add_argument("--clscale", default=str(Path(__file__).resolve().parents[1] / "build" / "clscale"))
    ap.add_argument("--baseline", default="", help="another clscale binary run in each pair")
    ap.add_argument("--torch-only", action="store_true")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                    help="clscale's --precision; bf16 also times PyTorch under autocast")
    ap.add_argument("--autocast", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child", action="store_true")
    a = ap.parse_args()
    if a.child:
        torch_child(a)
        return
    env = dict(os.environ, OMP_WAIT_POLICY="passive")
    print(f"# load {os.getloadavg()[0]:.2f}, threads {a.threads}, model {a.model} width {a.width or 'default'}, "
          f"steps {a.steps}, repeats {a.repeats}, clscale precision {a.precision}")
    if a.precision == "bf16":
        return main_bf16(a, env)
    print("batch,clscale_samples_per_s,torch_samples_per_s,ratio,clscale_peak_rss_mib,torch_peak_rss_mib,"
          "clscale_cpu_s_per_step,torch_cpu_s_per_step,cpu_ratio" +
          (",baseline_samples_per_s,speedup_vs_baseline,baseline_cpu_s_per_step,cpu_speedup_vs_baseline"
           if a.baseline else ""))

    def timed(cmd):
        """Run cmd; its stdout's JSON and the CPU seconds it used."""
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        return p, cpu

    def run_clscale(binary, B):
        c, cpu = timed([binary, "bench", "train", "--model", a.model, "--width", str(a.width), "--batch", str(B),
                        "--steps", str(a.steps), "--threads", str(a.threads), "--json"] +
                       (["--precision", a.precision] if a.precision != "fp32" else []))
        if c.returncode != 0:
            sys.exit(c.stderr)
        cj = json.loads(c.stdout)
        return cj["samples_per_s"], cj["peak_rss_bytes"] / 2**20, cpu / a.steps

    for B in a.batch:
        cs, ts, cr, tr, cc, tc, bs, bc = [], [], [], [], [], [], [], []
        for _ in range(a.repeats):
            v = run_clscale(a.clscale, B)
            cs.append(v[0])
            cr.append(v[1])
            cc.append(v[2])
            if a.baseline:
                v = run_clscale(a.baseline, B)
                bs.append(v[0])
                bc.append(v[2])
            t, cpu = timed([sys.executable, __file__, "--child", "--model", a.model, "--width", str(a.width),
                            "--batch", str(B), "--steps", str(a.steps), "--threads", str(a.threads)])
            if t.returncode != 0:
                ts.append(float("nan"))
                tr.append(float("nan"))
                tc.append(float("nan"))
                print(f"# torch failed at batch {B}: {t.stderr.strip().splitlines()[-1:]}")
            else:
                tj = json.loads(t.stdout)
                ts.append(tj["samples_per_s"])
                tr.append(tj["peak_rss_bytes"] / 2**20)
                tc.append(cpu / a.steps)
        med = lambda x: float(np.median(x))
        line = (f"{B},{med(cs):.1f},{med(ts):.1f},{med(cs) / med(ts):.2f},{med(cr):.0f},{med(tr):.0f},"
                f"{med(cc):.3f},{med(tc):.3f},{med(tc) / med(cc):.2f}")
        if a.baseline:
            line += f",{med(bs):.1f},{med(cs) / med(bs):.2f},{med(bc):.3f},{med(bc) / med(cc):.2f}"
        print(line, flush=True)


def main_bf16(a, env):
    """clscale --precision bf16 against PyTorch fp32 and PyTorch autocast bf16,
    paired and interleaved, medians of the repeats."""
    print("batch,clscale_bf16_samples_per_s,torch_fp32_samples_per_s,ratio_vs_torch_fp32,"
          "torch_bf16_samples_per_s,ratio_vs_torch_bf16,clscale_cpu_s_per_step,torch_fp32_cpu_s_per_step,"
          "torch_bf16_cpu_s_per_step,clscale_peak_rss_mib,torch_bf16_peak_rss_mib")

    def timed(cmd):
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if p.returncode != 0:
            sys.exit(p.stderr)
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        j = json.loads(p.stdout)
        return j["samples_per_s"], cpu / a.steps, j["peak_rss_bytes"] / 2**20

    for B in a.batch:
        rows = {"c": [], "t32": [], "t16": []}
        common = ["--model", a.model, "--width", str(a.width), "--batch", str(B), "--steps", str(a.steps),
                  "--threads", str(a.threads)]
        for _ in range(a.repeats):
            rows["c"].append(timed([a.clscale, "bench", "train", *common, "--precision", "bf16", "--json"]))
            rows["t32"].append(timed([sys.executable, __file__, "--child", *common]))
            rows["t16"].append(timed([sys.executable, __file__, "--child", "--autocast", *common]))
        med = {k: [float(np.median([r[i] for r in v])) for i in range(3)] for k, v in rows.items()}
        c, t32, t16 = med["c"], med["t32"], med["t16"]
        print(f"{B},{c[0]:.1f},{t32[0]:.1f},{c[0] / t32[0]:.2f},{t16[0]:.1f},{c[0] / t16[0]:.2f},"
              f"{c[1]:.3f},{t32[1]:.3f},{t16[1]:.3f},{c[2]:.0f},{t16[2]:.0f}", flush=True)


if __name__ == "__main__":
    main()
