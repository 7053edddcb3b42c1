import { describe, expect, it } from '@jest/globals';
import { createHmac } from 'node:crypto';
import pino from 'pino';
import type { Audit } from './audit.ts';
import { memoryPeopleStore } from './people.ts';
import { createWebhooks, isPrivateAddress, webhookSignature } from './webhooks.ts';

const webhooks = (allowPrivateTargets: boolean) =>
  createWebhooks({
    store: memoryPeopleStore(),
    audit: { record: async () => {} } as unknown as Audit,
    log: pino({ level: 'silent' }),
    options: { retrySeconds: [1], allowPrivateTargets },
  });

describe('webhooks: signatures and targets', () => {
  it('signs as Standard Webhooks do: base64 HMAC-SHA256 of id.timestamp.body with the base64 key after whsec_', () => {
    const key = Buffer.from('0123456789abcdef0123456789abcdef');
    const secret = `whsec_${key.toString('base64')}`;
    const expected = createHmac('sha256', key).update('msg_1.1700000000.{"a":1}').digest('base64');
    expect(webhookSignature(secret, 'msg_1', 1700000000, '{"a":1}')).toBe(`v1,${expected}`);
    // the Standard Webhooks specification's own example (github.com/standard-webhooks/standard-webhooks, spec)
    expect(
      webhookSignature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}'),
    ).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('knows private, loopback, link-local, shared and mapped addresses from public ones', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:127.0.0.1',
      '::ffff:10.0.0.1',
    ])
      expect([a, isPrivateAddress(a)]).toEqual([a, true]);
    for (const a of ['8.8.8.8', '193.10.5.1', '2001:4860:4860::8888', '::ffff:8.8.8.8'])
      expect([a, isPrivateAddress(a)]).toEqual([a, false]);
  });

  it('refuses plain http, credentials in the URL and private addresses, unless the deployment allows private targets', async () => {
    const strict = webhooks(false);
    expect(await strict.checkTarget('http://hooks.example.org/x')).toBe('the URL must be https');
    expect(await strict.checkTarget('https://user:pw@hooks.example.org/x')).toBe('the URL must not carry credentials');
    expect(await strict.checkTarget('https://127.0.0.1:8443/x')).toContain('private');
    expect(await strict.checkTarget('https://[::1]/x')).toContain('private');
    expect(await strict.checkTarget('https://169.254.169.254/latest/meta-data')).toContain('private');
    expect(await strict.checkTarget('https://localhost/x')).toMatch(/private|does not resolve/);
    expect(await strict.checkTarget('https://8.8.8.8/hook')).toBeNull();
    const local = webhooks(true);
    expect(await local.checkTarget('http://127.0.0.1:9999/hook')).toBeNull();
    expect(await local.checkTarget('ftp://127.0.0.1/hook')).toBe('the URL must be https');
  });
});
