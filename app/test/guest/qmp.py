#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
#
# Minimal QMP client for the migration tests (migrate.sh). It owns one short
# conversation with one QEMU monitor socket: greeting, qmp_capabilities, then
# either one command (its "return" printed as JSON on stdout) or "wait", which
# polls query-migrate until the migration ends and prints one line
# "status=S total=MS downtime=MS setup=MS" (values QEMU did not report are
# -1). Exit status: 0 success, 1 QEMU returned an error or the migration
# failed, 2 usage, 3 no monitor (socket missing, refused, closed) or timeout.
#
# Usage: qmp.py SOCKET COMMAND [JSON-ARGUMENTS]
#        qmp.py SOCKET wait TIMEOUT-SECONDS
import json
import socket
import sys
import time


class Qmp:
    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.read()                           # greeting
        self.cmd("qmp_capabilities")

    def read(self):
        while b"\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("monitor closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self.read()
            if "event" in r:                  # asynchronous: not ours
                continue
            return r


def wait_migration(q, secs):
    end = time.monotonic() + secs
    while True:
        r = q.cmd("query-migrate").get("return", {})
        st = r.get("status", "none")
        if st in ("completed", "failed", "cancelled") or time.monotonic() > end:
            print("status=%s total=%d downtime=%d setup=%d%s" % (
                st if time.monotonic() <= end or st == "completed" else "timeout",
                r.get("total-time", -1), r.get("downtime", -1),
                r.get("setup-time", -1),
                (" error=" + json.dumps(r["error-desc"])) if "error-desc" in r else ""))
            return 0 if st == "completed" else 1
        time.sleep(0.05)


def main(argv):
    if len(argv) < 3:
        print(__doc__ or "usage: qmp.py SOCKET COMMAND [JSON-ARGS]", file=sys.stderr)
        return 2
    try:
        if argv[2] == "wait":
            secs = float(argv[3]) if len(argv) > 3 else 120
            q = Qmp(argv[1], secs + 10)
            return wait_migration(q, secs)
        q = Qmp(argv[1], 30)
        r = q.cmd(argv[2], json.loads(argv[3]) if len(argv) > 3 else None)
    except (OSError, ConnectionError, ValueError) as e:
        print("qmp.py: %s: %s" % (argv[1], e), file=sys.stderr)
        return 3
    if "error" in r:
        print("qmp.py: %s: %s" % (argv[2], r["error"].get("desc", r["error"])),
              file=sys.stderr)
        return 1
    print(json.dumps(r.get("return", {})))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
