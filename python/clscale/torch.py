"""PyTorch losses over libclscale's exact tiled kernels.

`ClipLoss`, `SigLIPLoss` (alias `SigLipLoss`), `InfoNCELoss` and `NTXentLoss`
are nn.Modules over one torch.autograd.Function. The loss and every gradient
come from one library call (cls_loss_compute) in the forward; the backward
only scales the saved gradients by the incoming gradient. Memory grows with
b*d, never b^2: the logits are never formed.

Inputs (contract):
- CPU tensors only: a tensor on another device (CUDA, meta, ...) raises
  ValueError naming the device; move it with .cpu().
- float32 goes to the library without a copy (tensor.data_ptr()). float16,
  bfloat16 and float64 are CONVERTED to float32 (one copy), the loss is
  computed in float32 and the gradients are returned in the input's dtype.
  Integer and complex tensors raise TypeError.
- Tensors must be C-contiguous (no hidden copy of a large batch): a
  non-contiguous one raises ValueError; call .contiguous().
- Shapes are checked here (2-D, same width, same rows where the loss needs
  it); NaN/Inf, empty batches, bad scales or labels are refused by the
  library itself, whose message the raised clscale.ClscaleError carries.
- logit_scale (and the SigLIP logit_bias) may be Python floats or
  one-element tensors; when they require grad (e.g. model.logit_scale.exp()
  with an nn.Parameter underneath) they receive dL/ds (dL/dbias).

Signatures follow open_clip: ClipLoss()(image_features, text_features,
logit_scale, output_dict=False) and SigLipLoss()(image_features,
text_features, logit_scale, logit_bias, output_dict=False), with
logit_scale already exponentiated. Unlike open_clip's, the losses here run on
one process (no all-gather) and never normalise unless normalize=True.
"""
import ctypes

import numpy as np
import torch
from torch import nn

from . import _abi
from ._lib import C, check, load
from ._loss import options as _options

__all__ = ["ClipLoss", "SigLIPLoss", "SigLipLoss", "InfoNCELoss", "NTXentLoss",
           "contrastive_loss"]



def _addr(t):
    return None if t is None else t.data_ptr()


_OPTIONS = {}  # (kind, options) -> a filled cls_loss_options, copied per call


def _loss_options(kind, logit_scale, bias, opts):
    """_loss.options(kind, ...) with the parsing and defaults done once per
    (kind, options): a copy of the cached struct with this call's scales."""
    key = (kind,) + tuple(sorted(opts.items()))
    tmpl = _OPTIONS.get(key)
    if tmpl is None:
        tmpl = _OPTIONS[key] = _options(kind, 1.0, 0.0, **opts)
    opt = _abi.LossOptions.from_buffer_copy(tmpl)
    opt.logit_scale, opt.bias = logit_scale, bias
    return opt


