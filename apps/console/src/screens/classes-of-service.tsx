import type { ClassOfService } from '../api/types';
import { useSession } from '../session';
import { SiteCollection } from '../ui/site-collection';
import { CALL_CLASS_OPTIONS } from './site-fields';

/** Classes of service: named sets of call classes a phone may dial. Federation-wide, changed by head office. */
export function ClassesOfServiceScreen() {
  const { headOffice } = useSession();
  return (
    <SiteCollection<ClassOfService>
      title="Classes of service"
      noun="class of service"
      path="/classes-of-service"
      intro={`What a phone may dial: give each extension a class (or let it use its site’s default). Emergency numbers always work, whatever the class.${headOffice ? '' : ' Head office defines the classes; you choose among them for your phones.'}`}
      describe={(c) => c.name}
      columns={[
        { header: 'Name', cell: (c) => c.name },
        { header: 'May dial', cell: (c) => c.allow.join(', ') },
      ]}
      defaults={{ allow: ['internal', 'local'] }}
      fields={[
        { name: 'name', label: 'Name', kind: 'text', required: true, placeholder: 'national', help: 'Letters, digits, . _ - (no spaces).' },
        {
          name: 'allow',
          label: 'May dial',
          kind: 'choices',
          options: CALL_CLASS_OPTIONS,
          help: 'internal: other phones and offices; local, national, international, premium: calls out through trunks of that class.',
        },
      ]}
    />
  );
}
