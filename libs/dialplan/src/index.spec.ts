import { describe, expect, it } from 'vitest';
import { supportedFormat } from './index.js';
describe('x', () => { it('y', () => { expect(supportedFormat).toBe(1); }); });
