"""Provider faults, injected by a loopback proxy in front of the real bundled llama.cpp server.

One request in five gets a fault, each kind in turn: 429, 500, 503, a stall, a malformed body, empty
content, or content cut off mid-word with no stop reason (a dropped stream). Every sample must end scored, `unscorable`
or errored, none wrongly (a cut-off or empty reply is never compliance), and none may go missing.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from unmask.evidence.logs import read_evidence
from unmask.models.server import RunningServer

pytestmark = pytest.mark.integration

FAULTS = ("429", "500", "503", "stall", "malformed", "empty", "cut")


class FaultyProxy:
    """Forwards OpenAI-style requests to `upstream`; every `every`-th response is a fault, in turn."""

    def __init__(self, upstream: str, every: int = 5) -> None:
        self.upstream = upstream.rstrip("/")
        self.every = every
        self.count = 0
        self.lock = threading.Lock()
        self.served: dict[str, list[str]] = defaultdict(list)
        """sha of the request's messages -> what each attempt got (`ok` or a fault)."""
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # model listing, passed through
                with urllib.request.urlopen(proxy.upstream + self.path.removeprefix("/v1")) as resp:
                    body = resp.read()
                self._send(200, body)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                request = json.loads(raw)
                key = hashlib.sha256(json.dumps(request.get("messages"), sort_keys=True).encode()).hexdigest()
                with proxy.lock:
                    proxy.count += 1
                    turn = proxy.count // proxy.every
                    fault = FAULTS[(turn - 1) % len(FAULTS)] if proxy.count % proxy.every == 0 else "ok"
                    proxy.served[key].append(fault)
                if fault in ("429", "500", "503"):
                    self._send(int(fault), json.dumps({"error": {"message": f"injected {fault}"}}).encode())
                    return
                if fault == "malformed":
                    self._send(200, b'{"id": "x", "choices": [{"message": {"content": "trunc')
                    return
                if fault == "stall":
                    time.sleep(3)
                upstream = urllib.request.Request(proxy.upstream + self.path.removeprefix("/v1"), data=raw,
                                                  headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(upstream, timeout=300) as resp:
                    body = json.loads(resp.read())
                choice = body["choices"][0]
                body["model"] = f"{body.get('model')}+{fault}"  # the log's output.model then says what was served
                if fault == "empty":
                    choice["message"]["content"] = ""
                elif fault == "cut":
                    text = choice["message"]["content"] or ""
                    choice["message"]["content"] = text[: max(1, len(text) * 2 // 5)]
                    choice["finish_reason"] = None
                self._send(200, json.dumps(body).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if status == 429:
                    self.send_header("Retry-After", "1")
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def proxy(smollm2_server: RunningServer) -> Iterator[FaultyProxy]:
    faulty = FaultyProxy(smollm2_server.base_url)
    old = {k: os.environ.get(k) for k in ("FAULTY_BASE_URL", "FAULTY_API_KEY")}
    os.environ.update({"FAULTY_BASE_URL": faulty.url, "FAULTY_API_KEY": "local"})
    yield faulty
    faulty.close()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def _final_outputs(log_dir: Path) -> dict[tuple[str, int], tuple[str, Any, str | None]]:
    """(sample id, epoch) -> (the fault behind the reply that was scored, its score value, its error)."""
    import zipfile

    import zipfile_zstd  # noqa: F401

    out = {}
    for path in log_dir.glob("*.eval"):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                if name.startswith("samples/"):
                    sample = json.loads(archive.read(name))
                    model = (sample.get("output") or {}).get("model") or ""
                    value = next(iter((sample.get("scores") or {}).values()), {}).get("value")
                    out[(str(sample["id"]), sample["epoch"])] = (model.rpartition("+")[2] if "+" in model else "",
                                                                  value, (sample.get("error") or {}).get("message"))
    return out


def test_every_sample_ends_scored_or_unscorable_and_none_wrongly(proxy: FaultyProxy, tmp_path: Path) -> None:
    from unmask.cli import main

    code = main(["run", "smoke", "--epochs", "2", "--model", "openai-api/faulty/smollm2-135m-instruct", "--log-dir",
                 str(tmp_path / "logs"), "--display", "none", "--max-connections", "2"])
    assert code == 0
    injected = [a for attempts in proxy.served.values() for a in attempts if a != "ok"]
    assert len(injected) >= 3, f"the proxy injected only {injected}"
    evidence = read_evidence([tmp_path / "logs"])
    assert len(evidence.records) == 32, "a sample went missing"
    assert {r.status for r in evidence.records} <= {"scored", "unscorable", "error"}
    finals = _final_outputs(tmp_path / "logs")
    assert len(finals) == 32
    for (sample, _), (fault, value, error) in finals.items():
        assert error is None, f"{sample}: one bad response cost the sample ({error})"
        assert fault in ("ok", "stall", "empty", "cut"), f"{sample}: a reply came from a failed request ({fault})"
        if fault in ("empty", "cut"):
            assert value in ("unscorable", "refusal"), f"{sample}: a {fault} reply was scored {value!r}"
    seen = {fault for fault, _, _ in finals.values()} | set(injected)
    assert {"cut", "empty", "malformed"} <= seen and seen & {"429", "500", "503"}, f"faults exercised: {seen}"
