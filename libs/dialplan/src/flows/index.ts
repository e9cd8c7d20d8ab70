/** Call flows: the engine that runs a site's call flows (graphs of modules) over a channel port, and their validator. */
export { DIAL_STATUSES, type CallChannel, type CallerId, type DialOptions, type DialResult, type DialStatus, type DialTarget, type FlowContext } from './call-channel.js';
export { hasErrors, type FlowIssue, type FlowIssueCode, type FlowIssueSeverity, type NodeIssue } from './flow-issues.js';
export type { FlowModule, FlowModuleSet, FlowRunContext, FlowValidationContext, ModuleResult } from './flow-module.js';
export { DEFAULT_FLOW_MODULES, defaultFlowModuleRegistry, FlowModuleRegistry } from './flow-module-registry.js';
export { DEFAULT_MAX_STEPS, FlowInterpreter, type FlowEndReason, type FlowInterpreterOptions, type FlowRunResult, type VisitedNode } from './flow-interpreter.js';
export { validateCallFlows, type ValidateCallFlowsOptions } from './flow-validator.js';
export { describeSchedule, InvalidTimeZoneError, isScheduleOpen, isValidTimeZone, localTimeIn, type LocalTime } from './schedule.js';
export { DIAL_OUTCOMES, dialNumbers, dialStatusOutcome, type DialNumbersResult, type DialOutcome } from './modules/dial-extension.js';
export { DTMF_DIGITS } from './modules/ivr-menu.js';
export { InMemoryCallChannel, type ChannelEvent, type DialScriptStep, type DigitScriptStep, type InMemoryChannelScript } from './testing/in-memory-channel.js';
