"""The CLI's common rules, command by command: -h/--help exits 0 with the
usage on stdout; unknown options and bad values are 'clscale: error:' with
exit 2; options that do not apply are usage errors; bad data is exit 1 and
the message says each thing once; `clscale loss` warns when the default
scale meets rows that are not unit-norm. Fast: no command runs long."""
import json
import os
import subprocess

import numpy as np
import pytest

BIN = os.environ.get("CLSCALE_BIN", "build/clscale")
COMMANDS = [["loss"], ["bench", "loss"], ["spectrum"], ["fit"], ["plan"], ["sim", "lcl"],
            ["sim", "dynamics"], ["sim", "featlearn"], ["eval"], ["train"], ["embed"],
            ["bench", "train"], ["bench", "gemm"], ["lab"]]


def run(*args):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_help(cmd, flag):
    p = run(*cmd, flag)
    assert p.returncode == 0, p.stderr
    assert "usage" in p.stdout.lower() and p.stderr == ""


@pytest.mark.parametrize("cmd", COMMANDS, ids=" ".join)
def test_unknown_option(cmd):
    p = run(*cmd, "--no-such-option")
    assert p.returncode == 2
    assert p.stderr.startswith("clscale: error:") and "--no-such-option" in p.stderr
    assert "unrecognized option" not in p.stderr  # glibc's own message


@pytest.mark.parametrize("args,needle", [
    (["fit", "d.csv", "--bins"], "--bins needs a value"),
    (["fit", "d.csv", "--bins", "2"], "--bins"),
    (["fit", "d.csv", "--frontier", "x"], "--frontier"),
    (["plan", "f.json", "--compute", "nan"], "--compute"),
    (["plan", "f.json", "--compute", "1,-5"], "must be > 0"),
    (["plan", "f.json", "--json=1", "--compute", "1"], "takes no value"),
    (["sim", "lcl", "--a", "1"], "a = 1"),
    (["eval", "--knn", "0"], "--knn"),
    (["eval", "--knn-vote", "mean"], "--knn-vote"),
    (["eval", "--baseline", "noise"], "--baseline"),
    (["eval", "--probe-grid", "1:0.1:3"], "--probe-grid"),
    (["eval", "--seed"], "--seed needs a value"),
    (["eval", "--threads", "-1"], "--threads"),
    (["eval", "--baseline", "pixels", "--width", "8"], "--width"),  # applies to random encoders only
    (["eval", "--baseline", "pixels", "--knn", "5", "--confusion", "c.csv"], "--confusion"),
    (["train", "--out", "d", "--batch", "1"], "--batch"),
    (["train", "--out", "d", "--temperature", "nan"], "--temperature"),
    (["train", "--out", "d", "--lr", "0"], "must be > 0"),
    (["train", "--out", "d", "--memory-budget", "0"], "--memory-budget"),
    (["train", "--out", "d", "--memory-budget", "5Q"], "--memory-budget"),
    (["train", "--out", "d", "--pairs", "a.npy"], "--pairs needs two values"),
    (["train", "--out", "d", "--pairs", "a.npy", "--json"], "--pairs needs two values"),
    (["train", "--out", "d", "--loss", "infonce"], "--loss"),
    (["train", "--out", "d", "--model", "rnn"], "--model"),
    (["train", "--out", "d", "--resume=1"], "takes no value"),
    (["train", "--out", "d", "extra"], "unexpected argument"),
    (["embed", "run", "--out", "z.npy", "--split", "val"], "--split"),
    (["embed", "run"], "--out"),
    (["bench", "train", "--steps", "0"], "--steps"),
    (["bench", "train", "--width", "-1"], "--width"),
    (["bench", "train", "--optimizer", "rmsprop"], "--optimizer"),
    (["bench", "gemm", "--repeats", "1001"], "--repeats"),
    (["bench", "gemm", "--threads"], "--threads needs a value"),
    (["lab", "--holdout", "1"], "--holdout"),
    (["lab", "--seed", "-1"], "--seed"),
    (["lab", "--bootstrap", "x"], "--bootstrap"),
])
def test_bad_values_exit_2(args, needle):
    p = run(*args)
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("clscale: error:") and needle in p.stderr


def test_messages_say_things_once(tmp_path):
    p = run("bench", "foo")
    assert p.returncode == 2 and "unknown benchmark 'foo'" in p.stderr
    p = run("sim", "foo")
    assert p.returncode == 2 and "unknown model 'foo'" in p.stderr
    x = np.random.default_rng(0).standard_normal((20, 5)).astype(np.float32)
    x[7, 3] = np.nan
    path = tmp_path / "nan.npy"
    np.save(path, x)
    p = run("spectrum", path)
    assert p.returncode == 1 and "row 7 column 3 is NaN" in p.stderr
    assert p.stderr.count(str(path)) == 1, p.stderr
    p = run("sim", "lcl", "--a", "1")
    assert "sim lcl: lcl:" not in p.stderr


