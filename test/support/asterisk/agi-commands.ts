// The FastAGI command table of res_agi.c as far as the peer needs it: command words, whether the command
// may run on a dead (hung-up) channel (the `dead` column of `commands[]`), and the usage text that follows
// `520-Invalid command syntax.  Proper usage follows:`. Asterisk 22 prints the XML documentation's
// description with its markup left in. The GET VARIABLE and SET VARIABLE texts are copied byte for byte
// from agi-02-commands.json; the others are written from res_agi.c's documentation and are NOT
// byte-verified against a recording.

export interface AgiCommandSpec {
  /** Upper-case command words, e.g. ['GET', 'FULL', 'VARIABLE']. */
  readonly words: readonly string[];
  readonly key: string;
  /** Allowed on a dead channel (answered normally after HANGUP), else 511. */
  readonly dead: boolean;
  /** Modelled by the peer; unmodelled commands answer `200 result=0` and are reported. */
  readonly modelled: boolean;
  readonly usage: string | null;
}

const spec = (key: string, dead: boolean, modelled: boolean, usage: string | null): AgiCommandSpec => ({
  words: key.split(' '),
  key,
  dead,
  modelled,
  usage,
});

export const AGI_COMMANDS: readonly AgiCommandSpec[] = [
  spec('ANSWER', false, true, 'Answers channel if not already in answer state. Returns <literal>-1</literal> on channel failure, or <literal>0</literal> if successful.'),
  spec('ASYNCAGI BREAK', true, false, 'Interrupts expected flow of Async AGI commands and returns control to previous source (typically, the PBX dialplan).'),
  spec('CHANNEL STATUS', false, true, 'Returns the status of the specified <replaceable>channelname</replaceable>. If no channel name is given then returns the status of the current channel.\nReturn values:\n0 - Channel is down and available.\n1 - Channel is down, but reserved.\n2 - Channel is off hook.\n3 - Digits (or equivalent) have been dialed.\n4 - Line is ringing.\n5 - Remote end is ringing.\n6 - Line is up.\n7 - Line is busy.'),
  spec('CONTROL STREAM FILE', false, false, null),
  spec('DATABASE DEL', true, true, 'Deletes an entry in the Asterisk database for a given <replaceable>family</replaceable> and <replaceable>key</replaceable>.\nReturns <literal>1</literal> if successful, <literal>0</literal> otherwise.'),
  spec('DATABASE DELTREE', true, true, 'Deletes a <replaceable>family</replaceable> or specific <replaceable>keytree</replaceable> within a <replaceable>family</replaceable> in the Asterisk database.\nReturns <literal>1</literal> if successful, <literal>0</literal> otherwise.'),
  spec('DATABASE GET', true, true, 'Retrieves an entry in the Asterisk database for a given <replaceable>family</replaceable> and <replaceable>key</replaceable>.\nReturns <literal>0</literal> if <replaceable>key</replaceable> is not set. Returns <literal>1</literal> if <replaceable>key</replaceable> is set and returns the variable in parenthesis.\nExample return code: 200 result=1 (testvariable)'),
  spec('DATABASE PUT', true, true, 'Adds or updates an entry in the Asterisk database for a given <replaceable>family</replaceable>, <replaceable>key</replaceable>, and <replaceable>value</replaceable>.\nReturns <literal>1</literal> if successful, <literal>0</literal> otherwise.'),
  spec('EXEC', true, true, 'Executes <replaceable>application</replaceable> with given <replaceable>options</replaceable>.\nReturns whatever the <replaceable>application</replaceable> returns, or <literal>-2</literal> on failure to find <replaceable>application</replaceable>.'),
  spec('GET DATA', false, true, 'Stream the given <replaceable>file</replaceable>, and receive DTMF data.\nReturns the digits received from the channel at the other end.'),
  spec('GET FULL VARIABLE', true, true, 'Evaluates the given <replaceable>expression</replaceable> against the channel specified by <replaceable>channelname</replaceable>, or the current channel if <replaceable>channelname</replaceable> is not provided.\nUnlike GET VARIABLE, the <replaceable>expression</replaceable> is processed in a manner similar to dialplan evaluation, allowing complex and built-in variables to be accessed, e.g. <literal>The time is ${EPOCH}</literal>\nReturns <literal>0</literal> if no channel matching <replaceable>channelname</replaceable> exists, <literal>1</literal> otherwise.\nExample return code: 200 result=1 (The time is 1578493800)'),
  spec('GET OPTION', false, false, null),
  // Byte-exact from agi-02-commands.json / agi-02-after-caller-hangup.json / agi-05-crlf-line-endings.json.
  spec('GET VARIABLE', true, true, 'Returns <literal>0</literal> if <replaceable>variablename</replaceable> is not set. Returns <literal>1</literal> if <replaceable>variablename</replaceable> is set and returns the variable in parentheses.\nExample return code: 200 result=1 (testvariable)'),
  spec('GOSUB', false, true, 'Cause the channel to execute the specified dialplan subroutine, returning to the dialplan with execution of a Return().'),
  spec('HANGUP', true, true, 'Hangs up the specified channel. If no channel name is given, hangs up the current channel'),
  spec('NOOP', true, true, 'Does nothing.'),
  spec('RECEIVE CHAR', false, false, null),
  spec('RECEIVE TEXT', false, false, null),
  spec('RECORD FILE', false, false, null),
  spec('SAY ALPHA', false, false, null),
  spec('SAY DIGITS', false, false, null),
  spec('SAY NUMBER', false, false, null),
  spec('SAY PHONETIC', false, false, null),
  spec('SAY DATE', false, false, null),
  spec('SAY TIME', false, false, null),
  spec('SAY DATETIME', false, false, null),
  spec('SEND IMAGE', false, false, null),
  spec('SEND TEXT', false, false, null),
  spec('SET AUTOHANGUP', false, false, null),
  spec('SET CALLERID', false, true, 'Changes the callerid of the current channel.'),
  spec('SET CONTEXT', false, true, 'Sets the context for continuation upon exiting the application.'),
  spec('SET EXTENSION', false, true, 'Changes the extension for continuation upon exiting the application.'),
  spec('SET MUSIC', false, false, null),
  spec('SET PRIORITY', false, true, 'Changes the priority for continuation upon exiting the application. The priority must be a valid priority or label.'),
  // Byte-exact from agi-02-commands.json.
  spec('SET VARIABLE', true, true, 'Sets a variable to the current channel.'),
  spec('SPEECH CREATE', false, false, null),
  spec('SPEECH DESTROY', false, false, null),
  spec('SPEECH RECOGNIZE', false, false, null),
  spec('STREAM FILE', false, true, 'Send the given file, allowing playback to be interrupted by the given digits, if any. Returns <literal>0</literal> if playback completes without a digit being pressed, or the ASCII numerical value of the digit if one was pressed, or <literal>-1</literal> on error or if the channel was disconnected. If musiconhold is playing before calling stream file it will be automatically stopped and will not be restarted after completion.'),
  spec('TDD MODE', false, false, null),
  spec('VERBOSE', true, true, 'Sends <replaceable>message</replaceable> to the console via verbose message system. <replaceable>level</replaceable> is the verbose level (1-4). Always returns <literal>1</literal>'),
  spec('WAIT FOR DIGIT', false, true, 'Waits up to <replaceable>timeout</replaceable> milliseconds for channel to receive a DTMF digit. Returns <literal>-1</literal> on channel failure, <literal>0</literal> if no digit is received in the timeout, or the numerical value of the ascii of the digit if one is received. Use -1 for the <replaceable>timeout</replaceable> value if you desire the call to block indefinitely.'),
];

/** find_command(): the command words compared case-insensitively with the first arguments. */
export function findAgiCommand(argv: readonly string[]): AgiCommandSpec | undefined {
  if (argv.length === 0) return undefined;
  const first = (argv[0] as string).toUpperCase();
  outer: for (const c of AGI_COMMANDS) {
    if (c.words[0] !== first || argv.length < c.words.length) continue;
    for (let i = 1; i < c.words.length; i += 1) {
      if ((argv[i] as string).toUpperCase() !== c.words[i]) continue outer;
    }
    return c;
  }
  return undefined;
}

export const RESPONSE_510 = '510 Invalid or unknown command\n';
export const RESPONSE_511 = '511 Command Not Permitted on a dead channel or intercept routine\n';

export function usageBlock(c: AgiCommandSpec): string {
  if (c.usage === null) return '520 Invalid command syntax.  Proper usage not available.\n';
  return `520-Invalid command syntax.  Proper usage follows:\n${c.usage}\n520 End of proper usage.\n`;
}
