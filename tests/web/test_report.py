"""`ganforge report`: the page is self-contained and shows the run, checked in a real headless Chromium."""
import json
import subprocess
import sys

import pytest

from browser import COUNT_COLOURED_PIXELS, chromium, console_errors, requested_urls, wait_for
from ganforge.config import load_config
from ganforge.train.loop import train
from ganforge.web.report import MAX_POINTS, closest_preset, run_data, thin, write_report

TINY = {
    "model.resolution": 32, "model.latent_dim": 8, "model.width": 8, "train.batch_size": 4, "train.iterations": 12,
    "train.log_every": 1, "train.sample_every": 3, "train.checkpoint_every": 6, "data.shapes_size": 24, "train.diagnose_every": 4,
}
BLUE, RED = (31, 119, 180), (200, 30, 30)  # the first curve's colour; the warning lines'


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    config = load_config("dcgan", overrides={**TINY, "optim.lr_decay": 0.5})
    result = train(config, tmp_path_factory.mktemp("report") / "run", progress=False, log=lambda *_: None)
    with open(result.run_dir / "warnings.jsonl", "a") as f:  # one more, whatever the run showed
        f.write(json.dumps({"step": 5, "message": "iteration 5: a test warning"}) + "\n")
    return result


def test_the_report_summarises_the_run(run):
    data = run_data(run.run_dir)
    assert data["summary"]["preset"] == "dcgan" and data["summary"]["step"] == 12
    assert data["summary"]["differences"]["optim.lr_decay"] == 0.5 and "optim.beta1" not in data["summary"]["differences"]
    assert [frame["step"] for frame in data["frames"]] == [3, 6, 9, 12]
    assert [row["step"] for row in data["metrics"]] == list(range(1, 13))
    assert data["warnings"][-1] == {"step": 5, "message": "iteration 5: a test warning"}
    # the run's own diagnosis messages (this one collapses at once) are recorded with their steps
    assert all(w["message"].startswith(f"iteration {w['step']}: ") for w in data["warnings"])


def test_the_report_opens_offline_draws_the_curves_and_plays_the_grids(run, tmp_path):
    results = {"fd_shapes": 140.6243, "modes_covered": 3, "shape_modes_covered": {"circle": 2, "diamond": 1}}
    (run.run_dir / "eval-00000012.json").write_text(json.dumps(results))
    page = write_report(run.run_dir, tmp_path / "report.html")
    html = page.read_text()
    assert 'href="http' not in html and 'src="http' not in html  # nothing to fetch: the browser's network log checks it too
    browser = chromium()
    try:
        browser.get(page.as_uri())
        wait_for(browser, "return document.body.dataset.ready === '1'")
        assert console_errors(browser) == []
        urls = requested_urls(browser)
        assert urls and all(url == page.as_uri() or url.startswith("data:") for url in urls), urls

        canvases = browser.find_elements("css selector", ".chart canvas")
        titles = [e.text for e in browser.find_elements("css selector", ".chart .u-title")]
        assert titles == ["Losses", "D's accuracy", "Learning rate (G)", "Sample diversity / real data's", "Modes covered"]
        losses = canvases[0]
        assert browser.execute_script(COUNT_COLOURED_PIXELS, losses, BLUE) > 200  # D's loss on real, drawn
        assert browser.execute_script(COUNT_COLOURED_PIXELS, losses, RED) > 50  # the warning at step 5, marked

        slider = browser.find_element("id", "frame")
        last = (browser.find_element("id", "grid").get_attribute("src"), browser.find_element("id", "frame-step").text)
        assert last[1].startswith("step 12 ")
        browser.execute_script("arguments[0].value = 0; arguments[0].dispatchEvent(new Event('input'))", slider)
        first = (browser.find_element("id", "grid").get_attribute("src"), browser.find_element("id", "frame-step").text)
        assert first[1].startswith("step 3 ") and first[0] != last[0]
        assert browser.execute_script("const img = document.getElementById('grid'); return img.complete && img.naturalWidth") > 0

        evaluation = browser.find_element("id", "evaluation").text
        assert "140.6" in evaluation and "circle 2, diamond 1" in evaluation  # a per-shape table on one line

        shot = tmp_path / "report.png"
        assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
        assert requested_urls(browser) == [] or all(u.startswith("data:") for u in requested_urls(browser))
    finally:
        browser.quit()


def test_a_long_run_gives_a_page_of_bounded_size():
    rows = [{"step": i} for i in range(1, 100_001)]
    kept = thin(rows, MAX_POINTS)
    assert len(kept) == MAX_POINTS and kept[0] == rows[0] and kept[-1] == rows[-1]
    assert thin(rows[:10], MAX_POINTS) == rows[:10]


def test_closest_preset_names_what_was_changed():
    config = load_config("stable", overrides={"train.batch_size": 7}).to_dict()
    assert closest_preset(config) == ("stable", {"train.batch_size": 7})
    classes = load_config("demo", overrides={"model.class_names": [f"c{i}" for i in range(120)]}).to_dict()
    assert closest_preset(classes) == ("demo", {"model.class_names": "c0, c1, c2, c3, c4, ... (120 in all)"})


def test_report_command_on_a_folder_that_is_not_a_run(tmp_path):
    result = subprocess.run([sys.executable, "-m", "ganforge", "report", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and "not a ganforge run folder" in result.stderr


def test_adas_probability_is_logged_and_drawn_in_the_report(tmp_path):
    config = load_config("demo", overrides={**TINY, "train.iterations": 16, "train.diagnose_every": 0,
                                            "remedies.diffaugment": "color,translation", "remedies.ada_target": 0.6,
                                            "remedies.ada_interval": 2, "remedies.ada_kimg": 0.04})
    result = train(config, tmp_path / "run", progress=False, log=lambda *_: None)
    rows = run_data(result.run_dir)["metrics"]
    p = [row["augment_p"] for row in rows]
    assert len(p) == 16 and all(0 <= v <= 1 for v in p)
    assert all(a == b for a, b in zip(p[1::2], p[2::2]))  # p moves at every 2nd iteration only ...
    assert all(round(abs(b - a), 6) in (0, 0.2) or b in (0, 1) for a, b in zip(p[0::2], p[1::2]))  # ... by 4 x 2 / 40
    assert max(p) > 0  # D was certain enough on reals for p to rise
    page = write_report(result.run_dir, tmp_path / "report.html")
    browser = chromium()
    try:
        browser.get(page.as_uri())
        wait_for(browser, "return document.body.dataset.ready === '1'")
        assert console_errors(browser) == []
        titles = [e.text for e in browser.find_elements("css selector", ".chart .u-title")]
        assert "Augmentation probability p (ADA)" in titles
        canvas = browser.find_elements("css selector", ".chart canvas")[titles.index("Augmentation probability p (ADA)")]
        assert browser.execute_script(COUNT_COLOURED_PIXELS, canvas, BLUE) > 20
    finally:
        browser.quit()
