"""courier_tk -- Courier for Python's tkinter.

Every tkinter program runs a real Tcl interpreter (``root.tk``), and that
interpreter can load Courier. This module loads it and wraps Courier's Tcl
commands in Python terms, so that a tkinter program does its network I/O
and child processes the way a Tcl/Tk program does with Courier: Courier's
I/O threads own the sockets, complete messages reach Python callbacks in
Tk's own event loop (no Python thread, no polling), delivery is
time-budgeted so the window keeps repainting under a flood, and flow
control bounds memory.

    import tkinter, courier_tk
    root = tkinter.Tk()
    courier_tk.load(root)
    conn = courier_tk.connect("127.0.0.1", 7000, framing="line",
                              on_data=lambda c, line: print(line))
    conn.send("hello")
    root.mainloop()

What it does, in Tcl terms:
  * Each handle has its Python callbacks registered once, as two Tcl
    commands made with ``tk.createcommand``: ``::courier_tk::dN`` for its
    messages (one Python call per message, or per read with
    ``batch=True``) and ``::courier_tk::hN`` for its other events. Both
    are deleted at the next idle pass after the Courier handle is gone
    (``close()``, a spawned process's end, ``root.destroy()``), so nothing
    accumulates. A command trace on the Courier handle says when it goes.
  * Messages arrive as ``bytes`` for raw and length framing and for line
    framing with ``encoding="binary"``, as ``str`` for text lines; with
    ``batch=True`` one call per read receives a list.
  * Errors raised by Courier become ``CourierError`` carrying the Tcl
    ``-errorcode`` as a tuple (``e.errorcode == ('COURIER', 'CLOSED')``).
  * An exception raised in a callback goes to
    ``root.report_callback_exception``, as for tkinter's own callbacks,
    and delivery goes on.
  * ``root.destroy()`` closes every handle the module made for that root.
  * ``spawn_task(root, coro)`` runs ``async def`` code on Tk's event loop
    (no asyncio loop, no thread): ``await`` an ``AsyncConnection``'s
    ``receive()``, ``accept()``, ``sleep(ms)``, or any ``Future``.

Python's own ``_tkinter`` hands every argument of a Tcl-to-Python call over
as a string; byte messages are turned back into bytes with
``str.encode('latin-1')`` (Tcl's string form of a byte array has one
character U+0000..U+00FF per byte).
"""

import sys
import tkinter

__all__ = [
    "CourierError", "load", "connect", "listen", "spawn", "resolve",
    "actor", "configure", "stats", "Connection", "Listener", "Process",
    "Actor", "Future", "Task", "spawn_task", "sleep", "aconnect",
    "AsyncConnection", "AsyncListener", "alisten",
]

_TCL_SETUP = r"""
namespace eval ::courier_tk {}
# Both call Python at global level, as Courier calls its callbacks (so
# that tkinter's setvar/getvar in a callback mean global variables).
# batch cmd conn msgs -- one Python call per read, the messages as words.
proc ::courier_tk::batch {cmd conn msgs} {
    uplevel #0 [linsert $msgs 0 $cmd $conn]
}
# once cmd args -- a one-shot callback: calls cmd, then deletes it (after
# it has returned, never from inside it).
proc ::courier_tk::once {cmd args} {
    try { uplevel #0 [linsert $args 0 $cmd] } finally { rename $cmd {} }
}
# serverinfo server -- $server info, with a copy of its handles list: the
# listener appends to the list it returns, and Courier 0.1.0 aborts
# ("called with shared object") on the next accept while anything, such
# as the interpreter's result seen by tkinter, still holds that list.
proc ::courier_tk::serverinfo {server} {
    set d [$server info]
    set copy {}
    foreach h [dict get $d handles] { lappend copy $h }
    dict set d handles $copy
    return $d
}
"""


