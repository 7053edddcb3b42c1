import { describe, expect, it } from '@jest/globals';
import type { ExecutionResult } from '@graphql-tools/utils';
import { OperationTypeNode, parse } from 'graphql';
import { subscribeToOperations } from '../../gateway/subscriptions.ts';
import { progressSubject } from '../../schema/subjects.ts';
import { natsForSuite } from '../harness/natsServer.ts';

const OP = 'op_01aaaaaaaaaaaaaaaaaaaaaaaa';

describe('the gateway’s operation subscriptions on real NATS', () => {
  const nats = natsForSuite();

  const request = (query: string) => ({ document: parse(query), variables: {}, operationType: OperationTypeNode.SUBSCRIPTION });
  const view = (status: string) => ({ data: { operationUpdated: { id: OP, status } } }) as ExecutionResult;

  it('ends operationUpdated after a lost final announcement: it reads the operation again once quiet', async () => {
    const reads: string[] = [];
    // the subgraph: RUNNING at first, SUCCEEDED on a later read (the announcement of the end never comes)
    const read = async () => {
      reads.push('read');
      return view(reads.length === 1 ? 'RUNNING' : 'SUCCEEDED');
    };
    const seen: string[] = [];
    for await (const r of subscribeToOperations({
      nc: nats.nc,
      request: request(`subscription { operationUpdated(id: "${OP}") { id status } }`),
      organization: 'acme',
      read,
      answer: async () => view('RUNNING'),
      quietMs: 200,
    })) {
      seen.push((r.data as { operationUpdated: { status: string } }).operationUpdated.status);
    }
    expect(seen).toEqual(['RUNNING', 'SUCCEEDED']);
    expect(reads).toHaveLength(2);
  });

  it('answers each announcement of the caller’s organisation in order, and hears nothing of another organisation', async () => {
    const seen: string[] = [];
    const stream = subscribeToOperations({
      nc: nats.nc,
      request: request(`subscription { operationUpdated(id: "${OP}") { id status } }`),
      organization: 'acme',
      read: async () => view('PENDING'),
      answer: async (_q, _v, operation) => ({ data: { operationUpdated: operation } }) as ExecutionResult,
      quietMs: 60_000,
    });
    const done = (async () => {
      for await (const r of stream) seen.push((r.data as { operationUpdated: { status: string } }).operationUpdated.status);
    })();
    await new Promise((r) => setTimeout(r, 200));
    const announce = (org: string, status: string) =>
      nats.nc.publish(progressSubject(org, OP), JSON.stringify({ operationId: OP, status, operation: { id: OP, status } }));
    announce('globex', 'FAILED');
    for (const status of ['RUNNING', 'RUNNING', 'SUCCEEDED']) announce('acme', status);
    await done;
    // the repeated RUNNING is said once; globex's announcement (same id) never reaches acme's stream
    expect(seen).toEqual(['PENDING', 'RUNNING', 'SUCCEEDED']);
  });
});
