#!/usr/bin/python3
"""tkinter_bench.py -- Courier in tkinter against the two recipes Python
programmers use for network I/O in a tkinter program.

Recipes (each run in a process of its own, against the same peer):
  courier-line   courier_tk.connect(framing="line"), one Python call per line
  courier-batch  the same with batch=True, one Python call per read
  thread-queue   a threading.Thread reading sock.makefile() line by line into
                 a queue.Queue, drained by a root.after(10) poll
  asyncio-thread an asyncio loop in a second thread; its Protocol splits each
                 read into lines and hands them to Tk with root.after(0, ...)
Every recipe hands each line to the same handler, which counts it (and in
the paced phase measures its latency).

Phases, each on its own connection to the peer (a separate process, plain
blocking sockets):
  flood  N lines of 32 bytes as fast as the peer can send: lines/s from the
         request to the N-th line handled, and the largest gap between runs
         of an after(10) ticker meanwhile;
  paced  2000 lines/s, each carrying the peer's time.monotonic_ns() when
         sent: latency p50/p99 to the handler (CLOCK_MONOTONIC is shared by
         the processes of one machine);
  idle   a connection open and silent for 2 s, no ticker: CPU time of the
         whole process (all threads) per second of wall time.

Usage:
  python3 bench/tkinter_bench.py [-quick] [-repeat R] [-csv FILE]   the driver
  python3 bench/tkinter_bench.py peer                               the peer
  python3 bench/tkinter_bench.py recipe NAME PORT N PACED           one child
The driver needs a display for the children (make bench runs under Xvfb)
and Courier on TCLLIBPATH; it writes bench/results/tkinter.csv.
"""

import os
import socket
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
RECIPES = [
    ("courier-line", "Courier, one Python call per line"),
    ("courier-batch", "Courier batch=True, one Python call per read"),
    ("thread-queue", "Thread + queue.Queue + after(10) poll"),
    ("asyncio-thread", "asyncio loop in a thread + root.after(0)"),
]
PACED_RATE = 2000
IDLE_SECONDS = 2.0


# ----------------------------------------------------------------------
# The peer.
# ----------------------------------------------------------------------

def peer():
    """Serves one command per connection: flood N, paced RATE COUNT,
    idle SECONDS. Exits when its stdin closes."""
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    print(srv.getsockname()[1], flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)),
                     daemon=True).start()
    while True:
        c, _ = srv.accept()
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cmd = c.makefile("rb").readline().split()
        if cmd[0] == b"flood":
            n = int(cmd[1])
            block = b"".join(b"%08d flood line of 32 bytes\n" % i
                             for i in range(10000))
            sent = 0
            while sent < n:
                k = min(10000, n - sent)
                c.sendall(block if k == 10000 else block[:32 * k])
                sent += k
        elif cmd[0] == b"paced":
            rate, count = int(cmd[1]), int(cmd[2])
            start = time.monotonic()
            for i in range(count):
                due = start + i / rate
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                c.sendall(b"%d %d\n" % (time.monotonic_ns(), i))
        elif cmd[0] == b"idle":
            time.sleep(float(cmd[1]))
        c.close()


# ----------------------------------------------------------------------
# A recipe child.
# ----------------------------------------------------------------------

class Measure:
    """The per-line handler shared by every recipe, and the ticker."""

    def __init__(self, root):
        self.root = root
        self.count = 0
        self.target = 0
        self.latencies = None
        self.max_gap = 0.0
        self.last_tick = None
        self.ticking = False

    def handler(self, conn, line):
        self.count += 1
        if self.count == self.target:
            self.root.quit()
        if self.latencies is not None:
            self.latencies.append(time.monotonic_ns()
                                  - int(line.split(" ", 1)[0]))

    def tick(self):
        if not self.ticking:
            return
        now = time.monotonic()
        self.max_gap = max(self.max_gap, now - self.last_tick)
        self.last_tick = now
        self.root.after(10, self.tick)

    def start_ticker(self):
        self.ticking = True
        self.max_gap = 0.0
        self.last_tick = time.monotonic()
        self.root.after(10, self.tick)

    def stop_ticker(self):
        self.ticking = False
        self.max_gap = max(self.max_gap, time.monotonic() - self.last_tick)

    def run(self, target=0, ms=None, seconds=120):
        """Runs mainloop (the other threads' root.after needs mainloop, not
        dooneevent) until the handler saw target lines, or for ms."""
        self.count = 0
        self.target = target
        expired = []
        if ms is not None:
            guard = self.root.after(ms, self.root.quit)
        else:
            guard = self.root.after(int(seconds * 1000),
                                    lambda: (expired.append(1),
                                             self.root.quit()))
        self.root.mainloop()
        self.root.after_cancel(guard)
        if expired:
            raise SystemExit("timed out")


