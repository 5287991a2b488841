"""The mcp 2.x SDK's own client on the 2026-07-28 revision, calling a tool that asks a question.

usage: python client.py '{"urls": [...], "calls": 20, "headers": {...}, "ca_file": PATH|null, "split": false,
                          "tool": "greet", "answer": {"name": "Ada"}, "expected": "Hello, Ada"}'

Each call is made as a client makes it: Client.call_tool answers the InputRequiredResult with its
elicitation callback and retries, all through urls[i % len(urls)]. With "split", the first round
goes to one URL and the retry, carrying the sealed state, to the next (two replicas by hand).
Prints {"ok": n, "failed": n, "errors": [...], "processes": [...]}.
"""

from __future__ import annotations

import json
import ssl
import sys

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import ElicitResult


def connect(request: dict, url: str) -> Client:
    verify = ssl.create_default_context(cafile=request["ca_file"]) if request.get("ca_file") else True
    http = httpx2.AsyncClient(headers=request.get("headers") or {}, verify=verify, timeout=30)

    async def answer(context, params):
        return answer_of(request)

    return Client(streamable_http_client(url, http_client=http), elicitation_callback=answer, mode="2026-07-28")


def answer_of(request: dict) -> ElicitResult:
    return ElicitResult(action="accept", content=request.get("answer", {"name": "Ada"}))


async def one_call(request: dict, number: int) -> str:
    urls, tool = request["urls"], request.get("tool", "greet")
    first = urls[number % len(urls)]
    if not request.get("split"):
        async with connect(request, first) as client:
            result = await client.call_tool(tool, {})
    else:
        async with connect(request, first) as client:
            asked = await client.session.call_tool(tool, {}, allow_input_required=True)
        responses = {key: answer_of(request) for key in asked.input_requests or {}}
        async with connect(request, urls[(number + 1) % len(urls)]) as client:
            result = await client.call_tool(tool, {}, input_responses=responses, request_state=asked.request_state)
    return "".join(getattr(item, "text", "") for item in result.content)


async def main(request: dict) -> dict:
    report = {"ok": 0, "failed": 0, "errors": [], "processes": []}
    for number in range(request["calls"]):
        try:
            text = await one_call(request, number)
        except Exception as error:  # what the client raised: the report says it
            while len(getattr(error, "exceptions", ())) == 1:  # an exception group of one: the one
                error = error.exceptions[0]
            text = f"{type(error).__name__}: {error}"
        if text == request.get("expected", "Hello, Ada"):
            report["ok"] += 1
        else:
            report["failed"] += 1
            report["errors"].append(text)
    for url in request["urls"] * request.get("process_calls", 0):
        async with connect(request, url) as client:
            result = await client.call_tool("process_id", {})
            report["processes"].append(result.content[0].text)
    return report


if __name__ == "__main__":
    print(json.dumps(anyio.run(main, json.loads(sys.argv[1]))))
