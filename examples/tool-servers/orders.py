"""An order-lookup tool server in Python's standard library, for toolgate's configuration file.

toolgate POSTs the validated arguments as JSON; this server answers JSON. It checks the bearer
token, uses the idempotency key toolgate derives from the call id to answer a repeated call the
same way, and says 404 for an unknown order (which toolgate does not retry).

Usage: ORDERS_TOKEN=... python3 examples/tool-servers/orders.py [PORT]   (0 picks a free port)
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ORDERS = {
    "ord_1001": {"order_id": "ord_1001", "status": "shipped", "carrier": "DHL", "eta": "2026-11-27"},
    "ord_1002": {"order_id": "ord_1002", "status": "processing", "carrier": None, "eta": None},
}
TOKEN = os.environ.get("ORDERS_TOKEN", "")
answered = {}  # idempotency key -> body already answered


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - http.server's naming
        length = int(self.headers.get("content-length", 0))
        arguments = json.loads(self.rfile.read(length) or b"{}")
        if self.path != "/orders/lookup":
            return self.answer(404, {"error": f"no endpoint {self.path}"})
        if self.headers.get("authorization") != f"Bearer {TOKEN}":
            return self.answer(401, {"error": "bad or missing bearer token"})
        key = self.headers.get("idempotency-key", "")
        if key in answered:
            return self.answer(200, answered[key])
        order = ORDERS.get(arguments.get("order_id", ""))
        if order is None:
            return self.answer(404, {"error": f"no order {arguments.get('order_id')!r}; ids look like ord_1001"})
        answered[key] = order
        return self.answer(200, order)

    def answer(self, status, body):
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):  # noqa: A002
        pass


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 9000), Handler)
    print(f"orders tool on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()
