// The Mesos master state document (`GET /master/state`) as dcnet reads it: only the fields
// Mesos-DNS and dcos-net consume (specs/mesos-dns.md §1.1, specs/dcos-net.md §1.7), validated at
// the edge; everything else in the document is ignored.
import { z } from 'zod';

const label = z.object({ key: z.string(), value: z.string().optional() }).passthrough();

/** A port mapping of a bridged container (Mesos `NetworkInfo.PortMapping` / Docker's). */
const portMapping = z
  .object({ host_port: z.number().int(), container_port: z.number().int(), protocol: z.string().optional() })
  .passthrough();

const networkInfo = z
  .object({
    port_mappings: z.array(portMapping).optional(),
    ip_addresses: z
      .array(z.object({ ip_address: z.string().optional(), protocol: z.string().optional() }).passthrough())
      .optional(),
    /** Mesos 0.25 legacy form. */
    ip_address: z.string().optional(),
    name: z.string().optional(),
  })
  .passthrough();

const status = z
  .object({
    state: z.string(),
    timestamp: z.number(),
    healthy: z.boolean().optional(),
    labels: z.array(label).optional(),
    container_status: z
      .object({ network_infos: z.array(networkInfo).optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();

export const mesosTaskSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    framework_id: z.string().optional(),
    slave_id: z.string(),
    state: z.string(),
    statuses: z.array(status).default([]),
    resources: z.object({ ports: z.string().optional() }).passthrough().optional(),
    labels: z.array(label).optional(),
    /** Present when the task has a (Mesos-side) health check. */
    health_check: z.object({}).passthrough().optional(),
    container: z
      .object({
        type: z.string().optional(),
        network_infos: z.array(networkInfo).optional(),
        docker: z
          .object({ network: z.string().optional(), port_mappings: z.array(portMapping).optional() })
          .passthrough()
          .optional(),
      })
      .passthrough()
      .optional(),
    discovery: z
      .object({
        name: z.string().optional(),
        ports: z
          .object({
            ports: z
              .array(
                z
                  .object({
                    number: z.number().int(),
                    protocol: z.string().optional(),
                    name: z.string().optional(),
                    labels: z
                      .object({ labels: z.array(label).optional() })
                      .passthrough()
                      .optional(),
                  })
                  .passthrough(),
              )
              .optional(),
          })
          .passthrough()
          .optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();

export const mesosStateSchema = z
  .object({
    leader: z.string().optional(),
    slaves: z
      .array(z.object({ id: z.string(), pid: z.string(), hostname: z.string().optional() }).passthrough())
      .default([]),
    frameworks: z
      .array(
        z
          .object({
            id: z.string().optional(),
            name: z.string(),
            pid: z.string().optional(),
            hostname: z.string().optional(),
            tasks: z.array(mesosTaskSchema).default([]),
          })
          .passthrough(),
      )
      .default([]),
  })
  .passthrough();

export type MesosState = z.infer<typeof mesosStateSchema>;
export type MesosTask = z.infer<typeof mesosTaskSchema>;

/** Parses a state document; the error names the first fields that do not fit. */
export function parseMesosState(doc: unknown): MesosState {
  const r = mesosStateSchema.safeParse(doc);
  if (!r.success) {
    throw new Error(
      `not a Mesos state document: ${r.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.join('.')}: ${i.message}`)
        .join('; ')}`,
    );
  }
  return r.data;
}

/** Host ports of a task from Mesos' range string `[31000-31001, 31005-31005]` (a bare number is a 1-port range). */
export function parsePortRanges(text: string | undefined): number[] {
  if (!text) return [];
  const m = /\[([^\]]*)\]/.exec(text);
  if (!m) return [];
  const out: number[] = [];
  for (const item of m[1]!
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [lo, hi = lo] = item.split('-').map((s) => Number(s.trim()));
    if (!Number.isInteger(lo) || !Number.isInteger(hi)) continue;
    for (let p = lo!; p <= hi!; p++) out.push(p);
  }
  return out;
}
