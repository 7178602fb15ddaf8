#!/usr/bin/env python3
# tlspeer.py --
#
#	A TLS peer for tests/tls.test written on Python's ssl module (OpenSSL
#	as Python drives it, no Courier code): one connection, as a server or
#	a client, doing one "action". It prints what a test waits for on
#	stdout, one line each, flushed:
#	    ready PORT          a server listens (before accepting)
#	    sni NAME            the server name the client sent (server)
#	    handshaken VERSION ALPN
#	    got N CRC32         what it read before the end (sink)
#	    sent N CRC32        what it sent (stream)
#	    same N | differ AT  what came back was what it sent (check)
#	    end close_notify|ragged|reset|error TEXT
#	    refused TEXT        its handshake failed
#
#	Usage: tlspeer.py server|client ACTION [options]; see the argument
#	parser below. Actions after the handshake:
#	    echo        sends back every chunk as read, until the end
#	    bytewise    echo, one byte per write (one TLS record per byte)
#	    sink        reads until the end, prints "got"
#	    check       sends --file while reading; once as many bytes came
#	                back, prints "same" or "differ", then close_notify
#	    stream      sends --size bytes (a 1 MiB block repeated), prints
#	                "sent", then close_notify
#	    send        sends --file (--bytewise: one byte per record), then
#	                close_notify, then waits for the end
#	    noread      waits for SIGUSR1 without reading, then acts as sink
#	    reset       sends the first half of a record of --size bytes,
#	                then resets the connection (SO_LINGER 0)
#	    truncate    like reset, but ends with a FIN (no close_notify)
#	    ragged      sends "last line", then a FIN without close_notify
#	    close       sends close_notify at once, then waits for the end
#	Actions that replace the handshake (server):
#	    silent      accepts, never writes, waits for the peer to close
#	    garbage     reads the ClientHello, answers with text, waits
#	    closehs     reads the ClientHello, closes the connection (as a
#	                client: sends half a ClientHello, closes)
#	    starttls    plaintext line protocol first: sends "hello", reads
#	                "STARTTLS", sends "go", then the handshake, then echo
#	Client actions replacing the handshake:
#	    starttls    reads "hello", sends "STARTTLS", reads "go", then the
#	                handshake, then echo
#	    pipelined   sends "STARTTLS" and the ClientHello in one write
#	                (--crlf 1: lines end in CR LF),
#	                then "secret" over TLS; prints "back LINE" for the
#	                line that comes back

import argparse
import os
import select
import signal
import socket
import ssl
import struct
import sys
import zlib


def say(*words):
    print(*words, flush=True)


def parse():
    p = argparse.ArgumentParser()
    p.add_argument('role', choices=['server', 'client'])
    p.add_argument('action')
    p.add_argument('--host', default='127.0.0.1')
    p.add_argument('--port', type=int, default=0)
    p.add_argument('--cert')
    p.add_argument('--key')
    p.add_argument('--ca')
    p.add_argument('--verify', type=int, default=0)
    p.add_argument('--maxversion', choices=['1.2', '1.3'])
    p.add_argument('--alpn', default='')
    p.add_argument('--servername')
    p.add_argument('--file')
    p.add_argument('--bytewise', type=int, default=0)
    p.add_argument('--size', type=int, default=16384)
    p.add_argument('--sndbuf', type=int, default=0)
    p.add_argument('--rcvbuf', type=int, default=0)
    p.add_argument('--crlf', type=int, default=0)
    return p.parse_args()


def context(a):
    if a.role == 'server':
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        if a.verify:
            ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.sni_callback = lambda sobj, name, c: say('sni', name or '-')
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if a.cert:
            ctx.load_cert_chain(a.cert, a.key)
        if not a.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
    if a.ca:
        ctx.load_verify_locations(a.ca)
    if a.maxversion:
        ctx.maximum_version = {'1.2': ssl.TLSVersion.TLSv1_2,
                               '1.3': ssl.TLSVersion.TLSv1_3}[a.maxversion]
    if a.alpn:
        ctx.set_alpn_protocols(a.alpn.split(','))
    return ctx


def readline(sock):
    """One plaintext line, read a byte at a time: nothing after it is
    taken from the socket (it belongs to TLS)."""
    line = b''
    while not line.endswith(b'\n'):
        b = sock.recv(1)
        if not b:
            raise EOFError('eof in plaintext')
        line += b
    return line.rstrip(b'\r\n')


