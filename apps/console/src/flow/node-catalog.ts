import type { FlowNode, FlowNodeType } from '../api/types';

/** A node of some type without its place in the flow (id, edges, position). */
export type NodeBody = FlowNode extends infer N ? (N extends FlowNode ? Omit<N, 'id' | 'next' | 'position' | 'label'> : never) : never;

interface NodeKind {
  readonly title: string;
  /** One line of help shown in the palette and the inspector. */
  readonly help: string;
  /** Short prefix of generated node ids. */
  readonly idPrefix: string;
  /** A node of this kind with sensible defaults (the caller adds id and position). */
  readonly create: () => NodeBody;
}

/** The DTMF keys an IVR menu may offer. */
export const DIGITS = ['1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '*', '#'] as const;

const DIAL = ['answered', 'busy', 'noanswer', 'unavailable'];

/**
 * What each node type can produce, mirroring the flow modules of libs/dialplan (the server validates the
 * same rule: an edge for an outcome a node never produces is refused). IVR digit choices are the ones offered.
 */
export function outcomesOf(node: FlowNode, ivrDigits: readonly string[]): string[] {
  switch (node.type) {
    case 'dial-extension':
    case 'ring-group':
      return DIAL;
    case 'ivr-menu':
      return [...ivrDigits.map((d) => `digit:${d}`), 'timeout', 'invalid'];
    case 'time-condition':
      return ['match', 'nomatch'];
    case 'voicemail':
    case 'playback':
    case 'record':
    case 'set-caller-id':
      return ['next'];
    case 'goto-flow':
    case 'hangup':
      return [];
  }
}

/** Outcome names in plain words. */
export function outcomeLabel(o: string): string {
  if (o.startsWith('digit:')) return `key ${o.slice(6)}`;
  const words: Record<string, string> = { answered: 'answered', busy: 'busy', noanswer: 'no answer', unavailable: 'unavailable', timeout: 'no key', invalid: 'wrong key', match: 'open', nomatch: 'closed', next: 'then' };
  return words[o] ?? o;
}

export const NODE_KINDS: Record<FlowNodeType, NodeKind> = {
  'ivr-menu': {
    title: 'IVR menu',
    help: 'Plays a prompt and waits for a key: connect each key to what happens next.',
    idPrefix: 'menu',
    create: () => ({ type: 'ivr-menu', prompt: 'fedpbx/welcome', timeoutSec: 5, retries: 2 }),
  },
  'ring-group': {
    title: 'Ring group',
    help: 'Rings several phones, all at once or one after another.',
    idPrefix: 'group',
    create: () => ({ type: 'ring-group', members: ['101'], strategy: 'ringall', timeoutSec: 30 }),
  },
  'time-condition': {
    title: 'Time condition',
    help: 'Office hours: “open” inside the schedule, “closed” outside it and on holidays.',
    idPrefix: 'hours',
    create: () => ({ type: 'time-condition', schedule: { timezone: 'UTC', windows: [{ days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' }], holidays: [] } }),
  },
  'dial-extension': {
    title: 'Dial extension',
    help: 'Rings one phone (at this or another site).',
    idPrefix: 'dial',
    create: () => ({ type: 'dial-extension', number: '101', timeoutSec: 20 }),
  },
  voicemail: { title: 'Voicemail', help: 'Lets the caller leave a message in a mailbox.', idPrefix: 'vm', create: () => ({ type: 'voicemail', mailbox: '101' }) },
  playback: { title: 'Play a message', help: 'Plays a recorded announcement, then continues.', idPrefix: 'play', create: () => ({ type: 'playback', sound: 'fedpbx/closed' }) },
  record: { title: 'Record call', help: 'Starts recording the call, then continues.', idPrefix: 'rec', create: () => ({ type: 'record' }) },
  'set-caller-id': { title: 'Set caller ID', help: 'Tags the caller’s name or number (e.g. “Sales:”), then continues.', idPrefix: 'cid', create: () => ({ type: 'set-caller-id', name: 'Sales' }) },
  'goto-flow': { title: 'Go to another flow', help: 'Continues in another call flow of this site.', idPrefix: 'goto', create: () => ({ type: 'goto-flow', flowId: 'f-' }) },
  hangup: { title: 'Hang up', help: 'Ends the call.', idPrefix: 'end', create: () => ({ type: 'hangup' }) },
};

/** The palette's order: the three building blocks beginners need first. */
export const PALETTE: readonly FlowNodeType[] = ['ivr-menu', 'ring-group', 'time-condition', 'dial-extension', 'voicemail', 'playback', 'record', 'set-caller-id', 'goto-flow', 'hangup'];

/** One line describing what the node does, for the diagram. */
export function summaryOf(n: FlowNode): string {
  switch (n.type) {
    case 'ivr-menu':
      return `plays ${n.prompt}`;
    case 'ring-group':
      return `${n.strategy === 'hunt' ? 'hunts' : 'rings'} ${n.members.join(', ')}`;
    case 'time-condition':
      return n.schedule.windows.map((w) => `${w.days.map((d) => 'SMTWTFS'[d]).join('')} ${w.start}–${w.end}`).join('; ') || 'no windows';
    case 'dial-extension':
      return `rings ${n.number}`;
    case 'voicemail':
      return `mailbox ${n.mailbox}`;
    case 'playback':
      return `plays ${n.sound}`;
    case 'record':
      return 'records the call';
    case 'set-caller-id':
      return [n.name, n.numberPrefix].filter((x) => x !== undefined && x !== '').join(' / ') || 'caller ID';
    case 'goto-flow':
      return `to ${n.flowId}`;
    case 'hangup':
      return 'ends the call';
  }
}
