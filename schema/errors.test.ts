import { describe, expect, it } from '@jest/globals';
import { ErrorCode, errorCodes, httpStatusByCode, isErrorCode } from './errors.ts';

describe('error codes', () => {
  it('gives every code an HTTP error status', () => {
    for (const code of errorCodes) {
      expect(httpStatusByCode[code]).toBeGreaterThanOrEqual(400);
      expect(httpStatusByCode[code]).toBeLessThan(600);
    }
    expect(Object.keys(httpStatusByCode).sort()).toEqual([...errorCodes].sort());
  });

  it('maps caller faults to 4xx and region faults to 5xx', () => {
    expect(httpStatusByCode[ErrorCode.BAD_USER_INPUT]).toBe(422);
    expect(httpStatusByCode[ErrorCode.UNAUTHENTICATED]).toBe(401);
    expect(httpStatusByCode[ErrorCode.REGION_UNAVAILABLE]).toBe(503);
    expect(httpStatusByCode[ErrorCode.REGION_TIMEOUT]).toBe(504);
  });

  it('recognises only its own codes', () => {
    expect(isErrorCode('QUOTA_EXCEEDED')).toBe(true);
    expect(isErrorCode('quota_exceeded')).toBe(false);
    expect(isErrorCode(42)).toBe(false);
  });
});
