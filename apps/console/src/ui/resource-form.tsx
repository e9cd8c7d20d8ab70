import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import type { FederationIssue, WriteResponse } from '../api/types';
import { useApi } from '../session';
import { ErrorBanner, ImpactPreview } from './feedback';
import { Field, type FieldControlProps } from './field';

interface Common {
  /** Property name; a dotted name (`network.sipPort`) edits a property of a nested object. */
  readonly name: string;
  readonly label: string;
  readonly help?: string;
  /** Shown (and sent) only while this holds for the form's current values. */
  readonly showIf?: (values: Values) => boolean;
}
export type FieldDef =
  | (Common & { readonly kind: 'text'; readonly required?: boolean; readonly placeholder?: string; readonly inputMode?: 'numeric' | 'tel' })
  | (Common & { readonly kind: 'number'; readonly min?: number; readonly max?: number })
  | (Common & { readonly kind: 'checkbox' })
  | (Common & { readonly kind: 'select'; readonly options: readonly { value: string; label: string }[]; readonly optional?: boolean })
  /**
   * Comma-separated values, sent as an array of strings - or of what `toItem` makes of each (an object per item,
   * written back into the box by `fromItem`).
   */
  | (Common & { readonly kind: 'list'; readonly placeholder?: string; readonly toItem?: (text: string) => unknown; readonly fromItem?: (item: unknown) => string })
  /** Several of a fixed set, ticked; sent as an array of the ticked values (in the options' order). */
  | (Common & { readonly kind: 'choices'; readonly options: readonly { value: string; label: string }[] })
  /** Write-only credential: empty keeps the stored one (or lets the server generate one). */
  | (Common & { readonly kind: 'secret' });

export type Values = Record<string, string | boolean | readonly string[]>;

const getPath = (o: Record<string, unknown>, name: string): unknown =>
  name.split('.').reduce<unknown>((v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined), o);

/** Sets (or with `undefined` removes) a dotted property, copying the nested objects on the way so `o`'s originals stay untouched. */
function setPath(o: Record<string, unknown>, name: string, value: unknown): void {
  const keys = name.split('.');
  const last = keys.pop() as string;
  let at = o;
  for (const k of keys) {
    const next = at[k];
    at[k] = typeof next === 'object' && next !== null && !Array.isArray(next) ? { ...(next as Record<string, unknown>) } : {};
    at = at[k] as Record<string, unknown>;
  }
  if (value === undefined) delete at[last];
  else at[last] = value;
}

const visible = (f: FieldDef, values: Values): boolean => f.showIf === undefined || f.showIf(values);

/** The field a server problem belongs to: the one its path names (or lies inside), else the first inside it. */
function fieldOfProblem(path: string, fields: readonly FieldDef[], values: Values): string | undefined {
  const shown = fields.filter((f) => visible(f, values));
  const owner = shown.filter((f) => path === f.name || path.startsWith(`${f.name}.`)).sort((a, b) => b.name.length - a.name.length)[0];
  return (owner ?? shown.find((f) => path !== '' && f.name.startsWith(`${path}.`)))?.name;
}

function initialValues(fields: readonly FieldDef[], from: Record<string, unknown>): Values {
  const v: Values = {};
  for (const f of fields) {
    const x = getPath(from, f.name);
    if (f.kind === 'checkbox') v[f.name] = x === true;
    else if (f.kind === 'choices') v[f.name] = Array.isArray(x) ? x.map(String) : [];
    else if (f.kind === 'list') v[f.name] = Array.isArray(x) ? x.map((i) => (f.fromItem !== undefined ? f.fromItem(i) : String(i))).join(', ') : '';
    else if (f.kind === 'secret') v[f.name] = '';
    else v[f.name] = x === undefined || x === null ? '' : String(x);
  }
  return v;
}

/**
 * The body to send: an edit starts from the stored object (minus the API's `<secret>Set` flags), so properties
 * this form does not show are kept; every field the form shows replaces its property, an empty one removes it,
 * and so does a field hidden by its `showIf` (so a choice the user switched away from is not sent).
 */
function bodyOf(fields: readonly FieldDef[], values: Values, base: Record<string, unknown>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(base)) if (!(k.endsWith('Set') && typeof v === 'boolean')) body[k] = v;
  for (const f of fields) {
    const x = values[f.name];
    setPath(body, f.name, undefined);
    if (!visible(f, values)) continue;
    if (f.kind === 'checkbox') setPath(body, f.name, x === true);
    else if (f.kind === 'choices') setPath(body, f.name, f.options.map((o) => o.value).filter((o) => Array.isArray(x) && x.includes(o)));
    else if (typeof x !== 'string' || x.trim() === '') continue;
    else if (f.kind === 'number') setPath(body, f.name, Number(x));
    else if (f.kind === 'list') {
      const items = x.split(',').map((s) => s.trim()).filter((s) => s !== '');
      setPath(body, f.name, f.toItem !== undefined ? items.map(f.toItem) : items);
    }
    else setPath(body, f.name, x.trim());
  }
  return body;
}

