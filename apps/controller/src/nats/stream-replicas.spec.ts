import { describe, expect, it } from 'vitest';
import { ConfigError, loadControllerConfig } from '../config.js';
import { replicasFor, replicasProblem } from './stream-replicas.js';

describe('JetStream replicas (FEDPBX_NATS_REPLICAS)', () => {
  it('default to 3 on a server in a cluster and 1 on a single server; a set value wins', () => {
    expect(replicasFor(undefined, { cluster: 'fedpbx' })).toBe(3);
    expect(replicasFor(undefined, {})).toBe(1);
    expect(replicasFor(undefined, undefined)).toBe(1);
    expect(replicasFor(1, { cluster: 'fedpbx' })).toBe(1);
    expect(replicasFor(5, { cluster: 'fedpbx' })).toBe(5);
  });

  it('more than one copy on a single server is named as a problem with the setting', () => {
    expect(replicasProblem(3, {})).toMatch(/^FEDPBX_NATS_REPLICAS is 3 but the NATS server is not part of a cluster/);
    expect(replicasProblem(3, { cluster: 'fedpbx' })).toBeUndefined();
    expect(replicasProblem(1, {})).toBeUndefined();
  });

  it('are validated at start: 1-5', () => {
    expect(loadControllerConfig({ FEDPBX_NATS_REPLICAS: '3' }).FEDPBX_NATS_REPLICAS).toBe(3);
    expect(loadControllerConfig({}).FEDPBX_NATS_REPLICAS).toBeUndefined();
    for (const bad of ['0', '6', 'three', '1.5']) {
      expect(() => loadControllerConfig({ FEDPBX_NATS_REPLICAS: bad })).toThrow(ConfigError);
      expect(() => loadControllerConfig({ FEDPBX_NATS_REPLICAS: bad })).toThrow(/FEDPBX_NATS_REPLICAS: /);
    }
  });
});
