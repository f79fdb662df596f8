#!/usr/bin/env node
// Runs the compiled test files with node's test runner. Usage: run-tests.mjs [unit|integration|e2e ...]
// With no argument every suite runs; the runner's summary (tests/pass/fail) ends the output.
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = join(import.meta.dirname, '..');
const suites = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'e2e'];

function findTests(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return findTests(path);
      return name.endsWith('.test.js') ? [path] : [];
    });
}

const files = suites.flatMap((suite) => findTests(join(root, 'dist', 'test', suite)));
if (files.length === 0) {
  console.error(`run-tests: no compiled tests found for ${suites.join(', ')}; did the build run?`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--enable-source-maps', '--test', '--test-reporter=spec', '--test-timeout=180000', ...files],
  { stdio: 'inherit', cwd: root },
);
process.exit(result.status ?? 1);
