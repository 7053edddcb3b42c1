import type { z } from 'zod';
import { pageOf, regionResource } from '../../schema/rest.ts';
import { selectionOf } from '../selection.ts';
import { dataOf, limitQuery, type Route } from './route.ts';

/** The routes of the `regions` resource (each one GraphQL operation against the gateway). */
export const regionsRoutes: Route[] = [
  {
    method: 'get',
    path: '/regions',
    operationId: 'listRegions',
    tag: 'regions',
    summary: 'Regions, their platforms and whether their adapters answer',
    description:
      'The configured regions, each with its platforms (OpenStack, OKD), whether its adapter answers now, its latency and the vendor version it reports. Any token may read it.',
    query: limitQuery,
    response: pageOf(regionResource, 'RegionPage'),
    shape: 'list',
    async handle(ctx) {
      const result = await ctx.graphql<{ regions: z.infer<typeof regionResource>[] }>(`{ regions ${selectionOf(regionResource)} }`);
      return { kind: 'list', items: dataOf(result).regions, errors: result.errors, sortKey: (r: { name: string }) => r.name };
    },
  },
];
