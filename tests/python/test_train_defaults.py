"""The default schedule of `clscale train` depends on the model (docs/train.md,
"Quality and speed"): --epochs 0, the default, resolves to 75 epochs for the
mlp and 15 for the cnn, config.json records both the option and the resolved
value, and a negative --epochs is a usage error. Small synthetic IDX data
(256 images, batch 128: 2 steps per epoch), tiny models (seconds)."""
import json

from test_train_bf16_cli import data, run  # noqa: F401 (the data fixture)


def test_default_epochs_by_model(data, tmp_path):  # noqa: F811
    for model, width, epochs in (("mlp", "8", 75), ("cnn", "2", 15)):
        out = tmp_path / model
        r = run("train", "--data", str(data), "--out", str(out), "--model", model, "--width", width,
                "--batch", "128", "--threads", "1", "--json")
        assert r.returncode == 0, r.stderr
        cfg = json.loads((out / "config.json").read_text())
        assert cfg["epochs"] == 0 and cfg["epochs_resolved"] == epochs
        assert cfg["steps_per_epoch"] == 2 and cfg["total_steps"] == 2 * epochs
        assert json.loads(r.stdout)["steps"] == 2 * epochs


def test_epochs_given_and_invalid(data, tmp_path):  # noqa: F811
    out = tmp_path / "e"
    r = run("train", "--data", str(data), "--out", str(out), "--width", "8", "--batch", "128",
            "--epochs", "2", "--threads", "1")
    assert r.returncode == 0, r.stderr
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["epochs"] == 2 and cfg["epochs_resolved"] == 2 and cfg["total_steps"] == 4
    bad = run("train", "--data", str(data), "--out", str(tmp_path / "b"), "--epochs", "-1")
    assert bad.returncode == 2 and "--epochs" in bad.stderr
