"""clscale loss through the CLI against PyTorch on the full logits (float64).

CLIP: (F.cross_entropy(X, i) + F.cross_entropy(X^T, i)) / 2, X = s * A B^T;
InfoNCE: F.cross_entropy(X, labels) with nb > na keys (the extra ones are hard
negatives), label smoothing and --normalize (F.normalize). Gradients of A, B
and s come from autograd. Tolerances: loss |diff| <= 1e-6 |ref| + 1e-6;
gradients max|diff| <= 1e-5 max|g_ref| (the CLI computes in float32 tiles).
Also the CLI's error handling: exit 1 with 'clscale: error:' naming the file
for a missing, corrupt, NaN-holding or badly shaped file; exit 2 for bad options.
"""
import json
import os
import subprocess

import numpy as np
import pytest

try:  # only the comparisons need PyTorch; the error-path tests run without it
    import torch
    F = torch.nn.functional
except ImportError:
    torch = F = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch (scripts/install-deps installs it)")

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")


def run(*args):
    return subprocess.run([BIN, "loss", *map(str, args)], capture_output=True, text=True)


def torch_loss(a, b, kind, s, labels=None, normalize=False, smoothing=0.0, reduction="mean"):
    A = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    B = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    S = torch.tensor(s, dtype=torch.float64, requires_grad=True)
    An, Bn = (F.normalize(A, dim=1), F.normalize(B, dim=1)) if normalize else (A, B)
    X = S * An @ Bn.T
    if kind == "clip":
        t = torch.arange(a.shape[0])
        loss = (F.cross_entropy(X, t, label_smoothing=smoothing, reduction=reduction)
                + F.cross_entropy(X.T, t, label_smoothing=smoothing, reduction=reduction)) / 2
    else:
        t = torch.tensor(labels) if labels is not None else torch.arange(a.shape[0])
        loss = F.cross_entropy(X, t, label_smoothing=smoothing, reduction=reduction)
    loss.backward()
    return loss.item(), A.grad.numpy(), B.grad.numpy(), S.grad.item()


def compare(tmp_path, a, b, kind, s, labels=None, normalize=False, smoothing=0.0, reduction="mean", tile=0):
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    args = ["--a", tmp_path / "a.npy", "--b", tmp_path / "b.npy", "--loss", kind, "--logit-scale", repr(s),
            "--grad-a", tmp_path / "ga.npy", "--grad-b", tmp_path / "gb.npy", "--reduction", reduction,
            "--label-smoothing", repr(smoothing), "--tile", tile, "--json"]
    if labels is not None:
        np.save(tmp_path / "l.npy", np.asarray(labels, dtype=np.int64))
        args += ["--labels", tmp_path / "l.npy"]
    if normalize:
        args.append("--normalize")
    p = run(*args)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert p.stdout.count("\n") == 1
    ref_loss, ref_ga, ref_gb, ref_gs = torch_loss(a.astype(np.float64), b.astype(np.float64), kind, s, labels,
                                                  normalize, smoothing, reduction)
    ga, gb = np.load(tmp_path / "ga.npy"), np.load(tmp_path / "gb.npy")
    assert ga.dtype == np.float32 and ga.shape == a.shape and gb.shape == b.shape
    assert abs(out["loss"] - ref_loss) <= 1e-6 * abs(ref_loss) + 1e-6, (out["loss"], ref_loss)
    gmax = max(np.abs(ref_ga).max(), np.abs(ref_gb).max())
    assert np.abs(ga - ref_ga).max() <= 1e-5 * gmax
    assert np.abs(gb - ref_gb).max() <= 1e-5 * gmax
    assert abs(out["grad_logit_scale"] - ref_gs) <= 1e-5 * abs(ref_gs) + 1e-6
    assert out["batch"] == a.shape[0] and out["dim"] == a.shape[1]
    for key in ("seconds", "peak_rss_bytes"):
        assert key in out


def rows(rng, n, d):
    return (rng.standard_normal((n, d)) / np.sqrt(d)).astype(np.float32)


@needs_torch
@pytest.mark.parametrize("n,d,s,tile", [(1, 4, 14.3, 0), (37, 16, 1 / 0.07, 8), (300, 64, 14.3, 128),
                                        (129, 5, 100.0, 0)])
def test_clip_matches_torch(tmp_path, n, d, s, tile):
    rng = np.random.default_rng(n + d)
    a = rows(rng, n, d)
    b = (0.6 * a + 0.8 * rows(rng, n, d)).astype(np.float32)
    compare(tmp_path, a, b, "clip", s, tile=tile)


@needs_torch
def test_clip_normalize_smoothing_sum(tmp_path):
    rng = np.random.default_rng(3)
    a, b = rows(rng, 90, 12) * 3, rows(rng, 90, 12) * 0.5
    compare(tmp_path, a, b, "clip", 14.3, normalize=True, smoothing=0.1, reduction="sum", tile=32)


