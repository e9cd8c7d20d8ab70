/** `npm run schemas`: writes libs/contracts/schemas/<Name>.json; CI checks they regenerate identically. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PUBLISHED_SCHEMAS, toJsonSchema, type PublishedSchemaName } from '../src/index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');
mkdirSync(dir, { recursive: true });
for (const name of Object.keys(PUBLISHED_SCHEMAS) as PublishedSchemaName[]) {
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(toJsonSchema(name), null, 2)}\n`);
}
console.log(`wrote ${Object.keys(PUBLISHED_SCHEMAS).length} schemas to ${dir}`);
