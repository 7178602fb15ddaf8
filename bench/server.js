// server.js --
//
//	The Node.js server of bench/server.tcl: node server.js
//	Listens on 127.0.0.1 (a port of the system's choice, printed as
//	"port N") and serves the line protocol with one callback per read:
//	each complete line is answered with itself, the replies of one read
//	written at once. Exits when its standard input closes.

'use strict';
const net = require('net');

const server = net.createServer((s) => {
  s.setNoDelay(true);
  let rest = '';
  s.on('data', (buf) => {
    const text = rest + buf.toString('latin1');
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      rest = text;
      return;
    }
    rest = text.slice(end + 1);
    let out = '';
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      if (nl < 0 || nl > end) {
	break;
      }
      out += handle(text.slice(from, nl)) + '\n';
      from = nl + 1;
    }
    s.write(out, 'latin1');
  });
  s.on('error', () => s.destroy());
});

// The application's work per line: the same as the Tcl servers' (echo).
function handle(line) {
  return line;
}

server.listen(0, '127.0.0.1', () => {
  console.log('port ' + server.address().port);
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
process.stdin.resume();
