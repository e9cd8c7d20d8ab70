import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { PUBLISHED_SCHEMAS, toJsonSchema, type PublishedSchemaName } from './index.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');

describe('published JSON Schemas', () => {
  it.each(Object.keys(PUBLISHED_SCHEMAS) as PublishedSchemaName[])('%s.json is up to date (run `npm run schemas` after changing a contract)', (name) => {
    const committed = readFileSync(join(dir, `${name}.json`), 'utf8');
    expect(committed).toBe(`${JSON.stringify(toJsonSchema(name), null, 2)}\n`);
  });
});
