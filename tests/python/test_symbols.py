"""libclscale.so exports only its public API: every defined dynamic symbol
starts with `cls_` (the library is built with -fvisibility=hidden and the
public declarations carry CLS_API). Also checks the other direction: every
CLS_API function declared in include/clscale.h and include/clscale/*.h that
the library defines is exported (a missing CLS_API would hide it)."""
import glob
import os
import re
import shutil
import subprocess

import pytest

LIB = os.environ.get("CLSCALE_LIB", "build/libclscale.so")
SRC = os.environ.get("CLS_SOURCE_DIR", ".")


def exported(lib=LIB, dynamic=True):
    nm = shutil.which("nm")
    assert nm, "nm (binutils) is needed to list the exported symbols"
    args = [nm, "-D", "--defined-only", lib] if dynamic else [nm, "--defined-only", "-g", lib]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            names.add(parts[2].split("@")[0])
    return names


def declared():
    names = set()
    headers = [os.path.join(SRC, "include", "clscale.h")]
    headers += glob.glob(os.path.join(SRC, "include", "clscale", "*.h"))
    for h in headers:
        if h.endswith("loss_mpi.h"):  # lives in libclscale_mpi, not the shared library
            continue
        text = open(h).read()
        names.update(re.findall(r"\bCLS_API\b[^;{(]*?\b(cls_\w+)\s*\(", text))
    return names


def test_only_cls_symbols_exported():
    bad = sorted(s for s in exported() if not s.startswith("cls_"))
    assert not bad, f"{len(bad)} exported symbols outside cls_: {bad[:40]}"


def test_public_functions_annotated():
    exp = exported()
    # Every function a header declares public and the library defines (the
    # static archive, same objects) must be in the shared library's export table.
    static = os.path.join(os.path.dirname(LIB), "libclscale.a")
    assert os.path.exists(static), static
    defined = exported(static, dynamic=False)
    missing = sorted((declared() & defined) - exp)
    assert len(declared() & defined) > 100, "header scan found too few public functions"
    assert not missing, f"declared CLS_API but not exported: {missing}"


def test_unannotated_declarations():
    # A top-level function declaration without CLS_API would be hidden: catch it.
    pat = re.compile(r"^(?!typedef\b)(?:const\s+)?[a-z_][a-z_0-9]*\s*\**\s*(cls_\w+)\s*\(", re.M)
    headers = [os.path.join(SRC, "include", "clscale.h")]
    headers += glob.glob(os.path.join(SRC, "include", "clscale", "*.h"))
    bad = []
    for h in headers:
        for m in pat.finditer(open(h).read()):
            bad.append(f"{os.path.basename(h)}: {m.group(1)}")
    assert not bad, f"public declarations without CLS_API: {bad}"
