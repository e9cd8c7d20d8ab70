#!/usr/bin/env node
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { pino } from 'pino';
import { AppModule } from './app.module.js';
import { runResetAdmin } from './cli/reset-admin-command.js';
import { ConfigError, loadControllerConfig } from './config.js';
import { fastifyOptions, limitPublicBodies } from './http/http-options.js';

async function main(): Promise<void> {
  const config = loadControllerConfig(process.env);
  const log = pino({ name: 'fedpbx-controller', level: config.FEDPBX_LOG_LEVEL });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRoot(config), new FastifyAdapter(fastifyOptions(config)), { logger: false });
  limitPublicBodies(app.getHttpAdapter().getInstance());
  app.enableShutdownHooks();
  const i = config.FEDPBX_HTTP_LISTEN.lastIndexOf(':');
  await app.listen(Number(config.FEDPBX_HTTP_LISTEN.slice(i + 1)), config.FEDPBX_HTTP_LISTEN.slice(0, i));
  log.info({ url: await app.getUrl() }, 'controller listening');
  const stop = async (signal: string) => {
    log.info({ signal }, 'stopping');
    await app.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
}

const command = process.argv[2];
const run = command === 'reset-admin' ? runResetAdmin(process.argv.slice(3), process.env, { stdin: process.stdin, out: process.stdout, err: process.stderr }).then((code) => process.exit(code)) : main();
run.catch((error: unknown) => {
  process.stderr.write(`fedpbx-controller: ${error instanceof ConfigError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
