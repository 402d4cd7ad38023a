"""An OpenAI-compatible endpoint on 127.0.0.1 in front of a ``ReplayLLM``.

trace-opt talks HTTP to a chat-completions endpoint; to record its side of a run the way
opto's side is recorded, it is pointed at this server instead of the real one. With
``ReplayLLM(path, llm=client)`` the server forwards each request to the endpoint and writes
request and reply to ``path``; with ``ReplayLLM(path)`` it serves the recorded replies, so the
same run replays offline. Requests are keyed without the model name, as opto's replays are.

trace-opt lists a prompt's input and intermediate nodes in an order that follows memory
addresses, so the same program can send the same lines in another order from one process to
the next. When replaying, a request that is not recorded as such is therefore matched, as a
fallback, with a recorded one that has the same lines in each message, in any order; its
recorded replies are served in turn, unchanged.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opto.llm import LLMError, ReplayMissError

MAX_BODY = 8 << 20


class _Handler(BaseHTTPRequestHandler):
    server: ReplayServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the run's records say what happened."""

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no endpoint {self.path}"}})
            return
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            self._send(400, {"error": {"message": "a JSON body of at most 8 MiB is required"}})
            return
        try:
            request = json.loads(self.rfile.read(length))
        except ValueError:
            self._send(400, {"error": {"message": "the body is not JSON"}})
            return
        if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
            self._send(400, {"error": {"message": "the body has no 'messages' list"}})
            return
        if request.pop("stream", False):
            self._send(400, {"error": {"message": "streaming is not supported here"}})
            return
        request.pop("model", None)
        try:
            body = self.server.llm(**request).to_dict()
        except ReplayMissError as error:
            body = self.server.reply_in_any_order(request)
            if body is None:
                self._send(502, {"error": {"message": str(error), "type": type(error).__name__}})
                return
        except LLMError as error:
            self._send(502, {"error": {"message": str(error), "type": type(error).__name__}})
            return
        body["id"] = body.get("id") or f"chatcmpl-replay-{self.server.count()}"
        body["created"] = body.get("created") or int(time.time())
        self._send(200, body)


def _unordered_key(request: dict) -> str:
    """The request with each message's lines sorted: equal for the same lines in any order."""
    messages = [
        {**m, "content": sorted(str(m.get("content", "")).splitlines())}
        if isinstance(m, dict)
        else m
        for m in request.get("messages", [])
    ]
    return json.dumps({**request, "messages": messages}, sort_keys=True, default=str)


class ReplayServer(ThreadingHTTPServer):
    """Serve ``llm`` (a ReplayLLM) at ``http://127.0.0.1:<port>/v1``; use as a context manager.

    ``recording``: when replaying, the replay file, for the any-order fallback (above).
    """

    daemon_threads = True

    def __init__(self, llm: Any, port: int = 0, recording: Path | None = None) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.llm = llm
        self._served = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._unordered: dict[str, list[dict]] = {}
        self._unordered_served: Counter[str] = Counter()
        if recording is not None:
            entries = json.loads(Path(recording).read_text(encoding="utf-8")).get("entries", [])
            for entry in entries:
                key = _unordered_key(entry["request"])
                self._unordered.setdefault(key, []).extend(entry["responses"])

    def reply_in_any_order(self, request: dict) -> dict | None:
        """The next recorded reply to a request with the same lines, or None."""
        key = _unordered_key(request)
        with self._lock:
            replies = self._unordered.get(key, [])
            if self._unordered_served[key] >= len(replies):
                return None
            self._unordered_served[key] += 1
            return dict(replies[self._unordered_served[key] - 1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"

    def count(self) -> int:
        with self._lock:
            self._served += 1
            return self._served

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(timeout=10)
