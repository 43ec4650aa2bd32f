import type * as FsModule from 'node:fs/promises';
import type * as PathModule from 'node:path';
import type { Storage } from '../types.ts';

type Fs = typeof FsModule;
type Path = typeof PathModule;

/**
 * One JSON file per key in `dir` (Node only). Writes go to a temporary file that is then renamed
 * over the target: rename is atomic on one filesystem, so a crash mid-write leaves either the old
 * value or the new one, never half a file.
 * Node modules are imported lazily, so importing '@confab/client' in a browser never touches them.
 */
export function fileStorage(dir: string): Storage {
  let modules: Promise<{ fs: Fs; path: Path }> | undefined;
  const load = () =>
    (modules ??= (async () => {
      const [fs, path] = await Promise.all([import('node:fs/promises'), import('node:path')]);
      await fs.mkdir(dir, { recursive: true });
      return { fs, path };
    })());
  // Keys may hold any character; file names may not. encodeURIComponent leaves only [A-Za-z0-9-_.!~*'()%].
  const fileName = (key: string) => `${encodeURIComponent(key).replace(/\*/g, '%2A')}.json`;
  let tmpCounter = 0;
  const isMissing = (error: unknown) => (error as { code?: string }).code === 'ENOENT';

  return {
    async get(key) {
      const { fs, path } = await load();
      try {
        return JSON.parse(await fs.readFile(path.join(dir, fileName(key)), 'utf8'));
      } catch (error) {
        if (isMissing(error)) return undefined;
        throw error;
      }
    },
    async set(key, value) {
      const { fs, path } = await load();
      const target = path.join(dir, fileName(key));
      const tmp = `${target}.${process.pid}.${++tmpCounter}.tmp`;
      await fs.writeFile(tmp, JSON.stringify(value), 'utf8');
      await fs.rename(tmp, target);
    },
    async delete(key) {
      const { fs, path } = await load();
      try {
        await fs.unlink(path.join(dir, fileName(key)));
      } catch (error) {
        if (!isMissing(error)) throw error;
      }
    },
    async keys(prefix) {
      const { fs } = await load();
      const names = await fs.readdir(dir);
      return names
        .filter((n) => n.endsWith('.json'))
        .map((n) => decodeURIComponent(n.slice(0, -'.json'.length)))
        .filter((k) => k.startsWith(prefix));
    },
  };
}
