import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AGENT_NODE_OPTIONS } from './agent-bench-setup.js';
import { roundOrder } from './agi-bench.js';
import { parseVariants } from './agi-variants.js';

describe('bench:agi interleaving', () => {
  it('rotates who goes first each round, so every server takes every position', () => {
    const servers = ['agent', 'floor', 'dingdong'];
    expect([0, 1, 2, 3].map((r) => roundOrder(servers, r).join(','))).toEqual([
      'agent,floor,dingdong',
      'floor,dingdong,agent',
      'dingdong,agent,floor',
      'agent,floor,dingdong',
    ]);
    expect(roundOrder([], 3)).toEqual([]);
  });
});

describe('BENCH_AGENT_VARIANTS', () => {
  it('reads name=node args pairs; a name alone runs as deployed', () => {
    expect(parseVariants('as-deployed=; young-16mb=--max-semi-space-size=16 --single-threaded-gc ;plain')).toEqual([
      { name: 'as-deployed', nodeArgs: [] },
      { name: 'young-16mb', nodeArgs: ['--max-semi-space-size=16', '--single-threaded-gc'] },
      { name: 'plain', nodeArgs: [] },
    ]);
  });

  it('reads name@checkout as another checkout\'s built agent', () => {
    expect(parseVariants('base@/tmp/fedpbx-base=--max-semi-space-size=16;change=')).toEqual([
      { name: 'base', nodeArgs: ['--max-semi-space-size=16'], checkout: '/tmp/fedpbx-base' },
      { name: 'change', nodeArgs: [] },
    ]);
    expect(() => parseVariants('base@tmp/fedpbx-base=')).toThrow(/absolute path/);
  });

  it('refuses names that are missing, malformed, repeated or taken by a bench:agi server', () => {
    expect(() => parseVariants(' ; ')).toThrow(/no variant/);
    expect(() => parseVariants('a b=--x')).toThrow(/bad variant name "a b"/);
    expect(() => parseVariants('=--x')).toThrow(/bad variant name ""/);
    expect(() => parseVariants('x=;x=--y')).toThrow(/x given twice/);
    expect(() => parseVariants('floor=--x')).toThrow(/floor is taken/);
  });
});

describe('the agent as bench:agi runs it', () => {
  it('has the Node options of the systemd unit it is deployed with', () => {
    const unit = readFileSync(new URL('../../deploy/systemd/fedpbx-agent.service', import.meta.url), 'utf8');
    const deployed = /^Environment=NODE_OPTIONS=(.*)$/m.exec(unit)?.[1];
    expect(deployed).toBe(AGENT_NODE_OPTIONS);
  });
});
