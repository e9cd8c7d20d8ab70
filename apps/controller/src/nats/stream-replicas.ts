import { JetStreamApiError, type JetStreamManager } from '@nats-io/jetstream';

/** Error codes of nats-server's JetStream API (server/jetstream_errors_generated.go) that mean "not that many copies". */
const REPLICAS_NOT_SUPPORTED = 10074; // "replicas > 1 not supported in non-clustered mode"
const INSUFFICIENT_RESOURCES = 10023; // fewer nodes (or less room) than replicas

/**
 * How many copies JetStream keeps of fedpbx's streams and buckets: FEDPBX_NATS_REPLICAS when set, else 3 on a
 * server that says it belongs to a cluster (its INFO carries the cluster's name) and 1 on a single server.
 */
export function replicasFor(setting: number | undefined, serverInfo: { cluster?: string } | undefined): number {
  if (setting !== undefined) return setting;
  return serverInfo?.cluster !== undefined && serverInfo.cluster !== '' ? 3 : 1;
}

/** Why `replicas` cannot work on this server, naming the setting; undefined when it can. */
export function replicasProblem(replicas: number, serverInfo: { cluster?: string } | undefined): string | undefined {
  if (replicas === 1 || (serverInfo?.cluster !== undefined && serverInfo.cluster !== '')) return undefined;
  return `FEDPBX_NATS_REPLICAS is ${replicas} but the NATS server is not part of a cluster (JetStream keeps one copy there): set it to 1, or point FEDPBX_NATS_URL at the cluster's nodes`;
}

/** A JetStream refusal about replicas, retold with the setting that asked for them. */
export function explainReplicasError(error: unknown, stream: string, replicas: number): unknown {
  if (!(error instanceof JetStreamApiError) || (error.code !== REPLICAS_NOT_SUPPORTED && error.code !== INSUFFICIENT_RESOURCES)) return error;
  return new Error(`stream ${stream} with ${replicas} replicas (FEDPBX_NATS_REPLICAS): ${error.message}; that takes a cluster of at least ${replicas} nodes with JetStream up`, { cause: error });
}

/**
 * Brings an existing stream (a config bucket's `KV_...` stream or the events stream) to `replicas` copies.
 * nats-server 2.9 changes the count of a clustered stream in place (a stream update with another num_replicas:
 * new peers catch up from the leader), so buckets and streams made before the cluster, or before the setting
 * changed, follow it without losing what they hold. Resolves to whether it changed anything.
 */
export async function ensureStreamReplicas(jsm: JetStreamManager, stream: string, replicas: number): Promise<boolean> {
  const info = await jsm.streams.info(stream);
  if (info.config.num_replicas === replicas) return false;
  try {
    await jsm.streams.update(stream, { ...info.config, num_replicas: replicas });
  } catch (error) {
    throw explainReplicasError(error, stream, replicas);
  }
  return true;
}
