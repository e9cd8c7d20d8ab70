import { useRef, useState, type DragEvent, type KeyboardEvent } from 'react';
import type { TrunkPreference } from '../api/types';

export interface TrunkLabel {
  readonly id: string;
  readonly label: string;
}

/** Moves item `from` to index `to` (a new array). */
export function moved<T>(list: readonly T[], from: number, to: number): T[] {
  const out = [...list];
  const [item] = out.splice(from, 1);
  if (item !== undefined) out.splice(Math.max(0, Math.min(out.length, to)), 0, item);
  return out;
}

/**
 * The ordered trunk preferences of an outbound route: drag a row to reorder, or (keyboard) focus its handle and
 * press Alt+Up / Alt+Down, or use the Up/Down buttons. Each row also edits its strip/prepend digits.
 */
export function TrunkOrder({ value, onChange, trunks }: { value: readonly TrunkPreference[]; onChange: (v: TrunkPreference[]) => void; trunks: readonly TrunkLabel[] }) {
  const dragging = useRef<number | undefined>(undefined);
  const [over, setOver] = useState<number | undefined>(undefined);
  const [announce, setAnnounce] = useState('');
  const labelOf = (id: string): string => trunks.find((t) => t.id === id)?.label ?? id;
  const [adding, setAdding] = useState('');

  const move = (from: number, to: number): void => {
    if (to < 0 || to >= value.length || from === to) return;
    onChange(moved(value, from, to));
    setAnnounce(`${labelOf(value[from]?.trunkId ?? '')} is now choice ${to + 1} of ${value.length}`);
    // Keep keyboard focus on the moved row's handle.
    requestAnimationFrame(() => document.querySelector<HTMLElement>(`[data-trunk-handle="${to}"]`)?.focus());
  };
  const onKey = (i: number) => (e: KeyboardEvent): void => {
    if (!e.altKey) return;
    if (e.key === 'ArrowUp') { e.preventDefault(); move(i, i - 1); }
    if (e.key === 'ArrowDown') { e.preventDefault(); move(i, i + 1); }
  };
  const drop = (i: number) => (e: DragEvent): void => {
    e.preventDefault();
    if (dragging.current !== undefined) move(dragging.current, i);
    dragging.current = undefined;
    setOver(undefined);
  };
  const update = (i: number, patch: Partial<TrunkPreference>): void => onChange(value.map((p, n) => (n === i ? { ...p, ...patch } : p)));

  return (
    <div className="trunk-order">
      <p className="help" id="trunk-order-help">
        Tried from top to bottom. Drag rows to reorder, or focus a row’s ⇅ handle and press Alt+↑ / Alt+↓.
      </p>
      <ol aria-describedby="trunk-order-help">
        {value.map((p, i) => (
          <li
            key={`${p.trunkId}-${i}`}
            data-trunk={p.trunkId}
            draggable
            onDragStart={(e) => { dragging.current = i; e.dataTransfer.effectAllowed = 'move'; e.dataTransfer.setData('text/plain', p.trunkId); }}
            onDragOver={(e) => { e.preventDefault(); setOver(i); }}
            onDragLeave={() => setOver(undefined)}
            onDrop={drop(i)}
            className={over === i ? 'drop-target' : undefined}
          >
            <button type="button" className="handle" data-trunk-handle={i} onKeyDown={onKey(i)} aria-label={`${labelOf(p.trunkId)}, choice ${i + 1}: Alt+Up or Alt+Down to move`}>
              ⇅
            </button>
            <span className="order">{i + 1}.</span>
            <strong>{labelOf(p.trunkId)}</strong>
            <label>
              strip <input type="number" min={0} max={31} value={p.strip} onChange={(e) => update(i, { strip: Number(e.target.value) })} className="narrow" />
            </label>
            <label>
              prepend <input type="text" value={p.prepend} onChange={(e) => update(i, { prepend: e.target.value })} className="narrow" inputMode="tel" />
            </label>
            <button type="button" onClick={() => move(i, i - 1)} disabled={i === 0} aria-label={`Move ${labelOf(p.trunkId)} up`}>↑</button>
            <button type="button" onClick={() => move(i, i + 1)} disabled={i === value.length - 1} aria-label={`Move ${labelOf(p.trunkId)} down`}>↓</button>
            <button type="button" className="danger" onClick={() => onChange(value.filter((_, n) => n !== i))} aria-label={`Remove ${labelOf(p.trunkId)}`}>
              Remove
            </button>
          </li>
        ))}
      </ol>
      <div className="inline">
        <label htmlFor="add-trunk">Add a trunk</label>
        <select id="add-trunk" value={adding} onChange={(e) => setAdding(e.target.value)}>
          <option value="">choose…</option>
          {trunks.filter((t) => !value.some((p) => p.trunkId === t.id)).map((t) => (
            <option key={t.id} value={t.id}>{t.label}</option>
          ))}
        </select>
        <button type="button" disabled={adding === ''} onClick={() => { onChange([...value, { trunkId: adding, strip: 0, prepend: '' }]); setAdding(''); }}>
          Add
        </button>
      </div>
      <p className="sr-only" aria-live="polite">{announce}</p>
    </div>
  );
}
