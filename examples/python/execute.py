#!/usr/bin/env python3
"""Runs a model response's tool calls through toolgate and appends the tool messages.

Standard library only. Usage:

    python3 examples/python/execute.py [GATEWAY_URL]   # default http://127.0.0.1:8080
"""

import json
import sys
import time
import urllib.error
import urllib.request


def execute_tool_calls(gateway: str, model_response: dict, timeout: float = 60.0) -> dict:
    """POSTs the model's response to toolgate and returns its reply.

    HTTP 200 means the payload was understood, even if every call failed: look at
    reply["status"] and each result. A 503 (queue_full) means nothing ran; it is
    retried after its Retry-After. Any other refusal is raised.
    """
    body = json.dumps(model_response).encode("utf-8")
    for attempt in range(1, 4):
        request = urllib.request.Request(
            f"{gateway}/execute",
            data=body,
            headers={"content-type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as refused:
            error = json.load(refused)["error"]
            if refused.code == 503 and attempt < 3:
                time.sleep(float(refused.headers.get("retry-after", "1")))
                continue
            raise RuntimeError(f"toolgate refused the request: HTTP {refused.code} {error['code']}: {error['message']}") from None
    raise AssertionError("unreachable")


def main() -> None:
    gateway = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080"
    conversation = [{"role": "user", "content": "What time and date is it in Tokyo, and what is the weather there?"}]

    # What the model answered (e.g. the JSON of an OpenAI chat completion), here written out.
    model_response = {
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_time", "type": "function", "function": {"name": "get_time", "arguments": '{"timezone":"Asia/Tokyo"}'}},
                        {"id": "call_date", "type": "function", "function": {"name": "get_date", "arguments": '{"timezone":"Asia/Tokyo"}'}},
                        {"id": "call_weather", "type": "function", "function": {"name": "get_weather", "arguments": '{"location":"Tokyo"}'}},
                    ],
                },
            }
        ],
    }
    conversation.append(model_response["choices"][0]["message"])

    reply = execute_tool_calls(gateway, model_response)
    # One tool message per call, in the calls' order, with the model's tool_call_id: append them as they are.
    conversation.extend(reply["messages"])

    print(f"status: {reply['status']} (wall {reply['timing']['wallMs']} ms, sum {reply['timing']['sumMs']} ms)")
    for message in conversation[2:]:
        print(f"{message['tool_call_id']}: {message['content']}")
    if reply["errors"] is not None:
        print(reply["errors"])
    # Next: send `conversation` back to the model.


if __name__ == "__main__":
    main()
