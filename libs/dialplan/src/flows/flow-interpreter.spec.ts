import { CallFlow, type FlowNode, type TraceStep } from '@fedpbx/contracts';
import { describe, expect, it } from 'vitest';
import { foundingScenario } from '../scenario/founding-scenario.js';
import type { DialStatus, DialTarget, FlowContext } from './call-channel.js';
import { FlowInterpreter } from './flow-interpreter.js';
import { defaultFlowModuleRegistry, FlowModuleRegistry, DEFAULT_FLOW_MODULES } from './flow-module-registry.js';
import { dialStatusOutcome } from './modules/dial-extension.js';
import { InMemoryCallChannel, type InMemoryChannelScript } from './testing/in-memory-channel.js';

const BUSINESS_HOURS = new Date('2026-03-02T07:00:00Z'); // Monday 10:00 in Moscow
const AFTER_HOURS = new Date('2026-03-02T17:00:00Z'); // Monday 20:00 in Moscow

const local = (number: string): DialTarget => ({ kind: 'endpoint', number, endpoint: number });
const piter = (number: string): DialTarget => ({ kind: 'site', siteId: 'piter', via: 'piter', number, endpoint: 'site-piter' });
/** moscow's view: 1xx/2xx ring here, 3xx/4xx at piter, anything else is unknown. */
function resolveFromMoscow(number: string): DialTarget[] | undefined {
  if (/^[12]\d\d$/.test(number)) return [local(number)];
  if (/^[34]\d\d$/.test(number)) return [piter(number)];
  return undefined;
}

function reception(change?: (nodes: FlowNode[]) => FlowNode[]): CallFlow {
  const flow = foundingScenario().callFlows.find((f) => f.id === 'f-moscow-reception');
  if (flow === undefined) throw new Error('founding scenario lost its reception flow');
  return change === undefined ? flow : { ...flow, nodes: change(structuredClone(flow.nodes)) };
}

/** Parse through the contract so defaults (timeouts, retries, next) apply as in a real snapshot. */
function flow(input: { id: string; siteId?: string; entry: string; nodes: unknown[] }): CallFlow {
  return CallFlow.parse({ siteId: 'moscow', name: input.id, ...input });
}

interface Harness {
  channel: InMemoryCallChannel;
  ctx: FlowContext;
  steps: TraceStep[];
}

function harness(flows: CallFlow[], script: InMemoryChannelScript, now = BUSINESS_HOURS, resolve: FlowContext['resolveExtension'] = resolveFromMoscow): Harness {
  const channel = new InMemoryCallChannel({ callerId: { name: 'Client', number: '74951234567' }, ...script });
  const steps: TraceStep[] = [];
  const byId = new Map(flows.map((f) => [f.id, f]));
  const ctx: FlowContext = { channel, now, resolveExtension: resolve, getFlow: (id) => byId.get(id), trace: (s) => steps.push(s) };
  return { channel, ctx, steps };
}

const interpreter = new FlowInterpreter();

