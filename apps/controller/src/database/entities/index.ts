import { AgentCredentialEntity } from './agent-credential.entity.js';
import { AgentLinkStatusEntity, AgentStatusEntity, AgentTrunkStatusEntity } from './agent-status.entity.js';
import { AuditEntryEntity } from './audit-entry.entity.js';
import { CallFlowLayoutEntity } from './call-flow-layout.entity.js';
import { CallFlowEntity } from './call-flow.entity.js';
import { CdrEntity } from './cdr.entity.js';
import { ClassOfServiceEntity } from './class-of-service.entity.js';
import { ControllerKeyEntity } from './controller-key.entity.js';
import { EnrollmentTokenEntity } from './enrollment-token.entity.js';
import { ExtensionEntity } from './extension.entity.js';
import { FederationStateEntity } from './federation-state.entity.js';
import { InboundRouteEntity } from './inbound-route.entity.js';
import { LinkEntity } from './link.entity.js';
import { NumberRangeEntity } from './number-range.entity.js';
import { OutboundRouteEntity, OutboundRouteTrunkEntity } from './outbound-route.entity.js';
import { SiteRevisionEntity } from './site-revision.entity.js';
import { SiteRolloutEntity } from './site-rollout.entity.js';
import { SiteEntity } from './site.entity.js';
import { TrunkEntity } from './trunk.entity.js';
import { ApiTokenEntity, GrantEntity, LoginKnownSourceEntity, LoginThrottleEntity, RefreshTokenEntity, SessionEntity, UserEntity } from './user.entity.js';

export {
  AgentCredentialEntity,
  AgentLinkStatusEntity,
  AgentStatusEntity,
  AgentTrunkStatusEntity,
  ApiTokenEntity,
  AuditEntryEntity,
  CallFlowEntity,
  CallFlowLayoutEntity,
  CdrEntity,
  ClassOfServiceEntity,
  ControllerKeyEntity,
  EnrollmentTokenEntity,
  ExtensionEntity,
  FederationStateEntity,
  GrantEntity,
  InboundRouteEntity,
  LinkEntity,
  LoginKnownSourceEntity,
  LoginThrottleEntity,
  NumberRangeEntity,
  OutboundRouteEntity,
  OutboundRouteTrunkEntity,
  RefreshTokenEntity,
  SessionEntity,
  SiteEntity,
  SiteRevisionEntity,
  SiteRolloutEntity,
  TrunkEntity,
  UserEntity,
};

export const ENTITIES = [
  SiteEntity,
  NumberRangeEntity,
  ExtensionEntity,
  TrunkEntity,
  LinkEntity,
  OutboundRouteEntity,
  OutboundRouteTrunkEntity,
  InboundRouteEntity,
  CallFlowEntity,
  CallFlowLayoutEntity,
  ClassOfServiceEntity,
  FederationStateEntity,
  ControllerKeyEntity,
  SiteRevisionEntity,
  UserEntity,
  GrantEntity,
  ApiTokenEntity,
  AuditEntryEntity,
  CdrEntity,
  AgentStatusEntity,
  AgentLinkStatusEntity,
  AgentTrunkStatusEntity,
  SiteRolloutEntity,
  EnrollmentTokenEntity,
  SessionEntity,
  RefreshTokenEntity,
  LoginThrottleEntity,
  LoginKnownSourceEntity,
  AgentCredentialEntity,
];
