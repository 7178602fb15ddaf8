#!/usr/bin/python3
"""tkinter_listener.py -- the classic "tkinter window with a TCP listener
thread" program, written with Courier instead: no thread, no queue, no
root.after polling. Courier's I/O thread owns the sockets and hands each
line to a Python callback in Tk's own event loop; delivery is
time-budgeted, so the window keeps repainting and answering clicks under
a flood.

The window shows the clients, the last lines received (the view is
refreshed ten times a second from a bounded buffer, never one widget
operation per line), lines/s, and how late a 10 ms timer fires (now and
at worst). The entry sends a line to every client.

Usage:
  python3 demos/tkinter_listener.py [--port 7000] [--host 127.0.0.1]
        [--flood [RATE]] [--quit-after MS]
  python3 demos/tkinter_listener.py --flood-peer HOST PORT [RATE] [COUNT]

  --flood         also start a flood generator (this script with
                  --flood-peer, in a child process) against the listener:
                  RATE lines/s, 0 (the default) as fast as it can
  --quit-after    quit after MS and print one summary line (for scripts)
  --flood-peer    be the generator: connect and send numbered lines

Courier must be on Tcl's package path (TCLLIBPATH=/path/to/build, or
`make install`) and courier_tk on Python's (PYTHONPATH=python, or
`make install`); from the source tree:
  TCLLIBPATH=$PWD PYTHONPATH=$PWD/python python3 demos/tkinter_listener.py --flood
"""

import collections
import socket
import sys
import time


def flood_peer(host, port, rate=0, count=0):
    """The generator: numbered 40-byte lines, forever or count of them."""
    s = socket.create_connection((host, port))
    i = 0
    start = time.monotonic()
    try:
        while not count or i < count:
            if rate:
                k = 1
                delay = start + i / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            else:
                k = 1000 if not count else min(1000, count - i)
            s.sendall(b"".join(b"flood line %012d of the generator\n"
                               % (i + j) for j in range(k)))
            i += k
    except (BrokenPipeError, ConnectionResetError):
        pass
    s.close()


class App:
    def __init__(self, root, host, port, flood, quit_after):
        import tkinter as tk
        import courier_tk
        self.root = root
        self.lines = 0
        self.last_count = 0
        self.recent = collections.deque(maxlen=200)
        self.clients = {}
        self.worst_lag = 0.0
        self.lag = 0.0
        courier_tk.load(root)

        root.title("Courier tkinter listener")
        top = tk.Frame(root)
        top.pack(fill="x")
        self.status = tk.Label(top, anchor="w")
        self.status.pack(side="left", fill="x", expand=True)
        tk.Button(top, text="Reset worst lag",
                  command=self.reset_lag).pack(side="right")
        self.clientlist = tk.Listbox(root, height=4)
        self.clientlist.pack(fill="x")
        self.view = tk.Text(root, height=20, width=80)
        self.view.pack(fill="both", expand=True)
        bottom = tk.Frame(root)
        bottom.pack(fill="x")
        self.entry = tk.Entry(bottom)
        self.entry.pack(side="left", fill="x", expand=True)
        self.entry.bind("<Return>", lambda e: self.send())
        tk.Button(bottom, text="Send to all", command=self.send).pack(
            side="right")

        self.server = courier_tk.listen(
            port, host=host, framing="line", batch=False,
            on_accept=self.on_accept, on_data=self.on_line,
            on_close=self.on_close)
        root.title("Courier tkinter listener on %s:%d"
                   % (host, self.server.port()))
        self.tick_at = time.monotonic()
        root.after(10, self.tick)
        root.after(100, self.refresh)
        self.flood = None
        if flood is not None:
            self.flood = courier_tk.spawn(
                [sys.executable, __file__, "--flood-peer", host,
                 str(self.server.port()), str(flood)],
                stderr="discard", on_exit=lambda p, code, sig: None)
        if quit_after:
            root.after(quit_after, self.quit)

    # Courier callbacks: they run in Tk's thread, between window events.
    def on_accept(self, server, conn, host, port):
        self.clients[conn] = "%s:%d" % (host, port)
        self.clientlist.insert("end", self.clients[conn])

    def on_line(self, conn, line):
        self.lines += 1
        self.recent.append(line)

    def on_close(self, conn, reason):
        name = self.clients.pop(conn, None)
        conn.close()
        if name is not None:
            items = list(self.clientlist.get(0, "end"))
            if name in items:
                self.clientlist.delete(items.index(name))

    def send(self):
        text = self.entry.get()
        for conn in list(self.clients):
            conn.send(text)
        self.entry.delete(0, "end")

    def tick(self):
        now = time.monotonic()
        self.lag = max(0.0, now - self.tick_at - 0.010)
        self.worst_lag = max(self.worst_lag, self.lag)
        self.tick_at = now
        self.root.after(10, self.tick)

    def reset_lag(self):
        self.worst_lag = 0.0

    def refresh(self):
        rate = (self.lines - self.last_count) * 10
        self.last_count = self.lines
        self.status.configure(text="%d clients  %d lines  %d lines/s  "
                              "timer lag %.1f ms (worst %.1f ms)"
                              % (len(self.clients), self.lines, rate,
                                 self.lag * 1000, self.worst_lag * 1000))
        self.view.delete("1.0", "end")
        self.view.insert("end", "\n".join(list(self.recent)[-40:]))
        self.root.after(100, self.refresh)

    def quit(self):
        print("lines %d clients %d worst-lag-ms %.1f"
              % (self.lines, len(self.clients), self.worst_lag * 1000),
              flush=True)
        if self.flood is not None and not self.flood.closed:
            self.flood.kill()
        self.root.destroy()


def main(argv):
    if argv[:1] == ["--flood-peer"]:
        host, port = argv[1], int(argv[2])
        rate = int(argv[3]) if len(argv) > 3 else 0
        count = int(argv[4]) if len(argv) > 4 else 0
        flood_peer(host, port, rate, count)
        return
    import tkinter
    host, port, flood, quit_after = "127.0.0.1", 7000, None, 0
    while argv:
        opt = argv.pop(0)
        if opt == "--port":
            port = int(argv.pop(0))
        elif opt == "--host":
            host = argv.pop(0)
        elif opt == "--flood":
            flood = 0
            if argv and argv[0].isdigit():
                flood = int(argv.pop(0))
        elif opt == "--quit-after":
            quit_after = int(argv.pop(0))
        else:
            sys.exit(__doc__)
    root = tkinter.Tk()
    App(root, host, port, flood, quit_after)
    root.mainloop()


if __name__ == "__main__":
    main(sys.argv[1:])
