import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stoutStringify } from '../../src/net/index.js';

test('stout JSON: sorted keys at every level, compact, escaped solidus, undefined omitted', () => {
  const out = stoutStringify({ b: 1, a: { z: 'x/y', m: [{ d: true, c: null }] }, u: undefined } as never);
  assert.equal(out, '{"a":{"m":[{"c":null,"d":true}],"z":"x\\/y"},"b":1}');
});

test('stout JSON escapes control characters and DEL', () => {
  assert.equal(stoutStringify({ s: 'a\n\t"\\\x7f' }), '{"s":"a\\n\\t\\"\\\\\\u007f"}');
});
