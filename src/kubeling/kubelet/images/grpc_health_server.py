"""A gRPC health server for the `kubeling/grpc-health` test image (Debian's python3-grpcio).

Serves the standard `grpc.health.v1.Health/Check` on `--port` (default 9000): the overall
service "" (and any name given with `--service`) is SERVING, other names are NOT_FOUND, as the
reference implementation answers. `--fail-after N` makes every answer NOT_SERVING after N
checks (a fresh count per process), to test gRPC liveness probes.

It uses no generated code (the image has no protobuf runtime): the two messages are tiny and
encoded by hand (HealthCheckRequest: field 1 `service`, a string; HealthCheckResponse: field
1 `status`, an enum).
"""

from __future__ import annotations

import argparse
import threading
from concurrent import futures
from typing import Any

import grpc

SERVING, NOT_SERVING = 1, 2


def decode_service(data: bytes) -> str:
    """HealthCheckRequest.service (field 1, wire type 2), or "" when absent."""
    i = 0
    while i < len(data):
        key = data[i]
        i += 1
        length, shift = 0, 0
        while True:
            b = data[i]
            i += 1
            length |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        if key == 0x0A:
            return data[i:i + length].decode()
        if key & 7 != 2:  # only length-delimited fields are expected
            return ""
        i += length
    return ""


def encode_status(status: int) -> bytes:
    return bytes([0x08, status])


class Health:
    def __init__(self, services: set[str], fail_after: int) -> None:
        self.services = services
        self.fail_after = fail_after
        self.checks = 0
        self.lock = threading.Lock()

    def check(self, request: bytes, context: Any) -> bytes:
        service = decode_service(request)
        if service not in self.services:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown service")
        with self.lock:
            self.checks += 1
            failing = 0 < self.fail_after < self.checks
        return encode_status(NOT_SERVING if failing else SERVING)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=9000)
    p.add_argument("--service", action="append", default=[])
    p.add_argument("--fail-after", type=int, default=0)
    args = p.parse_args()
    health = Health({"", *args.service}, args.fail_after)
    handler = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(health.check, request_deserializer=None,
                                                     response_serializer=None)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"[::]:{args.port}")
    server.start()
    print(f"grpc health server on :{args.port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
