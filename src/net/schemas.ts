// zod schemas for the typed values of typed.ts, so that a document schema (a store value, a
// master's answer) parses straight into branded fields. A refusal carries the parser's reason and
// zod's path names the field (`vtep.mac`, `backends.0.ip`).
import { z } from 'zod';
import {
  InputError,
  parseIfName,
  parseIpAddr,
  parseIpCidr,
  parseIpv4,
  parseIpv4Cidr,
  parseIpv6,
  parseIpv6Cidr,
  parseLabelText,
  parseMac,
  parseOverlayName,
  parsePort,
  type ParseResult,
} from './typed.js';

function typedString<T>(parse: (v: unknown) => ParseResult<T>) {
  return z.string().transform((v, ctx): T => {
    const r = parse(v);
    if (r instanceof InputError) {
      // The parser's own field name is replaced by zod's path, which knows where the value sat.
      ctx.addIssue({ code: 'custom', message: r.reason });
      return z.NEVER;
    }
    return r;
  });
}

export const zIpv4 = typedString(parseIpv4);
export const zIpv6 = typedString(parseIpv6);
export const zIpAddr = typedString(parseIpAddr);
export const zIpv4Cidr = typedString(parseIpv4Cidr);
export const zIpv6Cidr = typedString(parseIpv6Cidr);
export const zIpCidr = typedString(parseIpCidr);
export const zMac = typedString(parseMac);
export const zIfName = typedString(parseIfName);
export const zOverlayName = typedString(parseOverlayName);
export const zLabelText = (max = 255) => typedString((v) => parseLabelText(v, 'label', max));
export const zPort = z.number().transform((v, ctx) => {
  const r = parsePort(v);
  if (r instanceof InputError) {
    ctx.addIssue({ code: 'custom', message: r.reason });
    return z.NEVER;
  }
  return r;
});

/** A refused field: where in the document, and why. */
export interface RejectedFieldLike {
  readonly field: string;
  readonly problem: string;
}

/** zod's issues as one line per field: `vtep.mac: "…" is not a MAC address`. */
export function describeIssues(error: z.ZodError): RejectedFieldLike[] {
  return error.issues.map((i) => ({
    field: i.path.length ? i.path.join('.') : '(value)',
    problem: i.message,
  }));
}
