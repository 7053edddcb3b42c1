import { connect, type NatsConnection } from '@nats-io/transport-node';

export interface ConnectOptions {
  servers: readonly string[];
  /** Connection name shown by the server (`nats server report connections`). */
  name: string;
}

/** Connects with reconnects forever (a NATS restart is survived), waiting for the first connection. */
export async function connectNats(options: ConnectOptions): Promise<NatsConnection> {
  return connect({ servers: [...options.servers], name: options.name, maxReconnectAttempts: -1, reconnectTimeWait: 500 });
}

export type { NatsConnection };
