export { RenderError, type RenderErrorCode } from './render-errors.js';
export { escaped, IniWriter, type EscapedValue, type IniOption, type IniSchema, type IniValue } from './ini-writer.js';
export {
  AGI_ENTRIES,
  EXTENSIONS_FILE_NAME,
  VOICEMAIL_CONTEXT,
  VOICEMAIL_FILE_NAME,
  voicemailMailbox,
  FEDERATION_TRANSPORT,
  FEDPBX_CALL_HEADER,
  FEDPBX_CONTEXTS,
  PJSIP_FILE_NAME,
  RESERVED_NAME_PREFIXES,
  phoneDevice,
  phoneEndpointName,
  remotePresenceDevice,
  siteEndpointName,
  trunkEndpointName,
} from './names.js';
export { includeLine } from './include-line.js';
export { renderVoicemail, renderVoicemailTo, type VoicemailRenderOptions } from './voicemail-renderer.js';
export { collected, LineBuffer, type TextSink } from './line-sink.js';
export { PJSIP_RENDERED_OPTIONS, renderPjsip, renderPjsipTo, type PjsipRenderOptions } from './pjsip-renderer.js';
export { FEDPBX_HANDLED_VARIABLE, renderExtensions, renderExtensionsTo, type ExtensionsRenderOptions } from './extensions-renderer.js';
export {
  DEFAULT_RECORDING_DIR,
  FEDPBX_REC_DIR_VARIABLE,
  FEDPBX_REC_FILE_VARIABLE,
  recordingFileName,
  recordingFileNameExpression,
  type RecordingNameInput,
} from './recording.js';
export {
  renderWireguard,
  renderWireguardSetconf,
  type WireguardInterfaceInput,
  type WireguardPeerInput,
  type WireguardSetconfInput,
} from './wireguard-renderer.js';
export { WIREGUARD_KEEPALIVE_SEC, wireguardMeshFor, type WireguardMesh } from './wireguard-mesh.js';
export { formatIp, TunnelAddressPool } from './tunnel-address-pool.js';