@needs_torch
@pytest.mark.parametrize("normalize,smoothing", [(False, 0.0), (True, 0.0), (True, 0.15)])
def test_infonce_labels_extra_keys(tmp_path, normalize, smoothing):
    rng = np.random.default_rng(7)
    na, nb, d = 50, 83, 24
    a, b = rows(rng, na, d), rows(rng, nb, d)
    labels = rng.integers(0, nb, na)
    compare(tmp_path, a, b, "infonce", 14.3, labels=labels, normalize=normalize, smoothing=smoothing, tile=16)


@needs_torch
def test_infonce_default_labels(tmp_path):
    rng = np.random.default_rng(8)
    a, b = rows(rng, 20, 9), rows(rng, 31, 9)
    compare(tmp_path, a, b, "infonce", 30.0)


# ---- errors -----------------------------------------------------------------

def write_pair(tmp_path, a=None, b=None):
    rng = np.random.default_rng(1)
    a = rows(rng, 6, 4) if a is None else a
    b = rows(rng, 6, 4) if b is None else b
    np.save(tmp_path / "a.npy", a)
    np.save(tmp_path / "b.npy", b)
    return tmp_path / "a.npy", tmp_path / "b.npy"


def assert_fails(p, *needles, code=1):
    assert p.returncode == code, (p.returncode, p.stderr)
    assert "clscale: error:" in p.stderr
    for n in needles:
        assert str(n) in p.stderr, (n, p.stderr)


def test_missing_file(tmp_path):
    pa, _ = write_pair(tmp_path)
    assert_fails(run("--a", pa, "--b", tmp_path / "nope.npy"), "nope.npy")


def test_corrupt_file(tmp_path):
    pa, _ = write_pair(tmp_path)
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY\x01\x00garbage garbage")
    assert_fails(run("--a", pa, "--b", tmp_path / "bad.npy"), "bad.npy")
    (tmp_path / "trunc.npy").write_bytes((tmp_path / "a.npy").read_bytes()[:-7])
    assert_fails(run("--a", tmp_path / "trunc.npy", "--b", pa), "trunc.npy")


def test_wrong_dtype(tmp_path):
    pa, _ = write_pair(tmp_path)
    np.save(tmp_path / "c.npy", np.ones((6, 4), dtype=np.complex64))
    assert_fails(run("--a", pa, "--b", tmp_path / "c.npy"), "c.npy")


def test_nan_and_inf_named(tmp_path):
    a = rows(np.random.default_rng(2), 6, 4)
    a[3, 2] = np.nan
    pa, pb = write_pair(tmp_path, a=a)
    assert_fails(run("--a", pa, "--b", pb), "a.npy", "row 3", "column 2", "NaN")
    b = rows(np.random.default_rng(2), 6, 4)
    b[5, 0] = np.inf
    pa, pb = write_pair(tmp_path, b=b)
    assert_fails(run("--a", pa, "--b", pb), "b.npy", "row 5", "column 0", "Inf")


def test_shapes_and_labels(tmp_path):
    rng = np.random.default_rng(4)
    pa, pb = write_pair(tmp_path, a=rows(rng, 6, 4), b=rows(rng, 6, 5))
    assert_fails(run("--a", pa, "--b", pb), "a.npy", "b.npy", "columns")
    pa, pb = write_pair(tmp_path, a=rows(rng, 6, 4), b=rows(rng, 7, 4))
    assert_fails(run("--a", pa, "--b", pb), "rows")
    pa, pb = write_pair(tmp_path, a=rows(rng, 0, 4).reshape(0, 4), b=rows(rng, 0, 4).reshape(0, 4))
    assert_fails(run("--a", pa, "--b", pb), "a.npy", "empty")
    pa, pb = write_pair(tmp_path)
    np.save(tmp_path / "l.npy", np.array([0, 1, 2, 3, 9, 5], dtype=np.int64))
    assert_fails(run("--a", pa, "--b", pb, "--loss", "infonce", "--labels", tmp_path / "l.npy"), "l.npy", "entry 4")
    np.save(tmp_path / "l.npy", np.array([0, 1, 2], dtype=np.int64))
    assert_fails(run("--a", pa, "--b", pb, "--loss", "infonce", "--labels", tmp_path / "l.npy"), "l.npy", "3 labels")


def test_usage_errors(tmp_path):
    pa, pb = write_pair(tmp_path)
    assert_fails(run("--a", pa, "--b", pb, "--bogus"), "--bogus", code=2)
    assert_fails(run("--a", pa), "--a and --b", code=2)
    assert_fails(run("--a", pa, "--b", pb, "--logit-scale", "-1"), "--logit-scale", code=2)
    assert_fails(run("--a", pa, "--b", pb, "--logit-scale", "nan"), "--logit-scale", code=2)
    assert_fails(run("--a", pa, "--b", pb, "--loss", "clap"), "clap", code=2)
    assert_fails(run("--a", pa, "--b", pb, "--label-smoothing", "1"), "--label-smoothing", code=2)
    assert_fails(run("--a", pa, "--b", pb, "--reduction", "avg"), "--reduction", code=2)
    p = run("--help")
    assert p.returncode == 0 and "--logit-scale" in p.stdout and "--grad-a" in p.stdout and "default" in p.stdout
