// The trust boundary as a test (besides the eslint rule): outside src/kernel/ and the test bed
// (src/sim/), no source runs a program or reaches kernel/'s raw runner. A new caller has to add a
// typed command to kernel/ instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { REPO_ROOT } from '../../src/sim/index.js';

const SRC = join(REPO_ROOT, 'src');
const ALLOWED_DIRS = ['kernel/', 'sim/'];

const FORBIDDEN: [RegExp, string][] = [
  [/\bchild_process\b/, 'child_process'],
  [/kernel\/(exec|raw)(\.js)?['"]/, "kernel/'s raw runner"],
  [/process\.binding\(|process\.dlopen\(/, 'process internals'],
];

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

test('only src/kernel/ (and the test bed) runs programs', () => {
  const files = sources(SRC);
  assert.ok(files.length > 50, 'the scan sees the sources');
  const offenders: string[] = [];
  for (const file of files) {
    const rel = relative(SRC, file);
    if (ALLOWED_DIRS.some((d) => rel.startsWith(d))) continue;
    const text = readFileSync(file, 'utf8');
    for (const [re, what] of FORBIDDEN) if (re.test(text)) offenders.push(`src/${rel}: ${what}`);
  }
  assert.deepEqual(offenders, []);
});

test("kernel/'s index does not export the raw runner", () => {
  const index = readFileSync(join(SRC, 'kernel', 'index.ts'), 'utf8');
  assert.doesNotMatch(index, /export \* from '\.\/(exec|raw)\.js'/);
  assert.doesNotMatch(index, /\b(run|runJson|nftApply)\b(?!\w)/);
});
