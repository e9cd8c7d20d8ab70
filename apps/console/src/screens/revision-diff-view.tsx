import type { CollectionDiff, ObjectChange, RevisionDiff } from '../api/types';

const COLLECTIONS: { key: string; label: string; noun: string }[] = [
  { key: 'numberRanges', label: 'Number ranges', noun: 'range' },
  { key: 'extensions', label: 'Extensions', noun: 'extension' },
  { key: 'trunks', label: 'Trunks', noun: 'trunk' },
  { key: 'inboundRoutes', label: 'Inbound numbers', noun: 'inbound route' },
  { key: 'callFlows', label: 'Call flows', noun: 'call flow' },
];

/** A person's name for an object of a diff: its number, name or DID, with the id for exactness. */
function describe(o: Record<string, unknown>): string {
  const s = (k: string): string | undefined => (typeof o[k] === 'string' ? (o[k] as string) : undefined);
  const name =
    s('number') !== undefined && s('displayName') !== undefined
      ? `${s('number')} (${s('displayName')})`
      : s('from') !== undefined && s('to') !== undefined
        ? `${s('from')}–${s('to')}`
        : (s('did') ?? s('name'));
  return name !== undefined ? `${name} [${String(o['id'])}]` : String(o['id']);
}

/** A property value in a line: JSON for structures, cut to a readable length. */
function show(v: unknown): string {
  if (v === undefined) return '—';
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/** Changed properties, before and after; a credential is named as changed, never shown (the API never sends it). */
function FieldChanges({ change }: { change: Omit<ObjectChange, 'id'> }) {
  return (
    <table className="field-changes">
      <thead>
        <tr>
          <th scope="col">Property</th>
          <th scope="col">Before</th>
          <th scope="col">After</th>
        </tr>
      </thead>
      <tbody>
        {change.fields.map((f) => {
          const hidden = !(f in change.before) && !(f in change.after) && (`${f}Set` in change.before || `${f}Set` in change.after);
          return (
            <tr key={f} data-field={f}>
              <th scope="row">{f}</th>
              {hidden ? (
                <td colSpan={2} className="muted">changed (credential, not shown)</td>
              ) : (
                <>
                  <td className="before">{show(change.before[f])}</td>
                  <td className="after">{show(change.after[f])}</td>
                </>
              )}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

function CollectionChanges({ label, noun, diff }: { label: string; noun: string; diff: CollectionDiff }) {
  return (
    <section aria-label={label}>
      <h4>{label}</h4>
      <ul className="diff-list">
        {diff.added.map((o) => (
          <li key={`+${o.id}`} className="diff-added">
            <span className="tag">added</span> {noun} {describe(o)}
          </li>
        ))}
        {diff.removed.map((o) => (
          <li key={`-${o.id}`} className="diff-removed">
            <span className="tag">removed</span> {noun} {describe(o)}
          </li>
        ))}
        {diff.changed.map((c) => (
          <li key={`~${c.id}`} className="diff-changed" data-changed={c.id}>
            <span className="tag">changed</span> {noun} {describe(c.after)}: {c.fields.join(', ')}
            <FieldChanges change={c} />
          </li>
        ))}
      </ul>
    </section>
  );
}

/** What differs between two revisions of a site: its settings, and its objects added, removed and changed. */
export function RevisionDiffView({ diff, title }: { diff: RevisionDiff; title: string }) {
  const parts = COLLECTIONS.map((c) => ({ ...c, diff: diff.collections[c.key] })).filter(
    (c): c is typeof c & { diff: CollectionDiff } => c.diff !== undefined && c.diff.added.length + c.diff.removed.length + c.diff.changed.length > 0,
  );
  return (
    <section className="card" aria-label={title} data-testid="revision-diff">
      <h3>{title}</h3>
      {diff.site === null && parts.length === 0 && <p>No differences in what this site owns (changes elsewhere in the federation, e.g. routes or links, can still make a new revision).</p>}
      {diff.site !== null && (
        <section aria-label="Site settings">
          <h4>Site settings</h4>
          <FieldChanges change={diff.site} />
        </section>
      )}
      {parts.map((p) => (
        <CollectionChanges key={p.key} label={p.label} noun={p.noun} diff={p.diff} />
      ))}
    </section>
  );
}
