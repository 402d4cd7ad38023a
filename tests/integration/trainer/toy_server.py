"""A chat-completions server on 127.0.0.1 whose replies are a function of the request.

It plays both sides of the toy task "learn the offset": asked "Add X and Y." it answers the
sum; shown an OptoPrime problem, it moves the ``offset`` parameter up to 2 towards the target
the feedback reveals. It logs every request it answered, and can hold a request unanswered
(the ``hold_at``-th optimizer request, or whatever request comes after ``hold_after`` answers),
so that a test can kill the client while that call is in flight.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ADD = re.compile(r"Add (-?\d+) and (-?\d+)\.")
VARIABLE = re.compile(r"\(int\) (offset\d+)=(-?\d+)")
DISTANCE = re.compile(r"too (small|large) by (\d+)")


def is_optimizer_request(request: dict) -> bool:
    return "#Variables" in request["messages"][-1]["content"]


def reply_for(request: dict) -> str:
    text = request["messages"][-1]["content"]
    if is_optimizer_request(request):
        name, value = VARIABLE.search(text).group(1), int(VARIABLE.search(text).group(2))
        found = DISTANCE.search(text)
        if found is None:
            return json.dumps({"reasoning": "all correct", "suggestion": {}})
        gap = int(found.group(2)) * (1 if found.group(1) == "small" else -1)
        move = max(-2, min(2, gap))
        return json.dumps(
            {"reasoning": "move towards the target", "suggestion": {name: value + move}}
        )
    numbers = ADD.search(text)
    if numbers:
        return str(int(numbers.group(1)) + int(numbers.group(2)))
    return "I do not understand."


class ToyServer:
    """``url``, ``answered`` (request bodies, in order), ``hold_at`` / ``hold_after`` / ``held``
    / ``release()`` / ``rearm()``."""

    def __init__(self) -> None:
        self.answered: list[dict] = []
        self.optimizer_requests = 0
        self.hold_at: int | None = None
        self.hold_after: int | None = None
        self.held = threading.Event()
        self._release = threading.Event()
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else each reply waits for a delayed ACK

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner._lock:
                    if is_optimizer_request(body):
                        owner.optimizer_requests += 1
                    hold = (
                        owner.hold_at == owner.optimizer_requests and is_optimizer_request(body)
                    ) or owner.hold_after == len(owner.answered)
                if hold:
                    owner.held.set()
                    owner._release.wait(30)
                    self.close_connection = True
                    return
                payload = json.dumps(
                    {
                        "id": "toy",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body.get("model", "toy"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply_for(body)},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 2, "total_tokens": 12},
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                with owner._lock:
                    owner.answered.append(body)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def release(self) -> None:
        self._release.set()

    def rearm(self) -> None:
        """Ready to hold another request (after ``release()`` let the last one go)."""
        self.held.clear()
        self._release.clear()

    def close(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
