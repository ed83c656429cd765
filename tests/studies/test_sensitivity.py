"""The shapes sensitivity study: its success rule, its intervals, its points and its picture's data, each against values
computed by hand or published; and a tiny run through the command, stored and resumed."""
import html
import json
import math

import pytest

from ganforge.cli import main
from ganforge.errors import GanforgeError
from ganforge.studies.sensitivity import (BATCHES, BETA1S, LR_RANGE, SUCCESS, Point, Recipe, SensitivityBudget, answer,
                                          draw_points, live_g_share, picture_data, point_config, recipes, regions, shares,
                                          stored_points, weakest_region, wilson)


def test_the_success_rule_is_modes_and_fd_shapes_both():
    assert SUCCESS.met(40, 600.0) and SUCCESS.met(120, 12.5)
    assert not SUCCESS.met(39, 50.0) and not SUCCESS.met(120, 600.01)


@pytest.mark.parametrize("k, n, low, high", [
    # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, the Wilson score method
    (81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718),
    # by hand: p = 1/2, z^2 = 3.8415: centre 0.5, half 1.96 sqrt(1/64 + 3.8415/1024) / (1 + 3.8415/16) = 0.2200
    (8, 16, 0.2800, 0.7200),
])
def test_wilson_intervals_equal_the_published_ones(k, n, low, high):
    share = wilson(k, n)
    assert (share.k, share.n) == (k, n)
    assert share.low == pytest.approx(low, abs=6e-5) and share.high == pytest.approx(high, abs=6e-5)


def test_wilson_at_the_edges_stays_in_zero_one_and_is_not_empty():
    none, every = wilson(0, 16), wilson(16, 16)
    assert none.low == 0.0 and none.high == pytest.approx(0.1936, abs=1e-4)  # (z^2/2n) / (1 + z^2/n), twice
    assert every.high == 1.0 and every.low == pytest.approx(1 - 0.1936, abs=1e-4)
    assert none.text() == "0/16 (0-19%)" and not none.overlaps(every) and none.overlaps(wilson(2, 16))


def test_points_are_drawn_once_in_their_ranges_and_stored(tmp_path):
    points = draw_points(200, seed=3)
    assert points == draw_points(200, seed=3) and points != draw_points(200, seed=4)
    assert all(LR_RANGE[0] <= p.lr <= LR_RANGE[1] and p.beta1 in BETA1S and p.batch in BATCHES for p in points)
    logs = [math.log10(p.lr) for p in points]  # log-uniform: about half the points below the range's log midpoint
    assert 70 < sum(x < sum(map(math.log10, LR_RANGE)) / 2 for x in logs) < 130
    assert {p.beta1 for p in points} == set(BETA1S) and {p.batch for p in points} == set(BATCHES)
    budget = SensitivityBudget(points=4, iterations=2)
    first = stored_points(tmp_path, budget)
    assert first == draw_points(4, 0) and stored_points(tmp_path, budget) == first
    saved = json.loads((tmp_path / "sensitivity-points.json").read_text())
    assert saved["rule"] == {"min_modes": 40, "max_fd_shapes": 600.0}
    with pytest.raises(GanforgeError, match="another budget"):
        stored_points(tmp_path, SensitivityBudget(points=5, iterations=2))


def test_a_point_sets_ds_rate_and_g_keeps_its_recipes_ratio():
    point, budget = Point(3e-4, 0.9, 16), SensitivityBudget(iterations=7)
    demo = point_config(Recipe("demo", "demo", {}), point, budget)
    assert demo.optim.lr_d == 3e-4 and demo.optim.lr_g == pytest.approx(6e-4)  # demo's G runs at 2x D
    seed = point_config(recipes()[0], point, budget)
    assert seed.optim.lr_d == seed.optim.lr_g == 3e-4 and seed.optim.beta1 == 0.9 and seed.train.batch_size == 16
    assert seed.model.width == 16 and seed.model.resolution == 32 and seed.train.iterations == 7
    names = [r.name for r in recipes()]
    assert names == ["seed", "seed, d_mode switched", "seed, g_mode switched", "seed, bn_momentum switched",
                     "seed, double_bn switched", "seed, dense_head switched", "dcgan", "stable", "demo", "images", "modern"]
    fix = point_config(recipes()[1], point, budget)
    assert fix.train.frozen_d_mode == "training" and fix.train.fakes_g_mode == "inference"  # the collapse fix alone


