"""The reference sketch's design as a baseline: a Python standard-library HTTP server that runs a
model message's tool calls with a ThreadPoolExecutor(max_workers=4) made per batch and collected
with as_completed, as the sketch's execute_parallel does. The tools do the same real work as
toolgate's get_time/get_date (zoneinfo). No third-party packages.

Usage: python3 bench/baseline_server.py PORT (0 picks a free one; the port is printed)
"""

import json
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo


def get_time(args):
    now = datetime.now(ZoneInfo(args.get("timezone", "UTC")))
    return {"timezone": args.get("timezone", "UTC"), "datetime": now.isoformat(timespec="milliseconds"),
            "time": now.strftime("%H:%M:%S"), "utc_offset": now.strftime("%z")}


def get_date(args):
    now = datetime.now(ZoneInfo(args.get("timezone", "UTC")))
    year, week, _ = now.isocalendar()
    return {"timezone": args.get("timezone", "UTC"), "date": now.date().isoformat(), "weekday": now.strftime("%A"),
            "iso_week": f"{year}-W{week:02d}", "day_of_year": now.timetuple().tm_yday}


REGISTRY = {"get_time": get_time, "get_date": get_date}


def execute_with_retry(name, arguments):
    tool = REGISTRY.get(name)
    if tool is None:
        return {"success": False, "error": f"unknown tool {name}"}
    return {"success": True, "result": tool(arguments)}


def extract_calls(body):
    message = body["choices"][0]["message"] if "choices" in body else body
    return [{"id": call["id"], "name": call["function"]["name"],
             "arguments": json.loads(call["function"]["arguments"] or "{}")} for call in message.get("tool_calls") or []]


def execute_parallel(calls, max_workers=4):
    results = []
    with ThreadPoolExecutor(max_workers=max_workers) as executor:
        future_to_call = {executor.submit(execute_with_retry, call["name"], call["arguments"]): call for call in calls}
        for future in as_completed(future_to_call):
            call = future_to_call[future]
            try:
                results.append({"id": call["id"], "tool": call["name"], **future.result()})
            except Exception as error:  # noqa: BLE001 - the sketch's own catch-all
                results.append({"id": call["id"], "tool": call["name"], "success": False, "error": str(error)})
    return results


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
        results = execute_parallel(extract_calls(body))
        payload = json.dumps({"messages": [{"role": "tool", "tool_call_id": r["id"], "content": json.dumps(r)}
                                           for r in results]}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format, *args):  # noqa: A002 - keep the benchmark quiet
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # The load generator drops its connections when it stops: not worth a traceback.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


if __name__ == "__main__":
    server = QuietServer(("127.0.0.1", int(sys.argv[1])), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()
