/**
 * The part of `asterisk-manager` 0.2.0 (CommonJS, untyped; the DefinitelyTyped types do not match it) that
 * ami-client.ts uses. Written from node_modules/asterisk-manager/lib/ami.js; keep it that small.
 */
declare module 'asterisk-manager' {
  /**
   * One parsed message as the library emits it on `rawevent`: keys lower-cased and trimmed, values split
   * at the first `": "`; a repeated key becomes an array; `Variable:`/`ChanVariable:` become `{name: value}`.
   * Asterisk's empty lines after a message (`No Contacts found\n\r\n\r\n`) come out as `{}`.
   */
  export type RawAmiItem = Record<string, string | string[] | Record<string, string> | undefined>;

  export interface ManagerOptions {
    port: number | undefined;
    host: string;
    username: string;
    password: string;
    events: boolean;
  }

  export interface ManagerInstance {
    /** Read by `login()`: Username/Secret and `Event: on|off` (sic; Asterisk reads `Events:`). */
    options: ManagerOptions;
    /** Opens the socket (only if none is open); `callback` runs on the TCP connect. */
    connect(port: number, host: string, callback?: (error: null) => void): void;
    /** Sends Action: Login with `options`; `callback(errorItem)` on `Response: Error`. Never times out. */
    login(callback?: (error?: RawAmiItem) => void): void;
    /**
     * Serialises `action` (keys lower-cased then first letter upper-cased, lines sorted, no escaping at all) and
     * writes it. Held in an internal queue when not logged in. Returns the ActionID used.
     */
    action(action: Record<string, string>, callback?: (error: RawAmiItem | undefined, response: RawAmiItem) => void): string;
    /** `end()`s the socket if it is open (a socket still connecting is left alone) and forgets it. */
    disconnect(callback?: () => void): void;
    isConnected(): boolean;
    on(event: 'rawevent', listener: (item: RawAmiItem) => void): void;
    on(event: 'error', listener: (error: Error) => void): void;
    on(event: 'close', listener: (hadError: boolean) => void): void;
    on(event: 'connect' | 'end', listener: () => void): void;
    removeAllListeners(event?: string): void;
  }

  /** With a port it connects and logs in at once; without one it does nothing until `connect()`. */
  function Manager(port?: number, host?: string, username?: string, password?: string, events?: boolean): ManagerInstance;
  export default Manager;
}
