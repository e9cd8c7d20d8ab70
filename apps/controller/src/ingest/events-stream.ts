import { CDR_BATCH_MAX_BYTES, Subjects } from '@fedpbx/contracts';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { explainReplicasError } from '../nats/stream-replicas.js';

/** The controller's durable pull consumer of agent events: its position survives controller restarts. */
export const INGEST_CONSUMER = 'fedpbx-controller-ingest';
/** The same for CDR batches (`FEDPBX_CDRS`): one durable pull consumer every controller replica pulls from. */
export const CDRS_CONSUMER = 'fedpbx-controller-cdrs';

export interface EventsStreamSettings {
  /** JetStream dedupe window: an agent re-publishing with the same msg-id within it is stored once by NATS. */
  readonly duplicateWindowSec: number;
  /** How long events stay in the stream (acked or not): the longest outage of the controller it rides out. */
  readonly maxAgeSec: number;
  /** How long the server waits for an ack before redelivering (a crashed controller's batch comes back after it). */
  readonly ackWaitSec: number;
  /** Copies JetStream keeps (FEDPBX_NATS_REPLICAS): 3 on a cluster, so losing a node loses no event. */
  readonly replicas: number;
}

/** Unacked messages the server lets the controller hold: a few batches pulled ahead while one commits. */
const MAX_ACK_PENDING = 5000;

export function eventsStreamConfig(s: EventsStreamSettings): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return {
    name: Subjects.EVENTS_STREAM,
    subjects: [Subjects.EVENTS_WILDCARD],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(s.maxAgeSec * 1000),
    duplicate_window: nanos(s.duplicateWindowSec * 1000),
    num_replicas: s.replicas,
  };
}

/**
 * CDR batches (issue #21 §4): a stream of its own on `fedpbx.cdrs.*`, which only controllers that read it create, so an
 * agent publishing a batch where none exists hears 503 and sends its CDRs one per message instead. Settings as the
 * events stream's; a message is at most CDR_BATCH_MAX_BYTES (the server refuses more, the agent then sends singles).
 */
export function cdrsStreamConfig(s: EventsStreamSettings): Partial<StreamConfig> & { name: string; subjects: string[] } {
  return { ...eventsStreamConfig(s), name: Subjects.CDRS_STREAM, subjects: [Subjects.CDRS_WILDCARD], max_msg_size: CDR_BATCH_MAX_BYTES };
}

export function ingestConsumerConfig(s: EventsStreamSettings, durableName = INGEST_CONSUMER): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: durableName,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(s.ackWaitSec * 1000),
    max_ack_pending: MAX_ACK_PENDING,
    max_deliver: -1,
  };
}

const isApiError = (e: unknown, code: number): boolean => e instanceof JetStreamApiError && e.code === code;

/**
 * Creates the events stream and the ingest consumer, or brings existing ones to these settings (a changed
 * dedupe window, max age or replica count takes effect on the next start; nats-server 2.9 changes a clustered
 * stream's replicas in place, and the durable consumer follows its stream's). Idempotent: run at start and after
 * reconnects.
 */
export async function ensureEventsStream(jsm: JetStreamManager, s: EventsStreamSettings): Promise<void> {
  await ensureStream(jsm, eventsStreamConfig(s), ingestConsumerConfig(s), s.replicas);
}

/** The CDR batch stream and its consumer, as {@link ensureEventsStream}. */
export async function ensureCdrsStream(jsm: JetStreamManager, s: EventsStreamSettings): Promise<void> {
  await ensureStream(jsm, cdrsStreamConfig(s), ingestConsumerConfig(s, CDRS_CONSUMER), s.replicas);
}

async function ensureStream(
  jsm: JetStreamManager,
  stream: ReturnType<typeof eventsStreamConfig>,
  consumer: ReturnType<typeof ingestConsumerConfig>,
  replicas: number,
): Promise<void> {
  try {
    let info;
    try {
      info = await jsm.streams.info(stream.name);
    } catch (e) {
      if (!isApiError(e, JetStreamApiCodes.StreamNotFound)) throw e;
      await jsm.streams.add(stream);
    }
    if (info !== undefined && (info.config.max_age !== stream.max_age || info.config.duplicate_window !== stream.duplicate_window || info.config.num_replicas !== stream.num_replicas)) {
      await jsm.streams.update(stream.name, { max_age: stream.max_age, duplicate_window: stream.duplicate_window, num_replicas: stream.num_replicas });
    }
  } catch (e) {
    throw explainReplicasError(e, stream.name, replicas);
  }
  try {
    const info = await jsm.consumers.info(stream.name, consumer.durable_name);
    if (info.config.ack_wait !== consumer.ack_wait || info.config.max_ack_pending !== consumer.max_ack_pending) {
      await jsm.consumers.update(stream.name, consumer.durable_name, { ack_wait: consumer.ack_wait, max_ack_pending: consumer.max_ack_pending });
    }
  } catch (e) {
    if (!isApiError(e, JetStreamApiCodes.ConsumerNotFound)) throw e;
    await jsm.consumers.add(stream.name, consumer);
  }
}
