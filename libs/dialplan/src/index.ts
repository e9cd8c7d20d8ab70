import { SNAPSHOT_FORMAT_VERSION } from '@fedpbx/contracts';
export const supportedFormat = SNAPSHOT_FORMAT_VERSION;