export interface ResourceFormProps<T> {
  readonly title: string;
  /** Collection path under /api/v1, e.g. `/extensions`. */
  readonly path: string;
  readonly fields: readonly FieldDef[];
  /** The object being edited (PUT), or undefined to create one (POST). */
  readonly existing?: Record<string, unknown> & { id: string };
  /** Starting values of a new object. */
  readonly defaults?: Record<string, unknown>;
  /** Properties sent as they are (the site of a site's object; properties this form does not edit). */
  readonly fixed?: Record<string, unknown>;
  readonly onSaved: (data: T | undefined) => void;
  readonly onCancel: () => void;
  /** Called with the conflicts of a refused write (e.g. to highlight the ranges it names). */
  readonly onConflict?: (issues: readonly FederationIssue[]) => void;
}

/**
 * Create/edit form of one federation object: "Preview impact" sends the write with `?dryRun=true` (nothing is
 * saved), "Save" sends it for real; the server's validation lands beside the field it names, or as a list of
 * conflicts naming the objects involved.
 */
export function ResourceForm<T>({ title, path, fields, existing, defaults = {}, fixed = {}, onSaved, onCancel, onConflict }: ResourceFormProps<T>) {
  const api = useApi();
  const [values, setValues] = useState<Values>(() => initialValues(fields, existing ?? defaults));
  const [error, setError] = useState<unknown>(undefined);
  const [preview, setPreview] = useState<WriteResponse | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const problems: Record<string, string> = {};
  const unplaced: { path: string; message: string }[] = [];
  for (const p of error instanceof ApiError ? error.problems : []) {
    const name = fieldOfProblem(p.path, fields, values);
    if (name === undefined) unplaced.push(p);
    else problems[name] = problems[name] === undefined ? p.message : `${problems[name]}; ${p.message}`;
  }

  const send = async (dryRun: boolean): Promise<void> => {
    setBusy(true);
    setError(undefined);
    if (!dryRun) setPreview(undefined);
    const body = bodyOf(fields, values, { ...(existing ?? {}), ...fixed });
    try {
      const q = dryRun ? { dryRun: true } : undefined;
      const answer = existing === undefined ? await api.post<WriteResponse>(path, body, q) : await api.put<WriteResponse>(`${path}/${encodeURIComponent(existing.id)}`, body, q);
      if (dryRun) setPreview(answer);
      else onSaved(answer.data as T | undefined);
    } catch (e) {
      setError(e);
      setPreview(undefined);
      if (e instanceof ApiError && e.issues.length > 0) onConflict?.(e.issues);
    } finally {
      setBusy(false);
    }
  };

  const submit = (e: FormEvent): void => {
    e.preventDefault();
    void send(false);
  };

  return (
    <form className="card form" onSubmit={submit} aria-label={title} noValidate>
      <h3>{title}</h3>
      <div className="form-grid">
        {fields.filter((f) => visible(f, values)).map((f) => (
          <Field key={f.name} label={f.label} {...(f.help !== undefined ? { help: f.help } : {})} {...(problems[f.name] !== undefined ? { error: problems[f.name] } : {})}>
            {(p) => <Control def={f} value={values[f.name] ?? ''} onChange={(v) => setValues((old) => ({ ...old, [f.name]: v }))} control={p} />}
          </Field>
        ))}
      </div>
      {error !== undefined && (!(error instanceof ApiError) || error.problems.length === 0 || unplaced.length > 0) && <ErrorBanner error={error} />}
      {error instanceof ApiError && error.problems.length > 0 && unplaced.length === 0 && <p className="field-error" role="alert">Fix the marked fields; nothing was saved.</p>}
      {preview !== undefined && <ImpactPreview preview={preview} />}
      <div className="actions">
        <button type="button" onClick={() => void send(true)} disabled={busy}>
          Preview impact
        </button>
        <button type="submit" className="primary" disabled={busy}>
          {existing === undefined ? 'Create' : 'Save'}
        </button>
        <button type="button" className="link" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function Control({ def, value, onChange, control }: { def: FieldDef; value: Values[string]; onChange: (v: Values[string]) => void; control: FieldControlProps }) {
  switch (def.kind) {
    case 'choices': {
      const ticked = Array.isArray(value) ? value : [];
      // The Field's label names the group; each box is labelled by its option.
      return (
        <div role="group" aria-labelledby={`${control.id}-label`} aria-describedby={control['aria-describedby']} className="choices">
          {def.options.map((o) => (
            <label key={o.value} className="check">
              <input
                type="checkbox"
                checked={ticked.includes(o.value)}
                onChange={(e) => onChange(e.target.checked ? [...ticked, o.value] : ticked.filter((v) => v !== o.value))}
              />{' '}
              {o.label}
            </label>
          ))}
        </div>
      );
    }
    case 'checkbox':
      return <input type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} {...control} />;
    case 'select':
      return (
        <select value={String(value)} onChange={(e) => onChange(e.target.value)} {...control}>
          {def.optional === true && <option value="">(none)</option>}
          {def.options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      );
    case 'number':
      return <input type="number" value={String(value)} min={def.min} max={def.max} onChange={(e) => onChange(e.target.value)} {...control} />;
    case 'secret':
      return <input type="password" autoComplete="new-password" value={String(value)} placeholder="leave empty to keep" onChange={(e) => onChange(e.target.value)} {...control} />;
    case 'list':
    case 'text':
      return (
        <input
          type="text"
          value={String(value)}
          placeholder={def.placeholder}
          {...(def.kind === 'text' && def.inputMode !== undefined ? { inputMode: def.inputMode } : {})}
          onChange={(e) => onChange(e.target.value)}
          {...control}
        />
      );
  }
}
