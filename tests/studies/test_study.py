"""The seed study: its variants, its statistics against closed forms, its answers from given numbers, and a tiny
budget of the real command (a rerun runs nothing again; the page opens in headless Chromium)."""
import json
import math

import numpy as np
import pytest

from ganforge.cli import main
from ganforge.config import load_config
from ganforge.errors import GanforgeError
from ganforge.studies.study import CHOICES, Budget, instability, interval, variants
from ganforge.studies.study_report import answers, budget_line
from ganforge.nets.registry import build_discriminator, build_generator

from browser import chromium, console_errors, requested_urls


def test_each_variant_differs_from_its_base_in_its_choice_alone():
    found = {v.name: v for v in variants()}
    seed, everything = load_config("seed").to_dict(), load_config("seed", overrides=found["all switched"].settings).to_dict()
    for choice in CHOICES:
        switched = load_config("seed", overrides=found[f"seed, {choice.key} switched"].settings).to_dict()
        put_back = load_config("seed", overrides=found[f"all switched, {choice.key} put back"].settings).to_dict()
        for key in choice.seed:
            section, *rest = key.split(".")
            node_seed, node_switched, node_all, node_back = seed[section], switched[section], everything[section], put_back[section]
            for part in rest[:-1]:
                node_seed, node_switched, node_all, node_back = (n[part] for n in (node_seed, node_switched, node_all, node_back))
            assert node_switched[rest[-1]] != node_seed[rest[-1]] == node_back[rest[-1]] != node_all[rest[-1]], key
        assert _without(switched, choice) == _without(seed, choice)
        assert _without(put_back, choice) == _without(everything, choice)


def _without(config: dict, choice) -> dict:
    copy = json.loads(json.dumps(config))
    for key in choice.seed:
        section, *rest = key.split(".")
        node = copy[section]
        for part in rest[:-1]:
            node = node[part]
        node.pop(rest[-1])
    return copy


def test_the_seed_network_switches_change_the_layers_they_name():
    def count(module, kind):
        return sum(type(m).__name__ == kind for m in module.modules())

    seed = load_config("seed", overrides={"model.resolution": 32, "model.width": 8})
    switched = load_config("seed", overrides={"model.resolution": 32, "model.width": 8, "model.seed.double_bn": False,
                                              "model.seed.dense_head": False, "model.seed.bn_momentum": 0.99})
    assert count(build_generator(seed), "KerasBatchNorm") - count(build_generator(switched), "KerasBatchNorm") == 2
    assert count(build_discriminator(seed), "Linear") == 4 and count(build_discriminator(switched), "Linear") == 1
    assert {m.momentum for m in build_generator(switched).modules() if type(m).__name__ == "KerasBatchNorm"} == {0.99}
    assert {m.momentum for m in build_discriminator(seed).modules() if type(m).__name__ == "KerasBatchNorm"} == {0.8}
    with pytest.raises(GanforgeError, match="model.seed.bn_momentum"):
        load_config("seed", overrides={"model.seed.bn_momentum": 1.0})


def test_the_interval_is_students_t_at_95_percent():
    # [1, 2, 3]: mean 2, sample std 1, t(0.975; 2 d.o.f.) = 4.303 (any t table)
    found = interval([1.0, 2.0, 3.0])
    assert found.mean == 2.0 and found.half == pytest.approx(4.303 / math.sqrt(3), rel=1e-4)
    assert math.isinf(interval([5.0]).half)
    assert interval([1.0, 2.0]).overlaps(interval([2.5, 3.5])) and not interval([1.0, 1.1, 1.2]).overlaps(interval([5.0, 5.1, 5.2]))


def test_d_pins_at_the_fifth_log_line_in_a_row_of_both_accuracies_at_099():
    def row(step, real, fake, g):
        return {"step": step, "d_acc_real": real, "d_acc_fake": fake, "g_loss": g}

    log = [row(10 * i, 1.0, 1.0 if i != 4 else 0.9, float(i)) for i in range(1, 11)]  # the streak breaks at line 4
    found = instability(log, 100)
    assert found["pinned_at"] == 90  # lines 5..9
    assert found["g_loss_spread"] == pytest.approx(np.std([6.0, 7.0, 8.0, 9.0, 10.0]))
    assert instability([row(10, 1.0, 0.98, 1.0)] * 9, 100)["pinned_at"] is None


