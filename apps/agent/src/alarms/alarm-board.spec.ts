import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { AlarmBoard } from './alarm-board.js';

describe('AlarmBoard', () => {
  it('keeps one alarm per code with its first time, tells listeners of each change, and shows it as a metric', async () => {
    const registry = new Registry();
    let t = Date.parse('2026-12-06T21:00:00Z');
    const board = new AlarmBoard(pino({ level: 'silent' }), registry, () => new Date(t));
    let changes = 0;
    board.onChange(() => (changes += 1));
    board.raise('pjsip-transport-failed', 'critical', 'bind 0.0.0.0:5060 taken');
    t += 5000;
    board.raise('pjsip-transport-failed', 'critical', 'bind 0.0.0.0:5060 taken'); // same: no change
    board.raise('pjsip-transport-failed', 'critical', 'bind [::]:5060 taken');
    expect(changes).toBe(2);
    expect(board.list()).toEqual([{ code: 'pjsip-transport-failed', severity: 'critical', message: 'bind [::]:5060 taken', since: '2026-12-06T21:00:00.000Z' }]);
    expect(await registry.getSingleMetricAsString('fedpbx_alarm')).toContain('fedpbx_alarm{code="pjsip-transport-failed",severity="critical"} 1');
    board.clear('pjsip-transport-failed');
    board.clear('pjsip-transport-failed');
    expect(changes).toBe(3);
    expect(board.list()).toEqual([]);
    expect(await registry.getSingleMetricAsString('fedpbx_alarm')).toContain('fedpbx_alarm{code="pjsip-transport-failed",severity="critical"} 0');
  });
});