describe('founding scenario: f-moscow-reception', () => {
  it('business hours, press 1: the sales group rings 101 and 102 at once', async () => {
    const { channel, ctx, steps } = harness([reception()], { digits: ['1'], dial: ['ANSWER'] });
    const result = await interpreter.run('f-moscow-reception', ctx);

    expect(channel.eventsOf('read-digit').map((e) => e.prompt)).toEqual(['fedpbx/welcome']);
    const dials = channel.eventsOf('dial');
    expect(dials).toHaveLength(1);
    expect(dials[0]?.targets).toEqual([local('101'), local('102')]);
    expect(dials[0]?.timeoutSec).toBe(20);
    expect(result).toMatchObject({ end: 'no-edge', lastOutcome: 'answered', steps: 3 });
    expect(result.visited.map((v) => `${v.nodeId}:${v.outcome ?? ''}`)).toEqual(['hours:match', 'menu:digit:1', 'sales:answered']);
    expect(channel.isHungUp()).toBe(true);
    expect(channel.afterHangup).toEqual([]);
    expect(steps.map((s) => s.step)).toEqual(['flow', 'node', 'schedule', 'outcome', 'node', 'ivr', 'outcome', 'node', 'dial', 'flow-end']);
  });

  it('press 2: 301 is rung where the resolver says it lives (piter), then voicemail when nobody answers', async () => {
    const { channel, ctx } = harness([reception()], { digits: ['2'], dial: ['NOANSWER'] });
    const result = await interpreter.run('f-moscow-reception', ctx);

    expect(channel.eventsOf('dial').map((d) => d.targets)).toEqual([[piter('301')]]);
    expect(channel.eventsOf('voicemail').map((v) => v.mailbox)).toEqual(['101']);
    expect(result.visited.map((v) => v.nodeId)).toEqual(['hours', 'menu', 'spb', 'vm']);
    expect(result).toMatchObject({ end: 'no-edge', lastOutcome: 'next' });
  });

  it('after hours: the closed message, then voicemail 101; no menu, nobody rung', async () => {
    const { channel, ctx } = harness([reception()], {}, AFTER_HOURS);
    const result = await interpreter.run('f-moscow-reception', ctx);

    expect(channel.events.map((e) => e.kind)).toEqual(['answer', 'playback', 'voicemail', 'hangup']);
    expect(channel.eventsOf('playback')[0]?.sound).toBe('fedpbx/closed');
    expect(channel.eventsOf('voicemail')[0]?.mailbox).toBe('101');
    expect(result.visited.map((v) => v.nodeId)).toEqual(['hours', 'closed', 'vm']);
  });

  it('on the 31 December holiday the office is closed even in working hours', async () => {
    const { ctx } = harness([reception()], {}, new Date('2026-12-31T07:00:00Z'));
    const result = await interpreter.run('f-moscow-reception', ctx);
    expect(result.visited[0]).toMatchObject({ nodeId: 'hours', outcome: 'nomatch' });
  });

  it('no key: the menu is offered 1 + retries times, then the operator (101) is rung', async () => {
    const { channel, ctx } = harness([reception()], { dial: ['BUSY'] });
    const result = await interpreter.run('f-moscow-reception', ctx);

    expect(channel.eventsOf('read-digit').map((e) => [e.prompt, e.timeoutSec, e.result])).toEqual([
      ['fedpbx/welcome', 5, 'timeout'],
      ['fedpbx/welcome', 5, 'timeout'],
      ['fedpbx/welcome', 5, 'timeout'],
    ]);
    expect(channel.eventsOf('dial').map((d) => d.targets)).toEqual([[local('101')]]);
    expect(result.visited.map((v) => `${v.nodeId}:${v.outcome ?? ''}`)).toEqual(['hours:match', 'menu:timeout', 'operator:busy', 'vm:next']);
  });

  it('wrong keys: after the retries the invalid edge (operator) is taken', async () => {
    const { ctx } = harness([reception()], { digits: ['9', '#', '0'], dial: ['ANSWER'] });
    const result = await interpreter.run('f-moscow-reception', ctx);
    expect(result.visited.map((v) => `${v.nodeId}:${v.outcome ?? ''}`)).toEqual(['hours:match', 'menu:invalid', 'operator:answered']);
  });

  it('a wrong key then a right one: the invalid prompt is played, the menu offered again', async () => {
    const flowWithInvalid = reception((nodes) => nodes.map((n) => (n.type === 'ivr-menu' ? { ...n, invalidPrompt: 'fedpbx/invalid' } : n)));
    const { channel, ctx } = harness([flowWithInvalid], { digits: ['7', '1'], dial: ['ANSWER'] });
    const result = await interpreter.run('f-moscow-reception', ctx);

    expect(channel.events.filter((e) => e.kind === 'read-digit' || e.kind === 'playback').map((e) => (e.kind === 'playback' ? `play ${e.sound}` : `read ${e.prompt}`))).toEqual([
      'read fedpbx/welcome',
      'play fedpbx/invalid',
      'read fedpbx/welcome',
    ]);
    expect(result.visited.map((v) => v.nodeId)).toEqual(['hours', 'menu', 'sales']);
  });

  it('the caller hangs up at the menu: the flow stops there, nothing more is asked of the channel', async () => {
    const { channel, ctx } = harness([reception()], { digits: ['hangup'] });
    const result = await interpreter.run('f-moscow-reception', ctx);

    expect(result).toMatchObject({ end: 'caller-hangup', steps: 2 });
    expect(channel.eventsOf('read-digit')).toHaveLength(1);
    expect(channel.eventsOf('dial')).toEqual([]);
    expect(channel.eventsOf('hangup')).toEqual([]);
    expect(channel.afterHangup).toEqual([]);
  });

  it('the caller hangs up while the group rings: no voicemail', async () => {
    const { channel, ctx } = harness([reception()], { digits: ['1'], dial: [{ status: 'CANCEL', callerHangsUp: true }] });
    const result = await interpreter.run('f-moscow-reception', ctx);
    expect(result).toMatchObject({ end: 'caller-hangup', lastOutcome: 'noanswer' });
    expect(channel.eventsOf('voicemail')).toEqual([]);
    expect(channel.afterHangup).toEqual([]);
  });
});

