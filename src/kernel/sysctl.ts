// sysctl through /proc/sys: per network namespace, as seen by this process.
import { readFile, writeFile } from 'node:fs/promises';

const path = (key: string): string => `/proc/sys/${key.replace(/\./g, '/')}`;

export async function readSysctl(key: string): Promise<string> {
  return (await readFile(path(key), 'utf8')).trim();
}

/** Sets a value if it differs; returns true if it changed. */
export async function ensureSysctl(key: string, value: string): Promise<boolean> {
  if ((await readSysctl(key)) === value) return false;
  await writeFile(path(key), value);
  return true;
}