class CourierError(Exception):
    """An error raised by Courier (or by this module on its behalf).

    ``errorcode`` is Tcl's ``-errorcode`` as a tuple of strings, for
    example ``('COURIER', 'CLOSED')`` or ``('COURIER', 'VALUE',
    '-framing')``; ``message`` the Tcl error message."""

    def __init__(self, message, errorcode=()):
        super().__init__(message)
        self.message = message
        self.errorcode = tuple(errorcode)

    def __str__(self):
        return self.message


class _Lib:
    """Courier loaded into one Tcl interpreter (one tkinter root)."""

    def __init__(self, root):
        self.root = root
        self.tk = root.tk
        self.handles = {}        # Tcl handle name -> live Python handle
        self.by_cmd = {}         # our callback command -> handle
        self.seq = 0
        self.version = self.tk.call("package", "require", "courier")
        self.tk.eval(_TCL_SETUP)
        self.tk.createcommand("::courier_tk::released", self._released)
        if self.tk.call("info", "commands", "bind"):
            self.tk.createcommand("::courier_tk::destroyed", self._destroyed)
            # A binding tag of our own on "." alone: the application's
            # root.bind("<Destroy>", ...) cannot replace it, and the
            # destruction of other widgets does not trigger it.
            self.tk.eval("bind CourierTk <Destroy> ::courier_tk::destroyed;"
                         " bindtags . [linsert [bindtags .] 0 CourierTk]")

    def call(self, *args):
        """tk.call, with Tcl errors turned into CourierError."""
        try:
            return self.tk.call(*args)
        except tkinter.TclError as e:
            raise self.error(e) from None

    def error(self, e):
        try:
            code = self.tk.getvar("::errorCode")
            if isinstance(code, str):
                code = self.tk.splitlist(code)
            code = tuple(str(x) for x in code)
        except tkinter.TclError:
            code = ()
        return CourierError(str(e), code)

    def new_cmd(self, func, prefix="h"):
        self.seq += 1
        name = "::courier_tk::%s%d" % (prefix, self.seq)
        self.tk.createcommand(name, func)
        return name

    def report(self):
        """Reports the exception being handled the way tkinter does."""
        self.root.report_callback_exception(*sys.exc_info())

    def track(self, handle):
        """Registers a live handle; a trace on its Tcl command releases it."""
        self.handles[handle.name] = handle
        self.by_cmd[handle._cmd] = handle
        self.tk.call("trace", "add", "command", handle.name, "delete",
                     ("::courier_tk::released", handle._cmd))

    def _released(self, cmd, *ignored):
        # The Tcl handle is gone (deleted by close, by Courier itself after
        # a spawned process's -onexit, or by the interpreter's deletion):
        # forget it and delete its callback commands.
        handle = self.by_cmd.pop(cmd, None)
        if handle is None:
            return
        self.handles.pop(handle.name, None)
        handle._gone = True
        # Not deleted here: this may run inside one of them (a handle
        # closed from its own callback), and a tkinter command deleted
        # while it runs fails that call (Python 3.11: an empty TclError
        # instead of its result). Each is gone after the next idle pass.
        for name in handle._cmds():
            self.tk.call("after", "idle", ("rename", name, ""))

    def _destroyed(self):
        # root.destroy(): close every handle still open, gracefully.
        for handle in list(self.handles.values()):
            try:
                handle.close()
            except Exception:
                pass


_libs = {}          # id(tkapp) -> _Lib
_default = None     # the _Lib of the last load()


def load(root, path=None):
    """Loads Courier into root's Tcl interpreter; returns its version.

    ``path``: a directory to add to Tcl's ``auto_path`` first (the build
    tree, or where ``make install`` put the package), for when
    ``TCLLIBPATH`` does not name it. Calling it again for the same root
    does nothing more. The last root loaded is the default of the other
    functions."""
    global _default
    lib = _libs.get(id(root.tk))
    if lib is None or lib.tk is not root.tk:
        if path is not None:
            root.tk.call("lappend", "::auto_path", str(path))
        try:
            lib = _Lib(root)
        except tkinter.TclError as e:
            raise CourierError("cannot load Courier: %s" % e,
                               ("COURIER", "LOAD")) from None
        _libs[id(root.tk)] = lib
    _default = lib
    return lib.version


