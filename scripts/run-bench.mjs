#!/usr/bin/env node
// Runs every compiled benchmark (dist/bench/*.bench.js) one after another; each prints one JSON line.
// Usage: run-bench.mjs [name-substring ...]
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = join(import.meta.dirname, '..');
const dir = join(root, 'dist', 'bench');
const filters = process.argv.slice(2);
const files = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.bench.js'))
      .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
      .sort()
  : [];
if (files.length === 0) {
  console.error('run-bench: no benchmarks matched');
  process.exit(1);
}
let failed = 0;
for (const file of files) {
  const r = spawnSync(process.execPath, ['--enable-source-maps', join(dir, file)], {
    stdio: 'inherit',
    cwd: root,
  });
  if (r.status !== 0) {
    failed++;
    console.error(`run-bench: ${file} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed ? 1 : 0);
