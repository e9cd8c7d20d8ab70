import type { Answered, CallFlow, InboundRoute, Page, Trunk } from '../api/types';
import { useApi } from '../session';
import { SiteCollection } from '../ui/site-collection';
import { useLoad, valueOr } from '../ui/use-load';

const DESTINATIONS = [
  { value: 'extension', label: 'an extension' },
  { value: 'flow', label: 'a call flow (menu, ring group, office hours)' },
  { value: 'voicemail', label: 'a voicemail box' },
  { value: 'did-suffix', label: 'direct dial: the extension is the last digits of the number' },
  { value: 'hangup', label: 'hang up' },
];

/** Where a call from outside goes, by the number it was dialled to (its DID). */
export function describeDestination(d: InboundRoute['destination'], flows: readonly CallFlow[]): string {
  switch (d.type) {
    case 'extension':
      return `extension ${d.number}`;
    case 'flow':
      return `call flow ${flows.find((f) => f.id === d.flowId)?.name ?? d.flowId}`;
    case 'voicemail':
      return `voicemail ${d.mailbox}`;
    case 'did-suffix':
      return `extension = last ${d.digits} digits`;
    case 'hangup':
      return 'hang up';
  }
}

/** A site's inbound routes: each DID (or pattern of DIDs) its carriers deliver, and where the call goes. */
export function InboundRoutesScreen({ siteId }: { siteId: string }) {
  const api = useApi();
  const [flows] = useLoad(async () => (await api.get<Page<CallFlow>>('/call-flows', { siteId, limit: 1000 })).items, [api, siteId]);
  const [trunks] = useLoad(async () => (await api.get<Page<Answered<Trunk, 'secret'>>>('/trunks', { siteId, limit: 1000 })).items, [api, siteId]);
  const is = (type: string) => (v: Record<string, unknown>) => v['destination.type'] === type;
  return (
    <SiteCollection<InboundRoute>
      siteId={siteId}
      title="Inbound numbers (DIDs)"
      noun="inbound route"
      path="/inbound-routes"
      intro="Calls from the phone network arrive at a number (a DID) through one of this office’s trunks. Say where each number goes. A pattern such as _8435550XXX covers a whole block."
      describe={(r) => r.did}
      columns={[
        { header: 'Number dialled (DID)', cell: (r) => <code>{r.did}</code> },
        { header: 'Arriving through', cell: (r) => (r.trunkId === undefined ? 'any trunk' : (valueOr(trunks, []).find((t) => t.id === r.trunkId)?.name ?? r.trunkId)) },
        { header: 'Goes to', cell: (r) => describeDestination(r.destination, valueOr(flows, [])) },
      ]}
      defaults={{ destination: { type: 'extension' } }}
      fields={[
        { name: 'did', label: 'Number dialled (DID)', kind: 'text', required: true, placeholder: '78435550100', help: 'As the carrier delivers it, or a pattern: _8435550XXX (X is any digit).' },
        {
          name: 'trunkId',
          label: 'Only through trunk',
          kind: 'select',
          optional: true,
          options: valueOr(trunks, []).map((t) => ({ value: t.id, label: t.name })),
          help: '(none): calls to this number through any of the office’s trunks.',
        },
        { name: 'destination.type', label: 'Send the call to', kind: 'select', options: DESTINATIONS },
        { name: 'destination.number', label: 'Extension number', kind: 'text', inputMode: 'numeric', showIf: is('extension') },
        {
          name: 'destination.flowId',
          label: 'Call flow',
          kind: 'select',
          options: valueOr(flows, []).map((f) => ({ value: f.id, label: f.name })),
          showIf: is('flow'),
          help: 'Draw flows under Call flows.',
        },
        { name: 'destination.mailbox', label: 'Voicemail box (extension number)', kind: 'text', inputMode: 'numeric', showIf: is('voicemail') },
        { name: 'destination.digits', label: 'How many last digits', kind: 'number', min: 1, max: 15, showIf: is('did-suffix'), help: 'E.g. 3: a call to 78435550123 rings extension 123.' },
      ]}
    />
  );
}
