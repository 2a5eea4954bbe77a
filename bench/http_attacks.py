#!/usr/bin/env python3
"""Adversarial HTTP clients against a running server on 127.0.0.1, one line per check.

    bench/http_attacks.py --port PORT [--token TOKEN] [--quick] [--slow-seconds S]

Prints, in this order, one line per check and then DONE:

    ATTACK <name> key=value key=value ...  (human description)

Values never contain spaces unless they are double-quoted JSON strings (bodies, errors), so
`shlex.split(line.split("  (")[0])` gives the fields. A check that raises prints
`ATTACK <name> error="..."` and the others still run. Times are seconds from the start of the
attack. "none" means no status line arrived, "timeout" that the wait ran out, "open" that the
server had not closed the connection when the check stopped watching.

Duration: about 80 s (--quick: 25 s) against a server that times nothing out but answers
what it can; every wait is bounded, so one that answers nothing takes longer but ends. The
slow_headers/slow_body window is --slow-seconds (default 20, 4 with --quick; not the 40 s one
might want, to fit the budget); their GET /health starts 1 s in and gives up at the end of the
window, when the slow connections are closed. The idle check runs beside checks 3-10 (single
short requests), so against a server with very few workers they can delay each other.

Standard library only; every socket has a timeout and every loop a deadline.
"""
import argparse
import errno
import json
import resource
import select
import socket
import statistics
import sys
import threading
import time

HOST = "127.0.0.1"
now = time.monotonic


class Params:
    def __init__(self, quick, slow_seconds):
        self.quick = quick
        self.slow_window = slow_seconds if slow_seconds else (4.0 if quick else 20.0)
        self.trickle_interval = 2.0
        self.slow_header_conns = 12
        self.slow_body_conns = 10
        self.response_timeout = 2.5 if quick else 6.0  # waiting for one response
        self.eof_timeout = 1.0 if quick else 3.0  # waiting for the server to close afterwards
        self.pipeline_timeout = 3.0
        self.idle_cap = 8.0 if quick else 30.0
        self.many_count = 500 if quick else 2000
        self.many_connect_phase = 4.0 if quick else 10.0  # all connects together
        self.many_close_window = 2.0
        self.many_health_timeout = 4.0 if quick else 15.0
        self.recover_timeout = 3.0 if quick else 5.0


# ---------------------------------------------------------------- output


def fmt_value(v):
    if v is None:
        return "none"
    if isinstance(v, float):
        return "%.3f" % v if v < 10 else "%.1f" % v
    s = str(v)
    if s == "" or any(c.isspace() or c in "\"'\\" for c in s) or not s.isprintable():
        return json.dumps(s)
    return s


def report(name, fields, description):
    parts = ["ATTACK", name] + ["%s=%s" % (k, fmt_value(v)) for k, v in fields]
    print(" ".join(parts) + "  (" + description + ")", flush=True)


def report_error(name, exc):
    msg = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    print("ATTACK %s error=%s" % (name, fmt_value(msg)), flush=True)


# ---------------------------------------------------------------- connections


class Closed(Exception):
    """The server closed (FIN or RST) the connection."""


class Timeout(Exception):
    pass


