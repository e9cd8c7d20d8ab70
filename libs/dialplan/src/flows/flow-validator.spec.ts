import { CallFlow, type FlowNode, type FlowOutcome } from '@fedpbx/contracts';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foundingScenario } from '../scenario/founding-scenario.js';
import { hasErrors, type FlowIssue, type FlowIssueCode } from './flow-issues.js';
import { defaultFlowModuleRegistry } from './flow-module-registry.js';
import { validateCallFlows } from './flow-validator.js';

/** The founding scenario's numbering as seen from any site: moscow's 1xx and piter's 3xx extensions. */
const EXTENSIONS = new Set(['101', '102', '150', '301', '302']);
const extensionExists = (_siteId: string, number: string): boolean => EXTENSIONS.has(number);

function flow(input: { id: string; siteId?: string; entry: string; nodes: unknown[] }): CallFlow {
  return CallFlow.parse({ siteId: 'moscow', name: input.id, ...input });
}
const validate = (...flows: CallFlow[]): FlowIssue[] => validateCallFlows(flows, { extensionExists });
const codes = (issues: FlowIssue[]): string[] => issues.map((i) => `${i.severity} ${i.code} ${i.flowId}/${i.nodeId ?? ''}${i.outcome === undefined ? '' : ` ${i.outcome}`}`);

const HOURS = { timezone: 'Europe/Moscow', windows: [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }] };
const BYE = { id: 'bye', type: 'hangup' };