def _lib(root):
    if root is None:
        if _default is None:
            raise CourierError("Courier is not loaded: call "
                               "courier_tk.load(root) first",
                               ("COURIER", "LOAD"))
        return _default
    lib = _libs.get(id(root.tk))
    if lib is None or lib.tk is not root.tk:
        load(root)
        lib = _libs[id(root.tk)]
    return lib


def _tcl_options(kwargs):
    """Python keyword arguments -> Tcl options: max_message=5 -> -maxmessage 5."""
    out = []
    for key, value in kwargs.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = int(value)
        elif isinstance(value, dict):
            value = tuple(str(x) for kv in value.items() for x in kv)
        out += ["-" + key.replace("_", ""), value]
    return out


def _value(tk, v):
    """A Tcl value from an info dict: int when it is one, else a string."""
    v = str(v)
    try:
        return int(v)
    except ValueError:
        return v


def _info_dict(lib, raw):
    words = lib.tk.splitlist(raw)
    out = {}
    for key, v in zip(words[0::2], words[1::2]):
        key = str(key)
        if key in ("peer", "local", "reason", "handles"):
            out[key] = tuple(_value(lib.tk, x) for x in lib.tk.splitlist(v))
        else:
            out[key] = _value(lib.tk, v)
    return out


def _ignore(*args):
    pass


_CALLBACKS = ("on_connect", "on_data", "on_close", "on_error", "on_drain",
              "on_exit")


class _Handle:
    """What connections, listeners and processes share."""

    _gone = False

    def __init__(self, lib):
        self._lib = lib
        self._cmd = lib.new_cmd(self._dispatch)
        self.name = None

    def _cmds(self):
        return (self._cmd,)

    def __repr__(self):
        return "<%s %s%s>" % (type(self).__name__, self.name,
                              " (closed)" if self._gone else "")

    def _dispatch(self, kind, name, *args):
        try:
            self._event(kind, args)
        except SystemExit:
            raise
        except BaseException:
            self._lib.report()

    def _call(self, *args):
        if self._gone:
            raise CourierError("%s is closed" % self.name,
                               ("COURIER", "CLOSED"))
        return self._lib.call(self.name, *args)

    def info(self):
        """The handle's ``info`` as a dict (ints where numbers)."""
        return _info_dict(self._lib, self._call("info"))

    def cget(self, option):
        return self._call("cget", "-" + option.replace("_", ""))

    @property
    def closed(self):
        """True once the Tcl handle is gone."""
        return self._gone


