export {
  compareExtensions,
  matchesPattern,
  parsePattern,
  type ExtensionPattern,
  type PatternPosition,
} from './extension-pattern.js';
export { rangeToPatterns } from './extension-range.js';
export {
  ExtensionRangeError,
  PatternSyntaxError,
  type ExtensionRangeErrorCode,
  type PatternSyntaxErrorCode,
} from './pattern-errors.js';
export { patternHazards, type PatternHazard } from './pattern-hazards.js';
export { patternCovers, patternsIntersect, shadowingOrder, type Shadowing } from './pattern-overlap.js';
export { PatternSet, type PatternEntry, type PatternSetInput } from './pattern-set.js';
