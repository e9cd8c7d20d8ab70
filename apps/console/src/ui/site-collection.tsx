import { useState, type ReactNode } from 'react';
import type { Page } from '../api/types';
import { useApi, useSession } from '../session';
import { DataTable, type Column } from './data-table';
import { useDeleteWithPreview } from './delete-preview';
import { Banner, LoadState } from './feedback';
import { ResourceForm, type FieldDef } from './resource-form';
import { useLoad } from './use-load';

/**
 * One kind of a site's objects (extensions, trunks), or without `siteId` a federation-wide kind (classes of
 * service): a table, add/edit through {@link ResourceForm}, delete with an impact preview. The write controls are there only when the
 * session says the caller may write here: the site's writers, or head office for a federation-wide kind.
 */
export function SiteCollection<T extends { id: string }>(props: {
  readonly siteId?: string;
  readonly title: string;
  readonly intro: ReactNode;
  readonly path: string;
  readonly noun: string;
  readonly columns: readonly Column<T>[];
  readonly fields: readonly FieldDef[];
  readonly defaults?: Record<string, unknown>;
  readonly describe: (item: T) => string;
}) {
  const { siteId, path, noun } = props;
  const session = useSession();
  const canWrite = siteId !== undefined ? session.canWrite(siteId) : session.headOffice;
  const api = useApi();
  const [items, reload] = useLoad(async () => (await api.get<Page<T>>(path, { siteId, limit: 1000 })).items, [api, path, siteId], { topics: ['config'], ...(siteId !== undefined ? { siteId } : {}) });
  const [editing, setEditing] = useState<T | 'new' | undefined>(undefined);
  const [message, setMessage] = useState<string | undefined>(undefined);
  const deletion = useDeleteWithPreview((m) => {
    setMessage(m);
    reload();
  });
  const remove = (item: T): void => {
    setMessage(undefined);
    deletion.ask({ path: `${path}/${encodeURIComponent(item.id)}`, label: `${noun} ${props.describe(item)}`, id: item.id });
  };

  const actions: Column<T> = {
    header: 'Actions',
    hideHeader: true,
    className: 'row-actions',
    cell: (item) => (
      <>
        <button type="button" onClick={() => { setMessage(undefined); setEditing(item); }} aria-label={`Edit ${noun} ${props.describe(item)}`}>
          Edit
        </button>
        <button type="button" className="danger" onClick={() => remove(item)} aria-label={`Delete ${noun} ${props.describe(item)}`}>
          Delete
        </button>
      </>
    ),
  };

  return (
    <section aria-labelledby="coll-title">
      <h1 id="coll-title">
        {props.title} {siteId !== undefined && <span className="muted">at {siteId}</span>}
      </h1>
      <p className="help">{props.intro}</p>
      {message !== undefined && <Banner kind="ok">{message}</Banner>}
      {deletion.dialog}
      {!canWrite ? null : editing === undefined ? (
        <div className="actions">
          <button type="button" className="primary" onClick={() => { setMessage(undefined); setEditing('new'); }}>
            Add {noun}
          </button>
        </div>
      ) : (
        <ResourceForm<T>
          key={editing === 'new' ? 'new' : editing.id}
          title={editing === 'new' ? `New ${noun}` : `Edit ${noun} ${props.describe(editing)}`}
          path={path}
          fields={props.fields}
          {...(editing !== 'new' ? { existing: editing as T & Record<string, unknown> } : {})}
          defaults={props.defaults ?? {}}
          fixed={siteId !== undefined ? { siteId } : {}}
          onSaved={(saved) => {
            setEditing(undefined);
            setMessage(saved !== undefined ? `Saved ${noun} ${props.describe(saved)}.` : 'Saved.');
            reload();
          }}
          onCancel={() => setEditing(undefined)}
        />
      )}
      <LoadState loaded={items} what={`${noun}s`}>
        {(list) => (
          <DataTable
            label={props.title}
            columns={canWrite ? [...props.columns, actions] : props.columns}
            rows={list}
            rowKey={(item) => item.id}
            empty={`No ${noun}s ${siteId !== undefined ? 'at this site ' : ''}yet.`}
          />
        )}
      </LoadState>
    </section>
  );
}
