"""`ganforge watch`: Server-Sent Events from the run folder, checked with a real HTTP client and headless Chromium."""
import http.client
import json
import socket
import subprocess
import sys
import threading
import time

import pytest
import torch

from browser import chromium, console_errors, wait_for
from ganforge.config import load_config
from ganforge import checkpoint as ckpt
from ganforge.train.loop import train
from ganforge.web.watch import make_server

TINY = {
    "model.resolution": 32, "model.latent_dim": 8, "model.width": 8, "train.batch_size": 4, "train.iterations": 6,
    "train.log_every": 1, "train.sample_every": 2, "train.checkpoint_every": 3, "data.shapes_size": 24, "train.diagnose_every": 0,
}


def _quiet(*_):
    pass


class Watching:
    """A watch server on a free port, in a thread, for as long as the `with` lasts."""

    def __init__(self, run_dir):
        self.server = make_server(run_dir, "127.0.0.1", 0)
        self.port = self.server.server_address[1]

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_):
        self.server.shutdown()
        self.server.server_close()


def _events(port: int, last_event_id: str | None = None, timeout: float = 10.0):
    """The event stream as (id, data) pairs; stops at the socket's timeout."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    connection.request("GET", "/events", headers={"Last-Event-ID": last_event_id} if last_event_id else {})
    response = connection.getresponse()
    assert response.status == 200 and response.getheader("Content-Type") == "text/event-stream"
    event = {}
    try:
        while True:
            line = response.fp.readline().decode().rstrip("\n")
            if not line:
                if "data" in event:
                    yield event.get("id"), json.loads(event["data"])
                event = {}
            elif not line.startswith(":"):
                key, _, value = line.partition(": ")
                event[key] = value
    except (TimeoutError, socket.timeout):
        return
    finally:
        connection.close()


def test_events_arrive_when_the_run_writes_and_a_reconnect_resumes_from_last_event_id(tmp_path):
    run = train(load_config("dcgan", overrides=TINY), tmp_path / "run", progress=False, log=_quiet)
    with Watching(run.run_dir) as watching:
        first_id, first = next(_events(watching.port))
        assert first["summary"]["step"] == 6 and [f["step"] for f in first["frames"]] == [2, 4, 6]
        assert first["frames"][0]["src"] == "samples/step-00000002.png"  # grids are links, fetched once each
        connection = http.client.HTTPConnection("127.0.0.1", watching.port, timeout=5)
        connection.request("GET", "/samples/step-00000002.png")
        assert connection.getresponse().read()[:8] == b"\x89PNG\r\n\x1a\n"
        # Reconnecting with the id it has: nothing is resent while the run is unchanged ...
        assert list(_events(watching.port, first_id, timeout=2.0)) == []
        # ... and the next write arrives as a new event (a resume with more iterations writes the folder).
        stream = _events(watching.port, first_id, timeout=30.0)
        writer = threading.Thread(target=train, args=(load_config("dcgan", overrides={**TINY, "train.iterations": 8}), run.run_dir),
                                  kwargs={"progress": False, "log": _quiet})
        writer.start()
        steps = []
        for event_id, data in stream:
            assert event_id != first_id
            steps.append(data["summary"]["step"])
            if steps[-1] == 8:
                break
        writer.join()
        assert steps[-1] == 8 and steps == sorted(steps)


def test_a_watched_run_is_bitwise_the_run_unwatched(tmp_path):
    config = load_config("dcgan", overrides={**TINY, "train.iterations": 8})
    alone = train(config, tmp_path / "alone", progress=False, log=_quiet)
    (tmp_path / "watched").mkdir()
    (tmp_path / "watched" / "config.json").write_text(json.dumps(config.to_dict()))  # so watch can start first
    seen = []
    with Watching(tmp_path / "watched") as watching:
        def read_to_the_end():
            for event in _events(watching.port, timeout=60.0):
                seen.append(event)
                if event[1]["summary"]["step"] == 8:
                    return

        reader = threading.Thread(target=read_to_the_end, daemon=True)
        reader.start()
        watched = train(config, tmp_path / "watched", progress=False, log=_quiet)
        reader.join(timeout=60)
    assert seen and seen[-1][1]["summary"]["step"] == 8  # it was watched to the end
    a, b = ckpt.load_checkpoint(alone.last_checkpoint), ckpt.load_checkpoint(watched.last_checkpoint)
    for part in ("generator", "discriminator"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part])
    assert torch.equal(a["rng"]["noise"], b["rng"]["noise"])


def test_the_page_follows_a_training_run_in_chromium(tmp_path):
    settings = [f"--set={k}={v}" for k, v in {**TINY, "train.iterations": 5000, "train.sample_every": 20}.items()]
    trainer = subprocess.Popen([sys.executable, "-m", "ganforge", "train", "--preset", "dcgan", "--no-progress",
                                "--out", str(tmp_path / "run"), *settings], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "run" / "config.json").is_file():
            assert trainer.poll() is None and time.monotonic() < deadline, trainer.stderr.read()
            time.sleep(0.1)
        browser = chromium()
        try:
            with Watching(tmp_path / "run") as watching:
                browser.get(f"http://127.0.0.1:{watching.port}/")
                steps = [int(wait_for(browser, "return document.body.dataset.step", timeout=60))]
                while len(set(steps)) < 3:  # the step counter advances as the run writes, without a reload
                    wait_for(browser, f"return Number(document.body.dataset.step) > {steps[-1]}", timeout=30)
                    steps.append(int(browser.execute_script("return document.body.dataset.step")))
                assert steps == sorted(steps)
                # The first sample grid pushes the charts down by its height as it loads: drag once it is there
                wait_for(browser, "const img = document.getElementById('grid'); return img.complete && img.naturalWidth > 0", timeout=30)
                from selenium.webdriver.common.action_chains import ActionChains

                # Drag across the middle of the loss chart to zoom in: the zoom holds while new steps arrive
                over = browser.find_element("css selector", ".chart .u-over")
                width = over.size["width"]
                ActionChains(browser).move_to_element_with_offset(over, -width // 6, 0).click_and_hold() \
                    .move_by_offset(width // 3, 0).release().perform()
                x_range = "const x = window.ganforgeReport.charts['Losses'].plot.scales.x; return [x.min, x.max]"
                zoomed = browser.execute_script(x_range)
                last_step = "const p = window.ganforgeReport.charts['Losses'].plot; return p.data[0][p.data[0].length - 1]"
                newest = browser.execute_script(last_step)
                assert zoomed[1] < newest
                wait_for(browser, f"return Number(document.body.dataset.step) > {newest + 2}", timeout=60)
                assert browser.execute_script(last_step) > newest and browser.execute_script(x_range) == zoomed
                ActionChains(browser).double_click(over).perform()  # zoomed out: the chart follows the data again
                step = int(browser.execute_script("return document.body.dataset.step"))
                wait_for(browser, f"return Number(document.body.dataset.step) > {step}", timeout=30)
                time.sleep(0.5)
                newest = browser.execute_script(last_step)
                assert browser.execute_script(x_range)[1] >= newest > zoomed[1]
                assert "(live)" in browser.find_element("id", "subtitle").text
                assert console_errors(browser) == []
                browser.save_screenshot(str(tmp_path / "watch.png"))
        finally:
            browser.quit()
    finally:
        trainer.kill()
        trainer.wait()


@pytest.mark.parametrize("problem", ["missing folder", "port in use"])
def test_bad_input_is_one_clear_line_and_exit_code_2(tmp_path, problem):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        target = str(tmp_path / "nowhere") if problem == "missing folder" else str(run)
        result = subprocess.run([sys.executable, "-m", "ganforge", "watch", target, "--port", str(port)],
                                capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert ("not a ganforge run folder" if problem == "missing folder" else f"cannot listen on 127.0.0.1:{port}") in result.stderr
