import { foundingScenarioInput } from '@fedpbx/dialplan';
import type { TestApp } from './test-app.js';

/** The founding scenario as REST requests, in an order every write validates in: `[POST /api/v1/<path>, bodies]`. */
export function foundingScenarioRequests(): [path: string, bodies: readonly unknown[]][] {
  const input = foundingScenarioInput();
  return [
    ['classes-of-service', input.classesOfService ?? []],
    ['sites', input.sites ?? []],
    ['number-ranges', input.numberRanges ?? []],
    ['trunks', input.trunks ?? []],
    ['extensions', input.extensions ?? []],
    ['links', input.links ?? []],
    ['outbound-routes', input.outboundRoutes ?? []],
    ['call-flows', input.callFlows ?? []],
    ['inbound-routes', input.inboundRoutes ?? []],
  ];
}

/** Builds the founding scenario through the API as `token` (head office); throws on the first refused write. */
export async function buildFoundingScenario(t: TestApp, token: string): Promise<void> {
  for (const [path, items] of foundingScenarioRequests()) {
    for (const body of items) {
      const r = await t.request('POST', `/api/v1/${path}`, body, token);
      if (r.status !== 201) throw new Error(`POST ${path}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  }
}
