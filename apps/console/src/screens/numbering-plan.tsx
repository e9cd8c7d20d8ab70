import { useState } from 'react';
import type { FederationIssue, NumberingPlanView, NumberRange, Page } from '../api/types';
import { useApi, useSession } from '../session';
import { siteOptions, useSites } from '../sites';
import { Banner, LoadState } from '../ui/feedback';
import { DataTable } from '../ui/data-table';
import { useDeleteWithPreview } from '../ui/delete-preview';
import { ResourceForm, type FieldDef } from '../ui/resource-form';
import { useLoad } from '../ui/use-load';

type PlanRange = NumberingPlanView['numberRanges'][number];

interface Overlap {
  readonly other: PlanRange;
  /** The other site (or this one) dials the other's numbers only behind its prefix, so both can coexist. */
  readonly privateBehindPrefix: string | undefined;
}

/** Ranges of other sites that share numbers with `r`. */
export function overlapsOf(r: PlanRange, plan: NumberingPlanView): Overlap[] {
  const site = new Map(plan.sites.map((s) => [s.id, s]));
  return plan.numberRanges
    .filter((o) => o.id !== r.id && o.siteId !== r.siteId && o.from.length === r.from.length && o.from <= r.to && r.from <= o.to)
    .map((o) => {
      const mine = site.get(r.siteId);
      const theirs = site.get(o.siteId);
      const behind = theirs?.prefixRequired === true ? theirs : mine?.prefixRequired === true ? mine : undefined;
      return { other: o, privateBehindPrefix: behind?.prefix };
    });
}

/**
 * The federation's numbering plan: every site's ranges (site admins see them all, read-only outside their
 * sites; viewers all read-only), overlaps marked, and add/edit of ranges with an impact preview before saving.
 */
