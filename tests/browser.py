"""Headless Chromium through selenium, with the browser's console and network logs, for the web pages' tests."""
import json
import shutil

import pytest

from conftest import missing


def chromium():
    """A headless Chromium driven by Debian's chromium-driver; missing() when either is absent (a failure under CI)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    binary, driver = shutil.which("chromium") or shutil.which("chromium-browser"), shutil.which("chromedriver")
    if not (binary and driver):
        missing("chromium and chromium-driver are needed (apt-get install chromium chromium-driver; make test does it)")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,2000",
                 "--disable-background-networking", "--no-first-run"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=options)


def console_errors(browser) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def requested_urls(browser) -> list[str]:
    """Every URL the page asked for since the last call (the DevTools protocol's Network.requestWillBeSent)."""
    urls = []
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def wait_for(browser, script: str, timeout: float = 10):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout, poll_frequency=0.1).until(lambda b: b.execute_script(script))


COUNT_COLOURED_PIXELS = """
const [canvas, rgb] = arguments;
const ctx = canvas.getContext('2d');
const pixels = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
let count = 0;
for (let i = 0; i < pixels.length; i += 4) {
  if (Math.abs(pixels[i] - rgb[0]) < 20 && Math.abs(pixels[i + 1] - rgb[1]) < 20 && Math.abs(pixels[i + 2] - rgb[2]) < 20 && pixels[i + 3] > 200) count++;
}
return count;
"""