def wait_end(sock):
    """Reads until the end; returns what was read and how it ended."""
    data = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ssl.SSLZeroReturnError:
            return b''.join(data), 'close_notify'
        except ssl.SSLEOFError:
            return b''.join(data), 'ragged'
        except ConnectionResetError:
            return b''.join(data), 'reset'
        except (ssl.SSLError, OSError) as e:
            return b''.join(data), 'error ' + str(e)
        if not chunk:
            if isinstance(sock, ssl.SSLSocket):
                return b''.join(data), 'close_notify'
            return b''.join(data), 'eof'
        data.append(chunk)


def echo(sock, bytewise):
    while True:
        try:
            chunk = sock.recv(65536)
        except ssl.SSLZeroReturnError:
            return 'close_notify'
        except ssl.SSLEOFError:
            return 'ragged'
        except ConnectionResetError:
            return 'reset'
        except (ssl.SSLError, OSError) as e:
            return 'error ' + str(e)
        if not chunk:
            return 'close_notify'
        if bytewise:
            for i in range(len(chunk)):
                sock.sendall(chunk[i:i + 1])
        else:
            sock.sendall(chunk)


def duplex(sock, data):
    """Sends data while reading what comes back, until as much is back or
    the peer ends; returns what came back. One thread: an SSLSocket used
    by two threads at once (a writer and a reader) can corrupt its TLS
    state or hang."""
    sock.setblocking(False)
    sent, back = 0, bytearray()
    while len(back) < len(data):
        moved = False
        if sent < len(data):
            try:
                sent += sock.send(data[sent:sent + 16384])
                moved = True
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError,
                    BlockingIOError):
                pass
        try:
            chunk = sock.recv(65536)
            if not chunk:
                break
            back += chunk
            moved = True
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError,
                BlockingIOError):
            pass
        if not moved:
            select.select([sock], [sock] if sent < len(data) else [], [],
                          1.0)
    sock.setblocking(True)
    return bytes(back)


def finish(sock, how):
    say('end', how)
    if how == 'close_notify':
        try:
            sock.unwrap()
        except (ssl.SSLError, OSError):
            pass
    sock.close()


def bio_handshake(raw, ctx, a, before=b''):
    """A handshake through memory BIOs; the first bytes sent are
    before + the first flight (one write). Returns (obj, inb, outb), or
    None when the peer ended the connection."""
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inb, outb, server_side=(a.role == 'server'),
                       server_hostname=None if a.role == 'server'
                       else a.servername)
    while True:
        try:
            obj.do_handshake()
            break
        except ssl.SSLWantReadError:
            pending = before + outb.read()
            before = b''
            if pending:
                raw.sendall(pending)
            data = raw.recv(65536)
            if not data:
                say('refused', 'eof')
                return None
            inb.write(data)
    pending = outb.read()
    if pending:
        raw.sendall(pending)
    say('handshaken', obj.version(), obj.selected_alpn_protocol() or '-')
    return obj, inb, outb


def pipelined(raw, ctx, a):
    """STARTTLS and the ClientHello in one write; then "secret" over
    TLS, and the line that comes back."""
    got = bio_handshake(raw, ctx, a,
                        b'STARTTLS\r\n' if a.crlf else b'STARTTLS\n')
    if got is None:
        return
    obj, inb, outb = got
    obj.write(b'secret\r\n' if a.crlf else b'secret\n')
    raw.sendall(outb.read())
    back = b''
    while not back.endswith(b'\n'):
        try:
            back += obj.read(65536)
        except ssl.SSLWantReadError:
            data = raw.recv(65536)
            if not data:
                break
            inb.write(data)
    say('back', back.decode().strip())
    raw.close()


def close_notify(sock):
    """Sends close_notify, waits for the peer's; prints how it went."""
    try:
        sock = sock.unwrap()
        say('end', 'close_notify')
    except (ssl.SSLError, OSError) as e:
        say('end', 'error ' + str(e))
    sock.close()


