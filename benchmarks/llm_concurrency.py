"""How well the LLM layer overlaps slow model calls.

Starts a chat-completions server on 127.0.0.1, in its own process, that answers every request after a fixed latency
(100 ms by default), then sends 200 requests through `opto.llm` at concurrency 1, 8 and 32, with
both backends (openai SDK, litellm), from threads and from asyncio tasks. The ideal wall time is
requests x latency / concurrency; `ratio` = wall / ideal (1.0 is perfect overlap).

    python benchmarks/llm_concurrency.py
    python benchmarks/llm_concurrency.py --requests 100 --backends openai --modes async

Prints one JSON line per case, then a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from opto.llm import LLM, configure_cache, reset_usage


def serve(latency: float, ports: multiprocessing.Queue) -> None:
    """Run the server in its own process, so its threads do not compete with the client's."""
    server = make_server(latency)
    ports.put(server.server_address[1])
    server.serve_forever()


def make_server(latency: float) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
        disable_nagle_algorithm = True  # else headers and body wait on a delayed ACK (~40 ms)

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(latency)
            body = json.dumps(
                {
                    "id": "bench",
                    "object": "chat.completion",
                    "created": 0,
                    "model": request["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "ok"},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 8, "completion_tokens": 1, "total_tokens": 9},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    return Server(("127.0.0.1", 0), Handler)


def client(backend: str, url: str, concurrency: int):
    model = "bench" if backend == "openai" else "openai/bench"
    return LLM(
        model,
        backend=backend,
        base_url=url,
        api_key="bench",
        max_concurrency=concurrency,
        cache=False,
    )


def prompt(i: int) -> list[dict]:
    return [{"role": "user", "content": f"request {i}"}]


def run_threads(llm, requests: int, concurrency: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        replies = list(pool.map(lambda i: llm(messages=prompt(i)).content, range(requests)))
    wall = time.perf_counter() - started
    assert replies == ["ok"] * requests
    return wall


def run_async(llm, requests: int, concurrency: int) -> float:
    async def main() -> float:
        await llm.acall(messages=prompt(-1))  # warm this loop's client
        started = time.perf_counter()
        replies = await asyncio.gather(*(llm.acall(messages=prompt(i)) for i in range(requests)))
        wall = time.perf_counter() - started
        assert [r.content for r in replies] == ["ok"] * requests
        return wall

    return asyncio.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.1, help="server latency in seconds")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--backends", nargs="+", default=["openai", "litellm"])
    parser.add_argument("--modes", nargs="+", default=["threads", "async"])
    args = parser.parse_args()

    configure_cache(enabled=False, disk=False)
    ports: multiprocessing.Queue = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(args.latency, ports), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ports.get(timeout=30)}/v1"
    rows = []
    for backend in args.backends:
        for mode in args.modes:
            for concurrency in args.concurrency:
                reset_usage()
                llm = client(backend, url, concurrency)
                llm(messages=prompt(-1))  # imports and first connection are not measured
                runner = run_threads if mode == "threads" else run_async
                wall = runner(llm, args.requests, concurrency)
                ideal = args.requests * args.latency / concurrency
                row = {
                    "name": f"{backend}-{mode}",
                    "concurrency": concurrency,
                    "requests": args.requests,
                    "latency_s": args.latency,
                    "wall_s": round(wall, 3),
                    "ideal_s": round(ideal, 3),
                    "ratio": round(wall / ideal, 3) if ideal else None,
                    "overhead_ms_per_request": round(
                        1000 * (wall - ideal) * concurrency / args.requests, 2
                    ),
                }
                print(json.dumps(row), flush=True)
                rows.append(row)
    server.terminate()
    server.join()

    print_table(rows)


def print_table(rows: list[dict]) -> None:
    """Wall time against the ideal, one line per case (shared with evaluation.py)."""
    print()
    header = f"{'case':<16} {'conc':>4} {'wall s':>8} {'ideal s':>8} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['name']:<16} {row['concurrency']:>4} {row['wall_s']:>8.2f} "
            f"{row['ideal_s']:>8.2f} {row['ratio'] or float('nan'):>6.2f}"
        )


if __name__ == "__main__":
    main()
