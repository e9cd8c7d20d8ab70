// The simulated calls: what Asterisk would hand the server, as env templates. A placeholder "internal"
// mix until the agent's real mix is plugged in (replace DEFAULT_MIX or pass another to the bench).
import type { CallRecord, DialScript, PlaceCallOptions } from '../support/asterisk/fastagi-peer.js';

export interface CallTemplate {
  readonly label: string;
  readonly weight: number;
  readonly callerNum: string;
  readonly callerName: string | null;
  readonly extension: string;
  readonly context: string;
  /** The script part of agi://host:port/<script>. */
  readonly script: string;
  readonly args?: readonly string[];
  readonly onDial?: DialScript;
  /** Anything else the simulated channel needs (channel name, DTMF digits, known sounds). */
  readonly extra?: Partial<Omit<PlaceCallOptions, 'host' | 'port'>>;
}

const answer: DialScript = () => ({ status: 'ANSWER' });

export const DEFAULT_MIX: readonly CallTemplate[] = [
  { label: 'internal-local', weight: 6, callerNum: '101', callerName: 'Ivan Petrov', extension: '102', context: 'fedpbx-internal', script: 'internal', onDial: answer },
  { label: 'internal-local-utf8', weight: 1, callerNum: '103', callerName: 'Иван Петров', extension: '104', context: 'fedpbx-internal', script: 'internal', onDial: answer },
  { label: 'internal-other-site', weight: 2, callerNum: '105', callerName: 'Anna', extension: '2101', context: 'fedpbx-internal', script: 'internal', onDial: answer },
  { label: 'internal-busy', weight: 1, callerNum: '106', callerName: null, extension: '107', context: 'fedpbx-internal', script: 'internal', onDial: () => ({ status: 'BUSY' }) },
  { label: 'internal-tricky-name', weight: 1, callerNum: '108', callerName: 'x,,U(sub)&PJSIP/999', extension: '3105', context: 'fedpbx-internal', script: 'internal', onDial: answer },
  { label: 'internal-unknown-number', weight: 1, callerNum: '109', callerName: 'Nobody', extension: '9999', context: 'fedpbx-internal', script: 'internal', onDial: answer },
];

/** A call the mix picked: its template's label and ready placeCall options. */
export interface MixCall {
  readonly label: string;
  readonly options: Omit<PlaceCallOptions, 'host' | 'port'>;
}

/** Deterministic weighted round-robin over the mix. */
export function mixPicker(mix: readonly CallTemplate[]): () => MixCall {
  const slots: MixCall[] = [];
  for (const t of mix) {
    const call: MixCall = {
      label: t.label,
      options: {
        script: t.script,
        args: t.args,
        callerId: { num: t.callerNum, name: t.callerName },
        extension: t.extension,
        context: t.context,
        onDial: t.onDial,
        ...t.extra,
      },
    };
    for (let i = 0; i < t.weight; i += 1) slots.push(call);
  }
  // Interleave so that a short window still sees the whole mix.
  const order = slots.map((_, i) => i).sort((a, b) => ((a * 7919) % slots.length) - ((b * 7919) % slots.length));
  let next = 0;
  return () => {
    const s = slots[order[next % order.length] as number] as MixCall;
    next += 1;
    return s;
  };
}

/** Why a call counts as bad (it failed to connect, was parked, pipelined, or ended other than AGISTATUS=SUCCESS), or null. */
export function badReason(call: CallRecord): string | null {
  if (call.connectError !== null) return `connect ${call.connectError}`;
  if (call.parked) return 'parked';
  if (call.pipelined) return 'pipelined';
  // A flow that ends hangs the channel up itself (AGI HANGUP): AGISTATUS=HANGUP is then the expected end.
  const serverHungUp = call.commands.some((c) => c.argv[0]?.toUpperCase() === 'HANGUP');
  if (call.agiStatus !== 'SUCCESS' && !(call.agiStatus === 'HANGUP' && serverHungUp)) return `AGISTATUS=${call.agiStatus}`;
  return null;
}
