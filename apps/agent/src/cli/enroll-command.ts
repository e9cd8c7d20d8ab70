import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { EnrollResponse, Subjects, type EnrollRequest } from '@fedpbx/contracts';
import { importPublicKey } from '@fedpbx/signing';
import { loadAgentConfig } from '../config.js';
import { createLogger } from '../logger.js';
import { readEnrollment, writeEnrollment } from '../sync/enrollment-file.js';
import { AGENT_VERSION } from '../version.js';
import { siteKeyDir, siteKeyPath } from '../wireguard/site-key.js';
import { DryRunWgRunner, ExecWgRunner, WireguardError, type WgRunner } from '../wireguard/wg-runner.js';
import { WireguardManager } from '../wireguard/wireguard-manager.js';

const USAGE = 'usage: fedpbx-agent enroll --controller <url> --token <token> [--no-wireguard] [--force]\n       (or the token in FEDPBX_ENROLL_TOKEN, which keeps it off the process list)\n';

export class EnrollError extends Error {
  override readonly name = 'EnrollError';
}

/**
 * `fedpbx-agent enroll --controller <url> --token <token>`: exchanges the one-time token the head office issued
 * for this site's NATS credentials and the controller's snapshot-signing key. Makes the site's WireGuard key pair
 * (in the state dir) on the way and sends only its public key. Writes `<state>/nats.creds` (0600) and
 * `<state>/enrollment.json`, which the agent then uses for every setting not given in the environment.
 */
export async function runEnrollCommand(args: readonly string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        controller: { type: 'string' },
        token: { type: 'string' },
        'no-wireguard': { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
      },
    }));
  } catch (error) {
    err.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  const token = values.token ?? env.FEDPBX_ENROLL_TOKEN;
  if (values.controller === undefined || token === undefined) {
    err.write(USAGE);
    return 2;
  }
  const stateDir = resolve(loadAgentConfig(env, ['FEDPBX_STATE_DIR']).FEDPBX_STATE_DIR);
  try {
    const existing = readEnrollment(stateDir);
    if (existing !== undefined && !values.force) throw new EnrollError(`${stateDir} is already enrolled as site ${existing.siteId}; pass --force to replace it`);
    const wireguardPublicKey = values['no-wireguard'] ? undefined : await wireguardKey(stateDir);
    const response = await enroll(values.controller, { token, agentVersion: AGENT_VERSION, ...(wireguardPublicKey !== undefined ? { wireguardPublicKey } : {}) });
    const site = env.FEDPBX_SITE_ID;
    if (site !== undefined && site !== '' && site !== response.siteId) throw new EnrollError(`the token enrolls site ${response.siteId}, but FEDPBX_SITE_ID is ${site}`);
    const files = await writeEnrollment(stateDir, response);
    out.write(
      `enrolled as site ${response.siteId}\n` +
        `  NATS:        ${response.natsUrls.join(', ')}\n` +
        `  credentials: ${files.credsFile} (0600)\n` +
        `  enrollment:  ${files.enrollmentFile} (controller key ${response.controllerKeyId})\n` +
        (wireguardPublicKey !== undefined ? `  WireGuard:   public key ${wireguardPublicKey} (private key stays in ${stateDir}/wireguard)\n` : '') +
        `restart the agent to connect.\n`,
    );
    return 0;
  } catch (error) {
    if (!(error instanceof EnrollError)) throw error;
    err.write(`fedpbx-agent enroll: ${error.message}\n`);
    return 1;
  }
}

/** POST <controller>/api/v1/enroll; the answer is checked before anything is written. */
export async function enroll(controllerUrl: string, request: EnrollRequest, timeoutMs = 15_000): Promise<EnrollResponse> {
  let url: URL;
  try {
    url = new URL(`${controllerUrl.replace(/\/+$/, '')}/api/v1/enroll`);
  } catch {
    throw new EnrollError(`--controller ${JSON.stringify(controllerUrl)} is not a URL (e.g. https://pbx.example.com)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new EnrollError(`--controller must be an http(s) URL, not ${url.protocol}`);
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(request), signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new EnrollError(`cannot reach ${url.origin}: ${error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error)}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const message = typeof body === 'object' && body !== null && 'message' in body ? String(body.message) : text.slice(0, 200);
    throw new EnrollError(`the controller refused the enrollment (HTTP ${res.status}): ${message}`);
  }
  const parsed = EnrollResponse.safeParse(body);
  if (!parsed.success) throw new EnrollError(`the controller's answer is not an enrollment: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  const r = parsed.data;
  if (r.inboxPrefix !== Subjects.inboxPrefix(r.siteId)) throw new EnrollError(`inbox prefix ${r.inboxPrefix} is not the one this agent uses (${Subjects.inboxPrefix(r.siteId)})`);
  if (!/-----BEGIN NATS USER JWT-----[\s\S]+-----BEGIN USER NKEY SEED-----/.test(r.natsCreds)) throw new EnrollError('the NATS credentials in the answer are not a creds file');
  try {
    importPublicKey(r.controllerKeyId, r.controllerPublicKey);
  } catch (error) {
    throw new EnrollError(`the controller public key is not usable: ${error instanceof Error ? error.message : String(error)}`);
  }
  return r;
}

/** The site's WireGuard public key, making the pair in `<state>/wireguard` on first use (`wg`, or node:crypto without it). */
async function wireguardKey(stateDir: string): Promise<string> {
  const configDir = siteKeyDir(stateDir);
  await mkdir(configDir, { recursive: true, mode: 0o700 });
  const log = createLogger('warn', 'fedpbx-agent-enroll');
  const make = (runner: WgRunner) => new WireguardManager({ runner, log, configDir, privateKeyPath: siteKeyPath(stateDir) }).ensureKeyPair();
  try {
    return (await make(new ExecWgRunner())).publicKey;
  } catch (error) {
    if (!(error instanceof WireguardError && error.code === 'NOT_INSTALLED')) throw new EnrollError(`WireGuard key: ${error instanceof Error ? error.message : String(error)}`);
    // Same X25519 keys as `wg genkey` / `wg pubkey` make.
    return (await make(new DryRunWgRunner())).publicKey;
  }
}
