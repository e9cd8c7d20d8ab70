/**
 * AMI event filters: which events Asterisk does not send the agent at all (main/manager.c should_send_event). An event
 * filtered there costs the agent nothing - no bytes, no parse, no listener call; at thousands of lamp writes a second
 * that is half of what the agent would read (every Setvar of DEVICE_STATE raises a DeviceStateChange back).
 *
 * The facts (Asterisk 22, deploy/asterisk/README.md "AMI event filters"):
 * - `Action: Filter` / `Operation: Add` / `MatchCriteria: <options>` / `Filter: <pattern>` adds one filter to the
 *   current session (action_filter -> manager_add_filter("eventfilter(<options>)", pattern)); it needs the write class
 *   `system` (EVENT_FLAG_SYSTEM) and holds until the session ends - so it is sent again after every Login;
 * - options: action(include|exclude), name(<Event>) (exact, case-sensitive), header(<Header>) (the pattern is matched
 *   against that header's value only), method(exact|starts_with|ends_with|contains|regex|none); an advanced filter
 *   defaults to method none, so a pattern needs a method;
 * - once a session has include filters, only what matches one of them is sent; exclude filters drop what matches
 *   any. Answers to actions (list items such as DeviceStateList's) are never filtered.
 * - MatchCriteria exists since Asterisk 22.1 / 21.6 / 20.11. Older ones ignore it and read `Filter` as a regular
 *   expression over the whole event (`!` in front: exclude). An exclude filter is therefore sent with `!` before its
 *   pattern (manager_add_filter reads it as exclude too): read the old way it still only drops events containing the
 *   pattern. An include filter with a pattern would, read the old way, pass ONLY events containing it: refused here;
 *   include filters have no pattern (an empty legacy regex matches everything, so they are harmless there).
 *
 * The agent must work the same against an Asterisk that refuses a filter (a user without `write = system`) or does
 * not have it: filters only save work, every listener still ignores the events it does not want.
 */
export type AmiFilterMethod = 'exact' | 'starts_with' | 'ends_with' | 'contains' | 'regex' | 'none';

export interface AmiEventFilter {
  /** include: once any include filter is set, only matching events come; exclude: matching events never come. */
  readonly action: 'include' | 'exclude';
  /** The event name, exactly (`DeviceStateChange`). */
  readonly event?: string;
  /** The header whose value the pattern is matched against (without the colon); absent: the whole event text. */
  readonly header?: string;
  readonly method: AmiFilterMethod;
  /** Required unless method is none. No CR/LF (formatAmiAction refuses them). */
  readonly pattern?: string;
  /** Who wants it, for the log when Asterisk refuses it. */
  readonly reason: string;
}

/** The options in manager.conf / MatchCriteria order: action, name, header, method. */
export function filterCriteria(filter: AmiEventFilter): string {
  return [
    `action(${filter.action})`,
    ...(filter.event !== undefined ? [`name(${filter.event})`] : []),
    ...(filter.header !== undefined ? [`header(${filter.header})`] : []),
    `method(${filter.method})`,
  ].join(',');
}

/** The fields of the `Filter` action that adds this filter to the session. */
export function filterActionFields(filter: AmiEventFilter): Record<string, string> {
  const pattern = filter.pattern ?? '';
  // `!` for an exclude filter with a pattern: see the module comment (old Asterisk reads it as a legacy exclusion).
  const value = filter.action === 'exclude' && pattern !== '' ? `!${pattern}` : pattern;
  return { Operation: 'Add', MatchCriteria: filterCriteria(filter), Filter: value };
}

/** The same filter as a manager.conf line under the AMI user (`eventfilter(...) = pattern`). */
export function filterConfLine(filter: AmiEventFilter): string {
  return `eventfilter(${filterCriteria(filter)}) = ${filter.pattern ?? ''}`.trimEnd();
}

/** Refuses a filter Asterisk would refuse (manager_add_filter's checks), before anything is sent. */
export function checkFilter(filter: AmiEventFilter): void {
  const pattern = filter.pattern ?? '';
  const bad = (why: string): never => {
    throw new Error(`AMI event filter (${filter.reason}): ${why}`);
  };
  if (filter.method === 'none' && pattern !== '') bad('method none takes no pattern');
  if (filter.method !== 'none' && pattern === '') bad(`method ${filter.method} needs a pattern`);
  if (filter.method === 'none' && filter.event === undefined && filter.header === undefined) bad('an event or a header is needed');
  for (const part of [filter.event, filter.header]) {
    // strtok_r(" ,)") splits the options: none of these may appear inside a name.
    if (part !== undefined && (part === '' || /[\s,()]/.test(part))) bad(`bad name ${JSON.stringify(part)}`);
  }
  if (pattern.startsWith('!')) bad('a pattern cannot start with "!" (it means exclude)');
  // An Asterisk older than 22.1 reads an include filter's pattern as a regex over the whole event, and then sends
  // ONLY what contains it: the agent would lose every other event. Without a pattern it is harmless there (an empty
  // regex matches everything), so include filters select by event name (and header presence) only.
  if (filter.action === 'include' && pattern !== '') bad('an include filter takes no pattern (see filterActionFields)');
}
