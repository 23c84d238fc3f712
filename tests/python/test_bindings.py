"""The ctypes bindings (python/clscale) against PyTorch float64 on full logits,
and their error path. Tolerances: loss 1e-6 relative, gradients 1e-5 * max|g|."""
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(os.environ.get("CLS_SOURCE_DIR", Path(__file__).parents[2])) / "python"))
import clscale  # noqa: E402

try:  # only the comparisons need PyTorch; the error-path tests run without it
    import torch
    F = torch.nn.functional
except ImportError:
    torch = F = None
needs_torch = pytest.mark.skipif(torch is None, reason="needs PyTorch (scripts/install-deps installs it)")


def _data(n, d, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, d)).astype(np.float32),
            rng.standard_normal((n, d)).astype(np.float32))


def _close_grad(got, want):
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))


def test_version():
    assert clscale.version().count(".") == 2


@needs_torch
def test_clip_normalized_matches_torch():
    a, b = _data(37, 9, 1)
    s = 14.3
    out = clscale.loss(a, b, kind="clip", logit_scale=s, normalize=True)
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    x = s * F.normalize(ta, dim=1) @ F.normalize(tb, dim=1).T
    y = torch.arange(37)
    loss = 0.5 * (F.cross_entropy(x, y) + F.cross_entropy(x.T, y))
    loss.backward()
    assert out.loss == pytest.approx(loss.item(), rel=1e-6)
    _close_grad(out.grad_a, ta.grad.numpy())
    _close_grad(out.grad_b, tb.grad.numpy())


@needs_torch
def test_siglip_matches_torch():
    a, b = _data(20, 5, 2)
    s, beta = 3.0, -2.0
    out = clscale.loss(a, b, kind="siglip", logit_scale=s, bias=beta)
    ta = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float64, requires_grad=True)
    z = 2 * torch.eye(20, dtype=torch.float64) - 1
    loss = -F.logsigmoid(z * (s * ta @ tb.T + beta)).sum() / 20
    loss.backward()
    assert out.loss == pytest.approx(loss.item(), rel=1e-6)
    _close_grad(out.grad_a, ta.grad.numpy())


def test_errors_raise_with_library_message():
    a, b = _data(4, 3, 3)
    a[2, 1] = np.nan
    with pytest.raises(clscale.ClscaleError, match=r"a\[2\]\[1\]"):
        clscale.loss(a, b)
    with pytest.raises(ValueError):
        clscale.loss(a[:, :2], b)
