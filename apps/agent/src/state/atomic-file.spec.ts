import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-file.js';

describe('writeFileAtomic', () => {
  it('writes a long text a piece at a time to the same bytes, surrogate pairs across the pieces included', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fedpbx-atomic-'));
    // Over a piece (2^20 characters) three times: the first piece would end between the halves of a surrogate pair,
    // and 1-, 2-, 3- and 4-byte characters follow.
    const unit = 'aé€😀';
    const text = `${'a'.repeat(2 ** 20 - 1)}😀${unit.repeat(Math.ceil((2 * 2 ** 20 + 7) / unit.length))}{"end":true}`;
    const file = join(dir, 'big.json');
    await writeFileAtomic(file, text, { mode: 0o600 });
    expect(readFileSync(file).equals(Buffer.from(text, 'utf8'))).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    // Over it again with a short text: replaced whole, no temporary file left.
    await writeFileAtomic(file, 'short');
    expect(readFileSync(file, 'utf8')).toBe('short');
    expect(readdirSync(dir)).toEqual(['big.json']);
  });
});
