import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stdout. Secrets are redacted by key wherever they appear in a logged object
 * (AMI AuthDetail events print passwords; snapshots carry SIP secrets).
 */
export function createLogger(level: string, name = 'fedpbx-agent'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    redact: {
      paths: ['secret', 'password', 'sipSecret', 'voicemailPin', '*.secret', '*.password', '*.sipSecret', '*.voicemailPin', '*.*.secret', '*.*.sipSecret', 'Secret', '*.Secret', 'config.FEDPBX_AMI_SECRET'],
      censor: '[redacted]',
    },
  });
}
