import type { FlowNode, FlowNodeType, FlowOutcome } from '@fedpbx/contracts';
import type { FlowModule, FlowModuleSet, FlowRunContext, FlowValidationContext, ModuleResult } from './flow-module.js';
import type { NodeIssue } from './flow-issues.js';
import { dialExtensionModule } from './modules/dial-extension.js';
import { gotoFlowModule } from './modules/goto-flow.js';
import { hangupModule } from './modules/hangup.js';
import { ivrMenuModule } from './modules/ivr-menu.js';
import { playbackModule } from './modules/playback.js';
import { recordModule } from './modules/record.js';
import { ringGroupModule } from './modules/ring-group.js';
import { setCallerIdModule } from './modules/set-caller-id.js';
import { timeConditionModule } from './modules/time-condition.js';
import { voicemailModule } from './modules/voicemail.js';

/**
 * The modules by node type. Built once at start-up and shared by every call ("loaded once, never per call":
 * seed-scenario.md); the mapped type makes a missing node type a compile error.
 */
export class FlowModuleRegistry {
  private readonly modules: FlowModuleSet;

  constructor(modules: FlowModuleSet) {
    for (const [type, module] of Object.entries(modules)) {
      if (module.type !== type) throw new TypeError(`module for ${type} declares type ${module.type}`);
    }
    this.modules = Object.freeze({ ...modules });
  }

  get<T extends FlowNodeType>(type: T): FlowModule<T> {
    return this.modules[type];
  }

  /** A registry with some modules replaced (a test, an extension); this one is unchanged. */
  with(overrides: Partial<FlowModuleSet>): FlowModuleRegistry {
    return new FlowModuleRegistry({ ...this.modules, ...overrides });
  }

  outcomes(node: FlowNode): readonly FlowOutcome[] {
    return this.forNode(node).outcomes(node);
  }

  makesProgress(node: FlowNode): boolean {
    return this.forNode(node).makesProgress(node);
  }

  validate(node: FlowNode, ctx: FlowValidationContext): readonly NodeIssue[] {
    return this.forNode(node).validate(node, ctx);
  }

  run(node: FlowNode, ctx: FlowRunContext): Promise<ModuleResult> {
    return this.forNode(node).run(node, ctx);
  }

  /**
   * The module for a node of any type. TypeScript cannot correlate `modules[node.type]` with `node` across the
   * union, so the one cast lives here: the constructor checked that each module is registered under its own type.
   */
  private forNode(node: FlowNode): FlowModule<FlowNodeType> {
    return this.modules[node.type] as unknown as FlowModule<FlowNodeType>;
  }
}

export const DEFAULT_FLOW_MODULES: FlowModuleSet = {
  'dial-extension': dialExtensionModule,
  'ring-group': ringGroupModule,
  'ivr-menu': ivrMenuModule,
  'time-condition': timeConditionModule,
  voicemail: voicemailModule,
  playback: playbackModule,
  record: recordModule,
  'set-caller-id': setCallerIdModule,
  'goto-flow': gotoFlowModule,
  hangup: hangupModule,
};

/** The registry with the standard modules, built once when this module loads. */
export const defaultFlowModuleRegistry = new FlowModuleRegistry(DEFAULT_FLOW_MODULES);
