import { useId, type ReactNode } from 'react';

/** A labelled control with its help text and, in place, the server's complaint about it. */
export function Field({ label, help, error, children }: { label: string; help?: ReactNode; error?: string; children: (props: FieldControlProps) => ReactNode }) {
  const id = useId();
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const describedBy = [help !== undefined ? helpId : undefined, error !== undefined ? errorId : undefined].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${error !== undefined ? ' field-invalid' : ''}`}>
      <label id={`${id}-label`} htmlFor={id}>
        {label}
      </label>
      {children({ id, 'aria-describedby': describedBy, 'aria-invalid': error !== undefined })}
      {help !== undefined && (
        <small id={helpId} className="help">
          {help}
        </small>
      )}
      {error !== undefined && (
        <small id={errorId} className="field-error" role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

export interface FieldControlProps {
  readonly id: string;
  readonly 'aria-describedby': string | undefined;
  readonly 'aria-invalid': boolean;
}

/** Input problems (`{ path, message }`) keyed by their first path segment, for showing beside fields. */
export function problemsByField(problems: readonly { path: string; message: string }[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of problems) {
    const key = p.path.split('.')[0] ?? '';
    out[key] = out[key] === undefined ? p.message : `${out[key]}; ${p.message}`;
  }
  return out;
}
