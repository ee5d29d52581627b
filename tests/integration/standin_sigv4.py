"""StandInSigV4Proxy: what an Amazon OpenSearch Service domain does with a request before OpenSearch
sees it, in front of the harness's real OpenSearch.

It checks each request's SigV4 signature by recomputing it with botocore's signer from the same
credentials (the signed headers, the body hash, the scope's date, region and service) and
forwards only requests whose signature matches; any other request gets the 403 AWS answers with.
A stand-in because the harness cannot run the real service: the signing is botocore's own code on
both sides, the checking is the protocol's, and the server behind it is real.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)"
    r"/aws4_request, "
    r"SignedHeaders=(?P<signed>[^,]+), Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass
class Verdicts:
    accepted: int = 0
    refused: list[str] = field(default_factory=list)


class StandInSigV4Proxy(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream: str, credentials: Credentials, region: str, service: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream, self.credentials, self.region, self.service = upstream, credentials, region, service
        self.verdicts = Verdicts()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def check(self, method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
        """None when the signature is the one botocore computes for this request, else why not."""
        match = _AUTHORIZATION.match(headers.get("authorization", ""))
        if match is None:
            return "missing or malformed Authorization header"
        if match["key"] != self.credentials.access_key:
            return f"unknown access key {match['key']}"
        if (match["region"], match["service"]) != (self.region, self.service):
            return f"scope {match['region']}/{match['service']} is not {self.region}/{self.service}"
        signed = match["signed"].split(";")
        if "x-amz-date" not in signed or "host" not in signed:
            return "host and x-amz-date must be signed"
        claimed_hash = headers.get("x-amz-content-sha256")
        if claimed_hash is not None and claimed_hash != hashlib.sha256(body).hexdigest():
            return "x-amz-content-sha256 is not the body's hash"
        request = AWSRequest(
            method=method,
            url=f"http://{headers['host']}{path}",
            data=body,
            headers={name: headers[name] for name in signed if name in headers},
        )
        request.context["timestamp"] = headers["x-amz-date"]
        auth = SigV4Auth(self.credentials, self.service, self.region)
        expected = auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request)
        if not hmac.compare_digest(expected, match["signature"]):
            return "The request signature we calculated does not match the signature you provided"
        return None

    def record(self, refused: str | None) -> None:
        with self._lock:
            if refused is None:
                self.verdicts.accepted += 1
            else:
                self.verdicts.refused.append(refused)


class _Handler(BaseHTTPRequestHandler):
    server: StandInSigV4Proxy
    protocol_version = "HTTP/1.1"

    def _handle(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        refused = self.server.check(self.command, self.path, headers, body)
        self.server.record(refused)
        if refused is not None:
            self._answer(403, json.dumps({"message": refused}).encode(), "application/json")
            return
        upstream = urllib.request.Request(
            self.server.upstream + self.path,
            data=body if body or self.command in ("POST", "PUT") else None,
            method=self.command,
            headers={"Content-Type": headers.get("content-type", "application/json")},
        )
        try:
            with urllib.request.urlopen(upstream, timeout=60) as response:
                self._answer(response.status, response.read(), response.headers.get("Content-Type", ""))
        except urllib.error.HTTPError as exc:
            self._answer(exc.code, exc.read(), exc.headers.get("Content-Type", ""))

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _handle

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type or "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def standin_sigv4_proxy(
    upstream: str, credentials: Credentials, region: str, service: str
) -> Iterator[StandInSigV4Proxy]:
    proxy = StandInSigV4Proxy(upstream, credentials, region, service)
    thread = threading.Thread(target=proxy.serve_forever, name="standin-sigv4", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
