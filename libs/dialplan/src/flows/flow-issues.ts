/**
 * What `validateCallFlows` reports. Errors make a flow set unfit to publish; warnings are shown to the admin
 * but do not block (the flow does something sensible, just perhaps not what was meant).
 */
export type FlowIssueCode =
  /** Error: two flows share an id. */
  | 'duplicate-flow-id'
  /** Error: `entry` names no node of the flow. */
  | 'entry-missing'
  /** Error: two nodes of one flow share an id (the later one could never be reached by id). */
  | 'duplicate-node-id'
  /** Error: an edge leads to a node id the flow does not have. */
  | 'dangling-edge'
  /** Error: an edge is keyed by an outcome the node's module never produces (`digit:1` on a playback). */
  | 'impossible-outcome'
  /** Warning: no path from the entry leads to the node. */
  | 'unreachable-node'
  /** Error: a cycle (possibly across flows via goto-flow) in which no node makes progress (see flow-validator.ts, "progress"). */
  | 'no-progress-loop'
  /** Error or warning: an outcome whose absence makes the node pointless or surprising (per module). */
  | 'missing-outcome'
  /** Error: goto-flow to a flow id that does not exist. */
  | 'goto-missing-flow'
  /** Error: goto-flow to another site's flow (a site's agent only holds, and can only run, its own flows). */
  | 'goto-foreign-flow'
  /** Error: dial-extension number or ring-group member that the numbering plan does not know. */
  | 'unknown-extension'
  /** Error: voicemail mailbox that does not exist. */
  | 'unknown-mailbox'
  /** Warning: the same member twice in one ring group. */
  | 'duplicate-member'
  /** Error: an unknown time zone or an impossible holiday date; warning: a window that is never open. */
  | 'bad-schedule';

export type FlowIssueSeverity = 'error' | 'warning';

export interface FlowIssue {
  readonly code: FlowIssueCode;
  readonly severity: FlowIssueSeverity;
  readonly flowId: string;
  /** The node the issue is about; absent for flow-level issues. */
  readonly nodeId?: string;
  /** The edge (outcome) the issue is about, when it is about one. */
  readonly outcome?: string;
  readonly message: string;
  readonly data?: Readonly<Record<string, unknown>>;
}

/** An issue as a module reports it about its own node; the validator adds flow and node. */
export type NodeIssue = Omit<FlowIssue, 'flowId' | 'nodeId'>;

export function hasErrors(issues: readonly FlowIssue[]): boolean {
  return issues.some((i) => i.severity === 'error');
}
