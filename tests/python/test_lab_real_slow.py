"""clscale lab with the real runner (training + evaluation) on tiny runs:
plausible measurements, per-run files, and kill -9 during training + --resume
giving the same runs.csv as an uninterrupted lab (all columns but the wall
time). Skipped when the build has no training module. Slow: minutes."""
import csv
import os
import signal
import subprocess
import time

import pytest

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")
ARGS = ["--threads", "2", "--bootstrap", "10", "--permutations", "200", "--no-plots", "--probe-train", "2000"]


def have_train():
    return subprocess.run([BIN, "train", "--help"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not have_train(), reason="this build has no training module")


def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_real_runs_measured(tmp_path):
    sweep = tmp_path / "s.csv"
    sweep.write_text("width,train_subset,steps\n32,1000,4\n64,1000,4\n")
    out = tmp_path / "lab"
    r = subprocess.run([BIN, "lab", "--sweep", str(sweep), "--out", str(out)] + ARGS, capture_output=True,
                       text=True, timeout=3000)
    assert r.returncode == 0, r.stderr
    rs = rows(out / "runs.csv")
    assert [x["status"] for x in rs] == ["ok", "ok"], rs
    for x in rs:
        assert int(x["params"]) > 0 and int(x["samples_seen"]) == 4 * 512
        assert float(x["flops"]) > 0 and float(x["heldout_loss"]) > 0
        assert 0 < float(x["probe_error"]) < 0.9 and 0 < float(x["knn_error"]) < 0.9
        assert float(x["alpha"]) > 0 and float(x["rankme"]) > 1
        d = out / "runs" / x["id"]
        for f in ["config.json", "metrics.jsonl", "checkpoint.bin", "record.json", "timing.json"]:
            assert (d / f).exists(), f
    assert int(rs[1]["params"]) > int(rs[0]["params"])
    assert (out / "report.html").exists()


def test_real_kill_and_resume(tmp_path):
    sweep = tmp_path / "s.csv"
    sweep.write_text("width,train_subset,steps\n32,1000,12\n")
    ref = tmp_path / "ref"
    r = subprocess.run([BIN, "lab", "--sweep", str(sweep), "--out", str(ref)] + ARGS, capture_output=True,
                       text=True, timeout=3000)
    assert r.returncode == 0, r.stderr
    out = tmp_path / "killed"
    p = subprocess.Popen([BIN, "lab", "--sweep", str(sweep), "--out", str(out)] + ARGS,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ck = out / "runs" / "mlp-w32-n1000-s12-seed0" / "checkpoint.bin"
    deadline = time.time() + 1500
    while time.time() < deadline and not ck.exists() and p.poll() is None:
        time.sleep(0.05)
    killed = p.poll() is None
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert killed, "the lab finished before a checkpoint appeared"
    assert not (out / "runs.csv").exists()
    r = subprocess.run([BIN, "lab", "--resume", str(out)] + ARGS, capture_output=True, text=True, timeout=3000)
    assert r.returncode == 0, r.stderr
    a, b = rows(ref / "runs.csv"), rows(out / "runs.csv")
    for x in a + b:
        x.pop("seconds")
    assert a == b
