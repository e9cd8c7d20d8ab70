export const SNAPSHOT_FORMAT_VERSION = 1 as const;
