// The AMI user fedpbx ships (deploy/asterisk/manager_fedpbx.conf), read from the file itself: its name, read/write
// classes and eventfilter lines, so tests run against what is deployed and a change to the file is tested.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AmiClass, AmiPeerUser } from './ami-peer.js';

export const MANAGER_FEDPBX_CONF = join(import.meta.dirname, '..', '..', '..', 'deploy', 'asterisk', 'manager_fedpbx.conf');

/** The deployed user with `secret` (the file's is a placeholder). */
export function deployedAmiUser(secret = 'deployed-ami-secret'): { name: string; user: AmiPeerUser } {
  const text = readFileSync(MANAGER_FEDPBX_CONF, 'utf8');
  const name = /^\[([a-z0-9_-]+)\]/m.exec(text)?.[1];
  if (name === undefined) throw new Error(`${MANAGER_FEDPBX_CONF}: no [user] section`);
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith(';'));
  const value = (key: string): string | undefined => lines.map((l) => new RegExp(`^${key}\\s*=\\s*(.*)$`).exec(l)?.[1]).find((v) => v !== undefined);
  const classes = (key: string): AmiClass[] => (value(key) ?? '').split(',').map((c) => c.trim() as AmiClass).filter((c) => c.length > 0);
  // manager.c __init_manager: every variable whose name begins with `eventfilter`, value as written.
  const eventFilters = lines.flatMap((l) => {
    const m = /^(eventfilter[^=]*?)\s*=\s*(.*)$/.exec(l);
    return m === null ? [] : [[m[1]!, m[2]!] as const];
  });
  return { name, user: { secret, read: classes('read'), write: classes('write'), eventFilters } };
}