def connect(timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(max(0.05, timeout))
    try:
        s.connect((HOST, PORT))
    except BaseException:
        s.close()
        raise
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class Conn:
    """A socket plus the bytes read but not yet parsed."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = False
        self.reset = False
        self.failure = None

    def send(self, data, timeout=5.0):
        self.sock.settimeout(timeout)
        self.sock.sendall(data)

    def fill(self, deadline):
        """Reads more bytes; raises Timeout at the deadline, Closed at EOF or reset."""
        if self.eof:
            raise Closed()
        left = deadline - now()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise Timeout()
        except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
            self.eof = self.reset = True
            raise Closed()
        if not data:
            self.eof = True
            raise Closed()
        self.buf += data

    def _need(self, n, deadline):
        while len(self.buf) < n:
            self.fill(deadline)

    def _line(self, deadline):
        while b"\r\n" not in self.buf:
            self.fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_response(self, deadline):
        """One complete response as dict(status, headers, body, close), skipping 1xx.
        Returns None if the connection ended (or the deadline passed) before any byte of it;
        raises Timeout / Closed if it ended part way."""
        while True:
            if not self.buf:
                try:
                    self.fill(deadline)
                except (Timeout, Closed):
                    return None
            while b"\r\n\r\n" not in self.buf:
                self.fill(deadline)
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            status_line = lines[0].decode("latin-1")
            parts = status_line.split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
                raise ValueError("bad status line %r" % status_line[:80])
            status = int(parts[1])
            headers = {}
            for ln in lines[1:]:
                k, _, v = ln.decode("latin-1").partition(":")
                headers.setdefault(k.strip().lower(), []).append(v.strip())
            if 100 <= status < 200 and status != 101:
                continue
            body = b""
            te = ",".join(headers.get("transfer-encoding", [])).lower()
            if status in (204, 304):
                pass
            elif "chunked" in te:
                while True:
                    size_line = self._line(deadline).split(b";")[0].strip()
                    size = int(size_line, 16)
                    if size == 0:
                        while self._line(deadline) != b"":  # trailers
                            pass
                        break
                    self._need(size + 2, deadline)
                    body += self.buf[:size]
                    self.buf = self.buf[size + 2:]
            elif "content-length" in headers:
                n = int(headers["content-length"][0])
                self._need(n, deadline)
                body, self.buf = self.buf[:n], self.buf[n:]
            else:  # delimited by close
                try:
                    while True:
                        self.fill(deadline)
                except Closed:
                    pass
                body, self.buf = self.buf, b""
            conn_hdr = ",".join(headers.get("connection", [])).lower()
            return {"status": status, "headers": headers, "body": body, "close": "close" in conn_hdr}

    def response(self, deadline):
        """read_response, but a response cut short or unparsable gives None with self.failure
        set to partial / garbage instead of an exception."""
        try:
            return self.read_response(deadline)
        except (Timeout, Closed):
            self.failure = "partial"
        except ValueError:
            self.failure = "garbage"
        return None

    def wait_closed(self, timeout):
        """Waits up to timeout for EOF; complete responses that arrive meanwhile are returned.
        Returns (closed, extra_statuses)."""
        deadline = now() + timeout
        extra = []
        while True:
            try:
                if self.buf:
                    r = self.read_response(deadline)
                    if r is None:
                        return self.eof, extra
                    extra.append(str(r["status"]))
                    continue
                self.fill(deadline)
            except Closed:
                if self.buf:
                    extra.append("partial")
                return True, extra
            except Timeout:
                if self.buf:
                    extra.append("partial")
                return False, extra
            except ValueError:
                extra.append("garbage")
                self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def status_of(r, conn):
    """The status code, or none (closed without one) / timeout (nothing before the deadline)."""
    if r is not None:
        return r["status"]
    if conn.failure:
        return conn.failure
    return "none" if conn.eof else "timeout"


def body_snippet(r, n=120):
    if r is None:
        return ""
    return r["body"][:n].decode("utf-8", "replace")


def timed_health(timeout):
    """GET /health on a fresh connection: (status, seconds). status is the code, or
    timeout / refused / closed / error:<name>."""
    t0 = now()
    deadline = t0 + timeout
    c = None
    try:
        c = Conn(connect(timeout))
        c.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", timeout=max(0.1, deadline - now()))
        r = c.read_response(deadline)
        if r is None:
            return ("timeout" if now() >= deadline else "closed"), now() - t0
        return r["status"], now() - t0
    except (socket.timeout, Timeout):
        return "timeout", now() - t0
    except ConnectionRefusedError:
        return "refused", now() - t0
    except (Closed, ConnectionResetError, BrokenPipeError):
        return "closed", now() - t0
    except ValueError:
        return "garbage", now() - t0
    except OSError as e:
        return "error:" + type(e).__name__, now() - t0
    finally:
        if c:
            c.close()


def wait_healthy(timeout):
    """Gives the server up to timeout to answer /health again after an attack."""
    deadline = now() + timeout
    while now() < deadline:
        status, _ = timed_health(min(1.0, max(0.1, deadline - now())))
        if status == 200:
            return True
        time.sleep(0.1)
    return False


class Bg:
    """Runs fn in a daemon thread; result() waits (bounded) for its value or exception."""

    def __init__(self, fn, *args):
        self.value = None
        self.exc = None
        self.thread = threading.Thread(target=self._run, args=(fn,) + args, daemon=True)
        self.thread.start()

    def _run(self, fn, *args):
        try:
            self.value = fn(*args)
        except BaseException as e:  # reported by the caller
            self.exc = e

    def result(self, timeout):
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise TimeoutError("check thread still running after %.0f s" % timeout)
        if self.exc:
            raise self.exc
        return self.value


# ---------------------------------------------------------------- 1, 2: slow clients


class SlowRecord:
    def __init__(self):
        self.closed_at = None
        self.data = b""


def slow_worker(sock, rec, initial, piece, interval, t0, deadline):
    try:
        sock.settimeout(5.0)
        sock.sendall(initial)
    except OSError:
        rec.closed_at = now() - t0
        return
    next_send = now() + interval
    while True:
        t = now()
        if t >= deadline:
            return
        if t >= next_send:
            try:
                sock.settimeout(5.0)
                sock.sendall(piece)
            except OSError:
                rec.closed_at = now() - t0
                return
            next_send += interval
            continue
        sock.settimeout(max(0.01, min(next_send, deadline) - t))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            rec.closed_at = now() - t0
            return
        if not data:
            rec.closed_at = now() - t0
            return
        if len(rec.data) < 256:
            rec.data += data


def first_status(data):
    if not data:
        return "none"
    line = data.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ")
    if len(parts) >= 2 and line.startswith("HTTP/") and parts[1].isdigit():
        return parts[1]
    return "garbage"


def summarize_statuses(statuses):
    distinct = sorted(set(statuses))
    if len(distinct) == 1:
        return distinct[0]
    return ",".join("%s:%d" % (s, statuses.count(s)) for s in distinct)


def slow_attack(n, initial, piece, window, interval):
    socks, connect_errors = [], []
    for _ in range(n):
        try:
            socks.append(connect(3.0))
        except OSError as e:
            connect_errors.append(type(e).__name__)
    t0 = now()
    deadline = t0 + window
    recs = [SlowRecord() for _ in socks]
    threads = [threading.Thread(target=slow_worker, args=(s, r, initial, piece, interval, t0, deadline),
                                daemon=True) for s, r in zip(socks, recs)]
    for th in threads:
        th.start()
    time.sleep(min(1.0, window / 2))
    health = Bg(timed_health, max(0.5, deadline - now()))
    try:
        h_status, h_wait = health.result(window + 5)
        for th in threads:
            th.join(max(0.0, deadline - now()) + 1.0)
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
    closed = [r.closed_at for r in recs if r.closed_at is not None]
    fields = [
        ("health_status", h_status),
        ("health_wait_s", h_wait),
        ("connected", "%d/%d" % (len(socks), n)),
        ("closed", "%d/%d" % (len(closed), len(socks))),
        ("closed_median_s", statistics.median(closed) if closed else "none"),
        ("closed_max_s", max(closed) if closed else "none"),
        ("status", summarize_statuses([first_status(r.data) for r in recs]) if recs else "none"),
        ("window_s", window),
    ]
    if connect_errors:
        fields.append(("connect_errors", summarize_statuses(connect_errors)))
    return fields


def check_slow_headers(p):
    fields = slow_attack(p.slow_header_conns, b"GET /health HTTP/1.1\r\nHost: x\r\n", b"X-a: b\r\n",
                         p.slow_window, p.trickle_interval)
    report("slow_headers", fields,
           "%d connections each sending one header line every %g s for up to %g s; GET /health on a fresh "
           "connection 1 s in; closed = by the server, status = first status line the slow ones got"
           % (p.slow_header_conns, p.trickle_interval, p.slow_window))


def check_slow_body(p):
    initial = (b"POST /reports HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100000\r\n\r\n")
    fields = slow_attack(p.slow_body_conns, initial, b" ", p.slow_window, p.trickle_interval)
    report("slow_body", fields,
           "%d POST /reports with Content-Length 100000 sending one body byte every %g s for up to %g s; "
           "GET /health on a fresh connection 1 s in" % (p.slow_body_conns, p.trickle_interval, p.slow_window))


# ---------------------------------------------------------------- 3-10: one connection each


def one_shot(p, request):
    """Sends request in one send, reads one response, then waits for EOF."""
    c = Conn(connect(3.0))
    try:
        c.send(request)
        t0 = now()
        r = c.response(t0 + p.response_timeout)
        response_s = now() - t0
        t1 = now()
        closed, extra = c.wait_closed(p.eof_timeout)
        fields = [("status", status_of(r, c)), ("closed", "yes" if closed else "no"),
                  ("closed_after_s", now() - t1 if closed else "open"), ("response_s", response_s)]
        if extra:
            fields.append(("extra_responses", ",".join(extra)))
        return fields, r
    finally:
        c.close()


def check_conflicting_cl(p):
    fields, r = one_shot(p, b"POST /reports HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde")
    report("conflicting_content_length", fields + [("body", body_snippet(r, 80))],
           "Content-Length: 3 and Content-Length: 5, body abcde; RFC 9112: 400 and close")


def check_cl_and_te(p):
    fields, r = one_shot(p, b"POST /reports HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    report("cl_and_te", fields + [("body", body_snippet(r, 80))],
           "Content-Length: 3 plus Transfer-Encoding: chunked, valid chunked body; reject (400) or use "
           "chunked, and close either way; extra_responses means the rest was read as a second request")


def check_bad_chunk(p):
    fields, r = one_shot(p, b"POST /reports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                            b"zz\r\nabc\r\n0\r\n\r\n")
    report("bad_chunk", fields + [("body", body_snippet(r, 80))],
           "chunked body whose chunk size is zz; expect 400 and close")


def check_te_not_chunked(p):
    fields, r = one_shot(p, b"POST /reports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc")
    report("te_not_chunked", fields + [("body", body_snippet(r, 80))],
           "Transfer-Encoding: gzip (not chunked), body abc; RFC 9112: 400 (or 501) and close")


def check_pipelined(p):
    c = Conn(connect(3.0))
    try:
        c.send(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        deadline = now() + p.pipeline_timeout
        statuses = []
        end = "timeout"
        while len(statuses) < 3:
            try:
                r = c.read_response(deadline)
            except Timeout:
                end = "partial"
                break
            except Closed:
                end = "closed_partial"
                break
            except ValueError:
                end = "garbage"
                break
            if r is None:
                end = "closed" if c.eof else "timeout"
                break
            statuses.append(str(r["status"]))
        else:
            end = "complete"
        report("pipelined", [("responses", len(statuses)), ("statuses", ",".join(statuses) or "none"),
                             ("end", end)],
               "three GET /health in one send; complete responses read within %g s" % p.pipeline_timeout)
    finally:
        c.close()


def check_post_no_body(p, token):
    auth = ("Authorization: Bearer %s\r\n" % token).encode() if token else b""
    c = Conn(connect(3.0))
    try:
        c.send(b"POST /admin/persist HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n")
        t0 = now()
        r = c.response(t0 + p.response_timeout)
        report("post_no_body", [("status", status_of(r, c)), ("auth", "yes" if token else "no"),
                                ("response_s", now() - t0), ("body", body_snippet(r, 120))],
               "POST /admin/persist with neither Content-Length nor Transfer-Encoding; anything but a "
               "generic 400 means it was taken as an empty body")
    finally:
        c.close()


def check_connection_close(p):
    fields, r = one_shot(p, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    hdr = "none" if r is None else ",".join(r["headers"].get("connection", [])) or "none"
    report("connection_close", fields + [("connection_header", hdr)],
           "GET /health with Connection: close; the server should answer and then close")


def check_keep_alive(p):
    c = Conn(connect(3.0))
    try:
        req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        c.send(req)
        r1 = c.response(now() + p.response_timeout)
        s1 = status_of(r1, c)
        s2 = "not_sent"
        if r1 is not None:
            try:
                c.send(req)
                r2 = c.response(now() + p.response_timeout)
                s2 = status_of(r2, c)
            except (OSError, Closed, Timeout):
                s2 = "closed"
        report("keep_alive", [("status1", s1), ("status2", s2)],
               "two GET /health on one connection, the second sent after the first response was read")
    finally:
        c.close()


def check_idle(p):
    """Runs in a thread beside checks 3-10; returns the fields."""
    c = Conn(connect(3.0))
    t0 = now()
    try:
        deadline = t0 + p.idle_cap
        while True:
            try:
                c.fill(deadline)
            except Closed:
                return [("closed_after_s", now() - t0), ("status", first_status(c.buf)),
                        ("cap_s", p.idle_cap)]
            except Timeout:
                return [("closed_after_s", "open"), ("status", first_status(c.buf)), ("cap_s", p.idle_cap)]
    finally:
        c.close()


# ---------------------------------------------------------------- 12: many connections


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def open_many(count, phase_s, per_conn_s=8.0, in_flight=128):
    """Opens up to count connections with at most in_flight non-blocking connects pending,
    all within phase_s. A server with a short listen backlog makes the kernel drop SYNs, which
    are resent after 1, 3 and 7 s: hence many in flight and 8 s per connect.
    Returns (sockets, refused, timed_out, other_errors)."""
    socks, other = [], []
    refused = timed_out = 0
    pending = {}  # fd -> (socket, started)
    poller = select.poll()
    launched = 0
    deadline = now() + phase_s
    try:
        while (launched < count or pending) and now() < deadline:
            while launched < count and len(pending) < in_flight:
                try:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                except OSError as e:  # EMFILE and the like: stop launching
                    other.append(type(e).__name__)
                    count = launched
                    break
                launched += 1
                s.setblocking(False)
                err = s.connect_ex((HOST, PORT))
                if err == 0:
                    socks.append(s)
                elif err in (errno.EINPROGRESS, errno.EALREADY, errno.EWOULDBLOCK):
                    pending[s.fileno()] = (s, now())
                    poller.register(s.fileno(), select.POLLOUT)
                else:
                    s.close()
                    if err == errno.ECONNREFUSED:
                        refused += 1
                    else:
                        other.append(errno.errorcode.get(err, str(err)))
            if not pending:
                continue
            for fd, _ev in poller.poll(50):
                s, _ = pending.pop(fd)
                poller.unregister(fd)
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err == 0:
                    socks.append(s)
                else:
                    s.close()
                    if err == errno.ECONNREFUSED:
                        refused += 1
                    else:
                        other.append(errno.errorcode.get(err, str(err)))
            t = now()
            for fd in [fd for fd, (_, started) in pending.items() if t - started > per_conn_s]:
                s, _ = pending.pop(fd)
                poller.unregister(fd)
                s.close()
                timed_out += 1
    finally:
        for s, _ in pending.values():  # still connecting at the end of the phase
            s.close()
            timed_out += 1
    return socks, refused, timed_out, other


def check_many_connections(p):
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    want = p.many_count
    count = min(want, max(0, soft - 64))
    t_start = now()
    socks, refused, timed_out, other = open_many(count, p.many_connect_phase)
    try:
        connect_s = now() - t_start
        attempted = len(socks) + refused + timed_out + len(other)

        # The health request runs while we watch the idle connections for 2 s.
        health = Bg(timed_health, p.many_health_timeout)
        poller = select.poll()
        by_fd = {}
        for s in socks:
            s.setblocking(False)
            by_fd[s.fileno()] = s
            poller.register(s.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
        closed = responded = 0
        watch_deadline = now() + p.many_close_window
        while by_fd and now() < watch_deadline:
            events = poller.poll(max(1, int((watch_deadline - now()) * 1000)))
            for fd, _ev in events:
                s = by_fd.get(fd)
                if s is None:
                    continue
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data:
                    responded += 1
                    continue  # keep watching for the close that usually follows
                closed += 1
                poller.unregister(fd)
                del by_fd[fd]
        h_status, h_wait = health.result(p.many_health_timeout + 5)
        fields = [
            ("connected", "%d/%d" % (len(socks), want)),
            ("attempted", attempted),
            ("refused", refused),
            ("connect_timeouts", timed_out),
            ("closed_within_2s", closed),
            ("health_status", h_status),
            ("health_wait_s", h_wait),
            ("connect_s", connect_s),
        ]
        if responded:
            fields.append(("sent_data", responded))
        if other:
            fields.append(("connect_errors", summarize_statuses(other)))
        if count < want:
            fields.append(("fd_limit", soft))
        report("many_connections", fields,
               "%d connections opened and left silent (connect phase capped at %g s); closed = by the server "
               "within %g s; then GET /health on a fresh connection, timeout %g s"
               % (want, p.many_connect_phase, p.many_close_window, p.many_health_timeout))
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass


# ---------------------------------------------------------------- main


def run(name, fn, *args):
    try:
        fn(*args)
    except Exception as e:
        report_error(name, e)


def main():
    global PORT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--token", default=None, help="bearer token used by post_no_body")
    ap.add_argument("--quick", action="store_true", help="smaller counts and windows (about 30 s)")
    ap.add_argument("--slow-seconds", type=float, default=None,
                    help="window of slow_headers/slow_body (default 20, 4 with --quick)")
    args = ap.parse_args()
    PORT = args.port
    p = Params(args.quick, args.slow_seconds)
    raise_nofile()

    status, _ = timed_health(3.0)
    if status != 200:
        print("http_attacks: GET /health on 127.0.0.1:%d gave %s; is the server running?" % (PORT, status),
              file=sys.stderr)
        return 2

    run("slow_headers", check_slow_headers, p)
    wait_healthy(p.recover_timeout)
    run("slow_body", check_slow_body, p)
    wait_healthy(p.recover_timeout)

    idle = Bg(check_idle, p)  # beside checks 3-10
    run("conflicting_content_length", check_conflicting_cl, p)
    run("cl_and_te", check_cl_and_te, p)
    run("bad_chunk", check_bad_chunk, p)
    run("te_not_chunked", check_te_not_chunked, p)
    run("pipelined", check_pipelined, p)
    run("post_no_body", check_post_no_body, p, args.token)
    run("connection_close", check_connection_close, p)
    run("keep_alive", check_keep_alive, p)
    try:
        report("idle", idle.result(p.idle_cap + 10),
               "a connection that sends nothing, opened beside checks 3-10: seconds until the server closes "
               "it (open = still open at %g s)" % p.idle_cap)
    except Exception as e:
        report_error("idle", e)
    wait_healthy(p.recover_timeout)

    run("many_connections", check_many_connections, p)
    print("DONE", flush=True)
    return 0


PORT = 0

if __name__ == "__main__":
    sys.exit(main())
