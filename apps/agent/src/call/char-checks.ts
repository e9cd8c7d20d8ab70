/**
 * The call path's checks of short strings, as loops over their characters rather than regular expressions: each is
 * asked before the first command of every call, where a regular expression's test - its own compiled code, reached
 * through RegExp builtins - costs several times a loop's once the event loop comes back to a call after a pause
 * (caches cold: ~0.8 µs a test against ~0.2 on this machine). Each says exactly what the regular expression in its
 * comment says (char-checks.spec.ts holds them to it).
 */

/** `/^[A-Za-z0-9_.:/-]*$/`: a value the first MSet's comma-split leaves whole (the CDR tags). */
export function isTagValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    // 45-58: - . / 0-9 :
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 45 && c <= 58) || c === 95)) return false;
  }
  return true;
}

/** `/^[A-Za-z0-9_.:+*#-]{0,64}$/`: one field of the leg list (FEDPBX_LEGS). */
export function isLegField(value: string): boolean {
  if (value.length > 64) return false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    const ok =
      (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 58) || c === 95 || c === 46 || c === 45 || c === 43 || c === 42 || c === 35;
    if (!ok) return false;
  }
  return true;
}

/** `/^PJSIP\/.+-[0-9a-f]{8}$/`: a PJSIP channel's name, `PJSIP/<endpoint>-<8 hex>`. */
export function isPjsipChannel(channel: string): boolean {
  const n = channel.length;
  // "PJSIP/", at least one character, "-", eight hex digits.
  if (n < 16 || !channel.startsWith('PJSIP/') || channel.charCodeAt(n - 9) !== 45) return false;
  for (let i = n - 8; i < n; i++) {
    const c = channel.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  // `.` is any character but a line terminator.
  for (let i = 6; i < n - 9; i++) {
    const c = channel.charCodeAt(i);
    if (c === 10 || c === 13 || c === 0x2028 || c === 0x2029) return false;
  }
  return true;
}
