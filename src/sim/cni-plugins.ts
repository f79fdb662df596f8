// The test bed's --network_cni_plugins_dir: the system's CNI plugins (/usr/lib/cni) plus this
// build's `mesos-cni-port-mapper`, so the Mesos-faithful launcher runs the port-mapper under test
// rather than whatever a host has installed.
import { chmod, mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CNI_PATH } from '../kernel/index.js';

export const PORT_MAPPER_MAIN = fileURLToPath(new URL('../overlay/port-mapper/main.js', import.meta.url));
export const PORT_MAPPER_PLUGIN = 'mesos-cni-port-mapper';

/** The small executable setup.sh also installs: runs dcnet's port-mapper entry. */
export function portMapperShim(node: string = process.execPath, main: string = PORT_MAPPER_MAIN): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  return `#!/bin/sh\nexec ${q(node)} ${q(main)} "$@"\n`;
}

export async function preparePluginsDir(dir: string, system: string = DEFAULT_CNI_PATH): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const name of await readdir(system)) {
    if (name === PORT_MAPPER_PLUGIN) continue;
    await symlink(join(system, name), join(dir, name)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
  const shim = join(dir, PORT_MAPPER_PLUGIN);
  await writeFile(shim, portMapperShim());
  await chmod(shim, 0o755);
  return dir;
}
