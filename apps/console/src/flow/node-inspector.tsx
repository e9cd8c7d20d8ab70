import type { Edge } from '@xyflow/react';
import type { FlowNode } from '../api/types';
import type { DiagramNode } from './flow-graph';
import { DIGITS, NODE_KINDS, outcomeLabel, outcomesOf } from './node-catalog';

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter(Boolean);
const DAY_NAMES = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/**
 * The selected node's settings, and its outcomes as drop-downs: the keyboard way to connect what drawing does
 * with the mouse. Changes go to the diagram at once; nothing is saved until the flow is. `readOnly` shows the
 * same settings disabled, without the node actions.
 */
export function NodeInspector(props: {
  node: DiagramNode;
  readOnly: boolean;
  all: readonly DiagramNode[];
  edges: readonly Edge[];
  onChange: (node: FlowNode, digits?: readonly string[]) => void;
  onConnect: (outcome: string, target: string | undefined) => void;
  onMakeEntry: () => void;
  onDelete: () => void;
}) {
  const { node: d, all, edges, onChange, onConnect } = props;
  const n = d.data.node;
  const set = (patch: Record<string, unknown>): void => onChange({ ...n, ...patch } as FlowNode);
  const fid = (name: string): string => `insp-${d.id}-${name}`;
  const targetOf = (o: string): string => edges.find((e) => e.source === d.id && e.sourceHandle === o)?.target ?? '';

  return (
    <section className="inspector" aria-label={`Settings of node ${d.id}`}>
      <h2>
        {NODE_KINDS[n.type].title} <span className="muted">{d.id}</span>
      </h2>
      <p className="help">{NODE_KINDS[n.type].help}</p>
      {d.data.issues.length > 0 && (
        <ul className="field-error">
          {d.data.issues.map((m, i) => <li key={i}>{m}</li>)}
        </ul>
      )}
      {/* A disabled fieldset disables every control inside it, nested fieldsets included. */}
      <fieldset className="bare" disabled={props.readOnly}>
        <div className="field">
          <label htmlFor={fid('label')}>Label (optional)</label>
          <input id={fid('label')} value={n.label ?? ''} onChange={(e) => set({ label: e.target.value === '' ? undefined : e.target.value })} />
        </div>
        <TypeFields node={n} set={set} fid={fid} digits={d.data.digits} onDigits={(digits) => onChange(n, digits)} />
        {outcomesOf(n, d.data.digits).length > 0 && (
          <fieldset>
            <legend>What happens next</legend>
            {outcomesOf(n, d.data.digits).map((o) => (
              <div className="field inline" key={o}>
                <label htmlFor={fid(`out-${o}`)}>{outcomeLabel(o)}</label>
                <select id={fid(`out-${o}`)} value={targetOf(o)} onChange={(e) => onConnect(o, e.target.value === '' ? undefined : e.target.value)}>
                  <option value="">(end of call)</option>
                  {all.filter((x) => x.id !== d.id).map((x) => (
                    <option key={x.id} value={x.id}>
                      {x.id} – {NODE_KINDS[x.data.node.type].title}
                    </option>
                  ))}
                </select>
              </div>
            ))}
          </fieldset>
        )}
      </fieldset>
      {!props.readOnly && (
        <div className="actions">
          <button type="button" onClick={props.onMakeEntry} disabled={d.data.entry}>
            {d.data.entry ? 'Calls start here' : 'Start calls here'}
          </button>
          <button type="button" className="danger" onClick={props.onDelete}>
            Delete node
          </button>
        </div>
      )}
    </section>
  );
}

