"""clscale.torch losses against PyTorch on the full logits.

References are PyTorch losses on the materialised logits in float64, fed the
same float32 inputs. Tolerances (the library computes in float32 tiles):
loss |diff| <= 1e-5 |ref|; input gradients max|diff| <= 1e-5 max|g_ref|;
logit-scale and bias gradients |diff| <= 1e-5 max(|ref|, 1e-2 * scale of the
input gradients) -- the last guards a near-zero dL/ds from cancellation.
gradcheck: float64 inputs go through the float32 path, so it runs with
eps 1e-2 (central differences), atol 2e-3, rtol 1e-2.
"""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional
sys.path.insert(0, str(Path(os.environ.get("CLS_SOURCE_DIR", Path(__file__).parents[2])) / "python"))
import clscale  # noqa: E402
import clscale.torch as ct  # noqa: E402

torch.manual_seed(0)


def rows(n, d, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(n, d, generator=g)).float()


def ref_loss(kind, A, B, S, beta=None, labels=None, smoothing=0.0, normalize=False,
             reduction="mean"):
    if normalize:
        A, B = F.normalize(A, dim=1), F.normalize(B, dim=1)
    if kind == "clip":
        X = S * A @ B.T
        t = torch.arange(A.shape[0])
        return (F.cross_entropy(X, t, label_smoothing=smoothing, reduction=reduction)
                + F.cross_entropy(X.T, t, label_smoothing=smoothing, reduction=reduction)) / 2
    if kind == "infonce":
        t = torch.arange(A.shape[0]) if labels is None else labels
        return F.cross_entropy(S * A @ B.T, t, label_smoothing=smoothing, reduction=reduction)
    if kind == "ntxent":
        n = A.shape[0]
        Z = torch.cat([A, B])
        X = (S * Z @ Z.T).masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
        pos = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
        return F.cross_entropy(X, pos, reduction=reduction)
    if kind == "siglip":
        z = 2 * torch.eye(A.shape[0], dtype=A.dtype) - 1
        total = -F.logsigmoid(z * (S * A @ B.T + beta)).sum()
        return total / A.shape[0] if reduction == "mean" else total
    raise ValueError(kind)


def leaf(x, dtype=torch.float64):
    return x.detach().to(dtype).clone().requires_grad_(True)


def close_scalar(got, want, scale):
    assert abs(got - want) <= 1e-5 * max(abs(want), 1e-2 * scale), (got, want)


def close_grad(got, want):
    assert (got.double() - want).abs().max().item() <= 1e-5 * want.abs().max().item()


CASES = [
    ("clip", dict(), 64, 64, 16, 1 / 0.07),
    ("clip", dict(normalize=True, label_smoothing=0.1), 50, 50, 9, 20.0),
    ("clip", dict(reduction="sum"), 33, 33, 5, 3.0),
    ("infonce", dict(labels=True), 40, 70, 12, 10.0),
    ("ntxent", dict(), 48, 48, 10, 2.0),
    ("siglip", dict(), 45, 45, 8, 10.0),
]


@pytest.mark.parametrize("kind,kw,na,nb,d,s", CASES)
def test_matches_full_logits(kind, kw, na, nb, d, s):
    a, b = rows(na, d, 1, 0.3), rows(nb, d, 2, 0.3)
    labels = torch.randperm(nb, generator=torch.Generator().manual_seed(3))[:na] \
        if kw.get("labels") else None
    beta = -5.0
    # clscale: float32 leaves, learnable scale (exp of a Parameter) and bias
    A, B = leaf(a, torch.float32), leaf(b, torch.float32)
    log_s = nn_param(np.log(s))
    bias = nn_param(beta)
    opts = {k: v for k, v in kw.items() if k != "labels"}
    loss = ct.contrastive_loss(A, B, kind, log_s.exp(), bias if kind == "siglip" else 0.0,
                               labels, **opts)
    loss.backward()
    # reference in float64
    A2, B2 = leaf(a), leaf(b)
    log_s2 = nn_param(np.log(s), torch.float64)
    bias2 = nn_param(beta, torch.float64)
    ref = ref_loss(kind, A2, B2, log_s2.exp(), bias2, labels,
                   opts.get("label_smoothing", 0.0), opts.get("normalize", False),
                   opts.get("reduction", "mean"))
    ref.backward()
    assert abs(loss.item() - ref.item()) <= 1e-5 * abs(ref.item())
    close_grad(A.grad, A2.grad)
    close_grad(B.grad, B2.grad)
    gscale = A2.grad.abs().max().item()
    close_scalar(log_s.grad.item(), log_s2.grad.item(), gscale)
    if kind == "siglip":
        close_scalar(bias.grad.item(), bias2.grad.item(), gscale)
    assert loss.dtype == torch.float32 and A.grad.dtype == torch.float32


