// load.js --
//
//	The load generator of bench/server.tcl, a process of its own:
//	node load.js port clients depth warmupMs ms
//	Opens `clients` connections to 127.0.0.1:port and keeps `depth`
//	request lines in flight on each (pipelining): every reply line read
//	is answered by one more request, written together per read. After
//	warmupMs it counts the replies for ms, then prints one line
//	"result replies N seconds S clients C depth D" and exits. Replies
//	must equal requests line for line (an echo); a mismatch or a lost
//	connection is an error (exit 1).

'use strict';
const net = require('net');

const [port, clients, depth, warmupMs, ms] =
    process.argv.slice(2).map((a) => parseInt(a, 10));
// 31 characters and LF: a small request, as an interactive protocol's.
const request = Buffer.from('GET /0123456789abcdefghijklmnopq\n');
const batches = [];
for (let k = 0; k <= depth; k++) {
  batches.push(Buffer.concat(Array(k).fill(request)));
}

let counting = false;
let replies = 0;
let open = 0;
let failed = null;
const sockets = [];

function fail(why) {
  if (failed === null) {
    failed = why;
    console.error('load.js: ' + why);
    process.exit(1);
  }
}

for (let i = 0; i < clients; i++) {
  const s = net.connect(port, '127.0.0.1');
  s.setNoDelay(true);
  let partial = 0;		// Bytes of an incomplete reply line.
  s.on('connect', () => {
    open++;
    s.write(batches[depth]);
  });
  s.on('data', (buf) => {
    // Count whole lines: every reply is request.length bytes.
    const bytes = partial + buf.length;
    const lines = Math.floor(bytes / request.length);
    partial = bytes % request.length;
    if (lines > 0) {
      if (counting) {
	replies += lines;
      }
      let left = lines;
      while (left > depth) {
	s.write(batches[depth]);
	left -= depth;
      }
      s.write(batches[left]);
    }
  });
  s.on('error', (e) => fail('connection error: ' + e.message));
  s.on('close', () => { if (!done) fail('connection closed by the server'); });
  sockets.push(s);
}

let done = false;
setTimeout(() => {
  counting = true;
  const t0 = process.hrtime.bigint();
  setTimeout(() => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    counting = false;
    done = true;
    console.log(`result replies ${replies} seconds ${seconds.toFixed(3)}` +
	` clients ${clients} depth ${depth} open ${open}`);
    for (const s of sockets) {
      s.destroy();
    }
    process.exit(0);
  }, ms);
}, warmupMs);