def _prepare(t, name):
    """The float32 CPU contiguous tensor the library reads (zero-copy for float32)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.device.type != "cpu":
        raise ValueError(f"{name} is on device '{t.device}': clscale.torch runs on the CPU "
                         "(move it with .cpu())")
    if not t.dtype.is_floating_point:
        raise TypeError(f"{name} has dtype {t.dtype}: clscale.torch takes float32 (float16, "
                        "bfloat16 and float64 are converted to float32)")
    if t.dim() != 2:
        raise ValueError(f"{name} must be 2-D (batch x dim), got shape {tuple(t.shape)}")
    if not t.is_contiguous():
        raise ValueError(f"{name} is not contiguous (strides {t.stride()}): clscale.torch "
                         "reads tensors in place; call .contiguous()")
    t = t.detach()
    return t if t.dtype == torch.float32 else t.to(torch.float32)


def _scalar(x, name):
    if isinstance(x, torch.Tensor):
        if x.numel() != 1:
            raise ValueError(f"{name} must have one element, got shape {tuple(x.shape)}")
        if x.device.type != "cpu":
            raise ValueError(f"{name} is on device '{x.device}': clscale.torch runs on the CPU")
        return x
    return torch.tensor(float(x), dtype=torch.float64)


def _compute(opt, a32, b32, lab, grads):
    ga = torch.empty_like(a32) if grads else None
    gb = torch.empty_like(b32) if grads else None
    res = _abi.LossResult()
    check(C.loss_compute_addr(ctypes.addressof(res), _addr(ga), _addr(gb), a32.data_ptr(),
                              a32.shape[0], b32.data_ptr(), b32.shape[0], a32.shape[1],
                              _addr(lab), ctypes.addressof(opt)))
    return res, ga, gb


def _package(res, ga, gb, a_dtype, b_dtype):
    """The input gradients in the inputs' dtypes, and the two scalar gradients
    as floats (made tensors in backward only when asked for)."""
    return ga.to(a_dtype), gb.to(b_dtype), res.grad_logit_scale, res.grad_bias


def _scalar_grad(v, like):
    return torch.full(like.shape, v, dtype=like.dtype)


class _ContrastiveFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b, logit_scale, bias, kind, opts, labels):
        a32, b32 = _prepare(a, "a"), _prepare(b, "b")
        if a32.shape[1] != b32.shape[1]:
            raise ValueError(f"a has {a32.shape[1]} columns but b has {b32.shape[1]}")
        if kind != "infonce" and a32.shape[0] != b32.shape[0]:
            raise ValueError(f"{kind}: a has {a32.shape[0]} rows but b has {b32.shape[0]}")
        lab = None
        if labels is not None:
            if kind != "infonce":
                raise ValueError("labels are for InfoNCE only")
            lab = labels.detach().to(device="cpu", dtype=torch.int64).contiguous()
            if lab.shape != (a32.shape[0],):
                raise ValueError(f"labels must have shape ({a32.shape[0]},), got "
                                 f"{tuple(lab.shape)}")
        opt = _loss_options(kind, float(logit_scale), float(bias), opts)
        need = any(ctx.needs_input_grad[:4])
        res, ga, gb = _compute(opt, a32, b32, lab, need)
        if need:
            ctx.grads = _package(res, ga, gb, a.dtype, b.dtype)
            # kept (references, no copies) only for a second backward (retain_graph)
            ctx.replay = (opt, a32, b32, lab, a.dtype, b.dtype)
            ctx.scalars = (logit_scale.detach(), bias.detach())
        return torch.tensor(res.loss, dtype=a.dtype)

    @staticmethod
    def backward(ctx, grad_loss):
        if ctx.grads is not None:
            # hand the gradients over (autograd can then keep them without a copy)
            ga, gb, gs, gbias = ctx.grads
            ctx.grads = None
        else:  # a second backward through a retained graph: compute them again
            opt, a32, b32, lab, a, b = ctx.replay
            res, ga, gb = _compute(opt, a32, b32, lab, True)
            ga, gb, gs, gbias = _package(res, ga, gb, a, b)
        g = float(grad_loss)
        if g != 1.0:
            ga, gb, gs, gbias = ga * g, gb * g, gs * g, gbias * g
        need = ctx.needs_input_grad
        s, bias = ctx.scalars
        return (ga if need[0] else None, gb if need[1] else None,
                _scalar_grad(gs, s) if need[2] else None,
                _scalar_grad(gbias, bias) if need[3] else None, None, None, None)


def contrastive_loss(a, b, kind="clip", logit_scale=1 / 0.07, bias=-10.0, labels=None,
                     normalize=False, reduction="mean", label_smoothing=0.0, tile=0, threads=0,
                     precision=None):
    """Functional form: the exact loss of `kind` (clip | infonce | ntxent |
    siglip) as a 0-d tensor with autograd to a, b, logit_scale and bias."""
    load()
    opts = dict(normalize=normalize, reduction=reduction, label_smoothing=label_smoothing,
                tile=tile, threads=threads, precision=precision)
    return _ContrastiveFunction.apply(a, b, _scalar(logit_scale, "logit_scale"),
                                      _scalar(bias, "bias"), kind, opts, labels)


class _Base(nn.Module):
    kind = None

    def __init__(self, normalize=False, reduction="mean", label_smoothing=0.0, tile=0,
                 threads=0, precision=None):
        super().__init__()
        self.precision = precision
        self.normalize = normalize
        self.reduction = reduction
        self.label_smoothing = label_smoothing
        self.tile = tile
        self.threads = threads

    def _loss(self, a, b, logit_scale, bias=0.0, labels=None, output_dict=False):
        loss = contrastive_loss(a, b, self.kind, logit_scale, bias, labels, self.normalize,
                                self.reduction, self.label_smoothing, self.tile, self.threads,
                                self.precision)
        return {"contrastive_loss": loss} if output_dict else loss


class ClipLoss(_Base):
    """Symmetric InfoNCE (CLIP), exact and tiled. forward(image_features,
    text_features, logit_scale, output_dict=False) as in open_clip; logit_scale
    is the scale itself (model.logit_scale.exp()), a float or a tensor."""
    kind = "clip"

    def forward(self, image_features, text_features, logit_scale, output_dict=False):
        return self._loss(image_features, text_features, logit_scale, output_dict=output_dict)


class SigLIPLoss(_Base):
    """Pairwise sigmoid loss (SigLIP): forward(image_features, text_features,
    logit_scale, logit_bias, output_dict=False) as open_clip's SigLipLoss
    (mean reduction = sum over pairs / batch)."""
    kind = "siglip"

    def __init__(self, reduction="mean", tile=0, threads=0, normalize=False, precision=None):
        super().__init__(normalize, reduction, 0.0, tile, threads, precision)

    def forward(self, image_features, text_features, logit_scale, logit_bias,
                output_dict=False):
        return self._loss(image_features, text_features, logit_scale, logit_bias,
                          output_dict=output_dict)


SigLipLoss = SigLIPLoss


class InfoNCELoss(_Base):
    """One-directional InfoNCE from queries to keys (keys may outnumber
    queries; the positive of query i is key labels[i], default i).
    forward(query, keys, logit_scale=None, labels=None, output_dict=False);
    logit_scale None uses 1 / temperature."""
    kind = "infonce"

    def __init__(self, temperature=0.07, **kw):
        super().__init__(**kw)
        self.temperature = temperature

    def forward(self, query, keys, logit_scale=None, labels=None, output_dict=False):
        s = 1.0 / self.temperature if logit_scale is None else logit_scale
        return self._loss(query, keys, s, labels=labels, output_dict=output_dict)


class NTXentLoss(_Base):
    """NT-Xent (SimCLR) over the 2n views [z1; z2], self-similarity excluded.
    forward(z1, z2, logit_scale=None, output_dict=False); logit_scale None
    uses 1 / temperature (default temperature 0.5, SimCLR's)."""
    kind = "ntxent"

    def __init__(self, temperature=0.5, **kw):
        super().__init__(**kw)
        self.temperature = temperature

    def forward(self, z1, z2, logit_scale=None, output_dict=False):
        s = 1.0 / self.temperature if logit_scale is None else logit_scale
        return self._loss(z1, z2, s, output_dict=output_dict)
