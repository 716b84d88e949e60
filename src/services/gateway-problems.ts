import { fail } from '../domain/failure';
import { log } from '../log';
import { configProblems } from '../origins/config';
import { imageLinkProblems } from './image-links';

/**
 * What is wrong with the gateway's configuration, as `GET /healthz` and `GET /admin/health` report
 * it (docs/operations.md). Each source names fields and variables, never their values. A new check
 * joins this list, and both reports carry it.
 */
type ProblemSource = (env: Record<string, unknown>) => string[];

const PROBLEM_SOURCES: readonly ProblemSource[] = [configProblems, imageLinkProblems];

export function gatewayProblems(env: Record<string, unknown>): string[] {
  return PROBLEM_SOURCES.flatMap((source) => source(env));
}

/**
 * Refuses a generation up front when the origin configuration cannot serve it (docs/operations.md):
 * 502 `origin_error` before any rate limit, reservation or cache lookup, so nothing is charged or
 * counted. The problems go to the log; the client is pointed at `/healthz`, which lists them.
 */
export function requireOriginConfig(env: Record<string, unknown>, requestId: string): void {
  const problems = configProblems(env);
  if (problems.length === 0) return;
  log.error(`origin configuration: ${problems.join('; ')}`, { request_id: requestId });
  fail('origin_error', INVALID_ORIGIN_CONFIG);
}

export const INVALID_ORIGIN_CONFIG = "the gateway's origin configuration is invalid; GET /healthz lists the problems";
