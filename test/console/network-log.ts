import type { Page } from 'playwright-core';

export interface NetworkLog {
  /** Every request the page sent since the log began: its URL and when it left (ms, this machine's clock). */
  readonly requests: { readonly url: string; readonly sentAt: number }[];
  /** When bytes of a response arrived (ms, this machine's clock), by URL: each chunk of a stream is one entry. */
  readonly received: { readonly url: string; readonly at: number }[];
}

/**
 * The page's traffic as Chromium's network layer reports it (DevTools protocol, Network domain): when requests
 * left and when response bytes arrived - before the page's script ran, so a renderer waiting for a CPU does not
 * move these times. Start it before the page opens anything (signInPage's `beforeOpen`).
 */
export async function watchNetwork(page: Page): Promise<NetworkLog> {
  const cdp = await page.context().newCDPSession(page);
  const log: NetworkLog = { requests: [], received: [] };
  const urls = new Map<string, string>();
  // Network events carry a monotonic timestamp (s); requestWillBeSent also the wall time, which gives the offset.
  let wallMinusMonotonic: number | undefined;
  cdp.on('Network.requestWillBeSent', (e) => {
    wallMinusMonotonic ??= e.wallTime - e.timestamp;
    urls.set(e.requestId, e.request.url);
    log.requests.push({ url: e.request.url, sentAt: e.wallTime * 1000 });
  });
  cdp.on('Network.dataReceived', (e) => {
    const url = urls.get(e.requestId);
    if (url !== undefined && wallMinusMonotonic !== undefined) log.received.push({ url, at: (e.timestamp + wallMinusMonotonic) * 1000 });
  });
  await cdp.send('Network.enable');
  return log;
}
