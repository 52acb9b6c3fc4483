"""The WebSocket channel protocol of exec/attach (k8s.io/apimachinery util/remotecommand).

Every WebSocket message carries one stream: the first byte is the channel, the rest is data.
Channels: 0 stdin, 1 stdout, 2 stderr, 3 error, 4 resize. Versions (the WebSocket subprotocol):

- `channel.k8s.io` (v1): the error channel carries plain text.
- `v4.channel.k8s.io`: the error channel carries a `v1.Status` JSON — `Success`, or `Failure`
  with reason `NonZeroExitCode` and a cause `{type: ExitCode, message: "3"}` (kubectl prints
  `command terminated with exit code 3`). Channel 4 carries `{"Width":80,"Height":24}` objects.
- `v5.channel.k8s.io` (kubectl >= 1.30): v4 plus a CLOSE signal — a message `[255, channel]`
  half-closes that stream (kubectl sends `[255, 0]` when its stdin hits EOF).
- `*.base64.channel.k8s.io`: text messages, the channel as an ASCII digit, base64 data
  (browsers; the Python client can use them).

The server sends an empty message on the lowest writable channel once the streams are set up
(upstream does, some clients wait for it), and closes the WebSocket after the error channel.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import orjson

STDIN, STDOUT, STDERR, ERROR, RESIZE = 0, 1, 2, 3, 4
CLOSE = 255

V1 = "channel.k8s.io"
V2 = "v2.channel.k8s.io"
V3 = "v3.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V5 = "v5.channel.k8s.io"
BASE64 = "base64.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"

NON_ZERO_EXIT_CODE = "NonZeroExitCode"
EXIT_CODE_CAUSE = "ExitCode"


@dataclass(frozen=True)
class Protocol:
    """What a negotiated subprotocol implies for the framing."""

    name: str
    base64: bool = False  # text messages: ASCII channel digit + base64 payload
    status_json: bool = False  # error channel carries a v1.Status (v4+) instead of text
    close_signal: bool = False  # v5: [255, channel] half-closes a stream


PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(V5, status_json=True, close_signal=True),
        Protocol(V4, status_json=True),
        Protocol(V3),
        Protocol(V2),
        Protocol(V1),
        Protocol(V4_BASE64, base64=True, status_json=True),
        Protocol(BASE64, base64=True),
    )
}
SUPPORTED = tuple(PROTOCOLS)


def negotiate(offered: list[str] | tuple[str, ...]) -> Protocol:
    """The first offered protocol we speak (client order); no offer at all means v1.

    Raises ValueError when protocols were offered but none is supported."""
    names = [p.strip() for p in offered if p.strip()]
    if not names:
        return PROTOCOLS[V1]
    for n in names:
        if n in PROTOCOLS:
            return PROTOCOLS[n]
    raise ValueError(f"unable to upgrade: unable to negotiate protocol: client supports {names}, "
                     f"server supports {list(SUPPORTED)}")


def offered_protocols(header: str | None) -> list[str]:
    """Sec-WebSocket-Protocol may be repeated or comma separated."""
    return [p.strip() for p in (header or "").split(",") if p.strip()]


def encode(proto: Protocol, channel: int, data: bytes) -> bytes | str:
    """One message for `channel`: bytes for binary protocols, str for base64 ones."""
    if proto.base64:
        return str(channel) + base64.b64encode(data).decode()
    return bytes((channel,)) + data


def decode(proto: Protocol, message: bytes | str) -> tuple[int, bytes]:
    """(channel, data) of one received message; ValueError for an empty one."""
    if proto.base64:
        text = message if isinstance(message, str) else message.decode()
        if not text:
            raise ValueError("empty message")
        return int(text[0]), base64.b64decode(text[1:])
    raw = message.encode() if isinstance(message, str) else message
    if not raw:
        raise ValueError("empty message")
    return raw[0], bytes(raw[1:])


def close_signal(channel: int) -> bytes:
    """The v5 CLOSE message half-closing `channel`."""
    return bytes((CLOSE, channel))


def parse_close(data: bytes) -> int | None:
    """The channel a CLOSE message (data after the 255 byte) closes."""
    return data[0] if data else None


def success_status() -> dict[str, Any]:
    return {"metadata": {}, "status": "Success"}


def exit_code_status(code: int, message: str = "") -> dict[str, Any]:
    """What the kubelet writes when the command exits non-zero (remotecommand.ServeExec)."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"command terminated with non-zero exit code: {message or f'exit code {code}'}",
        "reason": NON_ZERO_EXIT_CODE,
        "details": {"causes": [{"reason": EXIT_CODE_CAUSE, "message": str(code)}]},
    }


def internal_error_status(message: str) -> dict[str, Any]:
    """apierrors.NewInternalError(err) as written on the error channel."""
    return {
        "metadata": {},
        "status": "Failure",
        "message": f"Internal error occurred: {message}",
        "reason": "InternalError",
        "details": {"causes": [{"message": message}]},
        "code": 500,
    }


def error_payload(proto: Protocol, status: dict[str, Any]) -> bytes | None:
    """Bytes for the error channel, or None when nothing is to be written (success before v4)."""
    if proto.status_json:
        return orjson.dumps(status)
    if status.get("status") == "Success":
        return None
    return str(status.get("message", "")).encode()


def exit_code_of(status: dict[str, Any]) -> int | None:
    """The exit code a Status carries (client side); 0 for Success, None for other failures."""
    if status.get("status") == "Success":
        return 0
    if status.get("reason") != NON_ZERO_EXIT_CODE:
        return None
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == EXIT_CODE_CAUSE:
            return int(cause.get("message", ""))
    return None


def parse_resizes(buffer: bytes) -> tuple[list[tuple[int, int]], bytes]:
    """Terminal sizes decoded from the resize channel; returns (sizes, unconsumed rest).

    Upstream reads the channel with a json.Decoder, so objects may be split across messages
    or several may arrive in one."""
    sizes: list[tuple[int, int]] = []
    dec = json.JSONDecoder()
    text = buffer.decode(errors="replace")
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            return sizes, b""
        try:
            obj, end = dec.raw_decode(text, pos)
        except json.JSONDecodeError:
            return sizes, text[pos:].encode()
        pos = end
        if isinstance(obj, dict):
            sizes.append((int(obj.get("Width") or obj.get("width") or 0), int(obj.get("Height") or obj.get("height") or 0)))
