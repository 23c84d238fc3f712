#!/usr/bin/python3
"""Quality of clscale training runs: k-NN accuracy (k = 200, cosine similarity,
votes weighted by exp(s / 0.07), train set as the memory bank; Wu et al. 2018)
on the 10k Fashion-MNIST test images, in NumPy.

  knn_eval.py --pixels                     the raw-pixel baseline (0.791 expected)
  knn_eval.py RUN_DIR [RUN_DIR...]         representations h of each run (clscale embed)
  knn_eval.py --curve OUT -- TRAIN_ARGS    run `clscale train --out OUT TRAIN_ARGS`,
                                           snapshot each checkpoint as it appears and
                                           print accuracy against training minutes

--clscale BIN picks the binary (default build/clscale)."""
import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FMNIST = Path("/usr/share/datasets/fashion-mnist")


def load_idx(name):
    with gzip.open(FMNIST / name, "rb") as f:
        b = f.read()
    ndim = b[3]
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def knn_accuracy(train, ytrain, test, ytest, k=200, temperature=0.07, classes=10, block=500):
    tr = train / np.maximum(np.linalg.norm(train, axis=1, keepdims=True), 1e-12)
    te = test / np.maximum(np.linalg.norm(test, axis=1, keepdims=True), 1e-12)
    tr = tr.astype(np.float32)
    te = te.astype(np.float32)
    correct = 0
    for s in range(0, len(te), block):
        sim = te[s:s + block] @ tr.T
        idx = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(sim, idx, axis=1)
        w = np.exp(top.astype(np.float64) / temperature)
        votes = np.zeros((len(idx), classes))
        np.add.at(votes, (np.arange(len(idx))[:, None], ytrain[idx]), w)
        correct += int(np.sum(votes.argmax(1) == ytest[s:s + block]))
    return correct / len(te)


def embed(binary, run, split, tmp):
    z, y = Path(tmp) / f"{split}_z.npy", Path(tmp) / f"{split}_y.npy"
    subprocess.run([binary, "embed", str(run), "--split", split, "--out", str(z), "--labels-out", str(y)],
                   check=True, capture_output=True)
    return np.load(z), np.load(y)


def run_accuracy(binary, run, bank=0, queries=0):
    """bank/queries > 0: only the first that many train/test rows (a quicker,
    noisier figure for comparing recipes; not the protocol's number)."""
    with tempfile.TemporaryDirectory() as tmp:
        htr, ytr = embed(binary, run, "train", tmp)
        hte, yte = embed(binary, run, "test", tmp)
    if bank:
        htr, ytr = htr[:bank], ytr[:bank]
    if queries:
        hte, yte = hte[:queries], yte[:queries]
    return knn_accuracy(htr, ytr, hte, yte)


def curve(binary, out, train_args):
    out = Path(out)
    snaps = out.parent / (out.name + "_snapshots")
    shutil.rmtree(snaps, ignore_errors=True)
    snaps.mkdir(parents=True)
    proc = subprocess.Popen([binary, "train", "--out", str(out)] + train_args, stderr=subprocess.DEVNULL)
    seen = None
    taken = []

    def snapshot():
        nonlocal seen
        ck = out / "checkpoint.bin"
        if not ck.exists():
            return
        m = ck.stat().st_mtime_ns
        if m == seen:
            return
        seen = m
        lines = (out / "metrics.jsonl").read_text().splitlines()
        last = json.loads(lines[-1]) if lines else {"step": 0, "seconds": 0}
        d = snaps / f"step{last['step']:07d}"
        d.mkdir(exist_ok=True)
        shutil.copy(ck, d / "checkpoint.bin")
        shutil.copy(out / "config.json", d / "config.json")
        taken.append((d, last))

    while proc.poll() is None:
        snapshot()
        time.sleep(1.0)
    snapshot()
    if proc.returncode != 0:
        sys.exit(f"clscale train failed ({proc.returncode})")
    print("step,epoch,train_minutes,knn_accuracy")
    for d, last in taken:
        acc = run_accuracy(binary, d)
        print(f"{last['step']},{last['epoch']:.2f},{last['seconds'] / 60:.2f},{acc:.4f}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*")
    ap.add_argument("--pixels", action="store_true")
    ap.add_argument("--curve")
    ap.add_argument("--bank", type=int, default=0, help="quick mode: first N train rows as the bank")
    ap.add_argument("--queries", type=int, default=0, help="quick mode: first M test rows")
    ap.add_argument("--clscale", default=str(Path(__file__).resolve().parents[1] / "build" / "clscale"))
    argv = sys.argv[1:]
    extra = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    a = ap.parse_args(argv)
    print(f"load: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    if a.pixels:
        xtr = load_idx("train-images-idx3-ubyte.gz").reshape(60000, -1) / 255.0
        ytr = load_idx("train-labels-idx1-ubyte.gz").astype(np.int64)
        xte = load_idx("t10k-images-idx3-ubyte.gz").reshape(10000, -1) / 255.0
        yte = load_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64)
        print(f"pixels knn_accuracy {knn_accuracy(xtr, ytr, xte, yte):.4f}")
    for r in a.runs:
        print(f"{r} knn_accuracy {run_accuracy(a.clscale, r, a.bank, a.queries):.4f}"
              + (f" (quick: bank {a.bank}, queries {a.queries})" if a.bank or a.queries else ""))
    if a.curve:
        curve(a.clscale, a.curve, extra)


if __name__ == "__main__":
    main()
