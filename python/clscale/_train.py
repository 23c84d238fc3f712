"""Contrastive training runs and their representations (include/clscale/train.h):
`clscale.train(out_dir, **config)` over cls_train_run and
`clscale.embed(run_dir, split)` over cls_train_embed, as `clscale train` and
`clscale embed`."""
import ctypes
import os
from dataclasses import dataclass

import numpy as np

from . import _abi
from ._lib import C, check, constant, load, f32p, i64p

# config names -> how a Python value becomes the C member (CLI option in the comment)
_NUMBERS = {
    "width": int, "temperature": float, "learn_temperature": lambda v: int(bool(v)),
    "batch": int, "chunk": int, "memory_budget": int, "lr": float, "weight_decay": float,
    "warmup_epochs": float, "epochs": float, "steps": int, "train_subset": int,
    "seed": int, "threads": int, "log_every": int, "checkpoint_every": int, "proj_dim": int,
}
# the ranges `clscale train` accepts for the same options (cli/cmd_train.c):
# (lowest, strict) — the library treats some out-of-range values as "default"
_RANGES = {"width": (0, False), "temperature": (0, True), "batch": (2, False), "chunk": (0, False),
           "memory_budget": (0, True), "lr": (0, True), "weight_decay": (0, False),
           "warmup_epochs": (0, False), "epochs": (0, False), "steps": (1, False),
           "train_subset": (0, False), "threads": (0, False), "log_every": (1, False),
           "checkpoint_every": (0, False), "proj_dim": (1, False)}
_ENUMS = {"model": "model_kind_parse", "loss": "loss_kind_parse",
          "optimizer": "optim_kind_parse", "lr_scaling": "lr_scaling_parse",
          "precision": "loss_precision_parse"}
CONFIG_NAMES = sorted(list(_NUMBERS) + list(_ENUMS) + ["data", "pairs", "augment"])


@dataclass
class TrainResult:
    steps: int
    samples_seen: int
    params: int
    peak_rss_bytes: int
    epochs: float
    final_loss: float
    samples_per_s: float
    seconds: float
    flops_per_image: float
    train_flops: float
    chunk: int
    start_step: int
    stopped_early: bool


def train_config(resume_dir=None, **config):
    """A cls_train_config: the library's defaults (those of `clscale train`),
    or resume_dir's config.json when it has one, with the named fields
    replaced. Returns (struct, objects to keep alive); release the struct with
    C.train_config_clear."""
    load()
    cfg = _abi.TrainConfig()
    C.train_config_init(ctypes.byref(cfg))
    if resume_dir is not None and os.path.exists(os.path.join(resume_dir, "config.json")):
        check(C.train_config_load(ctypes.byref(cfg), str(resume_dir).encode()))
    try:
        return cfg, _apply(cfg, config)
    except BaseException:
        C.train_config_clear(ctypes.byref(cfg))
        raise


def _apply(cfg, config):
    keep = []
    unknown = sorted(set(config) - set(CONFIG_NAMES))
    if unknown:
        raise TypeError(f"unknown training option(s) {unknown}; the options are {CONFIG_NAMES}")
    for name, conv in _NUMBERS.items():
        if name in config:
            v = conv(config[name])
            lo, strict = _RANGES.get(name, (None, False))
            if lo is not None and not (v > lo if strict else v >= lo):
                raise ValueError(f"{name} must be {'>' if strict else '>='} {lo}, got {v}")
            setattr(cfg, name, v)
    # as the CLI: epochs given without steps means "train for epochs"
    if "epochs" in config and "steps" not in config:
        cfg.steps = 0
    for name, fn in _ENUMS.items():
        if name in config:
            v = ctypes.c_int()
            check(getattr(C, fn)(str(config[name]).encode(), ctypes.byref(v)))
            if name == "loss" and v.value == constant("CLS_LOSS_INFONCE"):
                raise ValueError("loss must be ntxent, clip or siglip, not 'infonce'")
            setattr(cfg, name, v.value)
    if "data" in config:
        keep.append(str(config["data"]).encode())
        cfg.data = keep[-1]
    if config.get("pairs") is not None:
        a, b = config["pairs"]
        keep += [str(a).encode(), str(b).encode()]
        cfg.pairs_a, cfg.pairs_b = keep[-2], keep[-1]
    for k, v in (config.get("augment") or {}).items():
        if k not in dict(_abi.AugmentOptions._fields_):
            raise TypeError(f"unknown augmentation option {k!r}; the options are "
                            f"{[f for f, _ in _abi.AugmentOptions._fields_]}")
        setattr(cfg.augment, k, float(v))
    return keep


def train(out_dir, resume=False, progress=None, **config):
    """Train into out_dir (created, with missing parents) as `clscale train --out out_dir`:
    config names are the cls_train_config fields (model="mlp"|"cnn",
    loss="ntxent"|"clip"|"siglip", optimizer, lr_scaling as strings;
    pairs=(a.npy, b.npy); augment={field: value}); defaults are the CLI's.
    progress(dict) is called after each logged step; a true return value stops
    the run cleanly. resume=True continues from out_dir's checkpoint with the
    options of its config.json (as `clscale train --resume`; options given here
    replace those). Returns a TrainResult; failures raise ClscaleError with the
    library's message."""
    cfg, keep = train_config(str(out_dir) if resume else None, **config)
    parent = os.path.dirname(os.path.abspath(str(out_dir)))
    os.makedirs(parent, exist_ok=True)  # the library creates out_dir itself, one level
    try:
        return _run(cfg, keep, out_dir, resume, progress)
    finally:
        C.train_config_clear(ctypes.byref(cfg))


def _run(cfg, keep, out_dir, resume, progress):
    error = []
    if progress is not None:
        def cb(_user, p):
            try:
                d = {f: getattr(p.contents, f) for f, _ in _abi.TrainProgress._fields_}
                return 1 if progress(d) else 0
            except BaseException as e:  # never unwind through C: stop and re-raise below
                error.append(e)
                return 1
        cfg.progress = _abi.TRAIN_PROGRESS_FN(cb)
        keep.append(cfg.progress)
    r = _abi.TrainResult()
    st = C.train_run(ctypes.byref(cfg), str(out_dir).encode(), int(bool(resume)), ctypes.byref(r))
    if error:
        raise error[0]
    check(st)
    out = {f: getattr(r, f) for f, _ in _abi.TrainResult._fields_}
    out["stopped_early"] = bool(out["stopped_early"])
    return TrainResult(**out)


def embed(run_dir, split="test"):
    """Representations h of a run's latest checkpoint for split "train" or
    "test", as `clscale embed`: (float32 n x dim array, int64 labels)."""
    load()
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    code = constant("CLS_SPLIT_TRAIN" if split == "train" else "CLS_SPLIT_TEST")
    h, y = f32p(), i64p()
    n, dim = ctypes.c_int64(), ctypes.c_int64()
    check(C.train_embed(str(run_dir).encode(), code, ctypes.byref(h), ctypes.byref(y),
                        ctypes.byref(n), ctypes.byref(dim)))
    try:
        X = np.ctypeslib.as_array(h, shape=(n.value, dim.value)).copy() if n.value else \
            np.empty((0, dim.value), np.float32)
        labels = np.ctypeslib.as_array(y, shape=(n.value,)).copy() if n.value and y else \
            np.empty(0, np.int64)
    finally:
        C.free(ctypes.cast(h, ctypes.c_void_p))
        C.free(ctypes.cast(y, ctypes.c_void_p))
    return X, labels
