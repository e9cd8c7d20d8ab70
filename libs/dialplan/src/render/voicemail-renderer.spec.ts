import { describe, expect, it } from 'vitest';
import { foundingScenario } from '../scenario/founding-scenario.js';
import { renderExtensions } from './extensions-renderer.js';
import { renderPjsip } from './pjsip-renderer.js';
import { RenderError } from './render-errors.js';
import { parseDialplan, siteConfigFor } from './render-fixtures.test.js';
import { renderVoicemail } from './voicemail-renderer.js';

const AGI = { agiHost: '127.0.0.1', agiPort: 4573 };

/** voicemail.conf's mailbox lines as app_voicemail's append_mailbox reads them: `box => pin,name,email`. */
function mailboxes(text: string): Map<string, { context: string; pin: string; name: string; email: string | undefined }> {
  const out = new Map<string, { context: string; pin: string; name: string; email: string | undefined }>();
  let context = '';
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith(';')) continue;
    const header = /^\[([a-z0-9-]+)\]$/.exec(line);
    if (header !== null) {
      context = header[1] as string;
      continue;
    }
    const m = /^([0-9]+) => (.*)$/.exec(line);
    if (m === null) throw new Error(`not a mailbox line: ${line}`);
    const [pin, name, email, ...rest] = (m[2] as string).split(',');
    if (rest.length > 0 || /[;|]/.test(m[2] as string)) throw new Error(`extra fields: ${line}`);
    out.set(m[1] as string, { context, pin: pin as string, name: name as string, email });
  }
  return out;
}

describe('voicemail_fedpbx.conf', () => {
  it('has a mailbox for each extension of the site with voicemail, with its PIN, name and e-mail, in context fedpbx', () => {
    // The observed fact: VoiceMail 101@default answered "No entry in voicemail config file for '101'" - nothing was rendered.
    const moscow = mailboxes(renderVoicemail(siteConfigFor('moscow')));
    expect([...moscow.entries()]).toEqual([['101', { context: 'fedpbx', pin: '510101', name: 'Ivan Petrov', email: undefined }]]);
    const piter = mailboxes(renderVoicemail(siteConfigFor('piter')));
    expect([...piter.entries()]).toEqual([['301', { context: 'fedpbx', pin: '520301', name: 'Olga Ivanova', email: 'olga.ivanova@piter.example' }]]);
    // Extensions without voicemail (moscow 102, 150) have none.
    expect(mailboxes(renderVoicemail(siteConfigFor('kazan'))).size).toBe(0);
  });

  it('is the same context the fallback dialplan and the agent use (VoiceMail(<n>@fedpbx,...))', () => {
    const fed = foundingScenario();
    fed.inboundRoutes.push({ id: 'ir-vm', siteId: 'moscow', did: '74955550199', destination: { type: 'voicemail', mailbox: '101' } });
    const dialplan = parseDialplan(renderExtensions(siteConfigFor('moscow', fed), AGI));
    const vm = dialplan.find((e) => e.context === 'fedpbx-fallback-pstn' && e.name === '74955550199');
    expect(vm?.steps[0]).toEqual({ app: 'VoiceMail', data: '101@fedpbx,u', label: undefined });
  });

  it('refuses a mailbox without a PIN (app_voicemail lets anyone into a mailbox whose password is empty)', () => {
    const config = siteConfigFor('moscow');
    const e101 = config.extensions.find((e) => e.number === '101');
    if (e101 === undefined) throw new Error('no 101');
    delete (e101 as { voicemailPin?: string }).voicemailPin;
    expect(() => renderVoicemail(config)).toThrow(expect.objectContaining({ code: 'MISSING_VALUE', object: 'extension e-m101', field: 'voicemailPin' }));
  });

  it('refuses a PIN, name or e-mail that would add a field or a comment to the mailbox line, naming the field', () => {
    const bad: [field: 'voicemailPin' | 'displayName' | 'email', value: string][] = [
      ['voicemailPin', '1234,Evil'],
      ['voicemailPin', '*1234'],
      ['displayName', 'Ivan, Petrov'],
      ['email', 'a@b.example|attach=yes'],
      ['email', 'a@b.example;x'],
      ['email', 'a,b@x.example'],
    ];
    for (const [field, value] of bad) {
      const config = siteConfigFor('moscow');
      const e101 = config.extensions.find((e) => e.number === '101') as Record<string, unknown>;
      e101[field] = value;
      let caught: unknown;
      try {
        renderVoicemail(config);
      } catch (error) {
        caught = error;
      }
      expect(caught, `${field}=${value}`).toBeInstanceOf(RenderError);
      expect(caught).toMatchObject({ object: 'extension e-m101', field });
      expect(String((caught as Error).message)).not.toContain(value);
    }
  });
});

describe('the generated files name the exact #include line for the configured include dir', () => {
  it('says the file name when the files are in the config dir, the relative or absolute path otherwise', () => {
    const config = siteConfigFor('moscow');
    expect(renderPjsip(config)).toContain('; Include it from pjsip.conf with this line: #include pjsip_fedpbx.conf\n');
    expect(renderPjsip(config, { include: 'fedpbx/pjsip_fedpbx.conf' })).toContain('with this line: #include fedpbx/pjsip_fedpbx.conf\n');
    expect(renderExtensions(config, { ...AGI, include: 'fedpbx/extensions_fedpbx.conf' })).toContain(
      '; Include it from extensions.conf with this line: #include fedpbx/extensions_fedpbx.conf\n',
    );
    expect(renderVoicemail(config, { include: '/srv/fedpbx/voicemail_fedpbx.conf' })).toContain(
      '; Include it at the end of voicemail.conf with this line: #include /srv/fedpbx/voicemail_fedpbx.conf\n',
    );
  });

  it('refuses an include path config.c would read otherwise (glob characters, spaces, ..) or that names another file', () => {
    for (const include of ['fedpbx/*.conf', 'my dir/pjsip_fedpbx.conf', '../pjsip_fedpbx.conf', 'fedpbx/pjsip.conf', 'a;b/pjsip_fedpbx.conf']) {
      expect(() => renderPjsip(siteConfigFor('moscow'), { include }), include).toThrow(RenderError);
    }
  });
});
