"""clscale: ctypes bindings over libclscale (NumPy in and out) and PyTorch
losses (clscale.torch).

The shared library is found, in order: the CLSCALE_LIB environment variable;
next to this package (clscale/libclscale.so); an installation prefix the
package lives under (PREFIX/lib/libclscale.so); a source checkout's
build/libclscale.so; the system path (ctypes.util.find_library). At import the
library's struct layouts are checked against the bindings' (ImportError names
any mismatch). Failures raise ClscaleError with the library's own message.

    import numpy as np, clscale
    a = np.random.randn(4096, 128).astype(np.float32)
    b = np.random.randn(4096, 128).astype(np.float32)
    out = clscale.loss(a, b, kind="clip", normalize=True)
    out.loss, out.grad_a.shape, out.grad_logit_scale
    clscale.spectrum(a).alpha

See docs/python.md.
"""
from ._lib import ClscaleError, library_path, load as _load, C as _C
from ._loss import (LossResult, loss, loss_workspace_bytes, clip_forward, clip_backward,
                    infonce_forward, infonce_backward, ntxent_forward, ntxent_backward,
                    siglip_forward_backward)
from ._spectrum import SpectrumResult, spectrum
from ._fit import FitResult, Plan, fit, load_fit, plan
from ._sim import (lcl, lcl_sweep, dynamics_ode, dynamics_sgd, dynamics_threshold,
                   dynamics_fixed_points, featlearn, featlearn_predict, featlearn_bottleneck,
                   featlearn_frontier)
from ._train import TrainResult, train, embed
from . import eval

_load()

__version__ = _C.version().decode()

__all__ = [
    "ClscaleError", "library_path", "version",
    "LossResult", "loss", "loss_workspace_bytes", "clip_forward", "clip_backward",
    "infonce_forward", "infonce_backward", "ntxent_forward", "ntxent_backward",
    "siglip_forward_backward",
    "SpectrumResult", "spectrum",
    "FitResult", "Plan", "fit", "load_fit", "plan",
    "lcl", "lcl_sweep", "dynamics_ode", "dynamics_sgd", "dynamics_threshold",
    "dynamics_fixed_points", "featlearn", "featlearn_predict", "featlearn_bottleneck",
    "featlearn_frontier", "TrainResult", "train", "embed", "eval",
]


def version():
    """The library's version string."""
    return _C.version().decode()
