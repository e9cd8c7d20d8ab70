// npm run bench:agi-ttfc - where a call's time to first command (TTFC) goes inside the server, the agent's against a
// floor's, timed in the server process itself: bench:agi gives the total as the load generator sees it, and on a
// shared 2-core machine its noise is larger than the differences a step on this path makes.
//
// Each server runs in a process of its own pinned to CPU 1 (the load generator on CPU 0, as bench:agi pins them):
// the agent's AgiServer, AgiSession and CallHandler on bench:agi's 100,000-extension head office (from the source of
// this checkout, or of another one: `BENCH_TTFC_SERVERS='base=agent@/path/to/checkout,agent,floor'`), or a floor
// server doing what test/bench/servers/floor-server.ts does. Calls are placed one at a time with the faithful peer
// (bench:agi's agent mix), BENCH_TTFC_GAP_MS apart, BENCH_TTFC_CALLS per server per round, the servers taking turns
// in every round (BENCH_TTFC_ROUNDS) in an order rotated per round. Per call the server notes, with
// `performance.now()`, the TCP handle's `onconnection` (entry and return: Node's Socket and the connection listener),
// the read that brought the environment, and the first command's write to the handle; nothing of the server's own
// code is changed. Printed per server and round, medians in µs:
//   conn   accept: Node's Socket and the connection listener (the session's setup)
//   gap    from there to the environment's read (the event loop's turn; the bytes are usually there already)
//   rw     from that read to the first command's write (environment parsed, call routed, first line built)
//   total  from the accept to the write; and the client's TTFC (from its connect to the first line).
// Run: node --conditions=@fedpbx/source --import tsx test/bench/agi-ttfc-path.ts
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { placeCall } from '../support/asterisk/fastagi-peer.js';
import { AGENT_MIX, BENCH_SITE, benchFederation } from './agent-bench-setup.js';
import { mixPicker } from './call-mix.js';

interface TcpHandle {
  onconnection: (...args: unknown[]) => void;
  onread: (...args: unknown[]) => unknown;
}

type Segment = 'conn' | 'gap' | 'rw' | 'total';
const SEGMENTS: readonly Segment[] = ['conn', 'gap', 'rw', 'total'];

/** The server side: timestamps of the call being served (calls come one at a time). */
class PathTimer {
  private readonly samples: Record<Segment, number[]> = { conn: [], gap: [], rw: [], total: [] };
  private connStart = 0;
  private connEnd = 0;
  private envRead = 0;
  /** The current call's first command is written (or no call yet). */
  private written = true;

  /** Times the listener's accepts (its handle's onconnection, which makes the Socket and calls the listener). */
  watch(server: net.Server): void {
    wrapAccepts(server, this);
  }

  /** Every string write to a TCP handle (the agent's direct writes and `socket.write` alike) goes through here. */
  hookWrites(): void {
    wrapWrites(this);
  }

  connStarted(): void {
    this.connStart = performance.now();
    this.written = false;
  }

  connEnded(): void {
    this.connEnd = performance.now();
  }

  read(): void {
    if (!this.written) this.envRead = performance.now();
  }

  wrote(): void {
    if (!this.written) this.firstWrite(performance.now());
  }

  private firstWrite(at: number): void {
    this.written = true;
    this.samples.conn.push(this.connEnd - this.connStart);
    this.samples.gap.push(this.envRead - this.connEnd);
    this.samples.rw.push(at - this.envRead);
    this.samples.total.push(at - this.connStart);
  }

  /** Medians (µs) since the last report. */
  report(): Record<Segment | 'calls', number> {
    const out = { calls: this.samples.total.length } as Record<Segment | 'calls', number>;
    for (const s of SEGMENTS) {
      out[s] = round1(median(this.samples[s]) * 1000);
      this.samples[s].length = 0;
    }
    return out;
  }
}

function wrapAccepts(server: net.Server, timer: PathTimer): void {
  const handle = (server as unknown as { _handle: TcpHandle })._handle;
  const onconnection = handle.onconnection;
  handle.onconnection = function (this: unknown, ...args: unknown[]) {
    timer.connStarted();
    onconnection.apply(this, args);
    timer.connEnded();
  };
  // First in line: the socket's handle is wrapped before the session reads from it.
  server.prependListener('connection', (socket: net.Socket) => {
    const clientHandle = (socket as unknown as { _handle: TcpHandle })._handle;
    const onread = clientHandle.onread;
    clientHandle.onread = function (this: unknown, ...args: unknown[]) {
      timer.read();
      return onread.apply(this, args);
    };
  });
}

function wrapWrites(timer: PathTimer): void {
  const tcp = (process as unknown as { binding(name: string): { TCP: { prototype: Record<string, unknown> } } }).binding('tcp_wrap').TCP.prototype;
  const writeUtf8String = tcp.writeUtf8String as (...args: unknown[]) => number;
  tcp.writeUtf8String = function (this: unknown, ...args: unknown[]) {
    timer.wrote();
    return writeUtf8String.apply(this, args);
  };
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : (sorted[Math.floor(sorted.length / 2)] as number);
}

const round1 = (n: number): number => Math.round(n * 10) / 10;