def reset_mid_record(raw, ctx, a):
    """Handshake through memory BIOs, then half a record, then RST."""
    got = bio_handshake(raw, ctx, a)
    if got is None:
        return
    obj, inb, outb = got
    obj.write(b'x' * a.size)
    record = outb.read()
    raw.sendall(record[:len(record) // 2])
    if a.action == 'truncate':
        raw.shutdown(socket.SHUT_WR)
        say('end', 'fin')
        wait_end(raw)
        raw.close()
        return
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                   struct.pack('ii', 1, 0))
    raw.close()
    say('end', 'reset')


def main():
    a = parse()
    signal.alarm(120)   # a peer a test forgot ends anyway
    ctx = context(a)
    if a.role == 'server':
        family = socket.AF_INET6 if ':' in a.host else socket.AF_INET
        ls = socket.socket(family, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind((a.host, a.port))
        ls.listen(1)
        say('ready', ls.getsockname()[1])
        raw, _ = ls.accept()
        ls.close()
    else:
        raw = socket.create_connection((a.host, a.port))
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if a.sndbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, a.sndbuf)
    if a.rcvbuf:
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, a.rcvbuf)

    if a.action == 'silent':
        say('accepted')
        finish(raw, wait_end(raw)[1])
        return
    if a.action == 'closehs' and a.role == 'client':
        # Half of a real ClientHello, then the end of the connection.
        outb = ssl.MemoryBIO()
        obj = ctx.wrap_bio(ssl.MemoryBIO(), outb,
                           server_hostname=a.servername)
        try:
            obj.do_handshake()
        except ssl.SSLWantReadError:
            pass
        hello = outb.read()
        raw.sendall(hello[:len(hello) // 2])
        raw.close()
        say('end', 'closed')
        return
    if a.action in ('garbage', 'closehs'):
        raw.recv(65536)
        if a.action == 'garbage':
            raw.sendall(b'HTTP/1.1 400 Bad Request\r\n\r\nthis is not TLS\n'
                        * 4)
            finish(raw, wait_end(raw)[1])
        else:
            raw.close()
            say('end', 'closed')
        return
    if a.action == 'pipelined':
        pipelined(raw, ctx, a)
        return
    if a.action in ('reset', 'truncate'):
        reset_mid_record(raw, ctx, a)
        return
    if a.action == 'starttls':
        if a.role == 'server':
            raw.sendall(b'hello\n')
            line = readline(raw)
            say('plaintext', line.decode())
            raw.sendall(b'go\n')
        else:
            say('plaintext', readline(raw).decode())
            raw.sendall(b'STARTTLS\n')
            say('plaintext', readline(raw).decode())

    try:
        if a.role == 'server':
            sock = ctx.wrap_socket(raw, server_side=True,
                                   suppress_ragged_eofs=False)
        else:
            sock = ctx.wrap_socket(raw, server_hostname=a.servername,
                                   suppress_ragged_eofs=False)
    except (ssl.SSLError, OSError) as e:
        say('refused', str(e))
        return
    say('handshaken', sock.version(), sock.selected_alpn_protocol() or '-')

    if a.action in ('echo', 'starttls'):
        finish(sock, echo(sock, a.bytewise))
    elif a.action == 'bytewise':
        finish(sock, echo(sock, 1))
    elif a.action in ('sink', 'noread'):
        if a.action == 'noread':
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
            say('waiting')
            signal.sigwait([signal.SIGUSR1])
            say('reading')
        data, how = wait_end(sock)
        say('got', len(data), zlib.crc32(data))
        finish(sock, how)
    elif a.action == 'send':
        with open(a.file, 'rb') as f:
            data = f.read()
        if a.bytewise:
            for i in range(len(data)):
                sock.sendall(data[i:i + 1])
        else:
            sock.sendall(data)
        say('sent', len(data))
        close_notify(sock)
    elif a.action == 'check':
        with open(a.file, 'rb') as f:
            data = f.read()
        back = duplex(sock, data)
        if back == data:
            say('same', len(back))
        else:
            at = next((i for i in range(min(len(back), len(data)))
                       if back[i] != data[i]), min(len(back), len(data)))
            say('differ', at, len(back), len(data))
        close_notify(sock)
    elif a.action == 'stream':
        block = os.urandom(1 << 20)
        left, crc = a.size, 0
        while left > 0:
            piece = block[:min(left, len(block))]
            sock.sendall(piece)
            crc = zlib.crc32(piece, crc)
            left -= len(piece)
        say('sent', a.size, crc)
        close_notify(sock)
    elif a.action == 'ragged':
        sock.sendall(b'last line\n')
        # SSLSocket.shutdown drops the TLS state: a FIN, no close_notify.
        sock.shutdown(socket.SHUT_WR)
        say('end', 'fin')
        sock.close()
    elif a.action == 'close':
        close_notify(sock)
    else:
        say('unknown action', a.action)
        sys.exit(2)


if __name__ == '__main__':
    main()
