"""Two-tower training on paired features (`clscale train --pairs A.npy B.npy`):
on pairs that share a 16-dim latent (linear maps plus noise), CLIP and SigLIP
training must drive the loss far below its chance value (log B for CLIP), and a
resumed run must reach the uninterrupted run's bits. Mismatched row counts are
refused with exit 1."""
import json
import os
import subprocess

import numpy as np

BIN = os.environ.get("CLSCALE_BIN", "clscale")


def make_pairs(tmp, n=2000):
    r = np.random.default_rng(0)
    s = r.standard_normal((n, 16))
    a = (s @ r.standard_normal((16, 40)) + 0.1 * r.standard_normal((n, 40))).astype(np.float32)
    b = (s @ r.standard_normal((16, 24)) + 0.1 * r.standard_normal((n, 24))).astype(np.float32)
    np.save(tmp / "a.npy", a)
    np.save(tmp / "b.npy", b)
    np.save(tmp / "short.npy", b[:-1])
    return str(tmp / "a.npy"), str(tmp / "b.npy")


def train(a, b, out, *extra):
    p = subprocess.run([BIN, "train", "--pairs", a, b, "--width", "64", "--batch", "256", "--epochs", "20",
                        "--threads", "2", "--out", str(out), "--json", *extra], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def test_clip_and_siglip_learn(tmp_path):
    a, b = make_pairs(tmp_path)
    r = train(a, b, tmp_path / "clip", "--loss", "clip")
    assert r["final_loss"] < 0.25 * np.log(256), r  # chance is log(256) = 5.55
    s = train(a, b, tmp_path / "siglip", "--loss", "siglip", "--learn-temperature")
    first = json.loads((tmp_path / "siglip" / "metrics.jsonl").read_text().splitlines()[0])["loss"]
    assert s["final_loss"] < 0.5 * first, (first, s)


def test_pairs_resume_bits(tmp_path):
    a, b = make_pairs(tmp_path)
    train(a, b, tmp_path / "whole", "--loss", "clip", "--checkpoint-every", "10")
    # a second full run whose latest checkpoint is then lost: resuming from the
    p = subprocess.run([BIN, "train", "--pairs", a, b, "--width", "64", "--batch", "256", "--epochs", "20",
                        "--threads", "2", "--out", str(tmp_path / "part"), "--loss", "clip",
                        "--checkpoint-every", "10"], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0
    # previous one (step 130) must recompute the last 10 steps to the same bits
    (tmp_path / "part" / "checkpoint.bin").unlink()
    train(a, b, tmp_path / "part", "--loss", "clip", "--checkpoint-every", "10", "--resume")
    assert (tmp_path / "whole" / "checkpoint.bin").read_bytes() == (tmp_path / "part" / "checkpoint.bin").read_bytes()


def test_pairs_mismatch(tmp_path):
    a, _ = make_pairs(tmp_path)
    p = subprocess.run([BIN, "train", "--pairs", a, str(tmp_path / "short.npy"), "--out", str(tmp_path / "x")],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "rows" in p.stderr