def _rows(successes: list[bool]) -> list[dict]:
    points = [Point(1e-4, 0.5, 32), Point(5e-4, 0.0, 16), Point(3e-5, 0.9, 64), Point(1e-3, 0.05, 32)]
    return [{"point": {"lr": p.lr, "beta1": p.beta1, "batch": p.batch}, "modes": 0, "fd_shapes": 1.0, "success": s}
            for p, s in zip(points, successes)]


def test_the_pictures_data_and_the_shares_are_the_stored_points():
    results = {"seed": _rows([False, False, True, False]), "stable": _rows([True, True, True, False])}
    assert picture_data(results["seed"]) == [(1e-4, 0.5, 32, False), (5e-4, 0.0, 16, False), (3e-5, 0.9, 64, True),
                                             (1e-3, 0.05, 32, False)]
    found = shares(results)
    assert (found["seed"].k, found["seed"].n, found["stable"].k) == (1, 4, 3)


def test_regions_count_each_axis_alone_and_the_live_g_share_only_where_there_is_one():
    rows = _rows([False, False, True, False])  # points: (1e-4, 0.5, 32), (5e-4, 0, 16), (3e-5, 0.9, 64), (1e-3, 0.05, 32)
    assert regions(rows) == {"beta1 0": (0, 1), "beta1 0.05": (0, 1), "beta1 0.5": (0, 1), "beta1 0.9": (1, 1),
                             "batch 16": (0, 1), "batch 32": (0, 2), "batch 64": (1, 1),
                             "lr 3e-05 to 1e-04": (1, 1), "lr 1e-04 to 3e-04": (0, 1), "lr 3e-04 to 1e-03": (0, 2)}  # 1e-3 is in
    assert live_g_share(rows) is None
    for row, live in zip(rows, [True, True, False, True]):
        row["live_g"] = {"modes": 50, "fd_shapes": 300.0, "success": live}
    share = live_g_share(rows)
    assert (share.k, share.n) == (3, 4)


def test_the_weakest_region_and_the_answer_name_where_the_best_recipe_fails():
    rows = _rows([True, True, False, False]) + _rows([True, False, False, True])  # each point twice
    # by hand: beta1 0.9, batch 64 and lr 3e-05 to 1e-04 each 0/2 (a tie: the first by name); with at least 3 points
    # only batch 32 (3/4) and lr 3e-04 to 1e-03 (2/4: 5e-4 and 1e-3, the range's top, is in)
    assert weakest_region(rows, at_least=2) == ("batch 64", 0, 2)
    assert weakest_region(rows) == ("lr 3e-04 to 1e-03", 2, 4)
    assert weakest_region(rows, at_least=5) is None
    text = answer({"seed": _rows([False] * 4), "dcgan": rows[:4], "stable": rows})
    # dcgan 2/4 and stable 4/8: the same share, the one with more points is the best
    assert "none reaches 80% of the points: the best, `stable`, fails most at lr 3e-04 to 1e-03 (2/4 succeed there)" in text


