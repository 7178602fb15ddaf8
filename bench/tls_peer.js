// tls_peer.js --
//
//	The TLS peer process of bench/tls.tcl: a Node.js TLS server on
//	127.0.0.1 that both mechanisms under test (Courier and the `tls`
//	package) connect to as clients, so that they face the same server.
//
//	Usage: node tls_peer.js hold certdir
//	       node tls_peer.js send certdir lines|bulk count
//	  hold	accepts any number of connections, completes their handshakes
//		and keeps them open, sending nothing. A line "stats" on stdin
//		prints "stats <handshakes> <reused> <open>" (reused: sessions
//		resumed, which should stay 0: tickets are turned off).
//	  send	prepares count lines of 20 bytes, or count MiB of bulk data,
//		then waits for a connection; when the client has sent its
//		first bytes ("go") it writes everything, closes (close_notify,
//		then FIN) and prints "sent <bytes> <seconds>".
//	       node tls_peer.js connect certdir port count window
//	  connect  the other way round, for a Courier listener: says
//		"ready", and on a line "go" on stdin opens count connections
//		to 127.0.0.1:port (window in flight at a time), verifying the
//		server's certificate against certdir/ca.pem for localhost,
//		keeps them open and prints "up <count>" (or "error <reason>").
//	hold and send print "port <n>" when listening; all three exit when
//	their standard input closes (the process that started them has
//	gone).

'use strict';
const tls = require('tls');
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const [mode, certdir, kind, countArg, windowArg] = process.argv.slice(2);
let onGo = () => {};
if (mode === 'connect') {
    // kind is the port here.
    const port = Number(kind), count = Number(countArg);
    const window = Number(windowArg);
    const ca = fs.readFileSync(path.join(certdir, 'ca.pem'));
    const sockets = [];
    let opened = 0, up = 0;
    const more = () => {
        while (opened < count && opened - up < window) {
            opened++;
            const s = tls.connect({ host: '127.0.0.1', port, ca,
                servername: 'localhost' }, () => {
                if (++up === count) {
                    console.log(`up ${up}`);
                }
                more();
            });
            s.on('error', (e) => {
                console.log(`error ${e.message}`);
                process.exit(1);
            });
            s.on('data', () => {});
            sockets.push(s);
        }
    };
    onGo = more;
    console.log('ready');
}
const options = mode === 'connect' ? {} : {
    key: fs.readFileSync(path.join(certdir, 'server.key')),
    cert: fs.readFileSync(path.join(certdir, 'server.pem')),
    // Full handshakes only: no session tickets, and no session cache (a
    // Node.js server resumes stateful sessions only through its
    // 'resumeSession' event, which nothing here listens to).
    secureOptions: crypto.constants.SSL_OP_NO_TICKET,
};

let handshakes = 0, reused = 0, open = 0;
let payload = null, chunks = 0;
if (mode === 'send') {
    const count = Number(countArg);
    if (kind === 'lines') {
        payload = Buffer.from('0123456789abcdefghi\n'.repeat(count), 'latin1');
        chunks = 1;
    } else {
        payload = Buffer.alloc(1024 * 1024);
        for (let i = 0; i < payload.length; i++) {
            payload[i] = i & 0xff;
        }
        chunks = count;
    }
} else if (mode !== 'hold' && mode !== 'connect') {
    console.error('usage: node tls_peer.js hold|send|connect certdir ...');
    process.exit(2);
}

function send(socket) {
    const t0 = process.hrtime.bigint();
    let left = chunks;
    const pump = () => {
        while (left > 0) {
            left--;
            if (!socket.write(payload)) {
                socket.once('drain', pump);
                return;
            }
        }
        socket.end(() => {
            const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
            console.log(`sent ${chunks * payload.length} ${seconds}`);
        });
    };
    pump();
}

const server = tls.createServer(options, (socket) => {
    handshakes++;
    open++;
    if (socket.isSessionReused()) {
        reused++;
    }
    socket.on('error', () => {});
    socket.on('close', () => { open--; });
    if (mode === 'send') {
        socket.once('data', () => send(socket));
    } else {
        socket.on('data', () => {});
    }
});
server.on('tlsClientError', () => {});
if (mode !== 'connect') {
    server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, () => {
        console.log(`port ${server.address().port}`);
    });
}

let input = '';
process.stdin.setEncoding('latin1');
process.stdin.on('data', (d) => {
    input += d;
    let i;
    while ((i = input.indexOf('\n')) >= 0) {
        const cmd = input.slice(0, i);
        input = input.slice(i + 1);
        if (cmd === 'go') {
            onGo();
        } else if (cmd === 'stats') {
            console.log(`stats ${handshakes} ${reused} ${open}`);
        }
    }
});
process.stdin.on('end', () => process.exit(0));
