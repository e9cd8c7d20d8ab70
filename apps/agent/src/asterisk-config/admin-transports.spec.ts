import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { federationBind, readAdminTransports, transportProblems } from './admin-transports.js';

// pjsip.conf as Asterisk's config.c reads it (main/config.c process_text_line): `[name](!)` is a template, which
// res_sorcery_config never browses (ast_category_browse_filtered without a filter skips templates), so it is no
// transport; `[name](a)` copies a's variables before its own; `[name](+)` adds to the category of that name.
function configDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'fedpbx-admin-transports-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}
const ours = federationBind({ vpnAddress: '10.77.0.1', sipPort: 5070 })!;
const names = async (dir: string): Promise<string[]> => (await readAdminTransports(dir)).map((t) => `${t.name} ${t.protocol} ${t.bindText}`);

describe('the admin\'s PJSIP transports', () => {
  it('a template is no transport: no conflict alarm for a template on our port', async () => {
    const dir = configDir({
      'pjsip.conf': ['[transport-tpl](!)', 'type=transport', 'protocol=udp', 'bind=0.0.0.0:5070', '', '[transport-udp]', 'type=transport', 'bind=0.0.0.0:5060', ''].join('\n'),
    });
    expect(await names(dir)).toEqual(['transport-udp udp 0.0.0.0:5060']);
    expect(transportProblems(ours, await readAdminTransports(dir))).toEqual({});
  });

  it('a transport made from a template has the template\'s settings, its own winning; the conflict is found', async () => {
    const dir = configDir({
      'pjsip.conf': [
        '[udp-tpl](!)',
        'type=transport',
        'protocol=udp',
        'bind=0.0.0.0:5070',
        '[lan](udp-tpl)', // all from the template: on every address, our port
        '[wan](UDP-TPL)', // names are found case-insensitively; its own bind wins
        'bind=192.0.2.10:5080',
        '[other-tpl](!,udp-tpl)', // a template made from a template: still no transport
        'protocol=tcp',
        '[tls](other-tpl)',
        'bind=0.0.0.0:5071',
      ].join('\n'),
    });
    expect(await names(dir)).toEqual(['lan udp 0.0.0.0:5070', 'wan udp 192.0.2.10:5080', 'tls tcp 0.0.0.0:5071']);
    expect(transportProblems(ours, await readAdminTransports(dir)).conflict?.name).toBe('lan');
  });

  it('(+) adds to the category of that name, also from an included file; a base never defined leaves the section out', async () => {
    const dir = configDir({
      'pjsip.conf': ['[t1]', 'type=transport', 'bind=0.0.0.0:5070', '#include "more.conf"', '[t3](nosuch)', 'type=transport', 'bind=0.0.0.0:5070'].join('\n'),
      'more.conf': ['[t1](+)', 'protocol=tcp', '[tpl](!)', 'type=transport', 'bind=0.0.0.0:5070', '[t2](tpl)'].join('\n'),
    });
    expect(await names(dir)).toEqual(['t1 tcp 0.0.0.0:5070', 't2 udp 0.0.0.0:5070']);
    const t2 = (await readAdminTransports(dir)).find((t) => t.name === 't2');
    expect([t2?.file, t2?.line]).toEqual(['more.conf', 6]);
  });
});
