import { accessRulesRoutes } from './accessRules.ts';
import { auditRoutes } from './audit.ts';
import { membersRoutes } from './members.ts';
import { networksRoutes } from './networks.ts';
import { operationsRoutes } from './operations.ts';
import { organizationsRoutes } from './organizations.ts';
import { partnersRoutes } from './partners.ts';
import { peopleRoutes } from './people.ts';
import { webhooksRoutes } from './webhooks.ts';
import { projectsRoutes } from './projects.ts';
import { quotasRoutes } from './quotas.ts';
import { quotaRequestsRoutes } from './quotaRequests.ts';
import { regionsRoutes } from './regions.ts';
import { resourcesRoutes } from './resources.ts';
import type { Route } from './route.ts';

export { fromGraphqlError, type GraphqlError, type GraphqlResult, type Route, type RouteContext, type RouteResult } from './route.ts';

/** Every REST operation, one file per resource; each is one GraphQL operation against the gateway. In the document's order. */
export const routes: Route[] = [
  ...regionsRoutes,
  ...organizationsRoutes,
  ...projectsRoutes,
  ...membersRoutes,
  ...networksRoutes,
  ...accessRulesRoutes,
  ...quotasRoutes,
  ...quotaRequestsRoutes,
  ...partnersRoutes,
  ...peopleRoutes,
  ...webhooksRoutes,
  ...resourcesRoutes,
  ...operationsRoutes,
  ...auditRoutes,
];
