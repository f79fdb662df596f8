// The CLI loads only the subcommand it runs; the stubs that stand in for the others in `--help`
// must say what the real commands say.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildProgram, COMMANDS } from '../../src/cli/main.js';
import { TLS_DIR_ENV as CLI_TLS_DIR_ENV } from '../../src/cli/tls.js';
import { TLS_DIR_ENV } from '../../src/pki/index.js';

test('every stub lists the description of the command it stands for', async () => {
  const full = await buildProgram('all');
  for (const c of COMMANDS) {
    const real = full.commands.find((x) => x.name() === c.name);
    assert.ok(real, `${c.name} is defined by its module`);
    assert.equal(c.description, real.description(), `${c.name}: the stub's description drifted`);
  }
  assert.equal(full.commands.length, COMMANDS.length, 'every command is in COMMANDS');
});

test('a program built for one subcommand defines it in full and the rest by name', async () => {
  const p = await buildProgram('status');
  const status = p.commands.find((x) => x.name() === 'status')!;
  assert.ok(status.options.some((o) => o.long === '--master'));
  const agent = p.commands.find((x) => x.name() === 'agent')!;
  assert.equal(agent.options.length, 0);
  assert.deepEqual(
    p.commands.map((x) => x.name()),
    COMMANDS.map((c) => c.name),
  );
});

test('the CLI spells the TLS environment variable as the PKI does', () => {
  assert.equal(CLI_TLS_DIR_ENV, TLS_DIR_ENV);
});
