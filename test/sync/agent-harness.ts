// The controller's side of agent sync, simulated with a raw NATS client holding controller credentials: it makes
// the site's config bucket and the events stream, puts signed snapshots, and reads back what agents published.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { AgentEventEnvelope, Subjects, type SiteSnapshot } from '@fedpbx/contracts';
import type { TestNatsServer } from '../support/nats-server.js';

export interface ControllerSide {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  /** Creates the events stream (as the controller's ingest does). */
  eventsStream(): Promise<void>;
  /** Creates the CDR batch stream (as a controller that reads CDR batches does). */
  cdrsStream(): Promise<void>;
  /** Every CDR batch message in the CDR batch stream, in stream order: its msg-id and its envelopes (each parsed). */
  cdrBatches(): Promise<{ msgId: string; envelopes: AgentEventEnvelope[] }[]>;
  bucket(siteId: string): Promise<KV>;
  put(siteId: string, value: SiteSnapshot | string): Promise<number>;
  /** Every envelope in the events stream for `subject` (default: all), in stream order. */
  events(subject?: string): Promise<AgentEventEnvelope[]>;
  close(): Promise<void>;
}

export async function controllerSide(nats: TestNatsServer): Promise<ControllerSide> {
  const creds = new TextEncoder().encode(await nats.controllerCreds());
  const nc = await connect({ servers: nats.url, authenticator: credsAuthenticator(creds), maxReconnectAttempts: -1, reconnectTimeWait: 200, waitOnFirstConnect: true });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  const kvm = new Kvm(js);
  const buckets = new Map<string, KV>();
  const bucket = async (siteId: string): Promise<KV> => {
    let kv = buckets.get(siteId);
    if (kv === undefined) {
      kv = await kvm.create(Subjects.configBucket(siteId), { history: 1 });
      buckets.set(siteId, kv);
    }
    return kv;
  };
  return {
    nc,
    jsm,
    eventsStream: async () => {
      await jsm.streams.add({ name: Subjects.EVENTS_STREAM, subjects: [Subjects.EVENTS_WILDCARD], duplicate_window: 120 * 1e9 });
    },
    cdrsStream: async () => {
      await jsm.streams.add({ name: Subjects.CDRS_STREAM, subjects: [Subjects.CDRS_WILDCARD], duplicate_window: 120 * 1e9 });
    },
    cdrBatches: async () => {
      const out: { msgId: string; envelopes: AgentEventEnvelope[] }[] = [];
      const info = await jsm.streams.info(Subjects.CDRS_STREAM, {});
      for (let seq = info.state.first_seq; info.state.messages > 0 && seq <= info.state.last_seq; seq++) {
        const m = await jsm.streams.getMessage(Subjects.CDRS_STREAM, { seq });
        if (m === null) continue;
        out.push({ msgId: m.header.get('Nats-Msg-Id'), envelopes: m.string().split('\n').map((l) => AgentEventEnvelope.parse(JSON.parse(l))) });
      }
      return out;
    },
    bucket,
    put: async (siteId, value) => (await bucket(siteId)).put(Subjects.SNAPSHOT_KEY, typeof value === 'string' ? value : JSON.stringify(value)),
    events: async (subject = Subjects.EVENTS_WILDCARD) => {
      const info = await jsm.streams.info(Subjects.EVENTS_STREAM, {});
      if (info.state.messages === 0) return [];
      const name = `read-${Math.random().toString(36).slice(2)}`;
      await jsm.consumers.add(Subjects.EVENTS_STREAM, { name, filter_subject: subject, ack_policy: AckPolicy.None, deliver_policy: DeliverPolicy.All, inactive_threshold: 30e9 });
      const consumer = await js.consumers.get(Subjects.EVENTS_STREAM, name);
      const out: AgentEventEnvelope[] = [];
      const pending = (await consumer.info()).num_pending;
      while (out.length < pending) {
        const batch = await consumer.fetch({ max_messages: Math.min(1000, pending - out.length), expires: 2000 });
        let got = 0;
        for await (const m of batch) {
          out.push(AgentEventEnvelope.parse(m.json()));
          got += 1;
        }
        if (got === 0) break;
      }
      await jsm.consumers.delete(Subjects.EVENTS_STREAM, name);
      return out;
    },
    close: () => nc.close(),
  };
}

/** Writes a site's agent credentials (0600) into its state dir, as enrollment would. */
export async function writeAgentCreds(nats: TestNatsServer, siteId: string, stateDir: string, creds?: string): Promise<string> {
  const file = join(stateDir, 'nats.creds');
  writeFileSync(file, creds ?? (await nats.agentCreds(siteId)), { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}
