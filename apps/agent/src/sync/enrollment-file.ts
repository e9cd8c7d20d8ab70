import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { SiteId, type EnrollResponse } from '@fedpbx/contracts';
import { writeFileAtomic } from '../state/atomic-file.js';

/**
 * What `fedpbx-agent enroll` leaves in the state dir: `nats.creds` (the agent's NATS user, 0600) and
 * `enrollment.json` (site, NATS URLs, inbox prefix, the controller's snapshot-signing key). The configuration
 * takes FEDPBX_SITE_ID / FEDPBX_NATS_URL / FEDPBX_NATS_CREDS / FEDPBX_CONTROLLER_* from here when they are unset.
 */
export const ENROLLMENT_FILE = 'enrollment.json';
export const CREDS_FILE = 'nats.creds';

export const Enrollment = z.strictObject({
  siteId: SiteId,
  natsUrls: z.array(z.string().min(1)).min(1),
  inboxPrefix: z.string().min(1),
  controllerKeyId: z.string().min(1),
  controllerPublicKey: z.string().min(1),
  enrolledAt: z.iso.datetime().optional(),
});
export type Enrollment = z.infer<typeof Enrollment>;

export class EnrollmentFileError extends Error {
  override readonly name = 'EnrollmentFileError';
}

/** The enrollment of this state dir, or undefined when it was never enrolled. */
export function readEnrollment(stateDir: string): Enrollment | undefined {
  const file = join(stateDir, ENROLLMENT_FILE);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EnrollmentFileError(`cannot read ${file}: ${(error as Error).message}`);
  }
  let parsed;
  try {
    parsed = Enrollment.safeParse(JSON.parse(text));
  } catch {
    throw new EnrollmentFileError(`${file} is not JSON`);
  }
  if (!parsed.success) throw new EnrollmentFileError(`${file} is not valid: ${z.prettifyError(parsed.error).replace(/\n/g, '; ')}`);
  return parsed.data;
}

/**
 * Stores an enrollment: the credentials first (0600, atomic), then enrollment.json (atomic), so a crash leaves
 * either the old enrollment whole or the new one whole (new credentials alone are harmless: same site).
 */
export async function writeEnrollment(stateDir: string, response: EnrollResponse, at = new Date()): Promise<{ enrollmentFile: string; credsFile: string }> {
  await mkdir(stateDir, { recursive: true, mode: 0o750 });
  const credsFile = join(stateDir, CREDS_FILE);
  const enrollmentFile = join(stateDir, ENROLLMENT_FILE);
  await writeFileAtomic(credsFile, response.natsCreds.endsWith('\n') ? response.natsCreds : `${response.natsCreds}\n`, { mode: 0o600 });
  const enrollment: Enrollment = {
    siteId: response.siteId,
    natsUrls: response.natsUrls,
    inboxPrefix: response.inboxPrefix,
    controllerKeyId: response.controllerKeyId,
    controllerPublicKey: response.controllerPublicKey,
    enrolledAt: at.toISOString(),
  };
  await writeFileAtomic(enrollmentFile, `${JSON.stringify(enrollment, null, 2)}\n`, { mode: 0o640 });
  return { enrollmentFile, credsFile };
}
