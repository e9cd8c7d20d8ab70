// Comparison server "floor": the least a FastAGI server can do for a simple local call. Raw `net`, no
// routing, no parsing beyond line ends: read the environment block, then send the fixed command sequence
// the agent sends for a local call, one command per response, then close. It measures the cost of Node's
// TCP handling itself. Spawned as its own process by agi-bench.ts (transpiled to plain JS first).
import net from 'node:net';

const listen = process.env.BENCH_AGI_LISTEN ?? '127.0.0.1:4573';
const colon = listen.lastIndexOf(':');
const host = listen.slice(0, colon);
const port = Number(listen.slice(colon + 1));

const SEQUENCE = ['SET VARIABLE FEDPBX_ROUTE local\n', 'EXEC Dial "PJSIP/101,20,tT"\n', 'GET VARIABLE DIALSTATUS\n'];
const NL = 10;

const server = net.createServer({ allowHalfOpen: false }, (socket) => {
  socket.setNoDelay(true);
  let envDone = false;
  let lastByte = -1;
  let step = 0;
  let lineStart = true;
  let hangupLine = false;
  socket.on('data', (chunk: Buffer) => {
    let i = 0;
    if (!envDone) {
      // The environment block ends with an empty line: "\n\n", possibly split across chunks.
      for (; i < chunk.length; i += 1) {
        const b = chunk[i] as number;
        if (b === NL && lastByte === NL) {
          envDone = true;
          i += 1;
          socket.write(SEQUENCE[step] as string);
          break;
        }
        lastByte = b;
      }
      if (!envDone) return;
    }
    // Every response is one line; "HANGUP" lines are notifications, not answers.
    for (; i < chunk.length; i += 1) {
      const b = chunk[i] as number;
      if (lineStart) {
        hangupLine = b === 0x48; // 'H' (responses start with a digit)
        lineStart = false;
      }
      if (b !== NL) continue;
      lineStart = true;
      if (hangupLine) continue;
      step += 1;
      if (step < SEQUENCE.length) socket.write(SEQUENCE[step] as string);
      else socket.end();
    }
  });
  socket.on('error', () => socket.destroy());
});

server.listen(port, host);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
