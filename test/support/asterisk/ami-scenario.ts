import type { PeerPjsipState } from './ami-peer.js';

/** What moscow's Asterisk shows over AMI in the founding scenario once pjsip_fedpbx.conf is loaded. */
export function moscowPjsip(): PeerPjsipState {
  return {
    endpoints: [
      { name: 'site-piter', aor: 'site-piter', auths: 'site-piter-in', outboundAuths: 'site-piter-out', contacts: ['sip:10.77.0.2:5060'] },
      { name: 'site-kazan', aor: 'site-kazan', auths: 'site-kazan-in', outboundAuths: 'site-kazan-out', contacts: ['sip:site-moscow@10.77.0.3:5060'] },
      { name: 'trunk-moscow-city', aor: 'trunk-moscow-city', outboundAuths: 'trunk-moscow-city', contacts: ['sip:sip.msk-carrier.example:5060'] },
      { name: '101', aor: '101', auths: '101' }, // the admin's own phone: ignored
    ],
    contacts: [
      { aor: 'site-piter', uri: 'sip:10.77.0.2:5060', status: 'Reachable', dynamic: false },
      { aor: 'site-kazan', uri: 'sip:site-moscow@10.77.0.3:5060', status: 'Reachable', dynamic: true, roundtripUsec: 2150 },
    ],
    registrations: [
      {
        name: 'trunk-moscow-city',
        serverUri: 'sip:sip.msk-carrier.example:5060',
        clientUri: 'sip:fedpbx-msk@sip.msk-carrier.example:5060',
        status: 'Registered',
        endpoint: 'trunk-moscow-city',
        line: true,
        auth: { name: 'trunk-moscow-city', username: 'fedpbx-msk', password: 'msk-trunk-SECRET' },
      },
    ],
  };
}