class Connection(_Handle):
    """A TCP connection (from ``connect`` or accepted by a ``Listener``).

    Callbacks (each optional, each called with the Connection first):
    ``on_connect(conn)``, ``on_data(conn, message)`` (a list of messages
    with ``batch=True``), ``on_close(conn, reason)`` with reason a tuple
    (``('eof',)``, ``('reset', message, 'ECONNRESET')`` ...),
    ``on_error(conn, message)``, ``on_drain(conn)``."""

    def __init__(self, lib, callbacks):
        super().__init__(lib)
        self._cbs = dict(callbacks)
        self._on_data = self._cbs.get("on_data") or _ignore
        self._binary = False
        self._batch = False
        # Messages have a command of their own: one Python call per
        # message (or per read with batch), nothing else on the way.
        report = lib.report

        def data(name, msg, *more):
            try:
                if self._batch:
                    msgs = [msg, *more]
                    if self._binary:
                        msgs = [m.encode("latin-1") for m in msgs]
                    self._on_data(self, msgs)
                elif self._binary:
                    self._on_data(self, msg.encode("latin-1"))
                else:
                    self._on_data(self, msg)
            except SystemExit:
                raise
            except BaseException:
                report()
        self._dcmd = lib.new_cmd(data, "d")

    def _cmds(self):
        return (self._cmd, self._dcmd)

    def _data_prefix(self):
        if self._batch:
            return ("::courier_tk::batch", self._dcmd)
        return (self._dcmd,)

    def _tcl_callbacks(self):
        cmd = self._cmd
        return ["-onconnect", (cmd, "o"), "-ondata", self._data_prefix(),
                "-onclose", (cmd, "c"), "-onerror", (cmd, "e"),
                "-ondrain", (cmd, "w")]

    def _set_mode(self, framing, encoding, batch):
        self._binary = (framing in ("raw", "length")
                        or (framing == "line" and encoding == "binary"))
        self._batch = bool(batch)

    def _read_mode(self):
        self._set_mode(str(self._lib.tk.call(self.name, "cget", "-framing")),
                       str(self._lib.tk.call(self.name, "cget", "-encoding")),
                       int(self._lib.tk.call(self.name, "cget", "-batch")))

    def _event(self, kind, args):
        if kind == "c":
            cb = self._cbs.get("on_close")
            if cb is not None:
                cb(self, tuple(str(x) for x in
                               self._lib.tk.splitlist(args[0])))
        elif kind == "e":
            cb = self._cbs.get("on_error")
            if cb is not None:
                cb(self, str(args[0]))
        elif kind == "o":
            cb = self._cbs.get("on_connect")
            if cb is not None:
                cb(self)
        elif kind == "w":
            cb = self._cbs.get("on_drain")
            if cb is not None:
                cb(self)
        elif kind == "x":
            cb = self._cbs.get("on_exit")
            if cb is not None:
                cb(self, int(args[0]), str(args[1]))

    def send(self, data):
        """Queues ``data`` (bytes or str) and returns at once. Line framing
        adds the end of line, length framing the prefix. CourierError
        ``('COURIER', 'CLOSED')`` once closed. For bytes on line framing
        use ``encoding="binary"``."""
        if self._gone:
            raise CourierError("%s is closed" % self.name,
                               ("COURIER", "CLOSED"))
        try:
            self._lib.tk.call(self.name, "send", data)
        except tkinter.TclError as e:
            raise self._lib.error(e) from None

    def close(self, now=False):
        """Closes the connection (``now``: reset at once). No callback runs
        afterwards. Closing twice does nothing."""
        if self._gone:
            return
        if now:
            self._lib.call(self.name, "close", "-now")
        else:
            self._lib.call(self.name, "close")

    def shutdown(self):
        """Half-close: FIN after what was sent; reading goes on."""
        self._call("shutdown", "write")

    def pause(self):
        self._call("pause")

    def resume(self):
        self._call("resume")

    def configure(self, **options):
        """Connection options (framing, encoding, batch, max_message, ...)
        and callbacks (on_data=..., ...)."""
        cbs = {k: options.pop(k) for k in list(options) if k in _CALLBACKS}
        self._cbs.update(cbs)
        if "on_data" in cbs:
            self._on_data = cbs["on_data"] or _ignore
        if options:
            self._call("configure", *_tcl_options(options))
            self._read_mode()
            if "batch" in options:
                self._call("configure", "-ondata", self._data_prefix())


class Process(Connection):
    """A child process (``spawn``): its output as messages, ``send`` to its
    stdin. ``on_exit(proc, exitcode, signal)`` runs once it exited and its
    output was delivered; the handle is gone after it."""

    def _tcl_callbacks(self):
        cbs = super()._tcl_callbacks()
        return cbs[2:] + ["-onexit", (self._cmd, "x")]

    def close(self, now=False):
        """Closes the child's stdin (it reads end-of-file); output and
        ``on_exit`` still come. ``now``: drop the handle at once, the child
        gets SIGTERM."""
        if self._gone:
            return
        self._lib.call(self.name, "close", *(["-now"] if now else []))

    def kill(self, signal="TERM"):
        self._call("kill", signal)

    def pid(self):
        return int(self._call("pid"))


