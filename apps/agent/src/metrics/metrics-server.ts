import { createServer, type Server } from 'node:http';
import type { AgentMetrics } from './agent-metrics.js';

/** `/metrics` for Prometheus and `/healthz` (200 once a snapshot is in force) on a separate port. */
export function startMetricsServer(
  host: string,
  port: number,
  metrics: AgentMetrics,
  healthy: () => { ok: boolean; detail: Record<string, unknown> },
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      metrics.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': metrics.registry.contentType });
          res.end(body);
        })
        .catch((error: unknown) => {
          res.writeHead(500);
          res.end(String(error));
        });
      return;
    }
    if (req.url === '/healthz') {
      const h = healthy();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h.detail));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address !== null ? address.port : port });
    });
  });
}
