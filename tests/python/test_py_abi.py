"""Safe bindings: the ctypes struct layouts of python/clscale against the
library's own description of them (src/core/abi.c), and that description
against the headers, so that a member added in C can never drift silently.
Exact checks (integers and names); no tolerances."""
import ctypes
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(os.environ.get("CLS_SOURCE_DIR", Path(__file__).parents[2])).resolve()
sys.path.insert(0, str(SRC / "python"))
import clscale  # noqa: E402
from clscale import _abi, _lib  # noqa: E402


def header_structs():
    """{typedef name: [member names]} of every `typedef struct {...} name;` in
    include/clscale/*.h (comments removed; arrays, pointers, lists handled)."""
    out = {}
    for h in sorted((SRC / "include" / "clscale").glob("*.h")):
        text = re.sub(r"/\*.*?\*/", "", h.read_text(), flags=re.S)
        text = re.sub(r"//[^\n]*", "", text)
        for body, name in re.findall(r"typedef\s+struct\s*\w*\s*\{([^{}]*)\}\s*(\w+)\s*;", text):
            members = []
            for decl in body.split(";"):
                decl = decl.strip()
                if not decl or "(" in decl:
                    continue
                decl = re.sub(r"\[[^\]]*\]", "", decl)
                first, *rest = [p.strip() for p in decl.split(",")]
                members.append(re.findall(r"\w+", first)[-1])
                members += [re.findall(r"\w+", r)[-1] for r in rest]
            out[name] = members
    return out


def test_every_bound_struct_matches_the_library():
    assert _abi.mismatches(_lib.C) == []
    for cls in _abi.STRUCTS:
        assert _lib.C.abi_sizeof(_abi.c_name(cls, _lib.C).encode()) == ctypes.sizeof(cls)


def test_library_tables_list_every_header_member():
    structs = header_structs()
    for cls in _abi.STRUCTS:
        cname = _abi.c_name(cls, _lib.C)
        name = cname.encode()
        lib_fields = [_lib.C.abi_field_name(name, i).decode()
                      for i in range(_lib.C.abi_field_count(name))]
        assert lib_fields == structs[cname], (
            f"{cname}: src/core/abi.c lists {lib_fields}, the header declares "
            f"{structs[cname]}: add the member to abi.c and python/clscale/_abi.py")


def test_mismatch_is_reported_by_name():
    class Drifted(_abi._Struct):  # cls_loss_options with an int where a double is
        _c_name_ = "cls_loss_options"
        _fields_ = [("kind", ctypes.c_int), ("logit_scale", ctypes.c_float)] + \
            _abi.LossOptions._fields_[2:]

    class Extra(_abi._Struct):
        _c_name_ = "cls_loss_result"
        _fields_ = _abi.LossResult._fields_ + [("precision", ctypes.c_int)]

    saved = _abi.STRUCTS
    try:
        _abi.STRUCTS = [Drifted, Extra]
        bad = _abi.mismatches(_lib.C)
        with pytest.raises(ImportError, match="cls_loss_options.bias: offset 16 in the library"):
            _abi.verify(_lib.C)
    finally:
        _abi.STRUCTS = saved
    text = "; ".join(bad)
    assert "cls_loss_options: sizeof" in text
    assert "cls_loss_result: members differ" in text and "'precision'" in text


def test_unknown_names():
    assert _lib.C.abi_sizeof(b"no_such_type") == 0
    assert _lib.C.abi_offsetof(b"cls_loss_options", b"nope") == ctypes.c_size_t(-1).value
    assert _lib.C.abi_field_count(b"nope") == -1
    with pytest.raises(clscale.ClscaleError, match="unknown name 'CLS_NOPE'"):
        _lib.constant("CLS_NOPE")
    assert _lib.constant("CLS_LOSS_SIGLIP") == 3


def _import_in_subprocess(env):
    code = "import clscale; print(clscale.library_path())"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, cwd="/")


def test_library_location_rules(tmp_path):
    lib = str(Path(_lib.library_path()).resolve())
    env = dict(os.environ, PYTHONPATH=str(SRC / "python"))
    env["CLSCALE_LIB"] = lib
    p = _import_in_subprocess(env)
    assert p.returncode == 0 and p.stdout.strip() == lib, p.stderr
    env["CLSCALE_LIB"] = str(tmp_path / "missing.so")
    p = _import_in_subprocess(env)
    assert p.returncode != 0 and "cannot load libclscale" in p.stderr
    # next to the package: a copy of the package with the library inside it
    pkg = tmp_path / "site" / "clscale"
    pkg.mkdir(parents=True)
    for f in (SRC / "python" / "clscale").glob("*.py"):
        (pkg / f.name).write_bytes(f.read_bytes())
    (pkg / "libclscale.so").write_bytes(Path(lib).read_bytes())
    env = {k: v for k, v in os.environ.items() if k != "CLSCALE_LIB"}
    env["PYTHONPATH"] = str(tmp_path / "site")
    p = _import_in_subprocess(env)
    assert p.returncode == 0 and p.stdout.strip() == str(pkg / "libclscale.so"), p.stderr