class Listener(_Handle):
    """A TCP listener. ``on_accept(server, conn, host, port)`` runs for each
    accepted ``Connection``, which already carries the listener's
    connection callbacks; ``on_accept_error(server, message, errname)``."""

    def __init__(self, lib, callbacks, conn_callbacks):
        super().__init__(lib)
        self._cbs = dict(callbacks)
        self._conn_cbs = dict(conn_callbacks)

    def _event(self, kind, args):
        if kind == "a":
            tclconn, host, port = args
            conn = Connection(self._lib, self._conn_cbs)
            conn.name = str(tclconn)
            conn._read_mode()
            self._lib.tk.call(conn.name, "configure", *conn._tcl_callbacks())
            self._lib.track(conn)
            cb = self._cbs.get("on_accept")
            if cb is not None:
                cb(self, conn, str(host), int(port))
        elif kind == "f":
            cb = self._cbs.get("on_accept_error")
            if cb is not None:
                cb(self, str(args[0]), str(args[1]))

    def port(self):
        return int(self._call("port"))

    def info(self):
        """The listener's ``info`` as a dict (``handles`` a tuple)."""
        if self._gone:
            raise CourierError("%s is closed" % self.name,
                               ("COURIER", "CLOSED"))
        return _info_dict(self._lib, self._lib.call(
            "::courier_tk::serverinfo", self.name))

    def close(self):
        """Stops listening; accepted connections stay open."""
        if not self._gone:
            self._lib.call(self.name, "close")


def _split_callbacks(kwargs, names):
    return {k: kwargs.pop(k) for k in list(kwargs) if k in names}


def connect(host, port, root=None, **options):
    """``courier::connect``: returns a Connection at once; lookup and
    connect happen off Tk's thread. Options as in Tcl without the dash
    (``framing="line"``, ``timeout=2000``, ``max_message=...``,
    ``batch=True``) plus the callbacks of Connection."""
    lib = _lib(root)
    cbs = _split_callbacks(options, _CALLBACKS)
    conn = Connection(lib, cbs)
    conn._set_mode(options.get("framing", "raw"),
                   options.get("encoding", "utf-8"), options.get("batch"))
    try:
        conn.name = str(lib.call("courier::connect", host, port,
                                 *_tcl_options(options),
                                 *conn._tcl_callbacks()))
    except BaseException:
        for name in conn._cmds():
            lib.tk.deletecommand(name)
        raise
    lib.track(conn)
    return conn


def listen(port, root=None, **options):
    """``courier::listen``: returns a Listener, bound before it returns.
    ``host="127.0.0.1"`` by default; connection options and callbacks
    apply to every accepted connection."""
    lib = _lib(root)
    conn_cbs = _split_callbacks(options, _CALLBACKS)
    cbs = _split_callbacks(options, ("on_accept", "on_accept_error"))
    server = Listener(lib, cbs, conn_cbs)
    try:
        server.name = str(lib.call(
            "courier::listen", port, *_tcl_options(options),
            "-onaccept", (server._cmd, "a"),
            "-onaccepterror", (server._cmd, "f")))
    except BaseException:
        lib.tk.deletecommand(server._cmd)
        raise
    lib.track(server)
    return server


def spawn(argv, root=None, **options):
    """``courier::spawn``: runs argv (a list; no shell) with its stdin and
    stdout joined to the returned Process. ``env`` is a dict; ``stderr``
    ``"inherit"``, ``"merge"`` or ``"discard"``."""
    lib = _lib(root)
    cbs = _split_callbacks(options, _CALLBACKS)
    proc = Process(lib, cbs)
    proc._set_mode(options.get("framing", "line"),
                   options.get("encoding", "utf-8"), options.get("batch"))
    try:
        proc.name = str(lib.call("courier::spawn", tuple(argv),
                                 *_tcl_options(options),
                                 *proc._tcl_callbacks()))
    except BaseException:
        for name in proc._cmds():
            lib.tk.deletecommand(name)
        raise
    lib.track(proc)
    return proc


