/**
 * The `#include` line an admin adds to pjsip.conf, extensions.conf or voicemail.conf for one of fedpbx's files, as
 * the generated file's header states it. main/config.c (`process_text_line`, `config_text_file_load`): the
 * argument of `#include` is the rest of the line (quotes or `<>` around it removed); a relative name is taken
 * relative to Asterisk's config dir (`ast_config_AST_CONFIG_DIR`, astetcdir in asterisk.conf), not to the
 * including file's folder; the name is expanded with glob(3) (so `*`, `?`, `[`, `{`, `~` would match other files);
 * and the full path must fit `char fn[256]`.
 */
import { RenderError } from './render-errors.js';

/** `target` is the path as the include line names it (relative to the config dir, or absolute); default `fileName`. */
export function includeLine(fileName: string, target: string = fileName): string {
  if (!/^\/?[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/.test(target) || target.length > 200 || target.split('/').includes('..')) {
    throw new RenderError('UNSAFE_VALUE', 'options', 'include', 'an include path is / separated A-Z a-z 0-9 _ . - segments (at most 200, no ..)');
  }
  if (target !== fileName && !target.endsWith(`/${fileName}`)) {
    throw new RenderError('CONFLICT', 'options', 'include', `the include path must name ${fileName}`);
  }
  return `#include ${target}`;
}
