import { Initial1795698603191 } from './1795698603191-Initial.js';
import { EventIngest1795706557139 } from './1795706557139-EventIngest.js';
import { SyncRollout1795706614770 } from './1795706614770-SyncRollout.js';
import { RevisionOwnedShared1795900000000 } from './1795900000000-RevisionOwnedShared.js';
import { EnrollmentTokenRevocation1795910000000 } from './1795910000000-EnrollmentTokenRevocation.js';
import { AuthSessions1795920000000 } from './1795920000000-AuthSessions.js';
import { AgentAlarms1795930000000 } from './1795930000000-AgentAlarms.js';
import { AgentCredentials1795934170000 } from './1795934170000-AgentCredentials.js';
import { VoicemailAndConfigOutcome1796200000000 } from './1796200000000-VoicemailAndConfigOutcome.js';
import { CdrCallLegs1796300000000 } from './1796300000000-CdrCallLegs.js';
import { CallFlowLayouts1796600762394 } from './1796600762394-CallFlowLayouts.js';
import { CallFlowLayoutsRepublish1796605040952 } from './1796605040952-CallFlowLayoutsRepublish.js';
import { SitePresence1796601176121 } from './1796601176121-SitePresence.js';
import { ControllerKeys1796700000000 } from './1796700000000-ControllerKeys.js';

/** Every migration, oldest first. The drift test fails when the entities need one that is not here. */
export const MIGRATIONS = [
  Initial1795698603191,
  EventIngest1795706557139,
  SyncRollout1795706614770,
  RevisionOwnedShared1795900000000,
  EnrollmentTokenRevocation1795910000000,
  AuthSessions1795920000000,
  AgentAlarms1795930000000,
  AgentCredentials1795934170000,
  VoicemailAndConfigOutcome1796200000000,
  CdrCallLegs1796300000000,
  CallFlowLayouts1796600762394,
  SitePresence1796601176121,
  CallFlowLayoutsRepublish1796605040952,
  ControllerKeys1796700000000,
];