def _once(lib, func, prefix):
    """A one-shot Tcl callback: reports exceptions, deleted after its call."""
    def call(*args):
        try:
            func(*args)
        except SystemExit:
            raise
        except BaseException:
            lib.report()
    return ("::courier_tk::once", lib.new_cmd(call, prefix))


def resolve(host, callback, family=None, root=None):
    """``courier::resolve``: looks host up off Tk's thread; later
    ``callback('ok', [address, ...])`` or ``callback('error', message)``."""
    lib = _lib(root)

    def done(status, result):
        status = str(status)
        if status == "ok":
            callback(status, [str(a) for a in lib.tk.splitlist(result)])
        else:
            callback(status, str(result))
    cmd = _once(lib, done, "r")
    try:
        lib.call("courier::resolve", host,
                 *_tcl_options({"family": family}), "-command", cmd)
    except BaseException:
        lib.tk.call("rename", cmd[1], "")
        raise


class Actor:
    """A Courier actor: Tcl code (``init``) in a thread of its own with its
    own interpreter. ``tell(cmd, *args)`` queues a Tcl command;
    ``ask(callback, cmd, *args, timeout=None)`` calls
    ``callback('ok', result)``, ``callback('error', message, errorcode)``
    or ``callback('timeout')`` in Tk's thread later."""

    def __init__(self, lib, handle):
        self._lib = lib
        self.handle = handle

    def tell(self, *words):
        self._lib.call(self.handle, "tell", "--", *words)

    def ask(self, callback, *words, timeout=None):
        lib = self._lib

        def done(status, *rest):
            status = str(status)
            if status == "error":
                callback(status, str(rest[0]),
                         tuple(str(x) for x in lib.tk.splitlist(rest[1])))
            else:
                callback(status, *[str(x) for x in rest])
        cmd = _once(lib, done, "a")
        opts = ["-timeout", timeout] if timeout is not None else []
        try:
            lib.call(self.handle, "ask", *opts, "-command", cmd, "--",
                     *words)
        except BaseException:
            lib.tk.call("rename", cmd[1], "")
            raise

    def stop(self, now=False):
        return int(self._lib.call(self.handle, "stop",
                                  *(["-now"] if now else [])))

    def info(self):
        return _info_dict(self._lib, self._lib.call(self.handle, "info"))


def actor(name=None, root=None, **options):
    """``courier::actor create``: options ``init`` (a Tcl script),
    ``mailbox``, ``restart``, ``max_restarts``, ``within``. Its crashes go
    to Tcl's background error handler unless ``on_error`` is given."""
    lib = _lib(root)
    cmds = []
    extra = []
    on_error = options.pop("on_error", None)
    on_exit = options.pop("on_exit", None)
    if on_error is not None:
        cmds.append(lib.new_cmd(_reporting(lib, on_error), "actor"))
        extra += ["-onerror", cmds[-1]]

    def ended(handle, reason):
        # The actor's commands go once it has ended (after this call).
        for cmd in cmds:
            lib.tk.call("after", "idle", ("rename", cmd, ""))
        if on_exit is not None:
            on_exit(handle, reason)
    cmds.append(lib.new_cmd(_reporting(lib, ended), "actor"))
    extra += ["-onexit", cmds[-1]]
    args = ([name] if name else []) + _tcl_options(options) + extra
    try:
        return Actor(lib, str(lib.call("courier::actor", "create", *args)))
    except BaseException:
        for cmd in cmds:
            lib.tk.deletecommand(cmd)
        raise


def _reporting(lib, func):
    def call(*args):
        try:
            func(*[str(a) for a in args])
        except SystemExit:
            raise
        except BaseException:
            lib.report()
    return call


