// The version dcnet reports (CLI, /v1/version endpoints), read once from package.json.
import { readFileSync } from 'node:fs';

export const DCNET_VERSION: string = (
  JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;
