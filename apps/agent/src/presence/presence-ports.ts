import type { NatsConnection } from '@nats-io/transport-node';
import { DEVICE_STATES, type DeviceState } from '@fedpbx/contracts';
import type { AmiClient } from '../ami/ami-client.js';

/** The part of AmiClient presence uses (both directions). */
export type PresenceAmi = Pick<AmiClient, 'onEvent' | 'onConnected' | 'listAction' | 'post' | 'connected' | 'addEventFilter'>;

/** The agent's NATS connection as presence needs it (NatsLink). */
export interface PresenceBus {
  readonly connected: boolean;
  /** First connect and every reconnect. */
  onConnected(listener: (nc: NatsConnection) => void): void;
  onDisconnected(listener: () => void): void;
}

const SHARED = new Set<string>(DEVICE_STATES);

/**
 * An Asterisk device state (ast_devstate_str: NOT_INUSE, INUSE, ..., UNKNOWN, INVALID) as it travels between sites.
 * UNKNOWN and INVALID become UNAVAILABLE: the receiving side writes DEVICE_STATE(Custom:...), whose devstate_write
 * (funcs/func_devstate.c) refuses a value ast_devstate_val maps to AST_DEVICE_UNKNOWN.
 */
export function sharedDeviceState(asteriskState: string | undefined): DeviceState {
  const upper = (asteriskState ?? '').toUpperCase();
  return SHARED.has(upper) ? (upper as DeviceState) : 'UNAVAILABLE';
}
