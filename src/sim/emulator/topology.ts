// The simulated cluster the emulator schedules onto, written by the demo (or a test) as JSON.
import { z } from 'zod';

export const topologySchema = z
  .object({
    /** Namespace prefix of the test bed; task namespaces are named `${agent.netns}-<id>`. */
    prefix: z.string(),
    workdir: z.string(),
    master: z.object({ netns: z.string(), ip: z.string() }),
    agents: z.array(
      z.object({
        name: z.string(),
        netns: z.string(),
        ip: z.string(),
        public: z.boolean().default(false),
        /** The Mesos agent's --network_cni_config_dir (where `dcnet agent` writes `<name>.conf`). */
        cniDir: z.string(),
        /** The Mesos agent's --network_cni_plugins_dir. */
        cniPluginsDir: z.string().default('/usr/lib/cni'),
      }),
    ),
  })
  .strict();

export type Topology = z.infer<typeof topologySchema>;
export type TopoAgent = Topology['agents'][number];
