import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root (tests run compiled from dist/test/...). */
export const REPO_ROOT: string = join(fileURLToPath(import.meta.url), '..', '..', '..', '..');

export function fixture(name: string): string {
  return readFileSync(join(REPO_ROOT, 'test', 'fixtures', name), 'utf8');
}