describe('ring-group hunt', () => {
  const hunt = (): CallFlow => reception((nodes) => nodes.map((n) => (n.type === 'ring-group' ? { ...n, strategy: 'hunt' as const } : n)));

  it('rings the members one after another, in order, until one answers', async () => {
    const { channel, ctx } = harness([hunt()], { digits: ['1'], dial: ['NOANSWER', 'ANSWER'] });
    const result = await interpreter.run('f-moscow-reception', ctx);
    expect(channel.eventsOf('dial').map((d) => [d.targets, d.timeoutSec])).toEqual([
      [[local('101')], 20],
      [[local('102')], 20],
    ]);
    expect(result.visited.at(-1)).toMatchObject({ nodeId: 'sales', outcome: 'answered' });
  });

  it.each<[DialStatus[], string]>([
    [['BUSY', 'NOANSWER'], 'noanswer'],
    [['CHANUNAVAIL', 'BUSY'], 'busy'],
    [['CONGESTION', 'CHANUNAVAIL'], 'unavailable'],
  ])('when all fail (%j) the outcome is %s', async (statuses, expected) => {
    const { ctx } = harness([hunt()], { digits: ['1'], dial: statuses });
    const result = await interpreter.run('f-moscow-reception', ctx);
    expect(result.visited.find((v) => v.nodeId === 'sales')?.outcome).toBe(expected);
  });

  it('stops hunting when the caller hangs up', async () => {
    const { channel, ctx } = harness([hunt()], { digits: ['1'], dial: [{ status: 'CANCEL', callerHangsUp: true }, 'ANSWER'] });
    const result = await interpreter.run('f-moscow-reception', ctx);
    expect(channel.eventsOf('dial')).toHaveLength(1);
    expect(result.end).toBe('caller-hangup');
  });

  it('skips members the resolver does not know, and is unavailable without dialling when none is known', async () => {
    const group = (members: string[]): CallFlow =>
      flow({ id: 'g', entry: 'g', nodes: [{ id: 'g', type: 'ring-group', members, strategy: 'ringall', next: { unavailable: 'sorry' } }, { id: 'sorry', type: 'playback', sound: 'sorry' }] });
    const some = harness([group(['999', '102'])], { dial: ['ANSWER'] });
    await interpreter.run('g', some.ctx);
    expect(some.channel.eventsOf('dial').map((d) => d.targets)).toEqual([[local('102')]]);
    expect(some.steps.some((s) => s.step === 'dial-unknown')).toBe(true);

    const none = harness([group(['998', '999'])], {});
    const result = await interpreter.run('g', none.ctx);
    expect(none.channel.eventsOf('dial')).toEqual([]);
    expect(result.visited.map((v) => `${v.nodeId}:${v.outcome ?? ''}`)).toEqual(['g:unavailable', 'sorry:next']);
  });
});