def open_courier(root, m, port, cmd, batch):
    import courier_tk as ct
    ct.load(root)
    if batch:
        def on_data(c, lines):
            h = m.handler
            for line in lines:
                h(c, line)
    else:
        on_data = m.handler
    conn = ct.connect("127.0.0.1", port, framing="line", batch=batch,
                      on_data=on_data)
    conn.send(cmd)
    return lambda: conn.close()


def open_thread_queue(root, m, port, cmd):
    import queue
    import threading
    q = queue.Queue()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(cmd.encode() + b"\n")

    def reader():
        for line in sock.makefile("r", encoding="utf-8", newline="\n"):
            q.put(line.rstrip("\n"))
    threading.Thread(target=reader, daemon=True).start()
    state = {"on": True}

    def poll():
        try:
            while True:
                m.handler(None, q.get_nowait())
        except queue.Empty:
            pass
        if state["on"]:
            root.after(10, poll)
    root.after(10, poll)

    def close():
        state["on"] = False
        sock.close()
    return close


def open_asyncio_thread(root, m, port, cmd):
    import asyncio
    import threading
    loop = asyncio.new_event_loop()

    def deliver(lines):
        h = m.handler
        for line in lines:
            h(None, line)

    class Reader(asyncio.Protocol):
        def __init__(self):
            self.partial = b""

        def connection_made(self, transport):
            transport.write(cmd.encode() + b"\n")

        def data_received(self, data):
            *lines, self.partial = (self.partial + data).split(b"\n")
            if lines:
                root.after(0, deliver, [x.decode() for x in lines])

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(loop.create_connection(
            Reader, "127.0.0.1", port))
        loop.run_forever()
    t = threading.Thread(target=run, daemon=True)
    t.start()

    def close():
        loop.call_soon_threadsafe(loop.stop)
    return close


