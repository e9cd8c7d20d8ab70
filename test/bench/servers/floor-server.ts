// Comparison server "floor": the least a FastAGI server can do: replays, per dialled number, the lines the agent sent. Raw `net`, no
// routing, no parsing beyond line ends: read the environment block, then send the fixed command sequence
// the agent sends for a local call, one command per response, then close. It measures the cost of Node's
// TCP handling itself. Spawned as its own process by agi-bench.ts (transpiled to plain JS first).
import net from 'node:net';

const listen = process.env.BENCH_AGI_LISTEN ?? '127.0.0.1:4573';
const colon = listen.lastIndexOf(':');
const host = listen.slice(0, colon);
const port = Number(listen.slice(colon + 1));

import { readFileSync } from 'node:fs';

const FIXED = ['SET VARIABLE FEDPBX_ROUTE local\n', 'EXEC Dial "PJSIP/101,20,tT"\n', 'GET VARIABLE DIALSTATUS\n'];
/** The agent's recorded lines per dialled number (bench-servers.ts recordedSequences), replayed verbatim. */
const SEQUENCES = new Map<string, string[]>(
  Object.entries(process.env.BENCH_SEQUENCES ? (JSON.parse(readFileSync(process.env.BENCH_SEQUENCES, 'utf8')) as Record<string, string[]>) : {}).map(
    ([ext, lines]) => [ext, lines.map((l) => `${l}\n`)],
  ),
);
const EXTENSION = Buffer.from('agi_extension: ');
const NL = 10;

/** The recorded sequence for this call's agi_extension (a table lookup, no routing). */
function pickSequence(env: Buffer): string[] {
  const at = env.indexOf(EXTENSION);
  if (at < 0) return FIXED;
  const end = env.indexOf(NL, at);
  return SEQUENCES.get(env.toString('latin1', at + EXTENSION.length, end < 0 ? env.length : end)) ?? FIXED;
}

const server = net.createServer({ allowHalfOpen: false }, (socket) => {
  socket.setNoDelay(true);
  let envDone = false;
  let lastByte = -1;
  let step = 0;
  let lineStart = true;
  let hangupLine = false;
  let sequence = FIXED;
  const envChunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    let i = 0;
    if (!envDone) {
      if (SEQUENCES.size > 0) envChunks.push(chunk);
      // The environment block ends with an empty line: "\n\n", possibly split across chunks.
      for (; i < chunk.length; i += 1) {
        const b = chunk[i] as number;
        if (b === NL && lastByte === NL) {
          envDone = true;
          i += 1;
          if (SEQUENCES.size > 0) sequence = pickSequence(Buffer.concat(envChunks));
          socket.write(sequence[step] as string);
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
      if (step < sequence.length) socket.write(sequence[step] as string);
      else socket.end();
    }
  });
  socket.on('error', () => socket.destroy());
});

server.listen(port, host);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => process.exit(0));