describe('dial-extension', () => {
  it.each<[DialStatus, string]>([
    ['ANSWER', 'answered'],
    ['BUSY', 'busy'],
    ['NOANSWER', 'noanswer'],
    ['CANCEL', 'noanswer'],
    ['CONGESTION', 'unavailable'],
    ['CHANUNAVAIL', 'unavailable'],
    ['DONTCALL', 'unavailable'],
    ['TORTURE', 'unavailable'],
    ['INVALIDARGS', 'unavailable'],
  ])('DIALSTATUS %s -> %s', async (status, expected) => {
    expect(dialStatusOutcome(status)).toBe(expected);
    const f = flow({ id: 'd', entry: 'd', nodes: [{ id: 'd', type: 'dial-extension', number: '150' }] });
    const { ctx } = harness([f], { dial: [status] });
    const result = await interpreter.run('d', ctx);
    expect(result.lastOutcome).toBe(expected);
  });

  it('an unknown extension is unavailable', async () => {
    const f = flow({ id: 'd', entry: 'd', nodes: [{ id: 'd', type: 'dial-extension', number: '999', next: { unavailable: 'x' } }, { id: 'x', type: 'hangup' }] });
    const { channel, ctx } = harness([f], {});
    const result = await interpreter.run('d', ctx);
    expect(channel.eventsOf('dial')).toEqual([]);
    expect(result).toMatchObject({ end: 'hangup-node' });
    expect(result.visited.map((v) => v.outcome)).toEqual(['unavailable', undefined]);
  });

  it('a number whose route fails (CHANUNAVAIL, CONGESTION) is rung through its failover routes, in order, as a phone would', async () => {
    const trunk = (number: string, endpoint: string): DialTarget => ({ kind: 'trunk', trunkId: `t-${endpoint}`, trunkSiteId: 'moscow', number, endpoint, reason: 'link-down-fallback' });
    const f = flow({ id: 'd', entry: 'd', nodes: [{ id: 'd', type: 'dial-extension', number: '301' }] });
    const { channel, ctx, steps } = harness([f], { dial: ['CHANUNAVAIL', 'CONGESTION', 'ANSWER', 'ANSWER'] });
    const withFailover: FlowContext = { ...ctx, resolveFailover: (n) => (n === '301' ? [trunk('88125550301', 'trunk-a'), trunk('88125550301', 'trunk-b'), trunk('88125550301', 'trunk-c')] : undefined) };
    const result = await interpreter.run('d', withFailover);
    expect(channel.eventsOf('dial').map((d) => d.targets.map((t) => t.endpoint))).toEqual([['site-piter'], ['trunk-a'], ['trunk-b']]);
    expect(result.lastOutcome).toBe('answered');
    expect(steps.filter((s) => s.step === 'dial-failover')).toHaveLength(2);
  });

  it('a callee who does not answer or is busy is not failed over, nor is a group rung at once', async () => {
    const alt: DialTarget = { kind: 'trunk', trunkId: 't-x', trunkSiteId: 'moscow', number: '88125550301', endpoint: 'trunk-x', reason: 'link-down-fallback' };
    for (const status of ['NOANSWER', 'BUSY'] as const) {
      const f = flow({ id: 'd', entry: 'd', nodes: [{ id: 'd', type: 'dial-extension', number: '301' }] });
      const { channel, ctx } = harness([f], { dial: [status] });
      await interpreter.run('d', { ...ctx, resolveFailover: () => [alt] });
      expect(channel.eventsOf('dial'), status).toHaveLength(1);
    }
    const g = flow({ id: 'g', entry: 'g', nodes: [{ id: 'g', type: 'ring-group', members: ['101', '301'], strategy: 'ringall' }] });
    const { channel, ctx } = harness([g], { dial: ['CHANUNAVAIL'] });
    await interpreter.run('g', { ...ctx, resolveFailover: () => [alt] });
    expect(channel.eventsOf('dial')).toHaveLength(1);
  });

  it('accepts an async resolver', async () => {
    const f = flow({ id: 'd', entry: 'd', nodes: [{ id: 'd', type: 'dial-extension', number: '301', timeoutSec: 15 }] });
    const { channel, ctx } = harness([f], { dial: ['ANSWER'] }, BUSINESS_HOURS, (n) => Promise.resolve(resolveFromMoscow(n)));
    await interpreter.run('d', ctx);
    expect(channel.eventsOf('dial')[0]).toMatchObject({ targets: [piter('301')], timeoutSec: 15, opts: { allowTransfer: true } });
  });
});

