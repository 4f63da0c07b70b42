"""A minimal OpenAI-compatible chat server on 127.0.0.1 for the metric-name test: streams a short answer with
usage, or answers 429 (rate limited) for requests whose question contains "ratelimit"."""
import http.server
import json
import threading


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if "ratelimit" in json.dumps(body):
            payload = b'{"error":{"message":"Rate limit reached","type":"rate_limit_error"}}'
            self.send_response(429)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        if not body.get("stream"):
            payload = json.dumps({"id": "x", "object": "chat.completion", "model": body.get("model", "m"),
                                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "It is 25 days [1]."},
                                               "finish_reason": "stop"}],
                                  "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for piece in ("It is ", "25 days ", "[1]."):
            chunk = {"id": "x", "object": "chat.completion.chunk", "model": body.get("model", "m"),
                     "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        usage = {"id": "x", "object": "chat.completion.chunk", "choices": [],
                 "usage": {"prompt_tokens": 50, "completion_tokens": 7, "total_tokens": 57}}
        self.wfile.write(b"data: " + json.dumps(usage).encode() + b"\n\ndata: [DONE]\n\n")
        self.wfile.flush()
        self.close_connection = True


class FakeOpenAI:
    def __enter__(self):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