def nn_param(v, dtype=torch.float32):
    return torch.nn.Parameter(torch.tensor(float(v), dtype=dtype))


def test_modules_follow_open_clip_signatures():
    a, b = rows(30, 6, 4), rows(30, 6, 5)
    s = torch.tensor(12.0)
    out = ct.ClipLoss()(a, b, s, output_dict=True)
    assert set(out) == {"contrastive_loss"}
    want = ref_loss("clip", a.double(), b.double(), 12.0)
    assert abs(out["contrastive_loss"].item() - want.item()) <= 1e-5 * want.item()
    sig = ct.SigLipLoss()(a, b, s, torch.tensor(-3.0))
    want = ref_loss("siglip", a.double(), b.double(), 12.0, -3.0)
    assert abs(sig.item() - want.item()) <= 1e-5 * want.item()
    assert ct.SigLipLoss is ct.SigLIPLoss
    inf = ct.InfoNCELoss(temperature=0.1)(a, b)
    want = ref_loss("infonce", a.double(), b.double(), 10.0)
    assert abs(inf.item() - want.item()) <= 1e-5 * want.item()
    nt = ct.NTXentLoss(temperature=0.5)(a, b)
    want = ref_loss("ntxent", a.double(), b.double(), 2.0)
    assert abs(nt.item() - want.item()) <= 1e-5 * want.item()


def test_grad_output_scaling_and_no_grad():
    a, b = leaf(rows(20, 4, 6), torch.float32), leaf(rows(20, 4, 7), torch.float32)
    (3.0 * ct.ClipLoss()(a, b, 5.0)).backward()
    a2, b2 = leaf(rows(20, 4, 6)), leaf(rows(20, 4, 7))
    (3.0 * ref_loss("clip", a2, b2, 5.0)).backward()
    close_grad(a.grad, a2.grad)
    with torch.no_grad():
        v = ct.ClipLoss()(a, b, 5.0)
    assert v.grad_fn is None


@pytest.mark.parametrize("kind", ["clip", "infonce", "ntxent", "siglip"])
def test_gradcheck_through_float32_path(kind):
    a, b = rows(6, 3, 8, 0.5).double(), rows(6, 3, 9, 0.5).double()
    inputs = (a.requires_grad_(), b.requires_grad_(),
              torch.tensor(2.0, dtype=torch.float64, requires_grad=True),
              torch.tensor(-1.0, dtype=torch.float64, requires_grad=kind == "siglip"))

    def f(a, b, s, beta):
        return ct.contrastive_loss(a, b, kind, s, beta)

    assert torch.autograd.gradcheck(f, inputs, eps=1e-2, atol=2e-3, rtol=1e-2)


class Tower(torch.nn.Module):
    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(10)
        self.fa = torch.nn.Linear(8, 4)
        self.fb = torch.nn.Linear(8, 4)
        for p in self.parameters():
            with torch.no_grad():
                p.copy_(0.5 * torch.randn(p.shape, generator=g))
        self.logit_scale = torch.nn.Parameter(torch.tensor(np.log(10.0), dtype=torch.float32))

    def forward(self, x, y):
        return (F.normalize(self.fa(x), dim=1), F.normalize(self.fb(y), dim=1),
                self.logit_scale.exp())


def test_three_training_steps_match_torch_loss():
    """Tolerance: every parameter within 1e-5 (abs) of the torch-loss run
    after 3 SGD steps (lr 0.1); both models in float32."""
    x, y = rows(64, 8, 11), rows(64, 8, 12)
    m1, m2 = Tower(), Tower()
    torch_clip = lambda a, b, s: ref_loss("clip", a, b, s)  # noqa: E731
    for model, loss_fn in ((m1, ct.ClipLoss()), (m2, torch_clip)):
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for _ in range(3):
            opt.zero_grad()
            loss_fn(*model(x, y)).backward()
            opt.step()
    moved = 0.0
    for (n1, p1), (_, p2), p0 in zip(m1.named_parameters(), m2.named_parameters(),
                                     Tower().parameters()):
        assert (p1 - p2).abs().max().item() <= 1e-5, n1
        moved = max(moved, (p1 - p0).abs().max().item())
    assert moved > 1e-3  # the loop did train


