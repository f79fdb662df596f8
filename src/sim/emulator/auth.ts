// Authentication as a DC/OS strict-mode (or Enterprise) cluster enforces it, for the emulator's
// Mesos and Marathon APIs when a test asks: HTTP basic auth, and DC/OS service accounts that log
// in at `POST /acs/api/v1/auth/login` with an RS256 token `{uid, exp}` signed by their private key
// and get an auth token (`Authorization: token=…`) that expires. Anything else gets 401, so a
// client without credentials fails here as it would on such a cluster.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { importSPKI, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';

export const emulatorAuthSchema = z
  .object({
    basic: z
      .object({ principal: z.string().min(1), secret: z.string() })
      .strict()
      .optional(),
    serviceAccounts: z
      .array(z.object({ uid: z.string().min(1), public_key: z.string() }).strict())
      .optional(),
    /** Lifetime of the auth tokens the login endpoint hands out (DC/OS: 5 days). */
    tokenTtlS: z.number().int().min(1).default(432_000),
  })
  .strict();
export type EmulatorAuth = z.infer<typeof emulatorAuthSchema>;

export const LOGIN_PATH = '/acs/api/v1/auth/login';
const OPEN = new Set(['/health', '/ping', LOGIN_PATH]);

/** One cluster's IAM: the key its tokens are signed with (Mesos and Marathon take the same
 *  tokens) and what it saw, for tests: logins and refusals. */
export interface AuthCounters {
  logins: number;
  refused: number;
  readonly signingKey: Uint8Array;
}

export const newAuthCounters = (): AuthCounters => ({ logins: 0, refused: 0, signingKey: randomBytes(32) });

export function installEmulatorAuth(app: FastifyInstance, auth: EmulatorAuth, counters: AuthCounters): void {
  const signing = counters.signingKey;
  const basic = auth.basic
    ? `Basic ${Buffer.from(`${auth.basic.principal}:${auth.basic.secret}`).toString('base64')}`
    : undefined;
  const keys = new Map(
    (auth.serviceAccounts ?? []).map((a) => [a.uid, importSPKI(a.public_key, 'RS256')] as const),
  );

  app.post(LOGIN_PATH, async (req, reply) => {
    const body = z.object({ uid: z.string(), token: z.string() }).safeParse(req.body);
    const key = body.success ? keys.get(body.data.uid) : undefined;
    if (!body.success || !key) {
      counters.refused++;
      return reply.code(401).send({ title: 'Invalid credentials', code: 'ERR_INVALID_CREDENTIALS' });
    }
    try {
      const { payload } = await jwtVerify(body.data.token, await key, {
        algorithms: ['RS256'],
        requiredClaims: ['exp'],
      });
      if (payload.uid !== body.data.uid) throw new Error('uid claim differs');
    } catch {
      counters.refused++;
      return reply.code(401).send({ title: 'Invalid credentials', code: 'ERR_INVALID_CREDENTIALS' });
    }
    counters.logins++;
    const token = await new SignJWT({ uid: body.data.uid })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(Math.floor(Date.now() / 1000) + auth.tokenTtlS)
      .sign(signing);
    return { token };
  });

  app.addHook('onRequest', async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (OPEN.has(path)) return;
    const given = req.headers.authorization ?? '';
    if (basic !== undefined && given === basic) return;
    if (given.startsWith('token=')) {
      try {
        await jwtVerify(given.slice('token='.length), signing, { algorithms: ['HS256'] });
        return;
      } catch {
        // expired or forged: refused below
      }
    }
    counters.refused++;
    await reply
      .code(401)
      .header('www-authenticate', basic !== undefined ? 'Basic realm="Mesos"' : 'acsjwt')
      .send({ title: 'Unauthorized', description: 'authentication required' });
  });
}
