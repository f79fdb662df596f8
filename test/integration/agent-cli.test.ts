// `dcnet agent` refuses bad command lines before touching anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDcnet } from '../helpers/process.js';

test('bad agent arguments exit 2 naming the option', async () => {
  const cases: [string[], RegExp][] = [
    [['--master', 'http://127.0.0.1:1', '--ip', '10.1'], /--ip: "10\.1" is not an IPv4 address/],
    [['--master', 'not a url', '--ip', '10.0.0.1'], /--master: "not a url" is not a URL/],
    [
      ['--master', 'http://127.0.0.1:1', '--ip', '10.0.0.1', '--grace-period', '0'],
      /--grace-period: "0" must be a number of seconds ≥ 1/,
    ],
    [
      ['--master', 'http://127.0.0.1:1', '--ip', '10.0.0.1', '--listen', ':80'],
      /--listen: ":80" is not HOST:PORT/,
    ],
    [['--ip', '10.0.0.1'], /required option '--master <url\[,url…\]>' not specified/],
  ];
  for (const [args, want] of cases) {
    const r = await runDcnet(['agent', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, want);
  }
});
