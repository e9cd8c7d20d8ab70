import { chmod, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

/**
 * Writes a file so that a crash (kill -9, power loss) at any moment leaves either the old or the new content:
 * write a temporary file in the same directory, fsync it, rename it over the target, fsync the directory
 * (`dirHandle`: that directory, already open).
 */
export async function writeFileAtomic(path: string, data: string | Uint8Array, options: { mode?: number; dirHandle?: FileHandle } = {}): Promise<void> {
  const mode = options.mode ?? 0o640;
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  // Created with its final mode (`wx`: never an existing file), so a secret is never briefly readable.
  const fh = await open(tmp, 'wx', mode);
  try {
    if (typeof data === 'string' && data.length > PIECE_CHARS) await writePieces(fh, data);
    else await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await chmod(tmp, mode); // in case a umask or ACL widened it
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  // A caller that writes often into one directory keeps it open (`dirHandle`): an open and a close less per write.
  if (options.dirHandle !== undefined) return options.dirHandle.sync();
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/** Characters encoded per write of a long text: ~1-3 ms of UTF-8 encoding. */
const PIECE_CHARS = 1 << 20;

/**
 * A long text written a piece at a time: writeFile encodes all of it to UTF-8 in one piece first (a head office's
 * stored snapshot is 20 MB: ~20 ms with the event loop held). A piece never ends between the halves of a surrogate
 * pair, so the bytes are the same.
 */
async function writePieces(fh: FileHandle, text: string): Promise<void> {
  for (let i = 0; i < text.length; ) {
    let end = Math.min(text.length, i + PIECE_CHARS);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end += 1;
    const bytes = Buffer.from(text.slice(i, end), 'utf8');
    for (let off = 0; off < bytes.length; ) off += (await fh.write(bytes, off)).bytesWritten;
    i = end;
  }
}
