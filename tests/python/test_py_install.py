"""Installation: `cmake --install` of this build into a temporary prefix, then
(1) a 10-line C program built with `pkg-config --cflags --libs clscale`
(PKG_CONFIG_PATH=PREFIX/lib/pkgconfig) runs and prints the loss its C call
computed, equal to the Python binding's on the same input (same C path: exact);
(2) a CMake project using find_package(clscale) and clscale::clscale builds
and runs; (3) the Python package, installed from python/ with Debian's pip
without network (--no-build-isolation --no-index), imports from the prefix
with CLSCALE_LIB unset and finds the prefix's library by itself."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SRC = Path(os.environ.get("CLS_SOURCE_DIR", Path(__file__).parents[2])).resolve()
BUILD = Path(os.environ.get("CLSCALE_LIB", SRC / "build" / "libclscale.so")).resolve().parent

PROGRAM = r"""
#include <clscale.h>
#include <stdio.h>
int main(void) {
    float a[6] = {1, 0, 0, 1, 1, 1}, b[6] = {1, 0.5f, 0, 1, -1, 1};
    cls_loss_options opt; cls_loss_options_init(&opt, CLS_LOSS_CLIP);
    cls_loss_result r;
    if (cls_loss_compute(&r, NULL, NULL, a, 3, b, 3, 2, NULL, &opt)) return 1;
    printf("%s %.17g\n", cls_version(), r.loss);
    return 0;
}
"""

CMAKE_PROJECT = """cmake_minimum_required(VERSION 3.18)
project(use_clscale C)
find_package(clscale 0.1 REQUIRED)
add_executable(use main.c)
target_link_libraries(use PRIVATE clscale::clscale)
"""


def run(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert p.returncode == 0, f"{cmd}: {p.stdout}\n{p.stderr}"
    return p.stdout


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    if not (BUILD / "cmake_install.cmake").exists():
        pytest.skip(f"{BUILD} is not a CMake build directory")
    pre = tmp_path_factory.mktemp("prefix")
    run(["cmake", "--install", str(BUILD), "--prefix", str(pre)])
    return pre


def expected_loss():
    sys.path.insert(0, str(SRC / "python"))
    import clscale
    a = np.array([[1, 0], [0, 1], [1, 1]], np.float32)
    b = np.array([[1, 0.5], [0, 1], [-1, 1]], np.float32)
    return clscale.loss(a, b, grads=False).loss


def test_layout(prefix):
    for rel in ("lib/libclscale.so", "lib/libclscale.a", "include/clscale.h",
                "include/clscale/loss.h", "include/clscale/abi.h", "lib/pkgconfig/clscale.pc",
                "lib/cmake/clscale/clscaleConfig.cmake", "lib/cmake/clscale/clscaleTargets.cmake",
                "bin/clscale"):
        assert (prefix / rel).exists(), rel
    assert run([str(prefix / "bin" / "clscale"), "--version"]).splitlines()[0].endswith("0.1.0")


def test_c_program_with_pkg_config(prefix, tmp_path):
    if not shutil.which("pkg-config"):
        pytest.skip("pkg-config not installed (scripts/install-deps installs it)")
    (tmp_path / "main.c").write_text(PROGRAM)
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    flags = run(["pkg-config", "--cflags", "--libs", "clscale"], env=env).split()
    assert f"-I{prefix}/lib/pkgconfig/../../include" in flags
    run(["cc", "-Wall", "-Werror", "-o", str(tmp_path / "prog"), str(tmp_path / "main.c"), *flags])
    env["LD_LIBRARY_PATH"] = str(prefix / "lib")
    version, loss = run([str(tmp_path / "prog")], env=env).split()
    assert version == "0.1.0"
    assert float(loss) == expected_loss()
    ldd = run(["ldd", str(tmp_path / "prog")], env=env)
    assert str(prefix / "lib" / "libclscale.so") in ldd


def test_cmake_package(prefix, tmp_path):
    (tmp_path / "main.c").write_text(PROGRAM)
    (tmp_path / "CMakeLists.txt").write_text(CMAKE_PROJECT)
    run(["cmake", "-S", str(tmp_path), "-B", str(tmp_path / "b"), f"-DCMAKE_PREFIX_PATH={prefix}"])
    run(["cmake", "--build", str(tmp_path / "b")])
    env = dict(os.environ, LD_LIBRARY_PATH=str(prefix / "lib"))
    assert float(run([str(tmp_path / "b" / "use")], env=env).split()[1]) == expected_loss()


def test_python_package_installs_and_finds_the_library(prefix, tmp_path):
    pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if pip.returncode != 0:
        pytest.skip("python3-pip not installed (scripts/install-deps installs it)")
    src = tmp_path / "python"  # a copy: pip builds in the source tree
    shutil.copytree(SRC / "python", src, ignore=shutil.ignore_patterns("build", "*.egg-info",
                                                                       "__pycache__"))
    run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
         "--no-index", "--prefix", str(prefix), str(src)],
        env=dict(os.environ, PIP_ROOT_USER_ACTION="ignore"))
    inits = list(prefix.glob("**/clscale/__init__.py"))
    assert len(inits) == 1, inits
    env = {k: v for k, v in os.environ.items() if k not in ("CLSCALE_LIB", "PYTHONPATH")}
    env["PYTHONPATH"] = str(inits[0].parent.parent)
    code = ("import clscale, clscale.torch, torch;"
            "print(clscale.library_path());"
            "print(float(clscale.torch.ClipLoss()(torch.eye(3), torch.eye(3), 2.0)))")
    lib, loss = run([sys.executable, "-c", code], env=env, cwd=str(tmp_path)).split()
    assert Path(lib).resolve() == (prefix / "lib" / "libclscale.so").resolve()
    assert float(loss) > 0
