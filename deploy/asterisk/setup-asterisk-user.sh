#!/usr/bin/env bash
# Runs Asterisk as the unprivileged `asterisk` user and prepares what the fedpbx agent needs beside it.
# Idempotent: run it again after upgrades. Run as root on the PBX host. `--dry-run` prints what it would do.
#
# The founding article's steps:
#   1. a system user and group `asterisk` (home /var/lib/asterisk, no login shell), in groups dialout and audio;
#   2. AST_USER/AST_GROUP in /etc/default/asterisk (read by Debian's init script and safe_asterisk) and a systemd
#      drop-in with User=/Group= (10-fedpbx-unprivileged.conf) so systemd starts it as that user;
#   3. ownership of /var/lib/asterisk, /var/log/asterisk, /var/run/asterisk, /var/spool/asterisk and
#      /etc/asterisk by asterisk:asterisk, nothing world-readable (configs hold SIP secrets).
# Then for fedpbx:
#   4. a system user `fedpbx` for the agent, member of group `asterisk` (to let Asterisk read what it writes);
#   5. /etc/asterisk/fedpbx (fedpbx:asterisk 2750): the only place the agent writes Asterisk config;
#   6. manager_fedpbx.conf, cdr_manager.conf and cdr_custom.conf copied if absent; the #include lines to add are
#      printed, never written into the admin's files;
#   7. the recordings folder the agent sweeps (monitor/fedpbx, 2770; folders Asterisk made inside with umask 022
#      made group-writable again), the CDR file's folder (/var/log/asterisk/cdr-custom: res_cdrel_custom does not
#      create it) and its logrotate rule (rename, never copytruncate).
set -euo pipefail

DRY_RUN=0
[[ "${1:-}" == "--dry-run" ]] && DRY_RUN=1
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
AST_USER=asterisk
AST_GROUP=asterisk
AGENT_USER=fedpbx
ETC=/etc/asterisk

run() {
  if (( DRY_RUN )); then printf '+ %q' "$1"; shift; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}

if (( ! DRY_RUN )) && [[ $EUID -ne 0 ]]; then
  echo "setup-asterisk-user.sh: run as root (or with --dry-run)" >&2
  exit 1
fi

# 1. user and groups
if ! getent group "$AST_GROUP" >/dev/null; then run groupadd --system "$AST_GROUP"; fi
if ! getent passwd "$AST_USER" >/dev/null; then
  run useradd --system --gid "$AST_GROUP" --home-dir /var/lib/asterisk --no-create-home --shell /usr/sbin/nologin \
    --comment "Asterisk PBX" "$AST_USER"
fi
for g in dialout audio; do
  if getent group "$g" >/dev/null; then run usermod --append --groups "$g" "$AST_USER"; fi
done

# 2. AST_USER / AST_GROUP and the systemd drop-in
set_default() { # key value: replace or append KEY="value" in /etc/default/asterisk
  local file=/etc/default/asterisk
  if (( DRY_RUN )); then echo "+ set $1=\"$2\" in $file"; return; fi
  touch "$file"
  if grep -qE "^#?\s*$1=" "$file"; then sed -i -E "s|^#?\s*$1=.*|$1=\"$2\"|" "$file"; else echo "$1=\"$2\"" >>"$file"; fi
}
set_default AST_USER "$AST_USER"
set_default AST_GROUP "$AST_GROUP"
run install -d -m 0755 /etc/systemd/system/asterisk.service.d
run install -m 0644 "$HERE/asterisk.service.d/10-fedpbx-unprivileged.conf" /etc/systemd/system/asterisk.service.d/10-fedpbx-unprivileged.conf

# 3. ownership (directories may not exist yet on a fresh install)
for d in /var/lib/asterisk /var/log/asterisk /var/run/asterisk /var/spool/asterisk "$ETC"; do
  run install -d -o "$AST_USER" -g "$AST_GROUP" -m 0750 "$d"
  run chown -R "$AST_USER:$AST_GROUP" "$d"
  run chmod -R o-rwx "$d"