def test_the_answer_names_a_choice_only_beyond_the_intervals():
    results = {"seed": [{"success": False}] * 16,
               "seed, d_mode switched": [{"success": True}] * 12 + [{"success": False}] * 4,
               "seed, g_mode switched": [{"success": True}] * 2 + [{"success": False}] * 14,
               "stable": [{"success": True}] * 15 + [{"success": False}]}
    text = answer(results)
    # by hand: 0/16 -> [0, 19.4%]; 12/16 -> [50.5, 89.8%], printed 51-90; 2/16 -> [3.5, 36.0%], which overlaps the seed's
    assert text.startswith("sensitivity: `seed` succeeds at 0/16 (0-19%) of the points")
    assert "switching d_mode alone -> 12/16 (51-90%)" in text and "g_mode" not in text
    assert "`stable` 15/16 (72-99%)" in text and "none reaches" not in text  # 15/16 is past 80%
    quiet = answer({"seed": [{"success": False}] * 4, "seed, g_mode switched": [{"success": True}] + [{"success": False}] * 3})
    assert "no single switch of the seed's choices moves it beyond the intervals (g_mode 1/4" in quiet


def test_the_command_runs_stores_each_run_and_goes_on(tmp_path, capsys):
    args = ["sensitivity", "--out", str(tmp_path), "--points", "2", "--iterations", "2", "-n", "50", "--shapes-size", "120",
            "--recipes", "seed;demo"]
    assert main(args) == 0
    cells = sorted((tmp_path / "cells" / "sensitivity-shapes").rglob("point*.json"))
    assert [f"{c.parent.name}/{c.name}" for c in cells] == ["demo/point0.json", "demo/point1.json", "seed/point0.json",
                                                             "seed/point1.json"]
    stored = json.loads(cells[0].read_text())
    assert stored["point"] == json.loads((tmp_path / "sensitivity-points.json").read_text())["points"][0]
    assert stored["success"] is False and 0 <= stored["modes"] < 100  # two iterations learn nothing
    # demo keeps an EMA of G: its live G is scored beside it, by the same rule; the seed has no EMA and no second score
    assert set(stored["live_g"]) == {"modes", "fd_shapes", "success"} and stored["live_g"]["success"] is False
    assert stored["live_g"]["fd_shapes"] != stored["fd_shapes"]
    assert "live_g" not in json.loads(cells[2].read_text())
    page = (tmp_path / "sensitivity.html").read_text()
    assert "data:image/png;base64," in page and "0/2 (0-66%)" in page and "http" not in page.replace("http-equiv", "")
    # the study's page in the same folder answers its third problem from these runs, in the sentence the command
    # prints, and shows each recipe's share (demo's live G beside it; the seed has none)
    from ganforge.studies.study import Budget, variants
    from ganforge.studies.study_report import write_study

    write_study(tmp_path, Budget(), variants()[:1], {})
    said = json.loads((tmp_path / "answers.json").read_text())["sensitivity"]
    assert said.startswith("sensitivity: `seed` succeeds at 0/2 (0-66%)") and html.escape(said) in page
    study = (tmp_path / "study.md").read_text()
    assert "## sensitivity (shapes)" in study and "[sensitivity.md](sensitivity.md)" in study
    assert "| seed | 0/2 (0-66%) | - | - |" in study and "| demo | 0/2 (0-66%) | - | 0/2 (0-66%) |" in study
    assert '<a href="sensitivity.html">' in (tmp_path / "study.html").read_text()
    mtimes = [c.stat().st_mtime_ns for c in cells]
    capsys.readouterr()
    assert main(args) == 0  # everything stored: nothing trains again
    assert [c.stat().st_mtime_ns for c in cells] == mtimes and "runs to train" not in capsys.readouterr().out
    from browser import chromium, console_errors, requested_urls

    browser = chromium()
    try:  # the page in a real browser: its answer, both tables, the picture drawn, nothing fetched
        browser.get((tmp_path / "sensitivity.html").as_uri())
        assert len(browser.find_elements("css selector", "table")) == 3  # shares, regions, the points with their scores
        (image,) = browser.find_elements("css selector", "img")
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 300", image)
        assert console_errors(browser) == []
        assert {u for u in requested_urls(browser) if not u.startswith(("file:", "data:"))} == set()
    finally:
        browser.quit()
    with pytest.raises(SystemExit):
        main(["sensitivity", "--out", str(tmp_path), "--points", "0"])
    assert main(["sensitivity", "--out", str(tmp_path), "--recipes", "nope"]) == 2
