"""`ganforge watch RUN`: the report's page, live. A local server (the standard library's) reads the run folder and
pushes its data to the page with Server-Sent Events whenever the run writes.

It reads files only: the trainer cannot tell whether anyone watches, a run under torchrun is watched the same way
(its first process writes the folder), a dropped connection resumes (the browser's EventSource reconnects and
sends Last-Event-ID: nothing is resent unless the run changed), and a finished run is replayed as it stands."""
import errno
import hashlib
import json
import socket
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .. import run_folder as folder
from ..errors import GanforgeError
from .report import render, run_data

POLL_SECONDS = 0.5  # how often the run folder is looked at: a change reaches the page within about a second
KEEPALIVE_SECONDS = 15  # an SSE comment now and then, so that proxies and browsers keep an idle stream open
WATCHED = (folder.CONFIG, folder.RUN_INFO, *folder.LOGS)

LIVE_SCRIPT = """
(function () {
  const source = new EventSource("events");
  source.onmessage = (event) => { const data = JSON.parse(event.data); data.live = true; window.ganforge.render(data); };
  source.onerror = () => { document.getElementById("subtitle").textContent += " (reconnecting...)"; };
})();
"""


def version(run_dir: Path) -> str:
    """A fingerprint of what the page shows: it changes whenever the run writes something the page reads."""
    parts = []
    for name in WATCHED:
        path = run_dir / name
        if path.is_file():
            stat = path.stat()
            parts.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    parts += [p.name for p in folder.sample_grids(run_dir) + folder.evaluations(run_dir)]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def live_data(run_dir: Path) -> dict:
    """The report's data with the grids as links to the run folder (sent again on every change) instead of inlined."""
    return run_data(run_dir, frame_source=lambda path: f"{folder.SAMPLES}/{path.name}")


class _Handler(BaseHTTPRequestHandler):
    server_version = "ganforge-watch"
    run_dir: Path

    def log_message(self, *args):  # no access log on the console
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/":
            page = render({"name": self.run_dir.resolve().name}, extra_script=LIVE_SCRIPT, with_data=False)
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", page.encode())
        elif path == "/events":
            self._events()
        elif path.startswith(f"/{folder.SAMPLES}/") and folder.GRID_NAME.match(path.removeprefix(f"/{folder.SAMPLES}/")):
            grid = self.run_dir / folder.SAMPLES / path.removeprefix(f"/{folder.SAMPLES}/")
            if grid.is_file():
                self._send(HTTPStatus.OK, "image/png", grid.read_bytes(), cache=True)
            else:
                self._send(HTTPStatus.NOT_FOUND, "text/plain", b"no such grid")
        else:
            self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found")

    def _send(self, status, kind: str, body: bytes, cache: bool = False):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=3600" if cache else "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _events(self):
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        sent = self.headers.get("Last-Event-ID")  # a reconnecting client already has this version
        quiet_since = time.monotonic()
        try:
            while not self.server.stopping:
                current = version(self.run_dir)
                if current != sent:
                    message = json.dumps(live_data(self.run_dir), separators=(",", ":"))
                    self.wfile.write(f"id: {current}\ndata: {message}\n\n".encode())
                    self.wfile.flush()
                    sent, quiet_since = current, time.monotonic()
                elif time.monotonic() - quiet_since > KEEPALIVE_SECONDS:
                    self.wfile.write(b": still watching\n\n")
                    self.wfile.flush()
                    quiet_since = time.monotonic()
                time.sleep(POLL_SECONDS)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page was closed; EventSource will reconnect if it was only a drop


class WatchServer(ThreadingHTTPServer):
    daemon_threads = True
    stopping = False

    def shutdown(self):
        self.stopping = True
        super().shutdown()


def make_server(run_dir: str | Path, host: str = "127.0.0.1", port: int = 8000) -> WatchServer:
    run_dir = Path(run_dir)
    if not (run_dir / folder.CONFIG).is_file():
        raise GanforgeError(f"{run_dir}: not a ganforge run folder (no config.json); start the run first, then watch it")
    if not 0 <= port <= 65535:
        raise GanforgeError(f"port {port}: a port is a number from 0 to 65535 (0: any free one)")
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise GanforgeError(f"host {host}: not an address of this machine or a name that resolves ({exc}); "
                            "127.0.0.1 serves this machine alone, 0.0.0.0 every network") from exc
    handler = type("Handler", (_Handler,), {"run_dir": run_dir})
    try:
        return WatchServer((host, port), handler)
    except OSError as exc:
        advice = "choose another --port" if exc.errno == errno.EADDRINUSE else "choose another --host (127.0.0.1 or 0.0.0.0)" \
            if exc.errno == errno.EADDRNOTAVAIL else "choose another --port, or a --host of this machine"
        raise GanforgeError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); {advice}") from exc
