/**
 * The AMI user's rights the busy lamps need, as one alarm instead of a log line per refused action.
 *
 * The lamps write with `Setvar` (manager.c: EVENT_FLAG_CALL) and read with `DeviceStateList`
 * (res_manager_devicestate.c: EVENT_FLAG_CALL | EVENT_FLAG_REPORTING); manager.c runs an action when
 * `writeperm & authority`, else answers `Response: Error` / `Message: Permission denied`. A user without
 * `write = call` (deploy/asterisk/manager_fedpbx.conf before presence) has every lamp write refused - at thousands of
 * lamp changes a second a warning each would flood the log and still not say what to fix. So: the first refusal
 * raises `ami-rights-missing` (the board keeps one, logs it once, shows it as fedpbx_alarm and in the heartbeat),
 * later ones change nothing, and the first action that goes through clears it (Asterisk copies a user's classes into
 * a session at Login, so a fixed manager.conf shows after `manager reload` and the agent's next AMI login).
 *
 * The read side (`read = call` for DeviceStateChange) cannot be seen from here: a missing class and a quiet PBX look
 * the same. The README's Presence section names both.
 */
import { AmiClientError } from '../ami/ami-errors.js';

export const AMI_RIGHTS_ALARM = 'ami-rights-missing';

/** The site's alarm board, as far as the lamps use it. */
export interface LampAlarms {
  raise(code: string, severity: 'critical' | 'warning', message: string): void;
  clear(code: string): void;
}

/** Asterisk refused the action for the user's classes (manager.c process_message). */
export function isPermissionDenied(err: unknown): boolean {
  return err instanceof AmiClientError && err.code === 'ACTION_FAILED' && err.response?.headers.get('Message') === 'Permission denied';
}

export class LampRights {
  constructor(private readonly alarms: LampAlarms | undefined) {}

  /** An action of the lamps failed: true when it was refused for rights (alarm raised; the caller logs nothing). */
  refused(action: 'Setvar' | 'DeviceStateList', err: unknown): boolean {
    if (!isPermissionDenied(err)) return false;
    this.alarms?.raise(
      AMI_RIGHTS_ALARM,
      'warning',
      `busy lamps: Asterisk refuses ${action} (Permission denied): the AMI user lacks class call - ` +
        'set `read = system,cdr,call` and `write = system,call` in /etc/asterisk/manager_fedpbx.conf ' +
        '(as deploy/asterisk/manager_fedpbx.conf, with its eventfilter lines), then `manager reload`',
    );
    return true;
  }

  /** An action of the lamps went through: the user has what they need. */
  allowed(): void {
    this.alarms?.clear(AMI_RIGHTS_ALARM);
  }
}
