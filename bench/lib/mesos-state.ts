// A synthetic but realistic Mesos master state for benchmarks: many agents and frameworks, Marathon
// apps in groups (several instances each) with DiscoveryInfo names and ports, host-port ranges,
// three statuses per task with network_infos (half the apps on an overlay network), some tasks
// not running. Deterministic for a given task count. Addresses are documentation/private ranges.

export function syntheticMesosState(tasks: number): Record<string, unknown> {
  const agents = Math.max(4, Math.ceil(tasks / 25));
  const frameworkId = 'b3f1c3a2-7d1e-4c7a-9d55-0f3e6c1a2b4c';
  const agentId = (i: number) => `${frameworkId}-S${i}`;
  const agentIp = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const slaves = Array.from({ length: agents }, (_, i) => ({
    id: agentId(i),
    pid: `slave(1)@${agentIp(i)}:5051`,
    hostname: agentIp(i),
    resources: { cpus: 32, mem: 131072, ports: '[31000-32000]' },
    active: true,
  }));
  // 90 % of the tasks belong to Marathon, the rest to 40 other frameworks (Spark, Kafka, …).
  const frameworks: { name: string; pid: string; hostname: string; tasks: unknown[] }[] = [
    { name: 'marathon', pid: 'scheduler-1@198.51.100.1:15101', hostname: '198.51.100.1', tasks: [] },
  ];
  for (let f = 1; f <= 40; f++)
    frameworks.push({
      name: `data-service-${f}`,
      pid: `scheduler(${f})@198.51.100.${f + 1}:${20000 + f}`,
      hostname: `198.51.100.${f + 1}`,
      tasks: [],
    });
  for (let i = 0; i < tasks; i++) {
    const marathon = i % 10 !== 0;
    const fw = marathon ? frameworks[0]! : frameworks[1 + (((i / 10) % 40) | 0)]!;
    const app = Math.floor(i / 5); // five instances per app
    const group = `team-${app % 97}`;
    const appName = `svc-${app}`;
    const name = marathon ? `${appName}.${group}.prod` : `${fw.name}-worker-${i}`;
    const agent = (i * 7919) % agents;
    const overlay = app % 2 === 0;
    const ip = overlay ? `9.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}` : agentIp(agent);
    const hostPort = 31000 + (i % 900);
    const state = i % 20 === 7 ? 'TASK_STAGING' : i % 50 === 3 ? 'TASK_KILLED' : 'TASK_RUNNING';
    const status = (s: string, ts: number) => ({
      state: s,
      timestamp: 1_700_000_000 + i + ts,
      labels: [{ key: 'DCOS_PACKAGE_NAME', value: appName }],
      container_status: {
        network_infos: [
          {
            ip_addresses: [{ ip_address: ip, protocol: 'IPv4' }],
            ...(overlay && { name: 'dcos' }),
          },
        ],
      },
    });
    fw.tasks.push({
      id: `${marathon ? `${group}_${appName}` : name}.${(i * 2654435761) >>> 0}-${i}-11e4-a088-c20493233aa5`,
      name,
      framework_id: frameworkId,
      executor_id: '',
      slave_id: agentId(agent),
      state,
      resources: { cpus: 0.5, mem: 256, disk: 0, ports: `[${hostPort}-${hostPort + (i % 3)}]` },
      statuses: [status('TASK_STAGING', 0.1), status('TASK_STARTING', 0.5), status('TASK_RUNNING', 1.5)],
      labels: [{ key: 'HAPROXY_GROUP', value: 'external' }],
      ...(marathon && {
        discovery: {
          visibility: 'FRAMEWORK',
          name,
          ports: {
            ports: [
              { number: overlay ? 8080 : hostPort, protocol: 'tcp', name: 'http', labels: { labels: [] } },
              ...(i % 3 === 0
                ? [
                    {
                      number: overlay ? 8443 : hostPort + 1,
                      protocol: 'tcp',
                      name: 'https',
                      labels: { labels: [] },
                    },
                  ]
                : []),
            ],
          },
        },
        container: { type: 'MESOS', network_infos: overlay ? [{ name: 'dcos' }] : [] },
      }),
    });
  }
  return {
    version: '1.11.0',
    leader: 'master@198.51.100.1:5050',
    hostname: '198.51.100.1',
    slaves,
    frameworks,
    completed_frameworks: [],
    orphan_tasks: [],
  };
}
