import { createHmac, randomBytes } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import type { Logger } from 'pino';
import { monotonicFactory } from 'ulid';
import type { z } from 'zod';
import { Permission } from '../schema/access.ts';
import { ErrorCode, InfrafedError } from '../schema/errors.ts';
import { EVENT_TYPE_PREFIX, type CloudEvent } from '../schema/events.ts';
import { OPERATORS_EVENT_SEGMENT } from '../schema/subjects.ts';
import {
  deliveryRecordSchema,
  webhookRecordSchema,
  type createWebhookInput,
  type DeliveryAttempt,
  type DeliveryRecord,
  type DeliveryView,
  type deliveryListInput,
  type WebhookRecord,
  type WebhookView,
} from '../schema/webhooks.ts';
import type { Principal } from '../runtime/auth.ts';
import { badUserInput } from '../runtime/problems.ts';
import type { Audit } from './audit.ts';
import { change, page, type PeopleStore } from './people.ts';
import { auditDecision, authorize } from './permissions.ts';

const ulid = monotonicFactory();
const webhookKey = (organization: string, id: string) => `webhook.${organization}.${id}`;
const deliveryKey = (organization: string, webhookId: string, eventId: string) => `delivery.${organization}.${webhookId}.${eventId}`;
/** A marker per delivery still to be attempted: what the retry pass reads (not every delivery ever made). */
const dueKey = (delivery: string) => `due.${delivery.slice('delivery.'.length)}`;
const parseWebhook = (v: unknown) => webhookRecordSchema.parse(v);
const parseDelivery = (v: unknown) => deliveryRecordSchema.parse(v);

/** Addresses a webhook may never reach (unless the deployment allows private targets: development, tests). */
const blocked = (() => {
  const list = new BlockList();
  for (const [net, prefix] of [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ] as const)
    list.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of [
    ['::', 128],
    ['::1', 128],
    ['fc00::', 7],
    ['fe80::', 10],
    ['ff00::', 8],
    ['64:ff9b::', 96],
  ] as const)
    list.addSubnet(net, prefix, 'ipv6');
  return list;
})();

