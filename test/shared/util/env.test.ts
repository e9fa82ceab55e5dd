// Settings from the environment: defaults when unset or blank, the accepted ranges, one clear error per bad value.
import { describe, expect, it } from 'vitest';
import { flagFromEnv, intFromEnv, portFromEnv } from '../../../shared/util/env.ts';

describe('intFromEnv', () => {
  it('the fallback when unset or blank; integers in range', () => {
    expect(intFromEnv({}, 'N', 7)).toBe(7);
    expect(intFromEnv({ N: '' }, 'N', 7)).toBe(7);
    expect(intFromEnv({ N: '  ' }, 'N', 7)).toBe(7);
    expect(intFromEnv({ N: '12' }, 'N', 7)).toBe(12);
    expect(intFromEnv({ N: ' 3 ' }, 'N', 7)).toBe(3);
    expect(intFromEnv({ N: '0' }, 'N', 7, 0, 10)).toBe(0);
    expect(intFromEnv({ N: '10' }, 'N', 7, 0, 10)).toBe(10);
  });

  it('refuses non-integers and values out of range (default minimum 1), naming the variable and the value', () => {
    for (const v of ['0', '-1', '1.5', 'abc', '1e400', 'NaN', '0x']) {
      expect(() => intFromEnv({ POLL_MS: v }, 'POLL_MS', 7)).toThrow(`POLL_MS must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(v)}`);
    }
    expect(() => intFromEnv({ N: '11' }, 'N', 7, 0, 10)).toThrow('N must be an integer from 0 to 10, got "11"');
  });
});

describe('portFromEnv', () => {
  it('0..65535 (0: any free port); the fallback when unset', () => {
    expect(portFromEnv({}, 'PORT', 8790)).toBe(8790);
    expect(portFromEnv({ PORT: '0' }, 'PORT', 8790)).toBe(0);
    expect(portFromEnv({ PORT: '65535' }, 'PORT', 8790)).toBe(65535);
    expect(() => portFromEnv({ PORT: '65536' }, 'PORT', 8790)).toThrow(/PORT must be an integer from 0 to 65535, got "65536"/);
    expect(() => portFromEnv({ PORT: 'http' }, 'PORT', 8790)).toThrow(/PORT/);
  });
});

describe('flagFromEnv', () => {
  it('true/1 and false/0 in any case; the fallback when unset or blank; anything else is an error', () => {
    for (const v of ['true', 'TRUE', 'True', '1', ' true ']) expect(flagFromEnv({ F: v }, 'F', false)).toBe(true);
    for (const v of ['false', 'FALSE', '0']) expect(flagFromEnv({ F: v }, 'F', true)).toBe(false);
    expect(flagFromEnv({}, 'F', true)).toBe(true);
    expect(flagFromEnv({ F: '' }, 'F', false)).toBe(false);
    expect(() => flagFromEnv({ F: 'yes' }, 'F', false)).toThrow('F must be true/1 or false/0, got "yes"');
  });
});