def recipe(name, port, n, paced):
    import tkinter
    root = tkinter.Tk()
    root.withdraw()
    root.update()
    m = Measure(root)
    openers = {
        "courier-line": lambda c: open_courier(root, m, port, c, False),
        "courier-batch": lambda c: open_courier(root, m, port, c, True),
        "thread-queue": lambda c: open_thread_queue(root, m, port, c),
        "asyncio-thread": lambda c: open_asyncio_thread(root, m, port, c),
    }
    opener = openers[name]
    if name.startswith("courier"):
        import courier_tk
        courier_tk.load(root)
    # Warm the CPU and the code paths a little first.
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass

    # Flood.
    m.start_ticker()
    t0 = time.monotonic()
    close = opener("flood %d" % n)
    m.run(target=n)
    elapsed = time.monotonic() - t0
    m.stop_ticker()
    close()
    result = {"recipe": name, "lines": n,
              "lines_per_s": round(n / elapsed),
              "gap_ms": round(m.max_gap * 1000, 1)}

    # Paced.
    m.latencies = []
    close = opener("paced %d %d" % (PACED_RATE, paced))
    m.run(target=paced)
    close()
    lat = sorted(m.latencies)
    m.latencies = None
    result["p50_ms"] = round(lat[len(lat) // 2] / 1e6, 3)
    result["p99_ms"] = round(lat[int(len(lat) * 0.99)] / 1e6, 3)

    # Idle.
    close = opener("idle %g" % (IDLE_SECONDS + 1))
    m.run(ms=300)
    cpu0, wall0 = time.process_time(), time.monotonic()
    m.run(ms=int(IDLE_SECONDS * 1000))
    cpu = time.process_time() - cpu0
    result["idle_cpu_pct"] = round(100 * cpu / (time.monotonic() - wall0), 2)
    close()
    print("result", repr(result), flush=True)
    root.destroy()
    os._exit(0)


# ----------------------------------------------------------------------
# The driver.
# ----------------------------------------------------------------------

def run_child(name, n, paced, timeout):
    me = os.path.abspath(__file__)
    py = sys.executable
    p = subprocess.Popen([py, me, "peer"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    try:
        port = int(p.stdout.readline())
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.join(os.path.dirname(HERE), "python") \
            + os.pathsep + env.get("PYTHONPATH", "")
        out = subprocess.run([py, me, "recipe", name, str(port), str(n),
                              str(paced)], env=env, capture_output=True,
                             text=True, timeout=timeout)
    finally:
        p.stdin.close()
        p.wait(timeout=10)
    for line in out.stdout.splitlines():
        if line.startswith("result "):
            import ast
            return ast.literal_eval(line[len("result "):])
    raise RuntimeError("%s failed (%s):\n%s%s" % (name, out.returncode,
                                                  out.stdout, out.stderr))


def driver(argv):
    quick, repeat = False, 5
    csv = os.path.join(HERE, "results", "tkinter.csv")
    timeout = 180
    while argv:
        opt = argv.pop(0)
        if opt == "-quick":
            quick = True
        elif opt == "-repeat":
            repeat = int(argv.pop(0))
        elif opt == "-csv":
            csv = argv.pop(0)
        elif opt == "-timeout":
            timeout = int(argv.pop(0))
        else:
            sys.exit("unknown option %r: expected -quick, -repeat R, "
                     "-csv FILE or -timeout s" % opt)
    n = 100000 if quick else 1000000
    paced = 1000 if quick else 4000
    runs = {name: [] for name, _ in RECIPES}
    for r in range(repeat):
        for name, _ in RECIPES:
            runs[name].append(run_child(name, n, paced, timeout))
    med = {}
    for name, _ in RECIPES:
        ordered = sorted(runs[name], key=lambda d: d["lines_per_s"])
        best = dict(ordered[(len(ordered) - 1) // 2])
        # Median of each column on its own: one unlucky run decides none.
        for key in ("gap_ms", "p50_ms", "p99_ms", "idle_cpu_pct"):
            best[key] = statistics.median(d[key] for d in runs[name])
        best["range"] = "%d-%d" % (ordered[0]["lines_per_s"],
                                   ordered[-1]["lines_per_s"])
        med[name] = best
    base = med["thread-queue"]["lines_per_s"]
    header = ["recipe", "lines/s", "vs queue", "lines/s range",
              "largest after(10) gap ms", "paced p50 ms", "paced p99 ms",
              "idle CPU %"]
    rows = []
    for name, label in RECIPES:
        d = med[name]
        rows.append([label, str(d["lines_per_s"]),
                     "%.2fx" % (d["lines_per_s"] / base), d["range"],
                     "%.1f" % d["gap_ms"], "%.3f" % d["p50_ms"],
                     "%.3f" % d["p99_ms"], "%.2f" % d["idle_cpu_pct"]])
    print("tkinter: %d lines of 32 bytes, paced %d lines/s x %d, idle %g s;"
          " %d rounds, medians; Python %s" % (n, PACED_RATE, paced,
                                              IDLE_SECONDS, repeat,
                                              sys.version.split()[0]))
    widths = [max(len(r[i]) for r in [header] + rows)
              for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(row, widths))))
    os.makedirs(os.path.dirname(csv), exist_ok=True)
    with open(csv + ".tmp", "w") as f:
        f.write("recipe,lines_per_s,vs_queue,lines_per_s_range,gap_ms,"
                "p50_ms,p99_ms,idle_cpu_pct,lines,paced_lines,rounds\n")
        for name, _ in RECIPES:
            d = med[name]
            f.write("%s,%d,%.2f,%s,%.1f,%.3f,%.3f,%.2f,%d,%d,%d\n" % (
                name, d["lines_per_s"], d["lines_per_s"] / base, d["range"],
                d["gap_ms"], d["p50_ms"], d["p99_ms"], d["idle_cpu_pct"],
                n, paced, repeat))
    os.replace(csv + ".tmp", csv)
    line, batch = med["courier-line"], med["courier-batch"]
    print("targets: per line >= 2x queue: %.2fx; per read >= 3x: %.2fx;"
          " gap <= 25 ms: %.1f / %.1f ms; p50 <= 1 ms: %.3f / %.3f ms"
          % (line["lines_per_s"] / base, batch["lines_per_s"] / base,
             line["gap_ms"], batch["gap_ms"], line["p50_ms"],
             batch["p50_ms"]))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "peer":
        peer()
    elif len(sys.argv) > 1 and sys.argv[1] == "recipe":
        recipe(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]),
               int(sys.argv[5]))
    else:
        driver(sys.argv[1:])
