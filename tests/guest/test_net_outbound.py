"""Connections out of the guest: java.net.http.HttpClient in the guest calls a server on the host
through QEMU's user network (the host is 10.0.2.2 from inside; on the host the same program calls
127.0.0.1), fetches 300 KB and posts a body back; both runs must print the same."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from lwjvm.testing import assert_same_run, run_java

DATA = bytes((i * 7 + (i >> 9)) & 0xFF for i in range(300_000))

FETCH_SOURCE = r"""
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;

public class HttpFetch {
    public static void main(String[] args) throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(60)).build();
        HttpResponse<byte[]> r = client.send(
            HttpRequest.newBuilder(URI.create(args[0] + "/data"))
                .timeout(Duration.ofSeconds(120)).build(),
            HttpResponse.BodyHandlers.ofByteArray());
        byte[] sha = MessageDigest.getInstance("SHA-256").digest(r.body());
        System.out.println("GET /data: " + r.statusCode() + ", " + r.body().length
            + " bytes, sha256 " + HexFormat.of().formatHex(sha));
        HttpResponse<String> p = client.send(
            HttpRequest.newBuilder(URI.create(args[0] + "/echo"))
                .POST(HttpRequest.BodyPublishers.ofString("from the guest? " + "x".repeat(5000)))
                .timeout(Duration.ofSeconds(120)).build(),
            HttpResponse.BodyHandlers.ofString());
        System.out.println("POST /echo: " + p.statusCode() + ", " + p.body().length() + " chars");
    }
}
"""


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        self.send_response(200)
        self.send_header("Content-Length", str(len(DATA)))
        self.end_headers()
        self.wfile.write(DATA)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def host_server() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_http_client_in_the_guest_reaches_a_server_on_the_host(
    host_server: int, java_program: Any, guest_java: Any, java_jdk: Any
) -> None:
    jar = java_program("httpfetch", {"HttpFetch.java": FETCH_SOURCE}, "HttpFetch")
    host = run_java(java_jdk, [jar], "HttpFetch", [f"http://127.0.0.1:{host_server}"])
    assert host.exit_code == 0, host
    assert hashlib.sha256(DATA).hexdigest() in host.stdout
    guest = guest_java(
        jar, "HttpFetch", [f"http://10.0.2.2:{host_server}"],
        modules=("java.base", "java.net.http"),
    )  # fmt: skip
    assert_same_run(host, guest)
