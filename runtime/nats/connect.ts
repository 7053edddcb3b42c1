import { nkeyAuthenticator } from '@nats-io/nats-core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { SystemConfig } from '../config.ts';
import { resolveSecret } from '../config.ts';
// an answered request makes no Error (nats-core builds one to reject what is already settled)
import './answeredRequests.ts';

export interface ConnectOptions {
  servers: readonly string[];
  /** Connection name shown by the server (`nats server report connections`). */
  name: string;
  /**
   * The component's NATS identity (`gateway`, `controller`, `subgraph-identity`, `adapter-sto-openstack`):
   * its replies come on the inbox prefix `_INBOX_<component>`, the only one its user may subscribe to.
   */
  component: string;
  /** PEM file of the CA that signed the servers' certificates. */
  caFile?: string;
  /** The component's nkey seed. */
  nkeySeed?: string;
}

/** The inbox prefix a component's user may receive on (see deploy/natsConfig.ts). */
export function inboxPrefixOf(component: string): string {
  return `_INBOX_${component}`;
}

/**
 * Connects with reconnects forever (a NATS restart is survived), waiting for the first connection.
 * `noAsyncTraces`: the client would otherwise make an Error (a stack capture) for every request and its
 * timer in case it fails: about 70 of 230 µs of CPU per request and reply measured here. A failed request
 * still comes with its cause (what `isUnavailable` reads); only the requester's frames leave its stack.
 */
export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  return connect({
    servers: [...options.servers],
    name: options.name,
    inboxPrefix: inboxPrefixOf(options.component),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    noAsyncTraces: true,
    ...(options.caFile ? { tls: { caFile: options.caFile } } : {}),
    ...(options.nkeySeed ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(options.nkeySeed)) } : {}),
  });
}

/** Connection options of a component from the system configuration (`servers`: e.g. its region's cluster). */
export function natsOptionsOf(
  config: Pick<SystemConfig, 'nats'>,
  component: string,
  name = component,
  servers: readonly string[] = config.nats.servers,
): ConnectOptions {
  return {
    servers,
    name,
    component,
    caFile: config.nats.tls?.caFile,
    nkeySeed: config.nats.nkeySeed ? resolveSecret(config.nats.nkeySeed) : undefined,
  };
}

export type { NatsConnection };
