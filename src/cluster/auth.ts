// Authenticating to Mesos and Marathon: HTTP basic auth, or a DC/OS service account — a private
// key whose RS256 token `{uid, exp}` is exchanged at the login endpoint (`/acs/api/v1/auth/login`)
// for an auth token sent as `Authorization: token=…` (the flow Mesos-DNS and Marathon-LB use).
// Unlike Mesos-DNS, which logs in before every request, the token is kept until shortly before it
// expires and dropped when the API answers 401, so the next call logs in again.
import { readFile } from 'node:fs/promises';
import { decodeJwt, importPKCS8, SignJWT } from 'jose';
import { z } from 'zod';

/** What a client asks before each request, and tells when the server refused it. */
export interface HttpAuth {
  /** The `Authorization` header value. */
  header(): Promise<string>;
  /** The server answered 401: forget what was cached (the next `header()` starts afresh). */
  refused(): void;
  /** For logs: what kind of credentials, never the secret. */
  readonly describe: string;
}

export class AuthError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

export function basicAuth(principal: string, secret: string): HttpAuth {
  if (principal === '' || principal.includes(':'))
    throw new AuthError('principal: must be non-empty and without ":" (HTTP basic auth)');
  const header = `Basic ${Buffer.from(`${principal}:${secret}`).toString('base64')}`;
  return { header: async () => header, refused: () => {}, describe: `basic auth as ${principal}` };
}

/** A DC/OS service account secret, as `dcos security secrets` writes it. */
export const serviceAccountSchema = z
  .object({
    scheme: z.literal('RS256').optional(),
    uid: z.string().min(1),
    private_key: z.string().includes('PRIVATE KEY', { message: 'must be a PEM private key' }),
    login_endpoint: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
  })
  .loose();
export type ServiceAccount = z.infer<typeof serviceAccountSchema>;

export function parseServiceAccount(text: string, where = 'service account'): ServiceAccount {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new AuthError(`${where}: not JSON`);
  }
  const r = serviceAccountSchema.safeParse(doc);
  if (!r.success)
    throw new AuthError(
      `${where}: ${r.error.issues.map((i) => `${i.path.join('.') || 'document'}: ${i.message}`).join('; ')}`,
    );
  return r.data;
}

export interface ServiceAccountOptions {
  /** Refresh this long before the token's own expiry (default 5 min). */
  readonly marginMs?: number;
  /** Kept this long when the token says no expiry (default 1 h). */
  readonly defaultTtlMs?: number;
  readonly timeoutMs?: number;
  readonly now?: () => number;
}

export function serviceAccountAuth(account: ServiceAccount, opts: ServiceAccountOptions = {}): HttpAuth {
  const now = opts.now ?? Date.now;
  let cached: { header: string; until: number } | undefined;
  let loggingIn: Promise<string> | undefined;
  const keyPromise = importPKCS8(account.private_key, 'RS256').catch((err: Error) => {
    throw new AuthError(
      `service account ${account.uid}: private_key is not an RSA PKCS#8 key: ${err.message}`,
    );
  });
  const login = async (): Promise<string> => {
    const key = await keyPromise;
    const assertion = await new SignJWT({ uid: account.uid })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT' })
      .setExpirationTime(Math.floor(now() / 1000) + 3600)
      .sign(key);
    let res: Response;
    try {
      res = await fetch(account.login_endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'user-agent': 'dcnet' },
        body: JSON.stringify({ uid: account.uid, token: assertion }),
        signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new AuthError(`login at ${account.login_endpoint} failed: ${(err as Error).message}`);
    }
    if (res.status !== 200)
      throw new AuthError(`login at ${account.login_endpoint} as ${account.uid} refused: HTTP ${res.status}`);
    const body = z.object({ token: z.string().min(1) }).safeParse(await res.json().catch(() => undefined));
    if (!body.success) throw new AuthError(`login at ${account.login_endpoint}: the answer has no token`);
    const token = body.data.token;
    // A DC/OS auth token is a JWT: keep it until shortly before its `exp`.
    let until = now() + (opts.defaultTtlMs ?? 3_600_000);
    try {
      const exp = decodeJwt(token).exp;
      if (typeof exp === 'number') until = exp * 1000 - (opts.marginMs ?? 300_000);
    } catch {
      // Not a JWT: the default lifetime.
    }
    const header = `token=${token}`;
    cached = { header, until };
    return header;
  };
  return {
    async header() {
      if (cached && now() < cached.until) return cached.header;
      loggingIn ??= login().finally(() => (loggingIn = undefined));
      return loggingIn;
    },
    refused() {
      cached = undefined;
    },
    describe: `DC/OS service account ${account.uid}`,
  };
}

/** Credentials file: `{"basic": {"principal", "secret"}}` or a DC/OS service account secret. */
const credentialsFileSchema = z.object({
  basic: z.object({ principal: z.string().min(1), secret: z.string() }).strict(),
});

export async function loadCredentials(path: string): Promise<HttpAuth> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new AuthError(`${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new AuthError(`${path}: not JSON`);
  }
  if (typeof doc === 'object' && doc !== null && 'basic' in doc) {
    const r = credentialsFileSchema.safeParse(doc);
    if (!r.success)
      throw new AuthError(
        `${path}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      );
    return basicAuth(r.data.basic.principal, r.data.basic.secret);
  }
  return serviceAccountAuth(parseServiceAccount(text, path));
}

/** `fetch` with credentials: on a 401 the cached token is dropped and the call is tried once more
 *  (an expired or revoked token), so a long-lived client recovers by itself. */
export async function authFetch(
  auth: HttpAuth | undefined,
  url: string,
  init: RequestInit = {},
): Promise<Response> {
  if (!auth) return fetch(url, init);
  const withAuth = async (): Promise<Response> =>
    fetch(url, {
      ...init,
      headers: { ...(init.headers as Record<string, string>), authorization: await auth.header() },
    });
  const res = await withAuth();
  if (res.status !== 401) return res;
  await res.body?.cancel();
  auth.refused();
  return withAuth();
}
