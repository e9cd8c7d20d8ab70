/**
 * Runs wireguard-tools (`wg`, `wg-quick`) - or records what would run, on machines without the kernel module.
 *
 * Real runs use child_process.execFile: no shell, arguments passed as an array (nothing in them is ever
 * interpreted), a timeout, a bounded output buffer. Secrets go through stdin (`wg pubkey`) or files, never argv
 * (argv is visible to every local user in /proc).
 */
import { execFile } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';

export type WgTool = 'wg' | 'wg-quick';

export type WireguardErrorCode =
  /** The tool is not installed (ENOENT). */
  | 'NOT_INSTALLED'
  /** It ran and exited non-zero; stderr is in the message. */
  | 'COMMAND_FAILED'
  | 'TIMEOUT'
  /** Output we could not read (a key that is not base64 of 32 bytes, a handshake line without a tab...). */
  | 'BAD_OUTPUT'
  /** An interface name, path or key we refuse to pass on. */
  | 'BAD_ARGUMENT'
  /** The private key file is unusable (unreadable, not a key). */
  | 'BAD_KEY_FILE';

export class WireguardError extends Error {
  override readonly name = 'WireguardError';
  constructor(
    readonly code: WireguardErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface WgResult {
  readonly stdout: string;
  readonly stderr: string;
}

export interface WgRunner {
  /** `input` is written to stdin (and never recorded or logged). */
  run(tool: WgTool, args: readonly string[], input?: string): Promise<WgResult>;
}

/** A WireGuard key: base64 of 32 bytes (the last character carries 4 bits, hence the class). */
export const WG_KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

export interface ExecWgRunnerOptions {
  /** Paths of the tools (default: found on PATH). */
  readonly wgPath?: string;
  readonly wgQuickPath?: string;
  readonly timeoutMs?: number;
}

export class ExecWgRunner implements WgRunner {
  constructor(private readonly opts: ExecWgRunnerOptions = {}) {}

  run(tool: WgTool, args: readonly string[], input?: string): Promise<WgResult> {
    const file = tool === 'wg' ? (this.opts.wgPath ?? 'wg') : (this.opts.wgQuickPath ?? 'wg-quick');
    const timeout = this.opts.timeoutMs ?? 15_000;
    return new Promise((resolve, reject) => {
      const child = execFile(file, [...args], { shell: false, timeout, maxBuffer: 1024 * 1024, encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin' } }, (error, stdout, stderr) => {
        if (error === null) {
          resolve({ stdout, stderr });
          return;
        }
        const e = error as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
        if (e.code === 'ENOENT') reject(new WireguardError('NOT_INSTALLED', `${tool} is not installed (${file})`, { cause: error }));
        else if (e.killed === true) reject(new WireguardError('TIMEOUT', `${tool} ${args[0] ?? ''} took longer than ${timeout} ms`, { cause: error }));
        else reject(new WireguardError('COMMAND_FAILED', `${tool} ${args[0] ?? ''} failed: ${stderr.trim() || e.message}`, { cause: error }));
      });
      child.stdin?.on('error', () => undefined); // the tool may exit before reading stdin; the exit status tells
      child.stdin?.end(input ?? '');
    });
  }
}

/** One command a dry run would have executed (stdin never recorded: it may be a private key). */
export interface RecordedCommand {
  readonly tool: WgTool;
  readonly args: readonly string[];
}

/**
 * Records commands instead of running them. Keys are real (node:crypto X25519, as `wg genkey`/`wg pubkey` make
 * them), so a dry-run agent can still enroll; `wg show` answers from `interfaceUp` and `handshakes`.
 * With `journal`, every command that would change the system (not the read-only `show`, `genkey`, `pubkey`) is
 * also appended to that file as one JSON line, for the operator (and tests) to see what `on` would have run.
 */
export class DryRunWgRunner implements WgRunner {
  readonly commands: RecordedCommand[] = [];
  interfaceUp = false;
  /** public key -> unix time of the last handshake (0 = never), for `wg show <if> latest-handshakes`. */
  handshakes = new Map<string, number>();

  constructor(private readonly opts: { readonly journal?: string } = {}) {}

  run(tool: WgTool, args: readonly string[], input?: string): Promise<WgResult> {
    const command = { tool, args: [...args] };
    this.commands.push(command);
    if (this.opts.journal !== undefined && !READ_ONLY_VERBS.has(args[0] ?? '')) {
      appendFileSync(this.opts.journal, `${JSON.stringify({ at: new Date().toISOString(), ...command })}\n`, { mode: 0o600 });
    }
    const ok = (stdout = ''): Promise<WgResult> => Promise.resolve({ stdout, stderr: '' });
    if (tool === 'wg-quick') {
      if (args[0] === 'up') this.interfaceUp = true;
      if (args[0] === 'down') this.interfaceUp = false;
      return ok();
    }
    const verb = args[0] ?? '';
    switch (verb) {
      case 'genkey':
        return ok(`${x25519PrivateKey()}\n`);
      case 'pubkey':
        try {
          return ok(`${x25519PublicKey((input ?? '').trim())}\n`);
        } catch (error) {
          return Promise.reject(new WireguardError('COMMAND_FAILED', 'wg pubkey: Key is not the correct length or format', { cause: error }));
        }
      case 'show':
        if (!this.interfaceUp) return Promise.reject(new WireguardError('COMMAND_FAILED', `wg show ${args[1] ?? ''}: Unable to access interface: No such device`));
        if (args[2] === 'latest-handshakes') return ok([...this.handshakes].map(([k, t]) => `${k}\t${t}\n`).join(''));
        return ok();
      default:
        return ok();
    }
  }
}

const READ_ONLY_VERBS = new Set(['show', 'genkey', 'pubkey']);

const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

function x25519PrivateKey(): string {
  const { privateKey } = generateKeyPairSync('x25519');
  return privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32).toString('base64');
}

/** What `wg pubkey` prints for a base64 private key. */
export function x25519PublicKey(privateKeyBase64: string): string {
  const raw = Buffer.from(privateKeyBase64, 'base64');
  if (!WG_KEY.test(privateKeyBase64) || raw.length !== 32) throw new WireguardError('BAD_KEY_FILE', 'not a WireGuard private key');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  return createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(-32).toString('base64');
}
