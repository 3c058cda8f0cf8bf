#!/usr/bin/env python3
"""A man in the middle for the agent's integration tests, on 127.0.0.1.

It speaks TLS with the server's own certificate (so the device trusts it, as
it would trust an attacker holding the server's key or a compromised CDN
edge), forwards every request to the real airlock-server over mutual TLS
with the device's credentials, and bends the answers as the mode file says.
The mode is re-read at every request, so a test switches attacks without
restarting anything:

  pass             forward unchanged
  tamper           flip one byte of every artifact body (same length)
  endless          artifact bodies go on past their end (chunked, no end)
  oversize         check-in answers are 1 MiB of JSON
  stall            artifacts: headers and 1000 bytes, then nothing
  replay           the first check-in answer seen is replayed ever after
  lie-sv           check-in requests claim security version 0 (a server that
                   believes it may offer a downgrade)
  subst:FILE       check-in answers carry FILE as the release
  cut:N            artifacts: the connection drops after N bytes
  throttle:BPS     artifacts trickle at BPS bytes per second
  norange          Range requests are answered 200 with the whole file
  cutnorange:N     a plain GET of an artifact drops after N bytes; a Range
                   request is answered 200 with the whole file
  redirect         every answer is a 302 to plain http

Every request is logged to the log file as: METHOD PATH RANGE -> STATUS.
usage: mitm.py PORT UPSTREAM_PORT CERT KEY CA CLIENT_CERT CLIENT_KEY MODEFILE LOGFILE
"""
import base64
import http.client
import json
import http.server
import socket
import ssl
import sys
import threading
import time

(PORT, UP, CERT, KEY, CA, CCERT, CKEY, MODEFILE, LOGFILE) = sys.argv[1:10]
PORT, UP = int(PORT), int(UP)
REPLAY = {}
LOCK = threading.Lock()


def mode():
    try:
        with open(MODEFILE) as f:
            return f.read().strip() or "pass"
    except OSError:
        return "pass"


def log(line):
    with LOCK, open(LOGFILE, "a") as f:
        f.write(line + "\n")


def upstream():
    ctx = ssl.create_default_context(cafile=CA)
    ctx.load_cert_chain(CCERT, CKEY)
    return http.client.HTTPSConnection("127.0.0.1", UP, context=ctx, timeout=60)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        if mode() == "lie-sv" and body and self.path.endswith("/device/checkin"):
            j = json.loads(body)
            j["security_version"] = 0
            body = json.dumps(j).encode()
        hdrs = {k: v for k, v in self.headers.items() if k.lower() in ("content-type", "range")}
        m = mode()
        self.had_range = "Range" in hdrs
        if m == "norange" or m.startswith("cutnorange:"):
            hdrs.pop("Range", None)
        c = upstream()
        c.request(method, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        log("%s %s %s -> %d (%s)" % (method, self.path, self.headers.get("Range", "-"), r.status, m))
        return m, r, data

    def send(self, status, headers, data, content_length=None):
        self.send_response(status)
        for k, v in headers:
            if k.lower() in ("content-type", "content-range", "etag", "accept-ranges"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data) if content_length is None else content_length))
        self.end_headers()
        return data

    def redirect(self):
        self.send_response(302)
        self.send_header("Location", "http://127.0.0.1:1" + self.path)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_POST(self):
        m, r, data = self.forward("POST")
        if m == "redirect":
            return self.redirect()
        if self.path.endswith("/device/checkin"):
            if m == "oversize":
                data = b'{"directive":"' + b"A" * (1 << 20) + b'"}'
            elif m == "replay":
                with LOCK:
                    data = REPLAY.setdefault("answer", data)
            elif m.startswith("subst:") and r.status == 200:
                j = json.loads(data)
                if "release" in j:
                    j["release"] = base64.b64encode(open(m[6:], "rb").read()).decode()
                data = json.dumps(j).encode()
        self.wfile.write(self.send(r.status, r.getheaders(), data))

    def do_GET(self):
        m, r, data = self.forward("GET")
        if m == "redirect":
            return self.redirect()
        if m.startswith("cutnorange:"):
            m = "pass" if self.had_range else "cut:" + m[11:]
        art = "/artifacts/" in self.path and r.status in (200, 206)
        if not art or m in ("pass", "norange", "replay", "oversize", "lie-sv") or m.startswith("subst:"):
            self.wfile.write(self.send(r.status, r.getheaders(), data))
            return
        # Only the payload, not its (small) chunk list, is bent: the attacks
        # are on the big download.
        if len(data) <= 64 * 1024:
            self.wfile.write(self.send(r.status, r.getheaders(), data))
            return
        if m == "tamper":
            b = bytearray(data)
            b[len(b) // 3] ^= 0x40
            self.wfile.write(self.send(r.status, r.getheaders(), bytes(b)))
        elif m == "endless":
            self.send_response(r.status)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            try:
                # the true body, then more and more
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                piece = b"x" * 65536
                for _ in range(100000):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            except OSError:
                pass
            self.close_connection = True
        elif m == "stall":
            self.wfile.write(self.send(r.status, r.getheaders(), b"", len(data)))
            self.wfile.write(data[:1000])
            self.wfile.flush()
            time.sleep(30)
            self.close_connection = True
        elif m.startswith("cut:"):
            n = int(m[4:])
            self.wfile.write(self.send(r.status, r.getheaders(), b"", len(data)))
            self.wfile.write(data[:n])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif m.startswith("throttle:"):
            bps = int(m[9:])
            self.wfile.write(self.send(r.status, r.getheaders(), b"", len(data)))
            step = max(1, bps // 10)
            try:
                for i in range(0, len(data), step):
                    self.wfile.write(data[i:i + step])
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass
            self.close_connection = True


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
srv = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
srv.daemon_threads = True
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
