import type { Page } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { ADMIN, artifactPath, consoleSuite } from './console-stack.js';

type Box = { x: number; y: number; width: number; height: number };
const overlaps = (a: Box, b: Box): boolean => a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

/**
 * Issue #18 §2: the demo's seven-step reception flow (f-moscow-reception of the founding scenario) drawn in real
 * Chromium so it can be read - one label per edge, none on another label or on a node, no node under the zoom
 * controls - and its layout kept as console metadata: a dragged node stays where it was put, with no revision.
 */
describe('call flow drawing', () => {
  const FLOW = '/sites/moscow/flows/f-moscow-reception';
  const suite = consoleSuite({ timeoutMs: 300_000 });

  const signIn = (path: string): Promise<Page> => suite.signIn(ADMIN, { path, timeoutMs: 10_000 });

  /** The flow editor with the automatic layout applied and the diagram fitted. */
  async function drawn(page: Page): Promise<void> {
    // ELK is loaded with the first flow drawn: give a loaded machine time.
    await page.locator('.canvas[data-layout="done"]').waitFor({ timeout: 45_000 });
    await page.locator('.react-flow__node[data-id="vm"]').waitFor();
  }

  const boxes = async (page: Page, selector: string): Promise<{ id: string; box: Box }[]> =>
    page.locator(selector).evaluateAll((els) =>
      els.map((el) => {
        const r = el.getBoundingClientRect();
        return { id: el.getAttribute('data-id') ?? el.getAttribute('data-edge-id') ?? el.className, box: { x: r.x, y: r.y, width: r.width, height: r.height } };
      }),
    );

  /** A node's place on the canvas (flow coordinates, independent of zoom and pan). */
  const flowPosition = async (page: Page, id: string): Promise<{ x: number; y: number }> => {
    const transform = await page.locator(`.react-flow__node[data-id="${id}"]`).getAttribute('style').then((style) => /transform:\s*([^;]+)/.exec(style ?? '')?.[1] ?? '');
    const m = /translate\((-?[\d.]+)px, ?(-?[\d.]+)px\)/.exec(transform);
    if (m === null) throw new Error(`no position in ${transform}`);
    return { x: Number(m[1]), y: Number(m[2]) };
  };

  const revisionCount = async (): Promise<number> => {
    const r = await suite.stack.t.request('GET', '/api/v1/sites/moscow/revisions?limit=1000', undefined, suite.stack.adminToken);
    return (r.body['items'] as unknown[]).length;
  };

  it('draws every edge with one label, no label on another label or on a node, and no node under the zoom controls', async () => {
    const page = await signIn(FLOW);
    await drawn(page);
    const nodes = await boxes(page, '.react-flow__node');
    const labels = await boxes(page, '.flow-edge-label');
    const [controls] = await boxes(page, '.react-flow__controls');
    expect(nodes.map((n) => n.id).sort()).toEqual(['closed', 'hours', 'menu', 'operator', 'sales', 'spb', 'vm']);
    // 2 + 4 + 3 + 3 + 3 + 1 outcomes connected: one label each, all placed by the layout.
    expect(await page.locator('.react-flow__edge').count()).toBe(16);
    expect(labels).toHaveLength(16);
    expect(new Set(labels.map((l) => l.id)).size).toBe(16);
    expect(await page.locator('.flow-edge-label.unrouted').count()).toBe(0);
    const problems: string[] = [];
    for (const [i, a] of labels.entries()) {
      if (a.box.width === 0 || a.box.height === 0) problems.push(`label ${a.id} is not drawn`);
      for (const b of labels.slice(i + 1)) if (overlaps(a.box, b.box)) problems.push(`label ${a.id} overlaps label ${b.id}`);
      for (const n of nodes) if (overlaps(a.box, n.box)) problems.push(`label ${a.id} overlaps node ${n.id}`);
    }
    if (controls === undefined) throw new Error('no zoom controls');
    for (const n of nodes) if (overlaps(controls.box, n.box)) problems.push(`the zoom controls cover node ${n.id}`);
    // Every node is on screen, inside the canvas.
    const [canvas] = await boxes(page, '.canvas');
    for (const n of nodes) {
      const c = canvas?.box as Box;
      if (n.box.x < c.x || n.box.y < c.y || n.box.x + n.box.width > c.x + c.width || n.box.y + n.box.height > c.y + c.height) problems.push(`node ${n.id} is outside the canvas`);
    }
    expect(problems).toEqual([]);
    await page.screenshot({ path: artifactPath('console-flow.png') });
    await page.context().close();
  }, 120_000);

  /** Points every 4 px along each edge's drawn line (screen coordinates), by edge id. */
  const edgeLines = async (page: Page): Promise<{ id: string; points: { x: number; y: number }[] }[]> =>
    page.locator('.react-flow__edge').evaluateAll((els) =>
      els.map((el) => {
        const path = el.querySelector('path.react-flow__edge-path') as SVGPathElement;
        const ctm = path.getScreenCTM() as DOMMatrix;
        const points: { x: number; y: number }[] = [];
        const length = path.getTotalLength();
        for (let t = 0; t <= length; t += 4) {
          const p = new DOMPoint(path.getPointAtLength(t).x, path.getPointAtLength(t).y).matrixTransform(ctm);
          points.push({ x: p.x, y: p.y });
        }
        return { id: el.getAttribute('data-id') ?? '', points };
      }),
    );

  it('"Check" on the untouched flow changes no site; a dragged node keeps its place after a save and a reload, with no new revision', async () => {
    const page = await signIn(FLOW);
    await drawn(page);
    await page.getByRole('button', { name: 'Check' }).click();
    await page.getByTestId('impact-preview').getByText('No site’s configuration changes.').waitFor();

    const revisions = await revisionCount();
    const before = await flowPosition(page, 'vm');
    const box = await page.locator('.react-flow__node[data-id="vm"] .flow-node-head').boundingBox();
    if (box === null) throw new Error('cannot see node vm');
    await page.mouse.move(box.x + 20, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + 20 + 120, box.y + box.height / 2 + 40, { steps: 10 });
    await page.mouse.up();
    await page.getByRole('status').getByText('Layout saved').waitFor();
    const moved = await flowPosition(page, 'vm');
    expect(Math.abs(moved.x - before.x)).toBeGreaterThan(50);

    await page.getByRole('button', { name: 'Save flow' }).click();
    await page.getByText('Saved.').waitFor();
    expect(await revisionCount()).toBe(revisions);

    await page.reload();
    await drawn(page);
    const kept = await flowPosition(page, 'vm');
    expect(Math.abs(kept.x - moved.x)).toBeLessThanOrEqual(1);
    expect(Math.abs(kept.y - moved.y)).toBeLessThanOrEqual(1);
    // A stored place is drawn with every edge routed around the nodes where they stand, not as step lines.
    expect(await page.locator('.flow-edge-label.unrouted').count()).toBe(0);
    const layout = await suite.stack.t.request('GET', '/api/v1/call-flows/f-moscow-reception/layout', undefined, suite.stack.adminToken);
    expect((layout.body['data'] as { nodes: Record<string, unknown> }).nodes).toEqual({ vm: { x: Math.round(moved.x), y: Math.round(moved.y) } });
    expect(await revisionCount()).toBe(revisions);

    // "Arrange" gives the node back to the automatic layout, and forgets the stored place.
    await page.getByRole('button', { name: 'Arrange automatically' }).click();
    await page.getByRole('status').getByText('Layout saved').waitFor();
    await expect.poll(async () => ((await suite.stack.t.request('GET', '/api/v1/call-flows/f-moscow-reception/layout', undefined, suite.stack.adminToken)).body['data'] as { nodes: object }).nodes).toEqual({});
    expect(await revisionCount()).toBe(revisions);
    await page.context().close();
  }, 180_000);

  it('after a node is dragged across an edge, routes the edges around the nodes where they stand, no label on another label or on a node, without "Arrange"', async () => {
    const page = await signIn(FLOW);
    await drawn(page);
    const flow = await suite.stack.t.request('GET', '/api/v1/call-flows/f-moscow-reception', undefined, suite.stack.adminToken);
    const steps = (flow.body['data'] as { nodes: { id: string; next: Record<string, string> }[] }).nodes;
    const targetOf = new Map<string, string>(steps.flatMap((n) => Object.entries(n.next).map(([o, target]): [string, string] => [`${n.id}:${o}`, target])));
    // Drop "closed" with its middle on a line of an edge it has no part in, at the first spot along the lines
    // where it covers no other node (a handle under another node could not be reached by any route).
    const dragged = 'closed';
    const node = page.locator(`.react-flow__node[data-id="${dragged}"]`);
    const nodeBox = (await node.boundingBox()) as Box;
    const others = (await boxes(page, '.react-flow__node')).filter((n) => n.id !== dragged);
    const [canvas] = await boxes(page, '.canvas');
    const spotOn = (p: { x: number; y: number }): Box => ({ x: p.x - nodeBox.width / 2, y: p.y - nodeBox.height / 2, width: nodeBox.width, height: nodeBox.height });
    const margin = 24;
    const clear = (b: Box): boolean =>
      others.every((n) => !overlaps({ x: b.x - margin, y: b.y - margin, width: b.width + 2 * margin, height: b.height + 2 * margin }, n.box)) &&
      canvas !== undefined && b.x > canvas.box.x + margin && b.y > canvas.box.y + 80 && b.x + b.width < canvas.box.x + canvas.box.width - margin && b.y + b.height < canvas.box.y + canvas.box.height - margin;
    const candidates = (await edgeLines(page))
      .filter((e) => !e.id.startsWith(`${dragged}:`) && targetOf.get(e.id) !== dragged)
      .flatMap((e) => e.points.slice(4, -4).map((p) => ({ id: e.id, p })));
    const spot = candidates.find(({ p }) => clear(spotOn(p)));
    if (spot === undefined) throw new Error(`no free spot on an edge to drop ${dragged} on`);
    // A node left in place tells how far the canvas itself moved on screen (a note appears above it on save).
    const still = page.locator('.react-flow__node[data-id="hours"]');
    const stillBefore = (await still.boundingBox()) as Box;
    const head = (await node.locator('.flow-node-head').boundingBox()) as Box;
    const grip = { x: head.x + 20, y: head.y + head.height / 2 };
    const dx = spot.p.x - (nodeBox.x + nodeBox.width / 2);
    const dy = spot.p.y - (nodeBox.y + nodeBox.height / 2);
    await page.mouse.move(grip.x, grip.y);
    await page.mouse.down();
    await page.mouse.move(grip.x + dx, grip.y + dy, { steps: 12 });
    await page.mouse.up();
    await page.getByRole('status').getByText('Layout saved').waitFor();
    const dropped = await flowPosition(page, dragged);

    // Every edge is routed again at once: no step line with a label at its middle waits for "Arrange".
    await expect.poll(() => page.locator('.flow-edge-label.unrouted').count()).toBe(0);
    const nodes = await boxes(page, '.react-flow__node');
    const labels = await boxes(page, '.flow-edge-label');
    const lines = await edgeLines(page);
    expect(labels).toHaveLength(16);
    const problems: string[] = [];
    const moved = nodes.find((n) => n.id === dragged)?.box as Box;
    // The drop covers the line the edge took before (so its old route would run through the node).
    const stillAfter = (await still.boundingBox()) as Box;
    const was = { x: spot.p.x + stillAfter.x - stillBefore.x, y: spot.p.y + stillAfter.y - stillBefore.y };
    const inset = 10;
    if (!(was.x > moved.x + inset && was.x < moved.x + moved.width - inset && was.y > moved.y + inset && was.y < moved.y + moved.height - inset)) problems.push(`${dragged} was not dropped across edge ${spot.id}`);
    for (const [i, a] of labels.entries()) {
      for (const b of labels.slice(i + 1)) if (overlaps(a.box, b.box)) problems.push(`label ${a.id} overlaps label ${b.id}`);
      for (const n of nodes) if (overlaps(a.box, n.box)) problems.push(`label ${a.id} overlaps node ${n.id}`);
    }
    for (const line of lines) {
      // The ends sit on the handles, which stick out of their nodes' borders.
      for (const p of line.points.slice(3, -3)) {
        const inside = nodes.find((n) => p.x > n.box.x + 2 && p.x < n.box.x + n.box.width - 2 && p.y > n.box.y + 2 && p.y < n.box.y + n.box.height - 2);
        if (inside !== undefined) {
          problems.push(`edge ${line.id} runs through node ${inside.id}`);
          break;
        }
      }
    }
    await page.screenshot({ path: artifactPath('console-flow-dragged.png') });
    expect(problems).toEqual([]);
    // The node stays exactly where it was dropped.
    expect(await flowPosition(page, dragged)).toEqual(dropped);
    // Back to the automatic layout for the tests after this one (the layout is stored with the flow).
    await page.getByRole('button', { name: 'Arrange automatically' }).click();
    await expect.poll(async () => ((await suite.stack.t.request('GET', '/api/v1/call-flows/f-moscow-reception/layout', undefined, suite.stack.adminToken)).body['data'] as { nodes: object }).nodes).toEqual({});
    await page.context().close();
  }, 180_000);

  it('shows the federation overview (README screenshot)', async () => {
    const page = await signIn('/');
    for (const site of ['moscow', 'piter', 'kazan']) await page.locator(`tr[data-site="${site}"]`).waitFor();
    await page.locator('table.matrix tbody tr').nth(2).waitFor();
    await page.screenshot({ path: artifactPath('console-overview.png') });
    await page.context().close();
  }, 60_000);
});