def configure(root=None, **options):
    """``courier::configure``: with no option, the settings as a dict
    (keys without the dash: ``{'budget': 4000, ...}``)."""
    lib = _lib(root)
    if not options:
        d = _info_dict(lib, lib.call("courier::configure"))
        return {k.lstrip("-"): v for k, v in d.items()}
    lib.call("courier::configure", *_tcl_options(options))


def stats(reset=False, root=None):
    """``courier::stats`` as a dict."""
    lib = _lib(root)
    return _info_dict(lib, lib.call("courier::stats",
                                    *(["-reset"] if reset else [])))


# ---------------------------------------------------------------------
# async def on Tk's event loop: no asyncio loop, no thread. A Task steps
# its coroutine from the Courier (or after) callback that completes the
# Future it awaits, in the same event.
# ---------------------------------------------------------------------

class Future:
    """Something a coroutine run by ``spawn_task`` can ``await``."""

    _PENDING = object()

    def __init__(self):
        self._result = Future._PENDING
        self._exc = None
        self._waiters = []

    def done(self):
        return self._result is not Future._PENDING or self._exc is not None

    def result(self):
        if self._exc is not None:
            raise self._exc
        if self._result is Future._PENDING:
            raise CourierError("the future is not done", ("COURIER", "BUSY"))
        return self._result

    def set_result(self, value):
        if not self.done():
            self._result = value
            self._wake()

    def set_exception(self, exc):
        if not self.done():
            self._exc = exc
            self._wake()

    def _wake(self):
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            w(self)

    def add_done_callback(self, func):
        if self.done():
            func(self)
        else:
            self._waiters.append(func)

    def remove_done_callback(self, func):
        if func in self._waiters:
            self._waiters.remove(func)

    def __await__(self):
        if not self.done():
            yield self
        return self.result()


class Task(Future):
    """Runs a coroutine on Tk's event loop; is itself a Future of its
    result. An exception nobody awaits goes to report_callback_exception."""

    def __init__(self, lib, coro):
        super().__init__()
        self._lib = lib
        self._coro = coro
        self._awaited = False
        self._waiting = None
        self._step(None, None)

    def __await__(self):
        self._awaited = True
        return super().__await__()

    def add_done_callback(self, func):
        self._awaited = True
        super().add_done_callback(func)

    def cancel(self):
        """Throws CourierError('COURIER', 'CANCELLED') into the coroutine."""
        if not self.done():
            if self._waiting is not None:
                self._waiting.remove_done_callback(self._wakeup)
                self._waiting = None
            self._step(None, CourierError("task cancelled",
                                          ("COURIER", "CANCELLED")))

    def _wakeup(self, fut):
        self._waiting = None
        try:
            value = fut.result()
        except BaseException as e:
            self._step(None, e)
        else:
            self._step(value, None)

    def _step(self, value, exc):
        try:
            if exc is not None:
                fut = self._coro.throw(exc)
            else:
                fut = self._coro.send(value)
        except StopIteration as stop:
            self.set_result(stop.value)
            return
        except SystemExit:
            raise
        except BaseException as e:
            self.set_exception(e)
            if not self._awaited:
                try:
                    raise e
                except BaseException:
                    self._lib.report()
            return
        if not isinstance(fut, Future):
            self._step(None, CourierError(
                "courier_tk tasks await only courier_tk futures, not %r"
                % (fut,), ("COURIER", "USAGE")))
            return
        self._waiting = fut
        fut.add_done_callback(self._wakeup)


def spawn_task(coro, root=None):
    """Runs the coroutine ``coro`` (from an ``async def``) on Tk's event
    loop until its first ``await``; returns its Task."""
    return Task(_lib(root), coro)


def sleep(ms, root=None):
    """A Future done after ms milliseconds (``await courier_tk.sleep(100)``)."""
    lib = _lib(root)
    fut = Future()

    def fire():
        fut.set_result(None)
    cmd = _once(lib, fire, "s")
    lib.tk.call("after", int(ms), cmd)
    return fut


