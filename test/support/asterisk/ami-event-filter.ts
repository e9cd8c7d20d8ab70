// Test support: Asterisk's AMI event filters, as main/manager.c of Asterisk 22 (22.1+, 21.6+, 20.11+) implements
// them - the model the AMI peer applies to every event it raises. Facts and references: deploy/asterisk/README.md
// ("AMI event filters"). In short:
// - manager_add_filter(criteria, pattern): criteria is `eventfilter` (legacy: the pattern is a POSIX extended regex
//   over the whole event text, `!` in front makes it an exclusion) or `eventfilter(<options>)` (advanced): options
//   split at blanks, commas and `)`, each recognised by its prefix - action(include|exclude), name(<event>),
//   header(<header>), method(regex|exact|starts_with|ends_with|contains|none); anything else is a format error.
//   Advanced filters default to method none (not regex): a pattern without a method is a format error, and so is a
//   method other than none without a pattern, and no name/header with method none. `!` before the pattern still
//   means exclude; action(...) wins when both are given.
// - filter_cmp_fn: name() compares the event name's hash (so: exact and case-sensitive); header() looks at every
//   line of the event text (CR dropped) starting with `<header>:` (case-sensitive), skips blanks after the colon,
//   ignores an empty value, and matches the value; without header() the whole event text is matched.
// - should_send_event: no filters - everything; includes only - what matches any; excludes only - what matches
//   none; both - what matches an include and no exclude.
// The agent never imports this file: it is the Asterisk side, written from manager.c, not from the agent's code.

export type FilterMethod = 'regex' | 'exact' | 'starts_with' | 'ends_with' | 'contains' | 'none';

export interface EventFilterEntry {
  readonly exclude: boolean;
  readonly name: string | undefined;
  /** With the colon, as manager.c keeps it (`Device:`). */
  readonly header: string | undefined;
  readonly method: FilterMethod;
  readonly pattern: string;
  readonly regex: RegExp | undefined;
}

/** FILTER_SUCCESS, FILTER_FORMAT_ERROR, FILTER_COMPILE_FAIL. */
export type AddFilterResult = { readonly ok: true; readonly entry: EventFilterEntry } | { readonly ok: false; readonly error: 'format' | 'compile' };

export interface SessionFilters {
  readonly include: EventFilterEntry[];
  readonly exclude: EventFilterEntry[];
}

const METHODS = new Set<string>(['regex', 'exact', 'starts_with', 'ends_with', 'contains', 'none']);

/** manager.c manager_add_filter: one `eventfilter...` criteria with its pattern. */
export function parseEventFilter(criteria: string, filterPattern: string): AddFilterResult {
  const format = { ok: false, error: 'format' } as const;
  if (criteria === '') return format;
  let pattern = filterPattern;
  let exclude = false;
  if (pattern.startsWith('!')) {
    exclude = true;
    pattern = pattern.slice(1);
  }
  let method: FilterMethod = 'regex';
  let name: string | undefined;
  let header: string | undefined;
  const open = criteria.indexOf('(');
  if (open < 0 && pattern === '') return format; // a legacy filter needs a pattern
  if (open >= 0) {
    method = 'none';
    const options = criteria.slice(open + 1).trim();
    if (options === '' || !options.endsWith(')')) return format;
    let found = 0;
    // strtok_r(temp, " ,)"): `name(DeviceStateChange)` becomes the token `name(DeviceStateChange`.
    for (const option of options.split(/[ ,)]+/).filter((t) => t !== '')) {
      const paren = option.indexOf('(');
      const value = paren < 0 ? undefined : option.slice(paren + 1).trim();
      if (option.startsWith('action')) {
        if (value === undefined || value === '') return format;
        if (value === 'include') exclude = false;
        else if (value === 'exclude') exclude = true;
        else return format;
      } else if (option.startsWith('name')) {
        if (value === undefined || value === '') return format;
        name = value;
      } else if (option.startsWith('header')) {
        if (value === undefined || value === '') return format;
        header = value.endsWith(':') ? value : `${value}:`;
      } else if (option.startsWith('method')) {
        if (value === undefined || value === '' || !METHODS.has(value)) return format;
        method = value as FilterMethod;
      } else {
        return format;
      }
      found += 1;
    }
    if (found === 0) return format;
    if (pattern === '' && method !== 'none') return format;
    if (pattern !== '' && method === 'none') return format;
    if (name === undefined && header === undefined && method === 'none') return format;
  }
  let regex: RegExp | undefined;
  if (pattern !== '' && method === 'regex') {
    // regcomp(REG_EXTENDED | REG_NOSUB), unanchored: JavaScript's RegExp is close enough for the patterns tests use.
    try {
      regex = new RegExp(pattern);
    } catch {
      return { ok: false, error: 'compile' };
    }
  }
  return { ok: true, entry: { exclude, name, header, method, pattern, regex } };
}

function matchData(entry: EventFilterEntry, data: string): boolean {
  switch (entry.method) {
    case 'regex':
      return entry.regex!.test(data);
    case 'starts_with':
      return data.startsWith(entry.pattern);
    case 'ends_with':
      return data.endsWith(entry.pattern);
    case 'contains':
      return data.includes(entry.pattern);
    case 'exact':
      return data === entry.pattern;
    case 'none':
      return true;
  }
}

/** manager.c filter_cmp_fn: does one filter match this event (its name and its whole text)? */
export function filterMatches(entry: EventFilterEntry, eventName: string, eventData: string): boolean {
  if (entry.name !== undefined && entry.name !== eventName) return false;
  if (entry.header === undefined) return matchData(entry, eventData);
  // Line by line without splitting the text (the peer runs this for every event and session of a benchmark).
  for (let start = 0; start < eventData.length; ) {
    const nl = eventData.indexOf('\n', start);
    const end = nl < 0 ? eventData.length : nl;
    const lineEnd = end > start && eventData.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (lineEnd - start >= entry.header.length && eventData.startsWith(entry.header, start)) {
      const value = eventData.slice(start + entry.header.length, lineEnd).replace(/^[ \t]+/, '');
      if (value !== '' && matchData(entry, value)) return true;
    }
    start = end + 1;
  }
  return false;
}

/** manager.c should_send_event. */
export function shouldSendEvent(filters: SessionFilters, eventName: string, eventData: string): boolean {
  const { include, exclude } = filters;
  if (include.length === 0 && exclude.length === 0) return true;
  const included = include.length === 0 || include.some((f) => filterMatches(f, eventName, eventData));
  return included && !exclude.some((f) => filterMatches(f, eventName, eventData));
}

/** Adds a parsed filter to a session's (or user's) lists, like ao2_link into includefilters/excludefilters. */
export function addFilter(filters: SessionFilters, entry: EventFilterEntry): void {
  (entry.exclude ? filters.exclude : filters.include).push(entry);
}
