// Strings an attacker would put into a store value to reach a command line, a config file or a
// path: line breaks, shell syntax, nft statements, NUL, whitespace, overlong and non-ASCII text.
export const HOSTILE = [
  '',
  ' ',
  'a b',
  'x\nlink add evil type bridge',
  'x\rflush ruleset',
  'x;reboot',
  '$(touch /tmp/pwned)',
  '`id`',
  'flush ruleset',
  'x\0y',
  'x\ty',
  '../../etc/passwd',
  '..',
  '.',
  'a'.repeat(300),
  'ünïcödé',
  'x\u2028y',
  'x # comment',
  '"quoted"',
];