class AsyncConnection:
    """A Connection whose messages queue up for ``await receive()``.
    ``receive`` raises CourierError ``('COURIER', 'CLOSED', reason...)``
    once the peer closed and the queue is empty. More than ``high``
    queued messages pause reading (TCP then holds the peer back)."""

    def __init__(self, high=10000):
        self._queue = []
        self._head = 0
        self._waiters = []
        self._reason = None
        self._high = high
        self._paused = False
        self.conn = None
        self.opened = Future()

    def _callbacks(self):
        return {"on_data": self._data, "on_close": self._closed,
                "on_connect": self._open}

    def _open(self, conn):
        self.opened.set_result(self)

    def _data(self, conn, msg):
        if self._waiters:
            self._waiters.pop(0).set_result(msg)
            return
        self._queue.append(msg)
        if len(self._queue) - self._head > self._high and not self._paused:
            self._paused = True
            conn.pause()

    def _closed(self, conn, reason):
        self._reason = reason
        err = CourierError("connection closed: %s" % " ".join(reason),
                           ("COURIER", "CLOSED") + tuple(reason))
        self.opened.set_exception(err)
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            w.set_exception(err)

    def receive(self):
        """A Future of the next message."""
        fut = Future()
        if self._head < len(self._queue):
            msg = self._queue[self._head]
            self._head += 1
            if self._head > 1024 and self._head * 2 > len(self._queue):
                del self._queue[:self._head]
                self._head = 0
            if self._paused and len(self._queue) - self._head <= self._high // 2:
                self._paused = False
                if not self.conn.closed:
                    self.conn.resume()
            fut.set_result(msg)
        elif self._reason is not None or self.conn.closed:
            reason = self._reason or ("closed",)
            fut.set_exception(CourierError(
                "connection closed: %s" % " ".join(reason),
                ("COURIER", "CLOSED") + tuple(reason)))
        else:
            self._waiters.append(fut)
        return fut

    def send(self, data):
        self.conn.send(data)

    def close(self, now=False):
        self.conn.close(now)
        err = CourierError("connection closed: closed",
                           ("COURIER", "CLOSED", "closed"))
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            w.set_exception(err)


def aconnect(host, port, root=None, **options):
    """A Future of an open AsyncConnection (``conn = await
    courier_tk.aconnect(...)``); a failed connect raises CourierError
    ``('COURIER', 'CLOSED', ...)``."""
    ac = AsyncConnection(options.pop("high", 10000))
    for key in ("on_data", "on_close", "on_connect"):
        if key in options:
            raise CourierError("aconnect sets %s itself" % key,
                               ("COURIER", "USAGE", key))
    ac.conn = connect(host, port, root=root, **ac._callbacks(), **options)
    return ac.opened


class AsyncListener:
    """A Listener whose accepted connections queue up for ``await
    accept()`` as AsyncConnections."""

    def __init__(self, port, root=None, **options):
        self._accepted = []
        self._waiters = []
        self.server = listen(port, root=root, on_accept=self._accept,
                             **options)

    def _accept(self, server, conn, host, port):
        ac = AsyncConnection()
        ac.conn = conn
        conn.configure(**ac._callbacks())
        ac.opened.set_result(ac)
        if self._waiters:
            self._waiters.pop(0).set_result(ac)
        else:
            self._accepted.append(ac)

    def port(self):
        return self.server.port()

    def accept(self):
        """A Future of the next accepted AsyncConnection."""
        fut = Future()
        if self._accepted:
            fut.set_result(self._accepted.pop(0))
        else:
            self._waiters.append(fut)
        return fut

    def close(self):
        self.server.close()


def alisten(port, root=None, **options):
    """``listen`` for async code: returns an AsyncListener."""
    return AsyncListener(port, root=root, **options)
