#!/usr/bin/env node
import { Agent } from './agent.js';
import { runCdrsCommand } from './cli/cdrs-command.js';
import { runEnrollCommand } from './cli/enroll-command.js';
import { runTraceCommand } from './cli/trace-command.js';
import { ConfigError, loadAgentConfig } from './config.js';
import { createLogger } from './logger.js';

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === 'trace') return runTraceCommand(argv.slice(1), process.env, process.stdout);
  if (argv[0] === 'enroll') return runEnrollCommand(argv.slice(1), process.env, process.stdout, process.stderr);
  if (argv[0] === 'cdrs') return runCdrsCommand(argv.slice(1), process.env, process.stdout, process.stderr);
  if (argv[0] !== undefined && argv[0] !== 'run') {
    process.stderr.write(
      'usage: fedpbx-agent [run]\n' +
        '       fedpbx-agent trace <caller> <number> [--link-down SITE] [--trunk-down TRUNK] [--entry E] [--from-site S] [--json]\n' +
        '       fedpbx-agent enroll --controller <url> --token <token> [--no-wireguard] [--force]\n' +
        '       fedpbx-agent cdrs [--since ISO] [--limit N] [--json]\n',
    );
    return 2;
  }
  const config = loadAgentConfig(process.env);
  const log = createLogger(config.FEDPBX_LOG_LEVEL);
  const agent = new Agent(config, log);
  await agent.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'stopping: finishing calls in progress');
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await agent.stop();
  log.info('stopped');
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) process.stderr.write(`fedpbx-agent: ${error.message}\n`);
    else process.stderr.write(`fedpbx-agent: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
