import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { AccountRevocations } from './agent-credentials/account-revocations.js';
import { AgentCredentialRepository } from './agent-credentials/agent-credential.repository.js';
import { AgentCredentialsController } from './agent-credentials/agent-credentials.controller.js';
import { AgentCredentialsService } from './agent-credentials/agent-credentials.service.js';
import { SiteDecommissionService } from './agent-credentials/site-decommission.service.js';
import { AgentRpcClient } from './agents/agent-rpc.client.js';
import { AgentStatusRepository } from './agents/agent-status.repository.js';
import { AgentsController } from './agents/agents.controller.js';
import { AgentsService } from './agents/agents.service.js';
import { AuditController } from './audit/audit.controller.js';
import { AuditRepository } from './audit/audit.repository.js';
import { AuthController } from './auth/auth.controller.js';
import { AuthGuard } from './auth/auth.guard.js';
import { AuthService } from './auth/auth.service.js';
import { LoginThrottle } from './auth/login-throttle.js';
import { SessionRepository } from './auth/session.repository.js';
import { UserRepository } from './auth/user.repository.js';
import { UsersController } from './auth/users.controller.js';
import { UsersService } from './auth/users.service.js';
import { CdrRepository } from './cdrs/cdr.repository.js';
import { CallsController } from './cdrs/calls.controller.js';
import { CdrsController } from './cdrs/cdrs.controller.js';
import { CONTROLLER_CONFIG, type ControllerConfig } from './config.js';
import { ConsoleStatic } from './console/console-static.js';
import { ControllerKeys } from './database/controller-keys.js';
import { DatabaseModule } from './database/database.module.js';
import { EnrollmentTokenRepository } from './enrollment/enrollment-token.repository.js';
import { EnrollmentController } from './enrollment/enrollment.controller.js';
import { EnrollmentService } from './enrollment/enrollment.service.js';
import { FederationRepository } from './federation/federation.repository.js';
import { FederationStore } from './federation/federation-store.js';
import { FederationWriter } from './federation/federation-writer.js';
import { WarningsController } from './federation/warnings.controller.js';
import { HealthController } from './health/health.controller.js';
import { Readiness } from './health/readiness.js';
import { ImportController } from './import/import.controller.js';
import { ImportService } from './import/import.service.js';
import { DomainErrorFilter } from './http/domain-error.filter.js';
import { EventIngestService } from './ingest/event-ingest.service.js';
import { EventStore } from './ingest/event-store.js';
import { ActiveCallsController } from './live/active-calls.controller.js';
import { ActiveCallsService } from './live/active-calls.js';
import { AgentPresenceWatch } from './live/agent-presence.js';
import { LiveHub } from './live/live-hub.js';
import { LiveController } from './live/live.controller.js';
import { NatsBus } from './nats/nats-bus.js';
import { OpenApiController } from './openapi/openapi.controller.js';
import { RouteCatalog } from './openapi/route-catalog.js';
import { LinkGenerationService } from './resources/link-generation.service.js';
import { LinksController } from './resources/links.controller.js';
import { CallFlowLayoutController } from './call-flows/call-flow-layout.controller.js';
import { CallFlowLayoutService } from './call-flows/call-flow-layout.service.js';
import { CallFlowLayoutUpgrade } from './call-flows/call-flow-layout-upgrade.js';
import { RESOURCE_CONTROLLERS } from './resources/resource.controller.js';
import { ResourceService } from './resources/resource.service.js';
import { ScopedReadRepository } from './resources/scoped-read.repository.js';
import { RevisionRepository } from './revisions/revision.repository.js';
import { RevisionsController } from './revisions/revisions.controller.js';
import { RevisionsService } from './revisions/revisions.service.js';
import { UnpublishedRevisionsWatch } from './replicas/unpublished-revisions.js';
import { RolloutController } from './rollout/rollout.controller.js';
import { RolloutRepository } from './rollout/rollout.repository.js';
import { RolloutService } from './rollout/rollout.service.js';
import { ConfigBuckets } from './sync/config-buckets.js';
import { SnapshotPublisher } from './sync/snapshot-publisher.js';
import { SigningKeyAgreement } from './sync/signing-key-agreement.js';
import { SnapshotSigningKey } from './sync/snapshot-signing-key.js';
import { SurvivabilityController } from './survivability/survivability.controller.js';
import { SurvivabilityService } from './survivability/survivability.service.js';
import { FederationViewsController } from './trace/federation-views.controller.js';
import { TraceService } from './trace/trace.service.js';

/** The controller application, from a validated configuration. */
@Module({})
export class AppModule {
  static forRoot(config: ControllerConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [DatabaseModule.forRoot({ url: config.DATABASE_URL, dataDir: config.FEDPBX_DATA_DIR, connectTimeoutMs: config.FEDPBX_DATABASE_CONNECT_TIMEOUT_MS }), DiscoveryModule],
      controllers: [
        HealthController,
        AuthController,
        UsersController,
        LinksController,
        ImportController,
        ...RESOURCE_CONTROLLERS,
        CallFlowLayoutController,
        FederationViewsController,
        SurvivabilityController,
        RevisionsController,
        RolloutController,
        EnrollmentController,
        AgentCredentialsController,
        AuditController,
        CdrsController,
        CallsController,
        AgentsController,
        OpenApiController,
        LiveController,
        ActiveCallsController,
        WarningsController,
      ],
      providers: [
        { provide: CONTROLLER_CONFIG, useValue: config },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: DomainErrorFilter },
        FederationRepository,
        FederationStore,
        FederationWriter,
        RevisionRepository,
        AuditRepository,
        ScopedReadRepository,
        ResourceService,
        CallFlowLayoutService,
        CallFlowLayoutUpgrade,
        ControllerKeys,
        UserRepository,
        SessionRepository,
        LoginThrottle,
        AuthService,
        UsersService,
        TraceService,
        SurvivabilityService,
        RevisionsService,
        LinkGenerationService,
        ImportService,
        RouteCatalog,
        NatsBus,
        Readiness,
        LiveHub,
        AgentPresenceWatch,
        ActiveCallsService,
        RolloutRepository,
        RolloutService,
        EventStore,
        EventIngestService,
        CdrRepository,
        AgentStatusRepository,
        AgentRpcClient,
        AgentsService,
        SnapshotSigningKey,
        SigningKeyAgreement,
        ConfigBuckets,
        SnapshotPublisher,
        UnpublishedRevisionsWatch,
        EnrollmentTokenRepository,
        EnrollmentService,
        AgentCredentialRepository,
        AccountRevocations,
        AgentCredentialsService,
        SiteDecommissionService,
        ConsoleStatic,
      ],
    };
  }
}
