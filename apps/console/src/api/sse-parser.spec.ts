import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from './sse-parser';

const STREAM =
  'retry: 1000\r\n: fedpbx live updates\r\n\r\n' +
  'event: config\ndata: {"topic":"config","kind":"site","siteIds":["moscow"]}\n\n' +
  ': keep-alive\n\n' +
  'event: cdrs\rdata:{"topic":"cdrs",\rdata: "siteIds":["piter"]}\r\r' +
  'id: 7\nevent: nodata\n\n' +
  'data: plain\n\n';

const WANT: SseEvent[] = [
  { event: 'config', data: '{"topic":"config","kind":"site","siteIds":["moscow"]}' },
  { event: 'cdrs', data: '{"topic":"cdrs",\n"siteIds":["piter"]}' },
  { event: 'message', data: 'plain' },
];

describe('SseParser', () => {
  it('reads a stream with every kind of line ending, comments, multi-line data and an event without data', () => {
    const p = new SseParser();
    expect(p.push(STREAM)).toEqual(WANT);
    expect(p.retryMs).toBe(1000);
  });

  it('gives the same events however the stream is split into chunks', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const p = new SseParser();
      expect([...p.push(STREAM.slice(0, cut)), ...p.push(STREAM.slice(cut))], `split at ${cut}`).toEqual(WANT);
    }
    const p = new SseParser();
    expect([...STREAM].flatMap((c) => p.push(c))).toEqual(WANT);
  });

  it('holds an unfinished event until its blank line', () => {
    const p = new SseParser();
    expect(p.push('event: rollout\ndata: {}\n')).toEqual([]);
    expect(p.push('\n')).toEqual([{ event: 'rollout', data: '{}' }]);
  });
});
