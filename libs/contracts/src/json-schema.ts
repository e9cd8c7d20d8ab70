import { z } from 'zod';
import { CallFlow, CallFlowLayout } from './call-flow.js';
import { ClassOfService } from './class-of-service.js';
import { AgentEventEnvelope } from './events.js';
import { Extension, InboundRoute, InterSiteLink, NumberRange, OutboundRoute, Site, Trunk } from './federation.js';
import { RoutePlan, TraceRequest, TraceResult } from './routing.js';
import { TimeSchedule } from './schedule.js';
import { SiteSnapshot } from './snapshot.js';
import { AgentStatus, CallDetail, CdrPage, CdrRecord, EnrollRequest, EnrollResponse, EnrollmentToken, EnrollmentTokenIssued, EnrollmentTokenPage, LiveHealth, LiveTraceRequest, LiveTraceResponse, SiteRollout } from './sync.js';

/** The schemas published as JSON Schema (and used by the controller's OpenAPI document). */
export const PUBLISHED_SCHEMAS = {
  Site,
  NumberRange,
  Extension,
  Trunk,
  InterSiteLink,
  OutboundRoute,
  InboundRoute,
  CallFlow,
  CallFlowLayout,
  TimeSchedule,
  ClassOfService,
  SiteSnapshot,
  AgentEventEnvelope,
  RoutePlan,
  TraceRequest,
  TraceResult,
  SiteRollout,
  AgentStatus,
  CdrRecord,
  CdrPage,
  CallDetail,
  EnrollmentTokenIssued,
  EnrollmentToken,
  EnrollmentTokenPage,
  EnrollRequest,
  EnrollResponse,
  LiveTraceRequest,
  LiveTraceResponse,
  LiveHealth,
} as const;

export type PublishedSchemaName = keyof typeof PUBLISHED_SCHEMAS;

/** JSON Schema (draft 2020-12) of one published shape, as accepted on input. */
export function toJsonSchema(name: PublishedSchemaName): Record<string, unknown> {
  return z.toJSONSchema(PUBLISHED_SCHEMAS[name], { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