def test_eval_bad_data_exit_1_said_once(tmp_path):
    x = np.random.default_rng(0).standard_normal((20, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", np.arange(20) % 2)
    np.save(tmp_path / "y3.npy", np.arange(3))
    p = run("eval", "--train", tmp_path / "x.npy", "--train-labels", tmp_path / "y3.npy",
            "--test", tmp_path / "x.npy", "--test-labels", tmp_path / "y.npy")
    assert p.returncode == 1 and p.stderr.startswith("clscale: error:")
    assert p.stderr.count("y3.npy") == 1 and "3 values" in p.stderr, p.stderr
    p = run("embed", tmp_path / "no-run", "--out", tmp_path / "z.npy")
    assert p.returncode == 1 and p.stderr.count("no-run") == 1, p.stderr


def test_train_memory_budget_suffix_parses():
    # a valid K/M/G size passes the parser: the command then stops at the next check
    p = run("train", "--memory-budget", "512M")
    assert p.returncode == 2 and "--out DIR is required" in p.stderr, p.stderr


def test_lcl_sketch_error_names_given_option():
    p = run("sim", "lcl", "--d", "40")  # default M = 64 > d: blame --d, not --M
    assert p.returncode == 2
    assert "default sketch size" in p.stderr and "--M 64" not in p.stderr


@pytest.fixture
def rows(tmp_path):
    x = np.random.default_rng(1).standard_normal((16, 8)).astype(np.float32)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    np.save(tmp_path / "x.npy", 3 * x)
    np.save(tmp_path / "u.npy", u)
    return tmp_path / "x.npy", tmp_path / "u.npy"


def test_loss_warns_on_non_unit_rows(rows):
    x, u = rows
    p = run("loss", "--a", x, "--b", x, "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert len(out["warnings"]) == 1 and "unit-norm" in out["warnings"][0]
    assert "clscale: warning:" in p.stderr and "unit-norm" in p.stderr
    for extra in (["--normalize"], ["--logit-scale", "5"]):
        p = run("loss", "--a", x, "--b", x, "--json", *extra)
        assert p.returncode == 0 and json.loads(p.stdout)["warnings"] == [] and p.stderr == ""
    p = run("loss", "--a", u, "--b", u, "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["warnings"] == []


def test_loss_options_that_do_not_apply(rows):
    _, u = rows
    p = run("loss", "--a", u, "--b", u, "--bias", "1")
    assert p.returncode == 2 and "--bias" in p.stderr and "siglip" in p.stderr
    p = run("loss", "--a", u, "--b", u, "--loss", "siglip", "--label-smoothing", "0.1")
    assert p.returncode == 2 and "--label-smoothing" in p.stderr
    p = run("loss", "--a", u, "--b", u, "--loss", "siglip", "--bias", "-10")
    assert p.returncode == 0, p.stderr


def test_plot_says_wrote_and_quotes_paths(tmp_path):
    import shutil
    x = np.random.default_rng(2).standard_normal((200, 16)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "it's a plot.png"  # a quote in the path must not break the script
    p = run("spectrum", tmp_path / "x.npy", "--fit-range", "1:8", "--plot", out)
    assert p.returncode == 0, p.stderr
    if shutil.which("gnuplot"):
        assert f"wrote {out}" in p.stderr
        assert out.exists() and out.stat().st_size > 0


def test_parser_order_prefixes_and_double_dash(tmp_path):
    """The shared parser (no getopt): options before or after positional
    arguments, --name=value, unambiguous prefixes, '--' ends the options."""
    x = np.random.default_rng(3).standard_normal((64, 8)).astype(np.float32)
    path = tmp_path / "x.npy"
    np.save(path, x)
    ref = run("spectrum", path, "--json")
    assert ref.returncode == 0, ref.stderr
    want = json.loads(ref.stdout)
    for args in (["--json", path], ["--js", path], ["--json", "--", path]):
        p = run("spectrum", *args)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout) == want
    p = run("bench", "gemm", "--re", "0")  # prefix of --repeats: parsed and range-checked
    assert p.returncode == 2 and "--repeats" in p.stderr
    p = run("train", "--out", "d", "--l", "1")  # --loss, --lr, --log-every, ...
    assert p.returncode == 2 and "ambiguous option '--l'" in p.stderr
    p = run("eval", "--threads=-1")
    assert p.returncode == 2 and "--threads" in p.stderr
    p = run("spectrum", "--", "--json")  # after '--' a name is a file
    assert p.returncode == 1 and "--json" in p.stderr
    p = run("train", "-x")
    assert p.returncode == 2 and "unknown option '-x'" in p.stderr
