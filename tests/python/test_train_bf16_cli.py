"""`clscale train --precision` and `clscale bench train --precision` from the
command line: help text, option values, config.json, the same bits on a
second run, a --resume with the other precision refused with a message
naming it (exit 1) and the checkpoint kept, a --resume with the same
precision finishing the run. Small synthetic IDX data (seconds)."""
import json
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

BIN = os.environ.get("CLSCALE_BIN", "clscale")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("idx")
    rng = np.random.default_rng(3)
    for prefix, n in (("train", 256), ("t10k", 64)):
        y = (np.arange(n) % 10).astype(np.uint8)
        imgs = (rng.random((n, 28, 28)) * 255).astype(np.uint8)
        (d / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, n, 28, 28) + imgs.tobytes())
        (d / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, n) + y.tobytes())
    return d


def run(*a):
    e = dict(os.environ, OMP_WAIT_POLICY="passive")
    return subprocess.run([BIN, *a], capture_output=True, text=True, env=e)


def train(data, out, *extra):
    return run("train", "--data", str(data), "--out", str(out), "--width", "32", "--batch", "32",
               "--steps", "4", "--checkpoint-every", "2", "--threads", "2", "--json", *extra)


def test_help_and_bad_values():
    for cmd in (["train"], ["bench", "train"]):
        h = run(*cmd, "--help")
        assert h.returncode == 0 and "--precision fp32|bf16" in h.stdout
        bad = run(*cmd, "--precision", "fp16", *(["--out", "x"] if cmd == ["train"] else []))
        assert bad.returncode == 2 and "--precision must be fp32 or bf16" in bad.stderr


def test_config_bits_and_resume(data, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    ra, rb = train(data, a, "--precision", "bf16"), train(data, b, "--precision", "bf16")
    assert ra.returncode == 0, ra.stderr
    assert rb.returncode == 0, rb.stderr
    assert json.loads(ra.stdout)["precision"] == "bf16"
    cfg = json.loads((a / "config.json").read_text())
    assert cfg["precision"] == "bf16"
    assert (a / "checkpoint.bin").read_bytes() == (b / "checkpoint.bin").read_bytes()
    f = tmp_path / "f"
    assert train(data, f).returncode == 0
    assert json.loads((f / "config.json").read_text())["precision"] == "fp32"
    assert (f / "checkpoint.bin").read_bytes() != (a / "checkpoint.bin").read_bytes()
    # resume with the other precision: refused by name, nothing lost
    before = (a / "checkpoint.bin").read_bytes()
    r = run("train", "--out", str(a), "--resume", "--precision", "fp32", "--steps", "6")
    assert r.returncode == 1
    assert "--precision bf16" in r.stderr and "asks for fp32" in r.stderr, r.stderr
    r = run("train", "--out", str(a), "--resume", "--precision", "fp32")
    assert r.returncode == 1
    assert "--precision bf16" in r.stderr and "asks for fp32" in r.stderr, r.stderr
    assert (a / "checkpoint.bin").read_bytes() == before
    # resume taking the precision from config.json continues the run (to
    # its end: step 4; the last checkpoint is of step 4, so nothing to do)
    r = run("train", "--out", str(a), "--resume", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["start_step"] == 4


def test_bench_train_precision(data):
    r = run("bench", "train", "--data", str(data), "--width", "32", "--batch", "32", "--steps", "1",
            "--threads", "1", "--precision", "bf16", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["precision"] == "bf16"
