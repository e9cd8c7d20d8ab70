// Preloaded (`node --import`) into every server bench:agi measures: counts the bytes the server's V8 heap
// allocated, for the bench to read over the IPC channel it opens to the server. Allocated bytes between two reads =
// the growth of the used heap + what every GC in between freed (used before the GC - used after it), taken from
// V8's own per-GC heap statistics (v8.GCProfiler). Exact to the GCs' bookkeeping, with no sampling and no
// per-allocation cost; it misses only what a scavenge found dead inside a linear allocation buffer not yet
// accounted (a few KB per GC at most).
import v8 from 'node:v8';

interface GcRecord {
  readonly beforeGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
  readonly afterGC: { readonly heapStatistics: { readonly usedHeapSize: number } };
}

let profiler = new v8.GCProfiler();
profiler.start();
let freedBytes = 0;

/** Bytes allocated since the process started (freed by GCs so far + used now). */
function allocatedBytes(): number {
  const result = profiler.stop() as { statistics?: readonly GcRecord[] } | undefined;
  for (const gc of result?.statistics ?? []) freedBytes += gc.beforeGC.heapStatistics.usedHeapSize - gc.afterGC.heapStatistics.usedHeapSize;
  profiler = new v8.GCProfiler();
  profiler.start();
  return freedBytes + v8.getHeapStatistics().used_heap_size;
}

if (typeof process.send === 'function') {
  process.on('message', (m: unknown) => {
    if (m === 'alloc?') process.send?.({ allocatedBytes: allocatedBytes() });
  });
  // The channel must not keep the server alive, nor be mistaken for work.
  process.channel?.unref();
}