def test_the_answers_name_the_choice_whose_interval_moves_and_call_the_rest_not_distinguishable():
    chosen = [v for v in variants() if v.name in ("seed", "seed, g_mode switched", "seed, beta1 switched")]

    def rows(modes):
        return [{"modes": m, "num_modes": 120, "high_quality": 0.5, "reverse_kl": 1.0, "fd_shapes": 100.0, "pinned_at": None,
                 "g_loss_spread": 1.0} for m in modes]

    results = {("shapes", "seed"): rows([10, 12, 11]), ("shapes", "seed, g_mode switched"): rows([90, 92, 91]),
               ("shapes", "seed, beta1 switched"): rows([5, 20, 14])}
    said = answers(chosen, results, Budget(shapes_iterations=3000))
    assert said["mode collapse"].startswith("mode collapse: caused mostly by D's fakes from G in inference mode")
    assert "11.0 ± 2.5 -> 91.0 ± 2.5" in said["mode collapse"]
    assert "Adam's beta1 0.05 (DCGAN: 0.5): not distinguishable" in said["mode collapse"]
    assert said["instability"].startswith("instability: no single switch moves")  # nothing pinned anywhere


def test_the_reverse_direction_names_a_choice_that_pins_d_when_put_back_and_a_folder_without_sensitivity_runs_says_so():
    chosen = [v for v in variants() if v.name in ("seed", "all switched", "all switched, g_mode put back", "all switched, beta1 put back")]

    def rows(pinned, modes=40):
        return [{"modes": modes, "num_modes": 120, "high_quality": 0.5, "reverse_kl": 1.0, "fd_shapes": 100.0, "pinned_at": p,
                 "g_loss_spread": 1.0} for p in pinned]

    results = {("shapes", "seed"): rows([60, 70, 80], modes=3), ("shapes", "all switched"): rows([None] * 3),
               ("shapes", "all switched, g_mode put back"): rows([100, 110, 105]), ("shapes", "all switched, beta1 put back"): rows([None, None, 400])}
    said = answers(chosen, results, Budget(shapes_iterations=500, toy_iterations=2500))
    assert ("Put back one at a time into \"all switched\" (D pinning at 500.0 ± 0.0 on shapes): "
            "D's fakes from G in inference mode (G.predict) -> 105.0 ± 12.4 (each beyond the intervals).") in said["instability"]
    assert "beta1 0.05 (DCGAN: 0.5) ->" not in said["instability"]  # 433 ± 287 overlaps 500
    assert said["sensitivity"] == "sensitivity: no shapes sensitivity runs stored yet (ganforge sensitivity)."  # none in this folder


def test_a_tiny_study_runs_stores_its_cells_reruns_nothing_and_its_page_opens_offline(tmp_path, capsys):
    args = ["study", "--out", str(tmp_path), "--data", "grid,shapes", "--variants", "seed, g_mode switched", "--toy-iterations", "50",
            "--toy-seeds", "2", "--shapes-iterations", "10", "--shapes-seeds", "2", "--shapes-size", "120", "-n", "100"]
    assert main(args) == 0
    out = capsys.readouterr().out
    cells = sorted((tmp_path / "cells").rglob("*.json"))
    assert len(cells) == 2 * 2 * 2  # (grid, shapes) x 2 variants x 2 seeds
    assert "| seed, g_mode switched | 2 |" in out and "## sensitivity" not in out  # no sensitivity runs in this folder
    stamps = {p: p.stat().st_mtime_ns for p in cells}
    assert main(args) == 0
    assert "cells to run" not in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in cells} == stamps

    browser = chromium()
    try:
        browser.get((tmp_path / "study.html").as_uri())
        assert len(browser.find_elements("css selector", "#answers li")) == 3
        assert len(browser.find_elements("css selector", "table")) == 2  # grid, shapes
        images = browser.find_elements("css selector", "img")
        assert len(images) == 4  # each variant's grid and curves
        assert all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", i) for i in images)
        assert console_errors(browser) == []
        assert {u for u in requested_urls(browser) if not u.startswith(("file:", "data:"))} == set()
        browser.save_screenshot(str(tmp_path / "study.png"))
    finally:
        browser.quit()


def test_the_budget_line_names_the_datasets_run_and_no_other():
    budget = Budget(toy_iterations=700, shapes_iterations=900)
    assert "toy2d" not in budget_line(budget, ["shapes"]) and "900 iterations" in budget_line(budget, ["shapes"])
    assert budget_line(budget, ["grid"]) == "toy2d (grid) 700 iterations x 5 seeds"
    assert "toy2d (grid and ring) 700" in budget_line(budget, ["grid", "ring", "shapes"])


@pytest.mark.parametrize("flags, message", [
    (["--variants", "nope"], "unknown variant(s) nope"),
    (["--data", "moon"], "study data moon: choose from grid, ring, shapes"),
    (["--shapes-seeds", "0"], "argument --shapes-seeds: must be at least 1, not 0"),
    (["--jobs", "0"], "argument --jobs: must be at least 1, not 0"),
])
def test_a_wrong_study_invocation_is_one_line_and_exit_2(flags, message, tmp_path, capsys):
    try:
        code = main(["study", "--out", str(tmp_path), *flags])
    except SystemExit as exc:  # argparse's own checks
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"ganforge: error: {err.split('error: ', 1)[1].strip()}"] and message in err
    assert not (tmp_path / "cells").exists()
