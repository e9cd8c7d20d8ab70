import { randomBytes } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { AuditRepository } from '../audit/audit.repository.js';
import { hashPassword } from '../auth/password-hasher.js';
import { passwordProblems } from '../auth/password-policy.js';
import { UserRepository } from '../auth/user.repository.js';
import { ConfigError, loadControllerConfig } from '../config.js';
import { dataSourceOptions, databaseMode } from '../database/data-source-options.js';
import { GrantEntity, UserEntity } from '../database/entities/index.js';

const USAGE = 'usage: fedpbx-controller reset-admin [--user NAME] [--password-stdin]\n';
const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;

export interface ResetAdminResult {
  readonly userId: string;
  readonly username: string;
  /** The user did not exist and was made. */
  readonly created: boolean;
  readonly password: string;
}

/**
 * The recovery when no head-office admin can log in (lost password, every admin disabled): run on the controller
 * host, with the controller's own database settings. In one transaction it gives `username` a new password
 * (to be changed at the next login), enables it and grants it head-office-admin (creating the user if there is
 * none of that name), and writes an
 * audit entry naming the operating-system user and host that ran it - never the password. It is deliberately
 * not an API endpoint: whoever can run it can already read the database.
 */
export async function resetAdmin(ds: DataSource, username: string, password: string, actor: string): Promise<ResetAdminResult> {
  const users = new UserRepository(ds);
  const audit = new AuditRepository();
  const passwordHash = await hashPassword(password);
  return ds.transaction(async (m) => {
    await users.lockHeadOfficeAdmins(m);
    const existing = await m.findOneBy(UserEntity, { username });
    let userId: string;
    let before: { disabled: boolean; grants: { role: string; siteId: string | null }[] } | undefined;
    if (existing === null) {
      userId = await users.create(m, username, passwordHash, [{ role: 'head-office-admin', siteId: null }]);
    } else {
      userId = existing.id;
      const grants = await m.findBy(GrantEntity, { userId });
      before = { disabled: existing.disabled, grants: grants.map((g) => ({ role: g.role, siteId: g.siteId })) };
      if (!grants.some((g) => g.role === 'head-office-admin')) await m.insert(GrantEntity, { userId, role: 'head-office-admin', siteId: null });
    }
    // The password went through a terminal: the user must choose their own at the next login.
    await m.update(UserEntity, { id: userId }, { passwordHash, disabled: false, mustChangePassword: true, passwordChangedAt: new Date() });
    const grants = (await m.findBy(GrantEntity, { userId })).map((g) => ({ role: g.role, siteId: g.siteId }));
    await audit.append(m, [
      {
        actor,
        action: 'user.reset-admin',
        objectType: 'user',
        objectId: userId,
        siteIds: [],
        ...(before !== undefined ? { before } : {}),
        after: { username, disabled: false, grants, passwordChanged: true, mustChangePassword: true },
      },
    ]);
    return { userId, username, created: existing === null, password };
  });
}

/**
 * `fedpbx-controller reset-admin [--user NAME] [--password-stdin]`: see {@link resetAdmin}. The new password is
 * read from stdin (one line) with `--password-stdin`, otherwise generated and printed once. Exit 0 on success,
 * 1 when the database cannot be reached or the change fails, 2 for bad usage or configuration.
 */
export async function runResetAdmin(args: readonly string[], env: NodeJS.ProcessEnv, io: { stdin: NodeJS.ReadableStream; out: NodeJS.WritableStream; err: NodeJS.WritableStream }): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options: { user: { type: 'string', default: 'admin' }, 'password-stdin': { type: 'boolean', default: false } } }));
  } catch (error) {
    io.err.write(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  if (!USERNAME.test(values.user)) {
    io.err.write(`--user: 1-64 of A-Z a-z 0-9 _ . @ -\n${USAGE}`);
    return 2;
  }
  let config;
  try {
    config = loadControllerConfig(env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.err.write(`fedpbx-controller reset-admin: ${error.message}\n`);
    return 2;
  }
  let password: string;
  if (values['password-stdin']) {
    password = (await readAll(io.stdin)).replace(/\r?\n$/, '');
    // The same password policy as every other way of setting one.
    const problems = passwordProblems(password, values.user, config.FEDPBX_PASSWORD_MIN_LENGTH);
    if (problems.length > 0) {
      io.err.write(`the password read from stdin is refused: ${problems.join('; ')}\n`);
      return 2;
    }
  } else {
    password = randomBytes(18).toString('base64url');
  }
  const settings = { url: config.DATABASE_URL, dataDir: config.FEDPBX_DATA_DIR };
  const ds = new DataSource(dataSourceOptions(settings));
  try {
    await ds.initialize();
    await ds.runMigrations({ transaction: 'each' });
    const actor = `cli:reset-admin ${safeUser()}@${hostname()}`;
    const r = await resetAdmin(ds, values.user, password, actor);
    io.err.write(`${r.created ? 'created' : 'reset'} head-office admin "${r.username}" (${databaseMode(settings)} database); audited as ${actor}\n`);
    if (!values['password-stdin']) io.out.write(`${password}\n`);
    return 0;
  } catch (error) {
    io.err.write(`fedpbx-controller reset-admin: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    if (ds.isInitialized) await ds.destroy();
  }
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid-${process.getuid?.() ?? '?'}`;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.length > 4096) break;
  }
  return text;
}