describe('other nodes and the run itself', () => {
  it('goto-flow continues at the other flow\'s entry; caller ID and recording carry over', async () => {
    const a = flow({
      id: 'a',
      entry: 'rec',
      nodes: [
        { id: 'rec', type: 'record', next: { next: 'cid' } },
        { id: 'cid', type: 'set-caller-id', name: 'Reception', numberPrefix: '9', next: { next: 'go' } },
        { id: 'go', type: 'goto-flow', flowId: 'b' },
      ],
    });
    const b = flow({ id: 'b', entry: 'hello', nodes: [{ id: 'hello', type: 'playback', sound: 'hello', next: { next: 'bye' } }, { id: 'bye', type: 'hangup' }] });
    const { channel, ctx, steps } = harness([a, b], {});
    const result = await interpreter.run('a', ctx);

    expect(result).toMatchObject({ end: 'hangup-node', steps: 5 });
    expect(result.visited.map((v) => `${v.flowId}/${v.nodeId}`)).toEqual(['a/rec', 'a/cid', 'a/go', 'b/hello', 'b/bye']);
    expect(channel.recording).toBe(true);
    expect(channel.callerId()).toEqual({ name: 'Reception', number: '974951234567' });
    expect(steps.find((s) => s.step === 'goto')?.data).toMatchObject({ from: 'a', flowId: 'b' });
    expect(channel.eventsOf('hangup')).toHaveLength(1);
  });

  it('goto-flow to a missing or another site\'s flow ends the call', async () => {
    const a = flow({ id: 'a', entry: 'go', nodes: [{ id: 'go', type: 'goto-flow', flowId: 'nowhere' }] });
    const missing = harness([a], {});
    expect((await interpreter.run('a', missing.ctx)).end).toBe('missing-flow');
    expect(missing.channel.isHungUp()).toBe(true);

    const toPiter = flow({ id: 'a', entry: 'go', nodes: [{ id: 'go', type: 'goto-flow', flowId: 'p' }] });
    const p = flow({ id: 'p', siteId: 'piter', entry: 'x', nodes: [{ id: 'x', type: 'hangup' }] });
    expect((await interpreter.run('a', harness([toPiter, p], {}).ctx)).end).toBe('foreign-flow');
  });

  it('a missing start flow or entry node ends the call', async () => {
    const none = harness([], {});
    expect(await interpreter.run('ghost', none.ctx)).toMatchObject({ end: 'missing-flow', steps: 0 });
    expect(none.channel.isHungUp()).toBe(true);
    const broken = flow({ id: 'b', entry: 'nope', nodes: [{ id: 'x', type: 'hangup' }] });
    expect((await interpreter.run('b', harness([broken], {}).ctx)).end).toBe('missing-node');
  });

  it('the step limit stops a loop', async () => {
    const loop = flow({ id: 'l', entry: 'p', nodes: [{ id: 'p', type: 'playback', sound: 'hold', next: { next: 'p' } }] });
    const { channel, ctx, steps } = harness([loop], {});
    const result = await interpreter.run('l', ctx);
    expect(result).toMatchObject({ end: 'step-limit', steps: 200 });
    expect(channel.eventsOf('playback')).toHaveLength(200);
    expect(steps.at(-1)).toMatchObject({ step: 'flow-end', data: { end: 'step-limit' } });

    const short = await new FlowInterpreter({ maxSteps: 3 }).run('l', harness([loop], {}).ctx);
    expect(short).toMatchObject({ end: 'step-limit', steps: 3 });
  });

  it('the caller hanging up during a playback stops the loop', async () => {
    const loop = flow({ id: 'l', entry: 'p', nodes: [{ id: 'p', type: 'playback', sound: 'hold', next: { next: 'p' } }] });
    const { channel, ctx } = harness([loop], { hangupDuringPlayback: ['hold'] });
    expect(await interpreter.run('l', ctx)).toMatchObject({ end: 'caller-hangup', steps: 1 });
    expect(channel.afterHangup).toEqual([]);
  });

  it('runs without a tracer', async () => {
    const { ctx } = harness([reception()], {}, AFTER_HOURS);
    const { trace: _ignored, ...silent } = ctx;
    expect((await interpreter.run('f-moscow-reception', silent)).end).toBe('no-edge');
  });
});

describe('FlowModuleRegistry', () => {
  it('holds one module per node type, each under its own type', () => {
    for (const [type, module] of Object.entries(DEFAULT_FLOW_MODULES)) expect(module.type).toBe(type);
    expect(defaultFlowModuleRegistry.get('ring-group')).toBe(DEFAULT_FLOW_MODULES['ring-group']);
    expect(() => new FlowModuleRegistry({ ...DEFAULT_FLOW_MODULES, hangup: DEFAULT_FLOW_MODULES.playback as never })).toThrow(TypeError);
  });

  it('lets a module be replaced without touching the shared registry', async () => {
    const registry = defaultFlowModuleRegistry.with({
      playback: { ...DEFAULT_FLOW_MODULES.playback, run: () => Promise.resolve({ kind: 'outcome', outcome: 'next' }) },
    });
    const { channel, ctx } = harness([reception()], {}, AFTER_HOURS);
    await new FlowInterpreter({ registry }).run('f-moscow-reception', ctx);
    expect(channel.eventsOf('playback')).toEqual([]);
    expect(defaultFlowModuleRegistry.get('playback')).toBe(DEFAULT_FLOW_MODULES.playback);
  });
});
