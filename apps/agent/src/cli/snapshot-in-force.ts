import type { SiteSnapshot } from '@fedpbx/contracts';
import { importPublicKey, verifySnapshot } from '@fedpbx/signing';
import { loadAgentConfig } from '../config.js';
import { SnapshotStore } from '../state/snapshot-store.js';

/**
 * The snapshot the agent on this box routes with: the last-known-good of its state dir, else the bootstrap file,
 * verified as the agent verifies it. Undefined (with the reason written to `out`) when there is none.
 */
export async function snapshotInForce(env: NodeJS.ProcessEnv, out: NodeJS.WritableStream): Promise<SiteSnapshot | undefined> {
  const config = loadAgentConfig(env, ['FEDPBX_SITE_ID', 'FEDPBX_STATE_DIR', 'FEDPBX_CONTROLLER_PUBLIC_KEY', 'FEDPBX_CONTROLLER_KEY_ID', 'FEDPBX_BOOTSTRAP_SNAPSHOT']);
  const keys = [importPublicKey(config.FEDPBX_CONTROLLER_KEY_ID, config.FEDPBX_CONTROLLER_PUBLIC_KEY)];
  const store = new SnapshotStore(config.FEDPBX_STATE_DIR, config.FEDPBX_SITE_ID, keys);
  const snapshot =
    (await store.loadLastKnownGood())?.snapshot ??
    (config.FEDPBX_BOOTSTRAP_SNAPSHOT !== undefined
      ? verifySnapshot(await store.readExternal(config.FEDPBX_BOOTSTRAP_SNAPSHOT), config.FEDPBX_SITE_ID, keys)
      : undefined);
  if (snapshot === undefined) out.write(`no snapshot in ${config.FEDPBX_STATE_DIR} and no bootstrap file\n`);
  return snapshot;
}