/** Whether an address is loopback, private, link-local, shared, multicast or otherwise not the public internet. */
export function isPrivateAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return blocked.check(mapped[1] as string, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

/** Standard Webhooks' signature: `v1,` + base64 HMAC-SHA256 of `<id>.<timestamp>.<body>` with the secret's key. */
export function webhookSignature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

export interface WebhookOptions {
  /** Seconds to wait before each retry; after the last, the delivery has failed. Default over 2.9 hours. */
  retrySeconds: number[];
  /** Development and tests only: plain http and private addresses (loopback) may be targets. */
  allowPrivateTargets: boolean;
  /** An attempt's time limit, milliseconds. Default 10 000. */
  timeoutMs?: number;
}

export interface WebhooksDeps {
  store: PeopleStore;
  audit: Audit;
  log: Logger;
  options: WebhookOptions;
  now?: () => number;
}

/**
 * An organisation's webhooks and their deliveries: every event of the organisation (from the events
 * stream, through a durable consumer shared by the controller's replicas) goes to each webhook that takes
 * its type, signed; a failed attempt is retried on `retrySeconds`, every attempt recorded.
 */
export function createWebhooks(deps: WebhooksDeps) {
  const { store, audit, log, options } = deps;
  const now = deps.now ?? Date.now;
  const iso = (ms = now()) => new Date(ms).toISOString();
  const timeoutMs = options.timeoutMs ?? 10_000;

  /** The URL may be a target: https (http only where private targets are allowed), and a host that is not private. */
  async function checkTarget(url: string): Promise<string | null> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return 'not a URL';
    }
    if (u.protocol !== 'https:' && !(options.allowPrivateTargets && u.protocol === 'http:')) return 'the URL must be https';
    if (u.username || u.password) return 'the URL must not carry credentials';
    if (options.allowPrivateTargets) return null;
    const host = u.hostname.replace(/^\[|\]$/g, '');
    const addresses = isIP(host) ? [host] : await resolveAll(host).catch(() => null);
    if (!addresses || addresses.length === 0) return `${host} does not resolve`;
    if (addresses.some(isPrivateAddress)) return `${host} is a private, loopback or link-local address`;
    return null;
  }

  function resolveAll(host: string): Promise<string[]> {
    return new Promise((resolve, reject) =>
      dnsLookup(host, { all: true }, (error, addresses: LookupAddress[]) =>
        error ? reject(error) : resolve(addresses.map((a) => a.address)),
      ),
    );
  }

  /** Resolves as the connection does, refusing private addresses (a name that changes its answer cannot get past). */
  const guardedLookup: RequestOptions['lookup'] = (hostname, opts, callback) => {
    dnsLookup(hostname, { ...opts, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return (callback as (e: Error | null, a: LookupAddress[]) => void)(error, []);
      const bad = addresses.find((a) => isPrivateAddress(a.address));
      if (bad && !options.allowPrivateTargets)
        return (callback as (e: Error | null, a: LookupAddress[]) => void)(new Error(`${hostname} resolves to a private address`), []);
      if ((opts as { all?: boolean }).all) return (callback as (e: Error | null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0] as LookupAddress;
      return (callback as unknown as (e: Error | null, a: string, f: number) => void)(null, first.address, first.family);
    });
  };

  /** One POST of a delivery: its status, or why there is none. */
  function post(hook: WebhookRecord, eventId: string, body: string): Promise<DeliveryAttempt> {
    const started = now();
    const timestamp = Math.floor(started / 1000);
    const u = new URL(hook.url);
    if (!options.allowPrivateTargets && isIP(u.hostname.replace(/^\[|\]$/g, '')) && isPrivateAddress(u.hostname.replace(/^\[|\]$/g, '')))
      return Promise.resolve({ at: iso(started), httpStatus: null, outcome: 'failed', error: 'a private address', durationMs: 0 });
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      const done = (httpStatus: number | null, error: string | null) =>
        resolve({
          at: iso(started),
          httpStatus,
          outcome: httpStatus !== null && httpStatus >= 200 && httpStatus < 300 ? 'succeeded' : 'failed',
          error,
          durationMs: Math.max(0, now() - started),
        });
      const req = send(
        u,
        {
          method: 'POST',
          lookup: guardedLookup,
          timeout: timeoutMs,
          headers: {
            'content-type': 'application/cloudevents+json',
            'user-agent': 'infrafed-webhooks',
            'webhook-id': eventId,
            'webhook-timestamp': String(timestamp),
            'webhook-signature': webhookSignature(hook.secret, eventId, timestamp, body),
          },
        },
        (res) => {
          // the answer's body is not kept (a receiver's content is its own); only the status
          res.resume();
          res.on('end', () => done(res.statusCode ?? null, null));
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (error) => done(null, error.message.slice(0, 200)));
      req.end(body);
    });
  }

  const cache = new Map<string, { at: number; hooks: WebhookRecord[] }>();
  async function hooksOf(organization: string): Promise<WebhookRecord[]> {
    const hit = cache.get(organization);
    if (hit && now() - hit.at < 2_000) return hit.hooks;
    const hooks = (await Promise.all((await store.keys(`webhook.${organization}.*`)).map((k) => store.get(k)))).flatMap((e) =>
      e ? [parseWebhook(e.value)] : [],
    );
    cache.set(organization, { at: now(), hooks });
    return hooks;
  }

  const takes = (hook: WebhookRecord, type: string) =>
    hook.eventTypes.length === 0 || hook.eventTypes.some((f) => (f.endsWith('.*') ? type.startsWith(f.slice(0, -1)) : type === f));

  const timers = new Set<NodeJS.Timeout>();
  function schedule(key: string, inMs: number) {
    const timer = setTimeout(
      () => {
        timers.delete(timer);
        attempt(key).catch((error: unknown) => log.warn({ err: error, key }, 'webhook retry failed'));
      },
      Math.max(0, inMs) + 50,
    );
    timer.unref();
    timers.add(timer);
  }
  /** Stops the retries this replica scheduled (another replica's slow pass takes them over). */
  function stop() {
    for (const t of timers) clearTimeout(t);
    timers.clear();
  }

  /** Attempts a due delivery once (claimed first: one replica at a time), then records the outcome and the next try. */
  async function attempt(key: string): Promise<void> {
    const claimed = await change(store, key, parseDelivery, (cur) => {
      if (!cur || cur.state !== 'pending') return undefined;
      if (cur.nextAttemptAt && Date.parse(cur.nextAttemptAt) > now()) return undefined;
      if (cur.claimedUntil && Date.parse(cur.claimedUntil) > now()) return undefined;
      return { ...cur, claimedUntil: iso(now() + timeoutMs + 5_000) };
    });
    if (!claimed || claimed.claimedUntil === null || claimed.state !== 'pending') return;
    const hookEntry = await store.get(webhookKey(claimed.organization, claimed.webhookId));
    const result = hookEntry
      ? await post(parseWebhook(hookEntry.value), claimed.eventId, claimed.body)
      : { at: iso(), httpStatus: null, outcome: 'failed' as const, error: 'the webhook was deleted', durationMs: 0 };
    const saved = await change(store, key, parseDelivery, (cur): DeliveryRecord | undefined => {
      if (!cur) return undefined;
      const attempts = [...cur.attempts, result];
      const failures = attempts.filter((a) => a.outcome === 'failed').length;
      if (result.outcome === 'succeeded') return { ...cur, attempts, state: 'delivered', nextAttemptAt: null, claimedUntil: null };
      const wait = hookEntry ? options.retrySeconds[failures - 1] : undefined;
      if (wait === undefined) return { ...cur, attempts, state: 'failed', nextAttemptAt: null, claimedUntil: null };
      // a little jitter: receivers that came back are not hit by every organisation's retries in the same second
      return { ...cur, attempts, nextAttemptAt: iso(now() + wait * 1000 * (0.9 + Math.random() * 0.2)), claimedUntil: null };
    });
    // the retry this replica scheduled is made by a timer here; the slow pass (`retryDue`) is for those a
    // stopped replica left behind
    if (saved?.state === 'pending' && saved.nextAttemptAt) schedule(key, Date.parse(saved.nextAttemptAt) - now());
    if (saved && saved.state !== 'pending') {
      const due = await store.get(dueKey(key));
      if (due) await store.remove(dueKey(key), due.revision);
    }
  }

  /** An event of the stream: a delivery for each of its organisation's webhooks that takes its type, attempted at once. */
  async function handleEvent(subject: string, event: CloudEvent): Promise<void> {
    const organization = subject.split('.')[3] ?? '';
    if (organization === OPERATORS_EVENT_SEGMENT || organization !== event.infrafedorganization) return;
    const type = event.type.slice(EVENT_TYPE_PREFIX.length);
    const body = JSON.stringify(event);
    const keys: string[] = [];
    for (const hook of await hooksOf(organization)) {
      if (!takes(hook, type)) continue;
      const key = deliveryKey(organization, hook.id, event.id);
      const record: DeliveryRecord = {
        webhookId: hook.id,
        organization,
        eventId: event.id,
        eventType: event.type,
        body,
        state: 'pending',
        attempts: [],
        nextAttemptAt: iso(),
        claimedUntil: null,
        createdAt: iso(),
      };
      // made once (a redelivered event finds it), its marker with it
      await store.put(dueKey(key), {}, 0);
      await store.put(key, record, 0);
      keys.push(key);
    }
    await Promise.all(keys.map((k) => attempt(k).catch((error: unknown) => log.warn({ err: error, key: k }, 'webhook delivery failed'))));
  }

  /** Every due delivery, a few at a time: the slow pass that finds what a stopped replica left behind. */
  async function retryDue(): Promise<number> {
    const due = (await store.keys('due.>')).map((k) => `delivery.${k.slice('due.'.length)}`);
    for (let i = 0; i < due.length; i += 4) await Promise.all(due.slice(i, i + 4).map((k) => attempt(k).catch(() => undefined)));
    return due.length;
  }

  const view = (hook: WebhookRecord): WebhookView => {
    const { secret: _secret, ...rest } = hook;
    return rest;
  };
  const deliveryView = (d: DeliveryRecord): DeliveryView => {
    const { body: _body, claimedUntil: _claim, organization: _org, ...rest } = d;
    return rest;
  };

  async function mayManage(principal: Principal, action: string) {
    try {
      authorize(principal, Permission.manageWebhooks);
    } catch (error) {
      const e = error as InfrafedError;
      await auditDecision(audit, principal, { action, decision: 'denied', result: e.code, reason: e.message });
      throw error;
    }
  }

  async function create(principal: Principal, input: z.infer<typeof createWebhookInput>) {
    await mayManage(principal, 'webhook.create');
    const refused = await checkTarget(input.url);
    if (refused) throw badUserInput([{ path: 'input.url', message: refused, value: input.url }]);
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const hook: WebhookRecord = {
      id: `whk_${ulid().toLowerCase()}`,
      organization: principal.organization,
      url: input.url,
      eventTypes: input.eventTypes,
      secret,
      createdBy: principal.subject,
      createdAt: iso(),
    };
    await store.put(webhookKey(hook.organization, hook.id), hook, 0);
    cache.delete(hook.organization);
    await auditDecision(audit, principal, {
      action: 'webhook.create',
      decision: 'allowed',
      result: 'OK',
      reason: `${hook.id} ${new URL(hook.url).host}`,
    });
    return { webhook: view(hook), secret };
  }

  async function list(principal: Principal) {
    await mayManage(principal, 'webhook.list');
    return { webhooks: (await hooksOf(principal.organization)).map(view).sort((a, b) => a.id.localeCompare(b.id)) };
  }

  async function own(principal: Principal, id: string): Promise<{ hook: WebhookRecord; revision: number }> {
    const entry = await store.get(webhookKey(principal.organization, id));
    if (!entry) throw new InfrafedError(ErrorCode.NOT_FOUND, `webhook ${id} not found`);
    return { hook: parseWebhook(entry.value), revision: entry.revision };
  }

  async function remove(principal: Principal, id: string) {
    await mayManage(principal, 'webhook.delete');
    const { hook, revision } = await own(principal, id);
    await store.remove(webhookKey(hook.organization, id), revision);
    cache.delete(hook.organization);
    await auditDecision(audit, principal, { action: 'webhook.delete', decision: 'allowed', result: 'OK', reason: id });
    return { webhook: view(hook) };
  }

  /** Sends `webhook.test` to it now, once (no retries), and records the attempt in its log. */
  async function test(principal: Principal, id: string) {
    await mayManage(principal, 'webhook.test');
    const { hook } = await own(principal, id);
    const event: CloudEvent = {
      specversion: '1.0',
      id: ulid().toLowerCase(),
      source: 'infrafed/controller',
      type: `${EVENT_TYPE_PREFIX}webhook.test`,
      subject: hook.id,
      time: iso(),
      datacontenttype: 'application/json',
      infrafedorganization: hook.organization,
      data: { webhookId: hook.id, requestedBy: principal.subject },
    };
    const body = JSON.stringify(event);
    const result = await post(hook, event.id, body);
    const record: DeliveryRecord = {
      webhookId: hook.id,
      organization: hook.organization,
      eventId: event.id,
      eventType: event.type,
      body,
      state: result.outcome === 'succeeded' ? 'delivered' : 'failed',
      attempts: [result],
      nextAttemptAt: null,
      claimedUntil: null,
      createdAt: iso(),
    };
    await store.put(deliveryKey(hook.organization, hook.id, event.id), record, 0);
    return { delivery: deliveryView(record) };
  }

  async function deliveries(principal: Principal, req: z.infer<typeof deliveryListInput>) {
    await mayManage(principal, 'webhook.deliveries');
    await own(principal, req.webhookId);
    const records = (
      await Promise.all((await store.keys(`delivery.${principal.organization}.${req.webhookId}.*`)).map((k) => store.get(k)))
    ).flatMap((e) => (e ? [parseDelivery(e.value)] : []));
    const { items, nextCursor } = page(records, (d) => d.eventId, req.first ?? 50, req.after);
    return { deliveries: items.map(deliveryView), nextCursor };
  }

  return { handleEvent, retryDue, create, list, remove, test, deliveries, checkTarget, stop };
}
export type Webhooks = ReturnType<typeof createWebhooks>;
