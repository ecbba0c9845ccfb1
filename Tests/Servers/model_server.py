#!/usr/bin/env python3
"""A loopback HTTP server for the model-download tests (Python standard library only).

Usage: model_server.py ROOT LOG [IDLE_SECONDS]
Serves the files under ROOT on 127.0.0.1 at an ephemeral port, which it prints on stdout as one
line, and appends one JSON line per request to LOG ({"path", "range"}). It stops by itself after
IDLE_SECONDS (default 120) without a request. The first path segment picks a behaviour, the rest
is the file under ROOT:

  /ok/FILE          the file; "Range: bytes=N-" or "bytes=N-M" gets 206 with Content-Range
                    (416 past the end)
  /drop/FILE        like ok, but a request from byte 0 of a file over 100 kB announces its
                    length, sends half of it and closes the connection
  /redirect/MODE/FILE  302 to /MODE/FILE, as Hugging Face redirects resolve/ URLs to its CDN
  /corrupt/FILE     like ok, with one byte changed in the middle (same length)
  /norange/FILE     ignores Range: always 200 and the whole file
  /status/CODE/FILE answers CODE (404, 500, ...) with a short body
  /endless/FILE     ignores Range, announces no length and sends the file followed by zeros
                    without end (until the client hangs up, or 1 GiB), as a broken mirror might
  /trickle/SECONDS/FILE  ignores Range: 200 announcing the whole length, then one byte every
                    SECONDS (a float) until the file is sent or the client hangs up
  /wrongrange/FILE  answers every request with 206 and the file from byte 1 (whatever was asked)
"""
import http.server
import json
import os
import socket
import sys
import threading
import time

ROOT = os.path.realpath(sys.argv[1])
LOG = sys.argv[2]
IDLE = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0
last_request = time.monotonic()
log_lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        global last_request
        last_request = time.monotonic()
        requested_range = self.headers.get("Range")
        with log_lock, open(LOG, "a") as log:
            log.write(json.dumps({"path": self.path, "range": requested_range}) + "\n")
        parts = self.path.split("?")[0].lstrip("/").split("/")
        mode = parts[0] if parts else ""
        rest = parts[1:]
        if mode == "redirect" and rest:
            self.send_response(302)
            self.send_header("Location", "/" + "/".join(rest))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if mode == "status" and rest:
            code = int(rest[0])
            body = b"no such thing\n"
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if mode == "trickle" and rest:
            delay = float(rest[0])
            rest = rest[1:]
        path = os.path.realpath(os.path.join(ROOT, *rest))
        if mode in ("trickle", "wrongrange") and path.startswith(ROOT + os.sep) and os.path.isfile(path):
            with open(path, "rb") as handle:
                data = handle.read()
            if mode == "wrongrange":
                body = data[1:]
                self.send_response(206)
                self.send_header("Content-Range", "bytes 1-%d/%d" % (len(data) - 1, len(data)))
            else:
                body = data
                self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if mode == "wrongrange":
                self.wfile.write(body)
                return
            try:
                for index in range(len(body)):
                    self.wfile.write(body[index:index + 1])
                    self.wfile.flush()
                    time.sleep(delay)
            except OSError:
                pass
            return
        if mode == "endless" and path.startswith(ROOT + os.sep) and os.path.isfile(path):
            with open(path, "rb") as handle:
                data = handle.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                self.wfile.write(data)
                zeros = bytes(64 * 1024)
                for _ in range((1 << 30) // len(zeros)):
                    self.wfile.write(zeros)
                    self.wfile.flush()
            except OSError:
                pass
            return
        if mode not in ("ok", "drop", "corrupt", "norange") or not path.startswith(ROOT + os.sep) or not os.path.isfile(path):
            body = b"not found\n"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with open(path, "rb") as handle:
            data = handle.read()
        if mode == "corrupt" and data:
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]
        start, end = 0, len(data) - 1
        if requested_range and mode != "norange" and requested_range.startswith("bytes="):
            first, _, last = requested_range[len("bytes="):].partition("-")
            start = int(first)
            if last:
                end = min(end, int(last))
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % len(data))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, len(data)))
        else:
            self.send_response(200)
        body = data[start:end + 1]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if mode == "drop" and start == 0 and len(data) > 100_000:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        self.wfile.write(body)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)

    def watch():
        while time.monotonic() - last_request < IDLE:
            time.sleep(0.5)
        server.shutdown()

    threading.Thread(target=watch, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
