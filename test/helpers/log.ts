import { pino, type Logger } from 'pino';

/** A logger for in-process tests: silent unless DCNET_TEST_LOG=debug (or another level) is set. */
export function testLogger(): Logger {
  return pino({ level: process.env.DCNET_TEST_LOG ?? 'silent' });
}