describe('validateCallFlows', () => {
  it('finds nothing wrong with the founding scenario', () => {
    expect(validate(...foundingScenario().callFlows)).toEqual([]);
  });

  const cases: [string, CallFlow[], string[]][] = [
    ['duplicate-flow-id', [flow({ id: 'a', entry: 'bye', nodes: [BYE] }), flow({ id: 'a', entry: 'bye', nodes: [BYE] })], ['error duplicate-flow-id a/']],
    ['entry-missing', [flow({ id: 'a', entry: 'start', nodes: [BYE] })], ['error entry-missing a/start']],
    [
      'duplicate-node-id',
      [flow({ id: 'a', entry: 'p', nodes: [{ id: 'p', type: 'playback', sound: 's', next: { next: 'bye' } }, BYE, { ...BYE }] })],
      ['error duplicate-node-id a/bye'],
    ],
    ['dangling-edge', [flow({ id: 'a', entry: 'p', nodes: [{ id: 'p', type: 'playback', sound: 's', next: { next: 'ghost' } }] })], ['error dangling-edge a/p next']],
    [
      'impossible-outcome: a digit on a playback',
      [flow({ id: 'a', entry: 'p', nodes: [{ id: 'p', type: 'playback', sound: 's', next: { next: 'bye', 'digit:1': 'bye' } }, BYE] })],
      ['error impossible-outcome a/p digit:1'],
    ],
    [
      'impossible-outcome: anything on a hangup; the node it leads to counts as unreachable',
      [flow({ id: 'a', entry: 'bye', nodes: [{ ...BYE, next: { next: 'p' } }, { id: 'p', type: 'playback', sound: 's' }] })],
      ['error impossible-outcome a/bye next', 'warning unreachable-node a/p'],
    ],
    ['unreachable-node', [flow({ id: 'a', entry: 'bye', nodes: [BYE, { id: 'p', type: 'playback', sound: 's' }] })], ['warning unreachable-node a/p']],
    [
      'no-progress-loop inside a flow',
      [
        flow({
          id: 'a',
          entry: 'tc',
          nodes: [
            { id: 'tc', type: 'time-condition', schedule: HOURS, next: { match: 'cid', nomatch: 'bye' } },
            { id: 'cid', type: 'set-caller-id', name: 'x', next: { next: 'tc' } },
            BYE,
          ],
        }),
      ],
      ['error no-progress-loop a/tc'],
    ],
    ['no-progress-loop: a node to itself', [flow({ id: 'a', entry: 'r', nodes: [{ id: 'r', type: 'record', next: { next: 'r' } }] })], ['error no-progress-loop a/r']],
    [
      'no-progress-loop across flows through goto-flow',
      [
        flow({ id: 'a', entry: 'go', nodes: [{ id: 'go', type: 'goto-flow', flowId: 'b' }] }),
        flow({ id: 'b', entry: 'r', nodes: [{ id: 'r', type: 'record', next: { next: 'go' } }, { id: 'go', type: 'goto-flow', flowId: 'a' }] }),
      ],
      ['error no-progress-loop a/go', 'error no-progress-loop b/r'],
    ],
    [
      'missing-outcome: a menu without choices',
      [flow({ id: 'a', entry: 'm', nodes: [{ id: 'm', type: 'ivr-menu', prompt: 'p', next: { timeout: 'bye' } }, BYE] })],
      ['error missing-outcome a/m'],
    ],
    [
      'missing-outcome: a time condition leading nowhere',
      [flow({ id: 'a', entry: 'tc', nodes: [{ id: 'tc', type: 'time-condition', schedule: HOURS }] })],
      ['error missing-outcome a/tc'],
    ],
    [
      'missing-outcome: record / set-caller-id followed by nothing (warnings)',
      [flow({ id: 'a', entry: 'r', nodes: [{ id: 'r', type: 'record', next: { next: 'c' } }, { id: 'c', type: 'set-caller-id', name: 'x' }] })],
      ['warning missing-outcome a/c'],
    ],
    ['goto-missing-flow', [flow({ id: 'a', entry: 'go', nodes: [{ id: 'go', type: 'goto-flow', flowId: 'nowhere' }] })], ['error goto-missing-flow a/go']],
    [
      'goto-foreign-flow',
      [flow({ id: 'a', entry: 'go', nodes: [{ id: 'go', type: 'goto-flow', flowId: 'p' }] }), flow({ id: 'p', siteId: 'piter', entry: 'bye', nodes: [BYE] })],
      ['error goto-foreign-flow a/go'],
    ],
    [
      'unknown-extension: dial-extension and ring-group members',
      [
        flow({
          id: 'a',
          entry: 'd',
          nodes: [
            { id: 'd', type: 'dial-extension', number: '199', next: { noanswer: 'g' } },
            { id: 'g', type: 'ring-group', members: ['101', '499'] },
          ],
        }),
      ],
      ['error unknown-extension a/d', 'error unknown-extension a/g'],
    ],
    ['unknown-mailbox', [flow({ id: 'a', entry: 'vm', nodes: [{ id: 'vm', type: 'voicemail', mailbox: '777' }] })], ['error unknown-mailbox a/vm']],
    ['duplicate-member', [flow({ id: 'a', entry: 'g', nodes: [{ id: 'g', type: 'ring-group', members: ['101', '102', '101'] }] })], ['warning duplicate-member a/g']],
    [
      'bad-schedule: unknown zone, impossible holiday, empty window',
      [
        flow({
          id: 'a',
          entry: 'tc',
          nodes: [
            {
              id: 'tc',
              type: 'time-condition',
              schedule: { timezone: 'Europe/Atlantis', windows: [{ days: [1], start: '10:00', end: '10:00' }], holidays: ['2026-02-30'] },
              next: { match: 'bye', nomatch: 'bye' },
            },
            BYE,
          ],
        }),
      ],
      ['error bad-schedule a/tc', 'error bad-schedule a/tc', 'warning bad-schedule a/tc'],
    ],
  ];

  it.each(cases)('%s', (_name, flows, expected) => {
    expect(codes(validate(...flows))).toEqual(expected);
  });

  it('covers every issue code in the table above', () => {
    const all: FlowIssueCode[] = [
      'duplicate-flow-id',
      'entry-missing',
      'duplicate-node-id',
      'dangling-edge',
      'impossible-outcome',
      'unreachable-node',
      'no-progress-loop',
      'missing-outcome',
      'goto-missing-flow',
      'goto-foreign-flow',
      'unknown-extension',
      'unknown-mailbox',
      'duplicate-member',
      'bad-schedule',
    ];
    const seen = new Set(cases.flatMap(([, flows]) => validate(...flows).map((i) => i.code)));
    expect([...seen].sort()).toEqual([...all].sort());
  });

  it('names the whole loop, and allows loops through a node that makes progress', () => {
    const [issue] = validate(
      flow({
        id: 'a',
        entry: 'tc',
        nodes: [
          { id: 'tc', type: 'time-condition', schedule: HOURS, next: { match: 'cid', nomatch: 'menu' } },
          { id: 'cid', type: 'set-caller-id', name: 'x', next: { next: 'tc' } },
          // tc -> menu -> tc loops too, but waits for the caller each time: fine.
          { id: 'menu', type: 'ivr-menu', prompt: 'p', next: { 'digit:1': 'tc', timeout: 'hold' } },
          { id: 'hold', type: 'playback', sound: 'hold', next: { next: 'menu' } },
        ],
      }),
    );
    expect(issue?.data).toEqual({ cycle: ['a/tc', 'a/cid'] });
    expect(
      validate(flow({ id: 'a', entry: 'menu', nodes: [{ id: 'menu', type: 'ivr-menu', prompt: 'p', next: { 'digit:1': 'hold' } }, { id: 'hold', type: 'playback', sound: 'h', next: { next: 'menu' } }] })),
    ).toEqual([]);
  });

  it('a goto-flow into a flow that makes progress is no loop', () => {
    const a = flow({ id: 'a', entry: 'go', nodes: [{ id: 'go', type: 'goto-flow', flowId: 'b' }] });
    const b = flow({ id: 'b', entry: 'p', nodes: [{ id: 'p', type: 'playback', sound: 's', next: { next: 'go' } }, { id: 'go', type: 'goto-flow', flowId: 'a' }] });
    expect(validate(a, b)).toEqual([]);
  });

  it('hasErrors ignores warnings', () => {
    expect(hasErrors(validate(flow({ id: 'a', entry: 'bye', nodes: [BYE, { id: 'p', type: 'playback', sound: 's' }] })))).toBe(false);
    expect(hasErrors(validate(flow({ id: 'a', entry: 'x', nodes: [BYE] })))).toBe(true);
  });
});

