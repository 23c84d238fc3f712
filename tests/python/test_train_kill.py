"""`clscale train` killed with SIGKILL at random moments (checkpoints are written
every step, so some kills land inside a checkpoint write), then `--resume`d until
it finishes: the final checkpoint must equal, byte for byte, the one of an
uninterrupted run. Also the CLI's error paths (exit 1 with a message naming the
problem) and `clscale embed`. Synthetic IDX data in a temporary directory."""
import json
import os
import random
import signal
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

BIN = os.environ.get("CLSCALE_BIN", "clscale")


def write_idx(d: Path, prefix: str, n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 10).astype(np.uint8)
    yy, xx = np.mgrid[0:28, 0:28]
    imgs = np.empty((n, 28, 28), np.uint8)
    for i in range(n):
        c = int(y[i])
        v = 0.5 + 0.5 * np.sin(0.3 * (c + 1) * xx + 0.2 * (9 - c) * yy) + 0.15 * rng.random((28, 28))
        imgs[i] = np.clip(v * 255, 0, 255).astype(np.uint8)
    (d / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + imgs.tobytes())
    (d / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + y.tobytes())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("idx")
    write_idx(d, "train", 512, 1)
    write_idx(d, "t10k", 100, 2)
    return d


def args(data, out, steps=30):
    return [BIN, "train", "--data", str(data), "--out", str(out), "--width", "128", "--batch", "64",
            "--steps", str(steps), "--checkpoint-every", "1", "--log-every", "1", "--threads", "2",
            "--warmup-epochs", "0.5"]


def env():
    e = dict(os.environ)
    e["OMP_WAIT_POLICY"] = "passive"
    return e


def test_kill9_resume_same_bits(data, tmp_path):
    ref = tmp_path / "ref"
    t0 = time.monotonic()
    subprocess.run(args(data, ref), check=True, capture_output=True, env=env())
    duration = time.monotonic() - t0
    want = (ref / "checkpoint.bin").read_bytes()

    rng = random.Random(20261128)
    total_kills = 0
    for trial in range(3):
        out = tmp_path / f"killed{trial}"
        kills = 0
        resume = []
        for attempt in range(6):
            p = subprocess.Popen(args(data, out) + resume, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=env())
            resume = ["--resume"]
            if attempt < 4:
                time.sleep(rng.uniform(0.02, max(0.05, 0.4 * duration)))
                if p.poll() is None:
                    p.send_signal(signal.SIGKILL)
                    kills += 1
            assert p.wait(timeout=600) in (0, -signal.SIGKILL)
        p = subprocess.run(args(data, out) + ["--resume", "--json"], capture_output=True, text=True, env=env())
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["steps"] == 30
        print(f"trial {trial}: {kills} kills")
        total_kills += kills
        got = (out / "checkpoint.bin").read_bytes()
        assert got == want, f"trial {trial}: {kills} kills, final checkpoint differs"
        lines = (out / "metrics.jsonl").read_text().splitlines()
        steps = [json.loads(line)["step"] for line in lines]
        assert steps == list(range(1, 31)), "each step logged once, in order"
    assert total_kills >= 3, "the test must actually kill runs"


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, env=env())


def test_cli_errors(data, tmp_path):
    # batch larger than the data
    p = run([BIN, "train", "--data", str(data), "--out", str(tmp_path / "b"), "--batch", "1000"])
    assert p.returncode == 1 and "larger than the data" in p.stderr
    # a bad option value is a usage error
    p = run([BIN, "train", "--out", str(tmp_path / "x"), "--model", "resnet"])
    assert p.returncode == 2
    p = run([BIN, "train", "--model", "mlp"])
    assert p.returncode == 2 and "--out" in p.stderr
    # missing data directory
    p = run([BIN, "train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "n")])
    assert p.returncode == 1 and "nope" in p.stderr
    # corrupt checkpoint: refused by name, previous offered, files kept
    out = tmp_path / "c"
    p = run(args(data, out, steps=4))
    assert p.returncode == 0, p.stderr
    ck = out / "checkpoint.bin"
    b = bytearray(ck.read_bytes())
    b[len(b) // 3] ^= 0xFF
    ck.write_bytes(bytes(b))
    p = run(args(data, out, steps=4) + ["--resume"])
    assert p.returncode == 1
    assert "checkpoint.bin" in p.stderr and "checkpoint.prev.bin" in p.stderr, p.stderr
    assert ck.read_bytes() == bytes(b)
    # NaN: stops naming the step
    out = tmp_path / "nan"
    p = run(args(data, out, steps=20) + ["--optimizer", "sgd", "--lr", "1e30", "--warmup-epochs", "0"])
    assert p.returncode == 1 and "diverged at step" in p.stderr, p.stderr
    assert (out / "checkpoint.bin").exists()


def test_embed_cli(data, tmp_path):
    out = tmp_path / "e"
    p = run(args(data, out, steps=3))
    assert p.returncode == 0, p.stderr
    z, y = tmp_path / "z.npy", tmp_path / "y.npy"
    p = run([BIN, "embed", str(out), "--split", "test", "--out", str(z), "--labels-out", str(y), "--json"])
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    h = np.load(z)
    labels = np.load(y)
    assert h.shape == (100, 128) == (info["n"], info["dim"]) and h.dtype == np.float32
    assert labels.dtype == np.int64 and list(labels[:12]) == [i % 10 for i in range(12)]
    assert np.all(np.isfinite(h)) and np.all(h >= 0)  # h follows a ReLU
    cfg = json.loads((out / "config.json").read_text())
    for key in ("data", "model", "batch", "lr_resolved", "chunk_resolved", "clscale_version", "seed"):
        assert key in cfg