def test_half_precisions_are_converted():
    a, b = rows(16, 4, 13), rows(16, 4, 14)
    for dt in (torch.float16, torch.bfloat16, torch.float64):
        A, B = leaf(a, dt), leaf(b, dt)
        loss = ct.ClipLoss()(A, B, 5.0)
        loss.backward()
        assert A.grad.dtype == dt and loss.dtype == dt
        want = ref_loss("clip", A.detach().double(), B.detach().double(), 5.0)
        tol = 1e-5 if dt == torch.float64 else 1e-2
        assert abs(loss.double().item() - want.item()) <= tol * want.item()


# ---- bad input: an exception with a clear message, never a crash ----

def test_bad_inputs():
    a, b = rows(8, 4, 15), rows(8, 4, 16)
    clip = ct.ClipLoss()
    with pytest.raises(TypeError, match="dtype torch.int64"):
        clip(a.long(), b, 5.0)
    with pytest.raises(ValueError, match="not contiguous"):
        clip(a.T.contiguous().T, b, 5.0)
    with pytest.raises(ValueError, match="2-D"):
        clip(a[None], b, 5.0)
    with pytest.raises(ValueError, match="columns"):
        clip(a, b[:, :3].contiguous(), 5.0)
    with pytest.raises(ValueError, match="rows"):
        clip(a, b[:5], 5.0)
    bad = a.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(clscale.ClscaleError, match=r"a\[3\]\[2\] is NaN"):
        clip(bad, b, 5.0)
    with pytest.raises(clscale.ClscaleError, match="logit"):
        clip(a, b, -1.0)
    with pytest.raises(clscale.ClscaleError, match="labels"):
        ct.InfoNCELoss()(a, b, labels=torch.tensor([0, 1, 2, 3, 4, 5, 6, 99]))
    with pytest.raises(clscale.ClscaleError):
        clip(a[:0], b[:0], 5.0)


def test_non_cpu_device_refused():
    a, b = rows(8, 4, 17), rows(8, 4, 18)
    if torch.cuda.is_available():
        dev = "cuda"
    else:
        dev = "meta"  # no GPU here: the meta device exercises the same check
    with pytest.raises(ValueError, match=f"on device '{dev}.*runs on the CPU"):
        ct.ClipLoss()(a.to(dev), b, 5.0)


def test_second_backward_through_retained_graph():
    """The first backward hands its gradients over; a second one (retain_graph)
    computes them again: the same values (same C call, same bits)."""
    a, b = leaf(rows(24, 5, 19), torch.float32), leaf(rows(24, 5, 20), torch.float32)
    loss = ct.ClipLoss()(a, b, 4.0)
    loss.backward(retain_graph=True)
    first = a.grad.clone()
    a.grad = None
    loss.backward()
    assert torch.equal(a.grad, first)


def test_docs_example_runs():
    """The training example of docs/python.md, at B = 512: runs and the loss falls."""
    import re
    import subprocess
    src = Path(os.environ.get("CLS_SOURCE_DIR", Path(__file__).parents[2]))
    text = (src / "docs" / "python.md").read_text()
    block = re.search(r"### Training at a batch.*?```python\n(.*?)```", text, re.S).group(1)
    assert "B, D_IN, D = 65536" in block
    block = block.replace("B, D_IN, D = 65536", "B, D_IN, D = 512")
    env = dict(os.environ, PYTHONPATH=str(src / "python"))
    p = subprocess.run([sys.executable, "-c", block], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    losses = [float(line.split()[1]) for line in p.stdout.splitlines()]
    assert len(losses) == 3 and losses[2] < losses[0]


def test_float32_path_copies_nothing(monkeypatch):
    """The float32 path hands the library the tensors' own memory and hands the
    gradients it wrote to autograd without a copy (a.grad is that buffer), and
    the library is called once per forward+backward (not again in backward)."""
    seen = []
    real = ct._compute

    def spy(opt, a32, b32, lab, grads):
        out = real(opt, a32, b32, lab, grads)
        seen.append((a32.data_ptr(), b32.data_ptr(), out[1].data_ptr(), out[2].data_ptr()))
        return out
    monkeypatch.setattr(ct, "_compute", spy)
    a, b = rows(256, 32, 1).requires_grad_(), rows(256, 32, 2).requires_grad_()
    s = torch.nn.Parameter(torch.tensor(2.6))
    ct.ClipLoss()(a, b, s.exp()).backward()
    assert len(seen) == 1
    pa, pb, pga, pgb = seen[0]
    assert (pa, pb) == (a.data_ptr(), b.data_ptr())
    assert (a.grad.data_ptr(), b.grad.data_ptr()) == (pga, pgb)
