import { useRef, useState } from 'react';

/**
 * A secret or command shown for copying: read-only text, selected on focus, and a Copy button. The clipboard
 * API needs a secure context (https or localhost); elsewhere the text is selected so Ctrl+C copies it.
 */
export function CopyBox({ label, value, rows = 1 }: { label: string; value: string; rows?: number }) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const [copied, setCopied] = useState<'yes' | 'select' | undefined>(undefined);
  const copy = async (): Promise<void> => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied('yes');
    } catch {
      ref.current?.select();
      setCopied('select');
    }
  };
  return (
    <div className="copy-box">
      <textarea ref={ref} aria-label={label} readOnly value={value} rows={rows} spellCheck={false} onFocus={(e) => e.currentTarget.select()} />
      <button type="button" onClick={() => void copy()}>
        Copy
      </button>
      <span role="status" className="muted">
        {copied === 'yes' ? 'Copied.' : copied === 'select' ? 'Selected: press Ctrl+C (or ⌘C) to copy.' : ''}
      </span>
    </div>
  );
}