done
# asterisk.conf [options] runuser/rungroup are only needed when Asterisk is started as root; with the drop-in
# it never is. Warn if they name someone else.
if [[ -f "$ETC/asterisk.conf" ]] && grep -qE '^\s*run(user|group)\s*=' "$ETC/asterisk.conf" \
  && ! grep -qE "^\s*runuser\s*=\s*$AST_USER\b" "$ETC/asterisk.conf"; then
  echo "NOTE: $ETC/asterisk.conf sets runuser/rungroup to another user; set them to $AST_USER or remove them." >&2
fi

# 4. the agent's user
if ! getent passwd "$AGENT_USER" >/dev/null; then
  run useradd --system --user-group --home-dir /var/lib/fedpbx-agent --no-create-home --shell /usr/sbin/nologin \
    --comment "fedpbx agent" "$AGENT_USER"
fi
run usermod --append --groups "$AST_GROUP" "$AGENT_USER"

# 5. the agent's own config directories (setgid: files inherit group asterisk, so Asterisk can read them)
run install -d -o "$AGENT_USER" -g "$AST_GROUP" -m 2750 "$ETC/fedpbx"
run chown -R "$AGENT_USER:$AST_GROUP" "$ETC/fedpbx" # step 3 re-owned it on a re-run
run install -d -o "$AGENT_USER" -g "$AGENT_USER" -m 0700 /etc/fedpbx/wireguard
run install -d -o "$AST_USER" -g "$AST_GROUP" -m 2770 /var/spool/asterisk/monitor/fedpbx
# Site folders Asterisk made itself before UMask=0002 (drwxr-sr-x): the agent could not delete recordings in them.
run find /var/spool/asterisk/monitor/fedpbx -mindepth 1 -type d -exec chmod 2770 {} +
# The durable CDR file (cdr_custom.conf): Asterisk writes it, the agent (group asterisk) reads it.
run install -d -o "$AST_USER" -g "$AST_GROUP" -m 2750 /var/log/asterisk/cdr-custom
run install -o root -g root -m 0644 "$HERE/logrotate-fedpbx-cdr" /etc/logrotate.d/asterisk-fedpbx-cdr

# 6. AMI user and CDR events (copied only when absent: never overwrite the admin's files)
for f in manager_fedpbx.conf cdr_manager.conf cdr_custom.conf; do
  if [[ -e "$ETC/$f" ]]; then
    echo "kept existing $ETC/$f (compare with $HERE/$f)"
  else
    run install -o root -g "$AST_GROUP" -m 0640 "$HERE/$f" "$ETC/$f"
  fi
done

cat <<EOF

Now, by hand (fedpbx never edits these files):
  $ETC/pjsip.conf       add at the end:  #include fedpbx/pjsip_fedpbx.conf
  $ETC/extensions.conf  add at the end:  #include fedpbx/extensions_fedpbx.conf
  $ETC/manager.conf     add at the end:  #include manager_fedpbx.conf   ([general] enabled = yes, bindaddr = 127.0.0.1)
  $ETC/manager_fedpbx.conf  set a real secret (openssl rand -base64 24) and give it to the agent (FEDPBX_AMI_SECRET)
  phones: context=fedpbx-internal
  modules: res_pjsip_endpoint_identifier_ip.so, cdr_custom.so and cdr_manager.so loaded - a module whose config
           file was missing at boot stays unloaded: asterisk -rx 'module load cdr_custom.so' (and cdr_manager.so)
  cdr.conf: [general] unanswered = yes if unanswered and failed calls (fallback calls too) should leave a CDR
  asterisk: systemctl daemon-reload && systemctl restart asterisk (the drop-in's UMask=0002)
  agent:  FEDPBX_ASTERISK_CONFIG_DIR=$ETC  FEDPBX_ASTERISK_INCLUDE_DIR=$ETC/fedpbx
          FEDPBX_CDR_FILE=/var/log/asterisk/cdr-custom/fedpbx-cdr.json  FEDPBX_RECORDINGS_DIR=/var/spool/asterisk/monitor
Then: systemctl daemon-reload && systemctl restart asterisk && systemctl enable --now fedpbx-agent
EOF
