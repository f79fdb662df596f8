import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

const made: string[] = [];
after(async () => {
  for (const d of made) await rm(d, { recursive: true, force: true });
});

/** A temp directory removed when the test file ends. Names start with dcnet-test-. */
export async function tempDir(tag: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), `dcnet-test-${tag}-`));
  made.push(d);
  return d;
}
