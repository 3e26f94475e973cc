"""A real HTTP server in a thread on 127.0.0.1 that receives webhooks in tests.

It answers with the given statuses in order (the last one repeats), records every request, and
when it knows the endpoint's secret it checks the signature and answers 401 to a bad one, as a
real receiver would.
"""

import ssl
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from notifications.signing import SIGNATURE_HEADER, verify_signature


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_valid: bool | None


class WebhookReceiver:
    def __init__(
        self,
        *,
        statuses: tuple[int, ...] = (200,),
        secret: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.statuses = list(statuses)
        self.secret = secret
        self.requests: list[ReceivedRequest] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((host, port), self._handler_class())
        self._scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self._scheme = "https"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"{self._scheme}://{host}:{port}/hook"

    def start(self) -> "WebhookReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _answer(self, headers: dict[str, str], body: bytes, path: str) -> int:
        valid = None
        if self.secret is not None:
            valid = verify_signature(self.secret, headers.get(SIGNATURE_HEADER), body)
        with self._lock:
            index = len(self.requests)
            self.requests.append(ReceivedRequest(path, headers, body, valid))
            status = self.statuses[min(index, len(self.statuses) - 1)]
        return 401 if valid is False else status

    def _handler_class(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                status = receiver._answer(dict(self.headers.items()), body, self.path)
                answer = b'{"received": true}' if status < 300 else b'{"error": "nope"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args):
                pass

        return Handler
