import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import type { FederationIssue, ObjectRef, WriteResponse } from '../api/types';
import { useApi } from '../session';
import { Banner, ErrorBanner, IssueList } from './feedback';

/** What a delete is about: the API path of the object and how to name it to a person. */
export interface DeleteTarget {
  /** `/number-ranges/r-piter` */
  readonly path: string;
  /** `range 300–499 of piter` */
  readonly label: string;
  /** The object's id, so the preview does not list the object itself among what breaks. */
  readonly id: string;
}

const TYPE_WORDS: Record<string, string> = {
  site: 'site',
  numberRange: 'number range',
  extension: 'extension',
  trunk: 'trunk',
  link: 'link',
  outboundRoute: 'outbound route',
  inboundRoute: 'inbound route',
  callFlow: 'call flow',
  classOfService: 'class of service',
};

/** The objects the preview's errors name, other than the deleted one: what would break (each once). */
export function brokenObjects(issues: readonly FederationIssue[], deletedId: string): ObjectRef[] {
  const seen = new Map<string, ObjectRef>();
  for (const i of issues) for (const o of i.objects) if (o.id !== deletedId && o.type !== 'site' && !seen.has(`${o.type}:${o.id}`)) seen.set(`${o.type}:${o.id}`, o);
  return [...seen.values()];
}

const describeObject = (o: ObjectRef): string => (o.id === '(hidden)' ? `a ${TYPE_WORDS[o.type] ?? o.type} outside your sites` : `${TYPE_WORDS[o.type] ?? o.type} ${o.id}${o.siteId !== undefined ? ` at ${o.siteId}` : ''}`);

type Step = { readonly kind: 'checking' } | { readonly kind: 'preview'; readonly preview: WriteResponse } | { readonly kind: 'failed'; readonly error: unknown } | { readonly kind: 'deleting'; readonly preview: WriteResponse };

/**
 * Deleting with an impact preview: asking to delete runs the server's dry run (`DELETE …?dryRun=true`) and shows
 * what the federation check says - which objects would break, which sites' configuration changes - before
 * anything is removed. A delete that would break the federation cannot be confirmed; cancel changes nothing.
 * Render `dialog` once in the screen and call `ask` from its rows.
 */
export function useDeleteWithPreview(onDeleted: (message: string, answer: WriteResponse) => void): { ask: (target: DeleteTarget) => void; dialog: ReactNode } {
  const api = useApi();
  const [target, setTarget] = useState<DeleteTarget | undefined>(undefined);
  const [step, setStep] = useState<Step>({ kind: 'checking' });
  const [deleteError, setDeleteError] = useState<unknown>(undefined);
  const asked = useRef(0);

  const ask = useCallback(
    (t: DeleteTarget) => {
      const n = ++asked.current;
      setTarget(t);
      setDeleteError(undefined);
      setStep({ kind: 'checking' });
      api.delete<WriteResponse>(t.path, { dryRun: true }).then(
        (preview) => n === asked.current && setStep({ kind: 'preview', preview }),
        (error: unknown) => n === asked.current && setStep({ kind: 'failed', error }),
      );
    },
    [api],
  );
  const close = (): void => {
    asked.current++;
    setTarget(undefined);
  };
  const confirm = async (t: DeleteTarget, preview: WriteResponse): Promise<void> => {
    setStep({ kind: 'deleting', preview });
    setDeleteError(undefined);
    try {
      const answer = await api.delete<WriteResponse>(t.path);
      setTarget(undefined);
      onDeleted(`Deleted ${t.label}.${answer.changedSites.length > 0 ? ` Sites being updated: ${answer.changedSites.join(', ')}.` : ''}`, answer);
    } catch (e) {
      setDeleteError(e);
      setStep({ kind: 'preview', preview });
    }
  };

  const dialog = target === undefined ? null : <DeleteDialog target={target} step={step} error={deleteError} onCancel={close} onConfirm={(p) => void confirm(target, p)} />;
  return { ask, dialog };
}

function DeleteDialog({ target, step, error, onCancel, onConfirm }: { target: DeleteTarget; step: Step; error: unknown; onCancel: () => void; onConfirm: (p: WriteResponse) => void }) {
  const cancelRef = useRef<HTMLButtonElement>(null);
  useEffect(() => cancelRef.current?.focus(), []);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if (e.key === 'Escape') onCancel();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onCancel]);
  const preview = step.kind === 'preview' || step.kind === 'deleting' ? step.preview : undefined;
  const blocked = preview !== undefined && !preview.validation.ok;
  const broken = preview !== undefined ? brokenObjects(preview.validation.errors, target.id) : [];
  return (
    <div className="modal-backdrop">
      <div className="modal card" role="dialog" aria-modal="true" aria-labelledby="delete-title" data-testid="delete-preview">
        <h2 id="delete-title">Delete {target.label}?</h2>
        {step.kind === 'checking' && <p aria-busy="true">Checking what this delete would change…</p>}
        {step.kind === 'failed' && <ErrorBanner error={step.error} />}
        {preview !== undefined && (
          <>
            {blocked ? (
              <Banner kind="error" title="This delete would break the federation, so it cannot be done yet">
                {broken.length > 0 && (
                  <>
                    <p>These still need it; change or delete them first:</p>
                    <ul aria-label="Would break">
                      {broken.map((o) => (
                        <li key={`${o.type}:${o.id}`} data-affected={`${o.type}:${o.id}`}>
                          {describeObject(o)}
                        </li>
                      ))}
                    </ul>
                  </>
                )}
                <details>
                  <summary>What the federation check says</summary>
                  <IssueList issues={preview.validation.errors} />
                </details>
              </Banner>
            ) : (
              <Banner kind="ok" title="Nothing else breaks">
                <p>The federation stays valid without it.</p>
              </Banner>
            )}
            <p data-changed-sites={preview.changedSites.join(' ')}>
              {preview.changedSites.length === 0 ? 'No site’s configuration changes.' : `Sites whose configuration ${blocked ? 'would change' : 'changes'}: ${preview.changedSites.join(', ')}.`}
            </p>
            {preview.validation.warnings.length > 0 && (
              <Banner kind="warning" title="Warnings">
                <IssueList issues={preview.validation.warnings} />
              </Banner>
            )}
          </>
        )}
        {error !== undefined && <ErrorBanner error={error} />}
        <div className="actions">
          <button type="button" className="danger-fill" disabled={preview === undefined || blocked || step.kind === 'deleting'} onClick={() => preview !== undefined && onConfirm(preview)}>
            Delete {target.label}
          </button>
          <button type="button" ref={cancelRef} onClick={onCancel}>
            Cancel
          </button>
        </div>
        {blocked && <p className="help">Delete is off until nothing breaks. Nothing has been changed.</p>}
      </div>
    </div>
  );
}