// ---- property: generated acyclic flows with proper outcomes validate clean; a dangling edge is always found ----

const MIDDLE_TYPES = ['dial-extension', 'ring-group', 'ivr-menu', 'time-condition', 'voicemail', 'playback', 'record', 'set-caller-id', 'goto-flow'] as const;
const NUMBERS = [...EXTENSIONS];
const TARGET = flow({ id: 'target', entry: 't', nodes: [{ id: 't', type: 'playback', sound: 'x' }] });

type Node = { id: string; type: string; next: Record<string, string> } & Record<string, unknown>;

/**
 * A flow whose edges only go forward (so it is acyclic), where each node is reached from an earlier one, every
 * edge uses an outcome its module produces and each node has the outcomes its module insists on.
 */
export const acyclicFlow = fc.gen().map((g): CallFlow => {
  const middle = g(fc.array, fc.constantFrom(...MIDDLE_TYPES), { maxLength: 10 });
  const types = ['ivr-menu', ...middle, 'hangup'];
  const nodes: Node[] = types.map((type, i) => {
    const id = i === types.length - 1 ? 'end' : `n${i}`;
    switch (type) {
      case 'dial-extension':
        return { id, type, next: {}, number: g(fc.constantFrom, ...NUMBERS) };
      case 'ring-group':
        return { id, type, next: {}, members: g(fc.uniqueArray, fc.constantFrom(...NUMBERS), { minLength: 1 }), strategy: g(fc.constantFrom, 'ringall', 'hunt') };
      case 'ivr-menu':
        return { id, type, next: {}, prompt: 'menu' };
      case 'time-condition':
        return { id, type, next: {}, schedule: HOURS };
      case 'voicemail':
        return { id, type, next: {}, mailbox: g(fc.constantFrom, ...NUMBERS) };
      case 'playback':
        return { id, type, next: {}, sound: 'hello' };
      case 'set-caller-id':
        return { id, type, next: {}, name: 'Sales' };
      case 'goto-flow':
        return { id, type, next: {}, flowId: TARGET.id };
      default:
        return { id, type, next: {} };
    }
  });
  const outcomes = (n: Node): readonly FlowOutcome[] => defaultFlowModuleRegistry.outcomes({ ...n, next: {} } as unknown as FlowNode);
  const free = (n: Node): FlowOutcome[] => outcomes(n).filter((o) => !(o in n.next));

  // A spanning tree: each node hangs off an earlier node with an unused outcome (node 0, a menu, always has one).
  // Indices are drawn, never the node objects: fast-check's constantFrom may hand back a copy of an object.
  for (let i = 1; i < nodes.length; i++) {
    const parents = nodes.flatMap((p, index) => (index < i && free(p).length > 0 ? [index] : []));
    const parent = nodes[g(fc.constantFrom, ...parents)];
    if (parent === undefined) throw new Error('a parent index is always in range');
    parent.next[g(fc.constantFrom, ...free(parent))] = nodes[i]?.id ?? 'end';
  }
  // Some more forward edges.
  for (let k = g(fc.nat, { max: 10 }); k > 0; k--) {
    const from = g(fc.nat, { max: nodes.length - 2 });
    const node = nodes[from];
    if (node === undefined || free(node).length === 0) continue;
    const to = g(fc.integer, { min: from + 1, max: nodes.length - 1 });
    node.next[g(fc.constantFrom, ...free(node))] = nodes[to]?.id ?? 'end';
  }
  // The outcomes a module insists on lead to the end.
  for (const n of nodes) {
    if (n.type === 'ivr-menu' && !Object.keys(n.next).some((o) => o.startsWith('digit:'))) n.next['digit:0'] = 'end';
    if (n.type === 'time-condition' && n.next.match === undefined && n.next.nomatch === undefined) n.next.match = 'end';
    if ((n.type === 'record' || n.type === 'set-caller-id') && n.next.next === undefined) n.next.next = 'end';
  }
  return flow({ id: 'generated', entry: 'n0', nodes });
});

describe('validateCallFlows (properties)', () => {
  it('a generated acyclic flow with proper outcomes validates clean', () => {
    fc.assert(
      fc.property(acyclicFlow, (f) => {
        expect(validate(f, TARGET)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('an edge to a missing node is always reported', () => {
    fc.assert(
      fc.property(acyclicFlow, fc.nat(), fc.nat(), (f, pickNode, pickOutcome) => {
        const candidates = f.nodes.filter((n) => defaultFlowModuleRegistry.outcomes(n).length > 0);
        const victim = candidates[pickNode % candidates.length];
        if (victim === undefined) throw new Error('node 0 is a menu, so there is always a candidate');
        const possible = defaultFlowModuleRegistry.outcomes(victim);
        const o = possible[pickOutcome % possible.length] ?? 'next';
        const broken: CallFlow = { ...f, nodes: f.nodes.map((n) => (n === victim ? { ...n, next: { ...n.next, [o]: 'ghost' } } : n)) };
        const issues = validate(broken, TARGET);
        expect(issues).toContainEqual(expect.objectContaining({ code: 'dangling-edge', severity: 'error', flowId: f.id, nodeId: victim.id, outcome: o }));
      }),
      { numRuns: 300 },
    );
  });
});
