// Python `str.format` as Marathon-LB's templates use it: `{name}` placeholders, `{{`/`}}` for
// literal braces. An unknown placeholder or a stray brace is an error (Python's KeyError /
// ValueError), which the renderer turns into "this app is dropped", never a crash of the config.

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

export type FormatValue = string | number | boolean | null | undefined | object;

/** Python's `str()` of a value: `None`, `True`/`False`, integers without a fraction. */
export function pyStr(v: FormatValue): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(v);
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

type Part = string | { name: string };
const compiled = new Map<string, Part[]>();

/** Splits a template into literal text and placeholders once; later calls reuse it. */
function compile(template: string): Part[] {
  const hit = compiled.get(template);
  if (hit) return hit;
  const parts: Part[] = [];
  let text = '';
  let i = 0;
  const n = template.length;
  while (i < n) {
    const c = template[i]!;
    if (c === '{') {
      if (template[i + 1] === '{') {
        text += '{';
        i += 2;
        continue;
      }
      const end = template.indexOf('}', i + 1);
      if (end < 0) throw new TemplateError(`single '{' encountered in template at offset ${i}`);
      const field = template.slice(i + 1, end);
      const name = field.split(/[!:]/, 1)[0]!;
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        throw new TemplateError(`unsupported placeholder {${field}} in template`);
      if (text) parts.push(text);
      text = '';
      parts.push({ name });
      i = end + 1;
      continue;
    }
    if (c === '}') {
      if (template[i + 1] === '}') {
        text += '}';
        i += 2;
        continue;
      }
      throw new TemplateError(`single '}' encountered in template at offset ${i}`);
    }
    let j = i + 1;
    while (j < n && template[j] !== '{' && template[j] !== '}') j++;
    text += template.slice(i, j);
    i = j;
  }
  if (text) parts.push(text);
  if (compiled.size > 10_000) compiled.clear();
  compiled.set(template, parts);
  return parts;
}

export function pyFormat(template: string, values: Readonly<Record<string, FormatValue>>): string {
  const parts = compile(template);
  // join() yields one flat string; `+=` would leave a rope for the final join to walk.
  const out: string[] = new Array<string>(parts.length);
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (typeof p === 'string') out[i] = p;
    else {
      if (!Object.prototype.hasOwnProperty.call(values, p.name))
        throw new TemplateError(`unknown placeholder {${p.name}} in template`);
      out[i] = pyStr(values[p.name]);
    }
  }
  return out.join('');
}
