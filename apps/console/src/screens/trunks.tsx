import type { Answered, Trunk } from '../api/types';
import { SiteCollection } from '../ui/site-collection';

type TrunkRow = Answered<Trunk, 'secret'>;

/** A site's connections to telephone carriers (the PSTN). Credentials are write-only. */
export function TrunksScreen({ siteId }: { siteId: string }) {
  return (
    <SiteCollection<TrunkRow>
      siteId={siteId}
      title="Trunks"
      noun="trunk"
      path="/trunks"
      intro="Connections from this office to a telephone carrier. Outbound routes pick trunks in order of preference, at any site."
      describe={(t) => t.name}
      columns={[
        { header: 'Name', cell: (t) => t.name },
        { header: 'Carrier host', cell: (t) => `${t.host}:${t.port}/${t.transport}` },
        { header: 'Registers', cell: (t) => (t.register ? 'yes' : 'no') },
        { header: 'Emergency calls', cell: (t) => (t.emergency ? 'yes' : 'no') },
        { header: 'Password', cell: (t) => (t.secretSet ? 'set' : 'not set') },
      ]}
      defaults={{ port: 5060, transport: 'udp', register: false, emergency: true }}
      fields={[
        { name: 'name', label: 'Name', kind: 'text', required: true, placeholder: 'city-carrier', help: 'Letters, digits, . _ - (used in the PBX configuration).' },
        { name: 'host', label: 'Carrier host', kind: 'text', required: true, placeholder: 'sip.carrier.example' },
        { name: 'port', label: 'Port', kind: 'number', min: 1, max: 65535 },
        { name: 'transport', label: 'Transport', kind: 'select', options: [{ value: 'udp', label: 'UDP' }, { value: 'tcp', label: 'TCP' }, { value: 'tls', label: 'TLS' }] },
        { name: 'register', label: 'Register to the carrier', kind: 'checkbox', help: 'Tick when the carrier gave you a user name and password to register with.' },
        { name: 'username', label: 'User name', kind: 'text' },
        { name: 'secret', label: 'Password', kind: 'secret', help: 'Write-only. Empty keeps the current one.' },
        { name: 'callerIdNumber', label: 'Caller ID number', kind: 'text', inputMode: 'tel', help: 'The number the carrier shows for calls out.' },
        { name: 'emergency', label: 'May carry emergency calls', kind: 'checkbox' },
      ]}
    />
  );
}
