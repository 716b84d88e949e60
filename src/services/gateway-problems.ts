import { configProblems } from '../origins/config';

/**
 * What is wrong with the gateway's configuration, as `GET /healthz` and `GET /admin/health` report
 * it (docs/operations.md). Each source names fields and variables, never their values. A new check
 * joins this list, and both reports carry it.
 */
type ProblemSource = (env: Record<string, unknown>) => string[];

const PROBLEM_SOURCES: readonly ProblemSource[] = [configProblems];

export function gatewayProblems(env: Record<string, unknown>): string[] {
  return PROBLEM_SOURCES.flatMap((source) => source(env));
}
