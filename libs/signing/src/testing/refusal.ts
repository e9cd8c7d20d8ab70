import { SnapshotRejectedError } from '../snapshot-signer.js';

/** The SnapshotRejectedError code `f` throws, or 'accepted' (specs: what a verification decided). */
export function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (e instanceof SnapshotRejectedError) return e.code;
    throw e;
  }
  return 'accepted';
}