function TypeFields({ node: n, set, fid, digits, onDigits }: { node: FlowNode; set: (p: Record<string, unknown>) => void; fid: (s: string) => string; digits: readonly string[]; onDigits: (d: readonly string[]) => void }) {
  const text = (name: string, label: string, value: string, help?: string, parse: (v: string) => unknown = (v) => v) => (
    <div className="field">
      <label htmlFor={fid(name)}>{label}</label>
      <input id={fid(name)} value={value} onChange={(e) => set({ [name]: parse(e.target.value) })} />
      {help !== undefined && <small className="help">{help}</small>}
    </div>
  );
  const num = (name: string, label: string, value: number) => (
    <div className="field">
      <label htmlFor={fid(name)}>{label}</label>
      <input id={fid(name)} type="number" value={value} onChange={(e) => set({ [name]: Number(e.target.value) })} />
    </div>
  );
  switch (n.type) {
    case 'ivr-menu':
      return (
        <>
          {text('prompt', 'Prompt (sound file)', n.prompt, 'A sound name without extension, e.g. fedpbx/welcome.')}
          {num('timeoutSec', 'Wait for a key (seconds)', n.timeoutSec)}
          {num('retries', 'Repeat the menu (times)', n.retries)}
          <fieldset>
            <legend>Keys offered</legend>
            <div className="digits">
              {DIGITS.map((k) => (
                <label key={k} className="check">
                  <input type="checkbox" checked={digits.includes(k)} onChange={(e) => onDigits(e.target.checked ? [...digits, k] : digits.filter((x) => x !== k))} /> {k}
                </label>
              ))}
            </div>
          </fieldset>
        </>
      );
    case 'ring-group':
      return (
        <>
          {text('members', 'Phones to ring', n.members.join(', '), 'Extension numbers, comma-separated.', list)}
          <div className="field">
            <label htmlFor={fid('strategy')}>How</label>
            <select id={fid('strategy')} value={n.strategy} onChange={(e) => set({ strategy: e.target.value })}>
              <option value="ringall">all at once</option>
              <option value="hunt">one after another</option>
            </select>
          </div>
          {num('timeoutSec', 'Ring for (seconds)', n.timeoutSec)}
        </>
      );
    case 'time-condition': {
      const w = n.schedule.windows[0] ?? { days: [1, 2, 3, 4, 5], start: '09:00', end: '18:00' };
      const setWindow = (patch: Partial<typeof w>): void => set({ schedule: { ...n.schedule, windows: [{ ...w, ...patch }, ...n.schedule.windows.slice(1)] } });
      return (
        <>
          <div className="field">
            <label htmlFor={fid('tz')}>Time zone</label>
            <input id={fid('tz')} value={n.schedule.timezone} onChange={(e) => set({ schedule: { ...n.schedule, timezone: e.target.value } })} />
            <small className="help">IANA name, e.g. Europe/Moscow.</small>
          </div>
          <fieldset>
            <legend>Open on</legend>
            {DAY_NAMES.map((name, day) => (
              <label key={day} className="check">
                <input type="checkbox" checked={w.days.includes(day)} onChange={(e) => setWindow({ days: e.target.checked ? [...w.days, day].sort() : w.days.filter((x) => x !== day) })} /> {name}
              </label>
            ))}
          </fieldset>
          <div className="field inline">
            <label htmlFor={fid('start')}>from</label>
            <input id={fid('start')} value={w.start} onChange={(e) => setWindow({ start: e.target.value })} className="narrow" />
            <label htmlFor={fid('end')}>to</label>
            <input id={fid('end')} value={w.end} onChange={(e) => setWindow({ end: e.target.value })} className="narrow" />
          </div>
          {text('schedule', 'Closed on (dates)', n.schedule.holidays.join(', '), 'YYYY-MM-DD, comma-separated.', (v) => ({ ...n.schedule, holidays: list(v) }))}
        </>
      );
    }
    case 'dial-extension':
      return (
        <>
          {text('number', 'Extension', n.number)}
          {num('timeoutSec', 'Ring for (seconds)', n.timeoutSec)}
        </>
      );
    case 'voicemail':
      return text('mailbox', 'Mailbox', n.mailbox);
    case 'playback':
      return text('sound', 'Sound file', n.sound);
    case 'set-caller-id':
      return (
        <>
          {text('name', 'Caller name', n.name ?? '', undefined, (v) => (v === '' ? undefined : v))}
          {text('numberPrefix', 'Number prefix', n.numberPrefix ?? '', undefined, (v) => (v === '' ? undefined : v))}
        </>
      );
    case 'goto-flow':
      return text('flowId', 'Flow id', n.flowId);
    case 'record':
    case 'hangup':
      return null;
  }
}
