import { describe, expect, it } from '@jest/globals';
import { GraphQLError } from 'graphql';
import pino from 'pino';
import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import { withContext } from '../../runtime/context.ts';
import { createFormatError } from './errors.ts';
import { addPartialError, type PartialErrors } from './serveSubgraph.ts';

/** A vendor's refusal as an adapter reports it: the request's method, path, status and reason in its extensions. */
const vendorError = () =>
  new InfrafedError(ErrorCode.UPSTREAM_ERROR, 'Keystone sto refused the request (400): Invalid input for field tags-any', {
    region: 'sto',
    platform: 'openstack',
    method: 'GET',
    path: '/v3/projects',
    vendorStatus: 400,
    reason: 'BadRequest',
  });
const traceId = 'a'.repeat(32);

describe('errors on reads: the code, the region and a message; vendor detail only in the log', () => {
  it('formats a resolver error without the vendor request, with the trace id to find it in the logs', () => {
    const format = createFormatError(pino({ level: 'silent' }));
    const formatted = withContext({ traceId }, () =>
      format({ message: 'x', path: ['project'] }, new GraphQLError('x', { originalError: vendorError() })),
    );
    expect(formatted).toEqual({
      message: 'region sto (openstack) answered with an error',
      path: ['project'],
      locations: undefined,
      extensions: { code: 'UPSTREAM_ERROR', region: 'sto', platform: 'openstack', traceId },
    });
  });

  it('reports a region missing from a read the same way, keeping the original for the log', () => {
    const ctx: PartialErrors = { partialErrors: [] };
    withContext({ traceId }, () => addPartialError(ctx, vendorError(), ['projects']));
    const [e] = ctx.partialErrors;
    expect(e?.message).toBe('region sto (openstack) answered with an error');
    expect(e?.extensions).toEqual({ code: 'UPSTREAM_ERROR', region: 'sto', platform: 'openstack', traceId, dedupeKey: expect.any(String) });
    expect((e?.originalError as InfrafedError).extensions.path).toBe('/v3/projects');
  });

  it('keeps what a caller needs to act on: quota figures, problems, the permission', () => {
    const format = createFormatError(pino({ level: 'silent' }));
    const quota = new InfrafedError(ErrorCode.QUOTA_EXCEEDED, 'cores quota exceeded in sto', {
      region: 'sto',
      resource: 'cores',
      limit: 4,
      used: 4,
      requested: 1,
      vendorStatus: 413,
    });
    expect(format({ message: 'x' }, new GraphQLError('x', { originalError: quota })).extensions).toEqual({
      code: 'QUOTA_EXCEEDED',
      region: 'sto',
      resource: 'cores',
      limit: 4,
      used: 4,
      requested: 1,
    });
  });
});
