// A rendered HAProxy config split into sections, to tell a membership-only change (servers added
// or removed in existing backends: the Runtime API can apply it) from anything else (reload).

export interface ServerLine {
  readonly name: string;
  readonly addr: string;
  /** Everything after the address (`id 123 check inter 2s …`). */
  readonly options: string;
  readonly line: string;
}

export interface ConfigModel {
  /** Every section but the servers of backends, in order: equal skeletons ⇒ same structure. */
  readonly skeleton: string;
  readonly backends: Map<string, { servers: Map<string, ServerLine>; sticky: boolean }>;
}

const SECTION =
  /^(global|defaults|frontend|backend|listen|userlist|peers|resolvers|program|mailers|cache|ring)\b/;

export function parseConfig(text: string): ConfigModel {
  const backends: ConfigModel['backends'] = new Map();
  const skeleton: string[] = [];
  let current: { servers: Map<string, ServerLine>; sticky: boolean } | undefined;
  for (const line of text.split('\n')) {
    if (SECTION.test(line)) {
      const m = /^backend\s+(\S+)/.exec(line);
      current = m ? { servers: new Map(), sticky: false } : undefined;
      if (m) backends.set(m[1]!, current!);
      skeleton.push(line);
      continue;
    }
    const sm = current ? /^\s+server\s+(\S+)\s+(\S+)\s*(.*)$/.exec(line) : null;
    if (current && sm) {
      current.servers.set(sm[1]!, { name: sm[1]!, addr: sm[2]!, options: sm[3]!, line: line.trim() });
      continue;
    }
    if (current && /^\s+cookie\s/.test(line)) current.sticky = true;
    skeleton.push(line);
  }
  return { skeleton: skeleton.join('\n'), backends };
}

export interface RuntimePlan {
  readonly add: { backend: string; server: ServerLine }[];
  readonly remove: { backend: string; server: string }[];
  /** Servers whose line differs only in `weight N`. */
  readonly weights: { backend: string; server: string; weight: number }[];
}

const WEIGHT = /(^|\s)weight\s+(\d+)(?=\s|$)/;
const withoutWeight = (options: string): string => options.replace(WEIGHT, '$1').replace(/\s+/g, ' ').trim();

/** The Runtime API commands that turn `from` into `to`, or why a reload is needed instead. */
export function planRuntime(from: ConfigModel, to: ConfigModel): RuntimePlan | { reload: string } {
  if (from.skeleton !== to.skeleton)
    return { reload: 'structure changed (frontends, ACLs or backend options)' };
  const add: RuntimePlan['add'] = [];
  const remove: RuntimePlan['remove'] = [];
  const weights: RuntimePlan['weights'] = [];
  for (const [name, b] of to.backends) {
    const old = from.backends.get(name)!;
    for (const [s, line] of b.servers) {
      const was = old.servers.get(s);
      if (was && was.line === line.line) continue;
      if (was && was.addr === line.addr && withoutWeight(was.options) === withoutWeight(line.options)) {
        weights.push({ backend: name, server: s, weight: Number(WEIGHT.exec(line.options)?.[2] ?? 1) });
        continue;
      }
      if (was) return { reload: `server ${name}/${s} changed` };
      // HAProxy 2.6 refuses `cookie` on dynamic servers: sticky backends reload.
      if (b.sticky) return { reload: `sticky backend ${name} changed members` };
      add.push({ backend: name, server: line });
    }
    for (const s of old.servers.keys()) {
      if (b.servers.has(s)) continue;
      if (b.sticky) return { reload: `sticky backend ${name} changed members` };
      remove.push({ backend: name, server: s });
    }
  }
  return { add, remove, weights };
}
