// JSON as Mesos' stout writes it (overlay endpoints, specs/overlay.md §1.3): keys sorted at every
// level, compact, '/' escaped as '\/'. Byte-exact output lets DC/OS consumers and golden tests agree.

type Json = null | boolean | number | string | Json[] | { [key: string]: Json | undefined };

function sortKeys(value: Json | undefined): Json | undefined {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v) as Json);
  if (value === null || typeof value !== 'object') return value;
  const out: { [key: string]: Json } = {};
  for (const key of Object.keys(value).sort()) {
    const v = sortKeys(value[key]);
    if (v !== undefined) out[key] = v;
  }
  return out;
}

/** Escapes what JSON.stringify leaves alone but stout escapes: '/' and DEL. Safe on whole documents
 *  because '/' and DEL can only occur inside strings. */
export function stoutEscape(json: string): string {
  return json.replace(/\//g, '\\/').replace(/\x7f/g, '\\u007f');
}

export function stoutStringify(value: Json): string {
  return stoutEscape(JSON.stringify(sortKeys(value)));
}

export type { Json };
