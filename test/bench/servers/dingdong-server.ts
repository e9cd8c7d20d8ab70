// Comparison server "ding-dong": the same command sequence as floor-server.ts (the agent's recorded lines), through the npm
// package ding-dong 0.1.7 used the way its README shows. Its known bugs (env lines split on every ':',
// HANGUP handled as an answer-less 'hangup' event that leaves the pending promise hanging, one pending
// callback slot) are left alone: it is a baseline, not something to fix.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

interface DingDongContext {
  onEvent(event: 'variables'): Promise<Record<string, string>>;
  on(event: string, listener: (...args: unknown[]) => void): void;
  setVariable(name: string, value: string): Promise<unknown>;
  sendCommand(line: string): Promise<unknown>;
  exec(app: string, data: string): Promise<unknown>;
  getVariable(name: string): Promise<unknown>;
  end(): Promise<void>;
}
type DingDong = new (handler: (context: DingDongContext) => void, options?: { port?: number; host?: string }) => {
  start(port: number, host?: string): unknown;
};

/** The agent's recorded lines per dialled number (bench-servers.ts recordedSequences). */
const SEQUENCES = new Map<string, string[]>(
  Object.entries(process.env.BENCH_SEQUENCES ? (JSON.parse(readFileSync(process.env.BENCH_SEQUENCES, 'utf8')) as Record<string, string[]>) : {}),
);

const requireFrom = createRequire(process.env.BENCH_REQUIRE_FROM ?? import.meta.url);
const AGIServer = requireFrom('ding-dong') as DingDong;

const listen = process.env.BENCH_AGI_LISTEN ?? '127.0.0.1:4573';
const colon = listen.lastIndexOf(':');
let errors = 0;

const handler = (context: DingDongContext): void => {
  // ding-dong re-emits socket errors on the context; without a listener a reset would kill the process.
  context.on('error', () => {
    errors += 1;
  });
  context
    .onEvent('variables')
    .then(async (vars) => {
      const recorded = SEQUENCES.get(vars.agi_extension ?? '');
      if (recorded === undefined) {
        await context.setVariable('FEDPBX_ROUTE', 'local');
        await context.exec('Dial', '"PJSIP/101,20,tT"');
        await context.getVariable('DIALSTATUS');
      } else {
        // The agent's own lines for this number, sent through ding-dong's command path one at a time.
        for (const line of recorded) await context.sendCommand(line);
      }
    })
    .then(() => context.end())
    .catch(() => {
      errors += 1;
    });
};

new AGIServer(handler).start(Number(listen.slice(colon + 1)), listen.slice(0, colon));
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (errors > 0) process.stderr.write(`ding-dong server: ${errors} session errors\n`);
    process.exit(0);
  });
}
