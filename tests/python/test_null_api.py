"""NULL handling of the public API, as include/clscale.h promises: every
option/config initialiser (cls_*_init) and every release function (cls_*_free,
cls_*_clear) declared with CLS_API in include/clscale.h and
include/clscale/*.h accepts NULL as a no-op. The functions are found by
scanning the headers, so one added later is covered without editing this
test. Each call runs in a child process, so a crash fails the one function
it belongs to (by name) instead of the whole session."""
import glob
import os
import re
import subprocess
import sys

import pytest

LIB = os.environ.get("CLSCALE_LIB", "build/libclscale.so")
SRC = os.environ.get("CLS_SOURCE_DIR", ".")

# CLS_API void cls_x_init(T *p[, int kind]); and cls_x_free / cls_x_clear.
DECL = re.compile(r"\bCLS_API\s+void\s+(cls_(?:\w+?_)?(?:init|free|clear))\s*\(([^)]*)\)\s*;", re.S)


def declared():
    found = {}
    headers = [os.path.join(SRC, "include", "clscale.h")]
    headers += glob.glob(os.path.join(SRC, "include", "clscale", "*.h"))
    for h in sorted(headers):
        if h.endswith("loss_mpi.h"):  # libclscale_mpi, not the shared library
            continue
        for name, args in DECL.findall(open(h).read()):
            params = [a.strip() for a in " ".join(args.split()).split(",")]
            found[name] = params
    return found


FUNCS = declared()


def test_scan_finds_the_known_ones():
    # The scan must see the functions the issue named, or it proves nothing.
    for name in ("cls_loss_options_init", "cls_fit_options_init", "cls_spectrum_options_init",
                 "cls_fit_result_free", "cls_spectrum_result_free", "cls_csv_free", "cls_free"):
        assert name in FUNCS, f"{name} not found by the header scan"
    assert len(FUNCS) >= 40, f"header scan found only {len(FUNCS)} init/free functions"


CHILD = r"""
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
f = getattr(lib, sys.argv[2])
nargs = int(sys.argv[3])
f.restype = None
f.argtypes = [ctypes.c_void_p] + [ctypes.c_int] * (nargs - 1)
f(None, *([0] * (nargs - 1)))
f(None, *([1] * (nargs - 1)))
print("ok")
"""


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_null_is_a_no_op(name):
    params = FUNCS[name]
    assert "*" in params[0], f"{name}: first parameter {params[0]!r} is not a pointer"
    # Extra parameters are enum kinds / sweep indices: plain ints.
    for p in params[1:]:
        assert "*" not in p, f"{name}: unexpected pointer parameter {p!r}"
    r = subprocess.run([sys.executable, "-c", CHILD, LIB, name, str(len(params))],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (
        f"{name}(NULL) is not a no-op: exit {r.returncode}, stderr {r.stderr[-500:]!r}")