export function NumberingPlanScreen() {
  const api = useApi();
  const { canWrite } = useSession();
  const writableSites = useSites().sites.filter((s) => canWrite(s.id));
  const [plan, reloadPlan] = useLoad(() => api.get<NumberingPlanView>('/numbering-plan'), [api], { topics: ['config'], kinds: ['federation', 'site', 'numberRange'] });
  const [mine, reloadMine] = useLoad(async () => (await api.get<Page<NumberRange>>('/number-ranges', { limit: 1000 })).items, [api], { topics: ['config'], kinds: ['numberRange'] });
  const [editing, setEditing] = useState<NumberRange | 'new' | undefined>(undefined);
  const [conflicts, setConflicts] = useState<ReadonlySet<string>>(new Set());
  const [saved, setSaved] = useState<string | undefined>(undefined);
  const deletion = useDeleteWithPreview((m) => done(m));
  const editable = new Map((mine.state === 'ok' ? mine.value : []).map((r) => [r.id, r]));

  const fields: FieldDef[] = [
    { name: 'siteId', label: 'Site', kind: 'select', options: siteOptions(writableSites), help: 'The office whose phones get these numbers.' },
    { name: 'from', label: 'First number', kind: 'text', inputMode: 'numeric', required: true, placeholder: '100', help: 'Digits only.' },
    { name: 'to', label: 'Last number', kind: 'text', inputMode: 'numeric', required: true, placeholder: '299', help: 'Same number of digits as the first.' },
    { name: 'pstnPrefix', label: 'PSTN prefix (optional)', kind: 'text', inputMode: 'tel', placeholder: '84955550', help: 'If these phones have direct-dial numbers: prefix + extension reaches them from outside, used when the link to the site is down.' },
    { name: 'description', label: 'Description (optional)', kind: 'text' },
  ];

  const done = (message: string): void => {
    setEditing(undefined);
    setConflicts(new Set());
    setSaved(message);
    reloadPlan();
    reloadMine();
  };
  const onConflict = (issues: readonly FederationIssue[]): void => setConflicts(new Set(issues.flatMap((i) => i.objects.filter((o) => o.type === 'numberRange').map((o) => o.id))));

  return (
    <section aria-labelledby="np-title">
      <h1 id="np-title">Numbering plan</h1>
      <p className="help">
        Every office owns ranges of internal numbers. Ranges of two offices may overlap only when one of them is private behind its site prefix (callers elsewhere dial prefix + number).
      </p>
      {saved !== undefined && <Banner kind="ok">{saved}</Banner>}
      {deletion.dialog}
      <div className="actions">
        {editing === undefined && writableSites.length > 0 && (
          <button type="button" className="primary" onClick={() => { setSaved(undefined); setEditing('new'); }}>
            Add a number range
          </button>
        )}
      </div>
      {editing !== undefined && (
        <ResourceForm<NumberRange>
          key={editing === 'new' ? 'new' : editing.id}
          title={editing === 'new' ? 'New number range' : `Edit range ${editing.from}–${editing.to}`}
          path="/number-ranges"
          fields={fields}
          {...(editing !== 'new' ? { existing: editing } : {})}
          defaults={{ siteId: writableSites[0]?.id }}
          onSaved={(r) => done(r !== undefined ? `Saved range ${r.from}–${r.to}.` : 'Saved.')}
          onCancel={() => { setEditing(undefined); setConflicts(new Set()); }}
          onConflict={onConflict}
        />
      )}
      <LoadState loaded={plan} what="the numbering plan">
        {(p) => (
          <DataTable
            label="Number ranges"
            columns={[
              { header: 'Site', rowHeader: true, cell: ({ r, site }) => site?.name ?? r.siteId },
              { header: 'Prefix', cell: ({ site }) => (site?.prefix !== undefined ? `${site.prefix}${site.prefixRequired ? ' (required)' : ''}` : '—') },
              {
                header: 'Range',
                cell: ({ r, own }) => (
                  <>
                    {r.from}–{r.to}
                    {own?.description !== undefined && <div className="muted">{own.description}</div>}
                  </>
                ),
              },
              {
                header: 'Overlaps',
                cell: ({ r, overlaps }) => (
                  <>
                    {conflicts.has(r.id) && <strong className="field-error">conflicts with your change </strong>}
                    {overlaps.map((o) => (
                      <div key={o.other.id} className={o.privateBehindPrefix === undefined ? 'field-error' : 'muted'}>
                        {o.other.siteId} {o.other.from}–{o.other.to}
                        {o.privateBehindPrefix !== undefined ? ` — kept apart by prefix ${o.privateBehindPrefix}` : ' — conflict'}
                      </div>
                    ))}
                    {overlaps.length === 0 && !conflicts.has(r.id) && <span className="muted">none</span>}
                  </>
                ),
              },
              {
                header: 'Actions',
                hideHeader: true,
                cell: ({ r, own }) =>
                  own !== undefined && (
                    <>
                      <button type="button" onClick={() => { setSaved(undefined); setEditing(own); }} aria-label={`Edit range ${r.from}–${r.to} of ${r.siteId}`}>
                        Edit
                      </button>
                      <button
                        type="button"
                        className="danger"
                        onClick={() => { setSaved(undefined); deletion.ask({ path: `/number-ranges/${encodeURIComponent(r.id)}`, label: `range ${r.from}–${r.to} of ${r.siteId}`, id: r.id }); }}
                        aria-label={`Delete range ${r.from}–${r.to} of ${r.siteId}`}
                      >
                        Delete
                      </button>
                    </>
                  ),
              },
            ]}
            rows={p.numberRanges.map((r) => ({
              r,
              site: p.sites.find((s) => s.id === r.siteId),
              overlaps: overlapsOf(r, p),
              own: canWrite(r.siteId) ? editable.get(r.id) : undefined,
            }))}
            rowKey={({ r }) => r.id}
            rowAttributes={({ r, overlaps }) => ({
              'data-range': r.id,
              className: conflicts.has(r.id) || overlaps.some((o) => o.privateBehindPrefix === undefined) ? 'row-conflict' : overlaps.length > 0 ? 'row-overlap' : undefined,
            })}
          />
        )}
      </LoadState>
    </section>
  );
}