async function serveAgent(port: number, timer: PathTimer): Promise<void> {
  const { AgiServer } = await import('../../apps/agent/src/agi/agi-server.js');
  const { ActiveCalls } = await import('../../apps/agent/src/call/active-calls.js');
  const { CallHandler } = await import('../../apps/agent/src/call/call-handler.js');
  const { createLogger } = await import('../../apps/agent/src/logger.js');
  const { AgentMetrics } = await import('../../apps/agent/src/metrics/agent-metrics.js');
  const { RoutingState } = await import('../../apps/agent/src/state/routing-state.js');
  const { TestController } = await import('../support/signed-snapshots.js');
  const state = new RoutingState();
  state.apply(new TestController().snapshot(benchFederation(), BENCH_SITE, 1));
  const metrics = new AgentMetrics(false);
  const log = createLogger('error');
  const handler = new CallHandler(state, metrics, log, undefined, new ActiveCalls());
  const server = new AgiServer({ host: '127.0.0.1', port, maxSessions: 1000, idleTimeoutMs: 120_000 }, handler, metrics, log);
  await server.start();
  timer.watch((server as unknown as { server: net.Server }).server);
}

/** floor-server.ts's work (the environment's end found, a fixed sequence answered line by line), in this harness. */
async function serveFloor(port: number, timer: PathTimer): Promise<void> {
  const FIXED = ['SET VARIABLE FEDPBX_ROUTE local\n', 'EXEC Dial "PJSIP/101,20,tT"\n', 'GET VARIABLE DIALSTATUS\n'];
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
        for (; i < chunk.length; i += 1) {
          const b = chunk[i] as number;
          if (b === 10 && lastByte === 10) {
            envDone = true;
            i += 1;
            socket.write(FIXED[step] as string);
            break;
          }
          lastByte = b;
        }
        if (!envDone) return;
      }
      for (; i < chunk.length; i += 1) {
        const b = chunk[i] as number;
        if (lineStart) {
          hangupLine = b === 0x48; // 'H': a HANGUP notification, not an answer
          lineStart = false;
        }
        if (b !== 10) continue;
        lineStart = true;
        if (hangupLine) continue;
        step += 1;
        if (step < FIXED.length) socket.write(FIXED[step] as string);
        else socket.end();
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  timer.watch(server);
}

async function serve(kind: string, port: number): Promise<void> {
  const timer = new PathTimer();
  timer.hookWrites();
  if (kind === 'agent') await serveAgent(port, timer);
  else await serveFloor(port, timer);
  process.on('message', () => process.send?.(timer.report()));
  process.send?.('ready');
}

interface Contender {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
}

function ask<T>(child: ChildProcess, message: string): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(message);
  });
}

async function main(): Promise<void> {
  const spec = process.env.BENCH_TTFC_SERVERS ?? 'agent,floor';
  const calls = Number(process.env.BENCH_TTFC_CALLS ?? 800);
  const rounds = Number(process.env.BENCH_TTFC_ROUNDS ?? 4);
  const gapMs = Number(process.env.BENCH_TTFC_GAP_MS ?? 2);
  const here = fileURLToPath(import.meta.url);
  const contenders: Contender[] = [];
  for (const [i, part] of spec.split(',').map((p) => p.trim()).filter(Boolean).entries()) {
    // name=kind@checkout, name=kind, or kind
    const [name, rest] = part.includes('=') ? (part.split('=', 2) as [string, string]) : [part, part];
    const [kind, checkout] = rest.split('@', 2) as [string, string | undefined];
    if (kind !== 'agent' && kind !== 'floor') throw new Error(`BENCH_TTFC_SERVERS: unknown server ${kind} (agent, floor)`);
    const script = checkout === undefined ? here : join(checkout, 'test', 'bench', 'agi-ttfc-path.ts');
    const port = 46_200 + i * 10 + (process.pid % 7);
    const child = fork(script, ['serve', kind, String(port)], { cwd: checkout ?? process.cwd(), execArgv: ['--conditions=@fedpbx/source', '--import', 'tsx', '--max-semi-space-size=16', ...(process.env.BENCH_TTFC_NODE_ARGS ?? '').split(' ').filter(Boolean)] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`${name} exited (${code}) before it was ready`)));
    });
    execFileSync('taskset', ['-a', '-p', '-c', '1', String(child.pid)], { stdio: 'ignore' });
    contenders.push({ name, port, child });
    process.stderr.write(`${name}: pid ${child.pid}, port ${port}\n`);
  }
  execFileSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
  const pick = mixPicker(AGENT_MIX);
  const byServer = new Map<string, Record<string, number[]>>();
  try {
    for (let round = 0; round <= rounds; round++) {
      // Round 0 warms every server up (its code optimised) and is not counted. The order rotates from round to round,
      // as bench:agi's does: no server always follows the same one.
      const shift = round % contenders.length;
      for (const c of [...contenders.slice(shift), ...contenders.slice(0, shift)]) {
        const ttfc: number[] = [];
        for (let i = 0; i < calls; i++) {
          const call = await placeCall({ host: '127.0.0.1', port: c.port, timeoutMs: 5000, ...pick().options });
          if (call.timeToFirstCommandMs !== null) ttfc.push(call.timeToFirstCommandMs);
          await new Promise((resolve) => setTimeout(resolve, gapMs));
        }
        const server = await ask<Record<string, number>>(c.child, 'report');
        if (round === 0) continue;
        const row = { client_ttfc: round1(median(ttfc) * 1000), ...server };
        const all = byServer.get(c.name) ?? {};
        for (const [k, v] of Object.entries(row)) (all[k] ??= []).push(v);
        byServer.set(c.name, all);
        process.stderr.write(`round ${round} ${c.name}: ${JSON.stringify(row)}\n`);
      }
    }
  } finally {
    for (const c of contenders) c.child.kill();
  }
  const summary: Record<string, Record<string, number>> = {};
  for (const [name, all] of byServer) summary[name] = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, round1(median(v))]));
  process.stdout.write(`${JSON.stringify({ calls_per_round: calls, rounds, gap_ms: gapMs, median_over_rounds_us: summary })}\n`);
}

if (process.argv[2] === 'serve') await serve(process.argv[3] ?? 'agent', Number(process.argv[4]));
else await main();
