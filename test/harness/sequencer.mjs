// Jest's order, grouped by project: unit, then integration, then e2e. The e2e project's global setup starts
// the shared local system in the background (e2eGlobalSetup.ts); in a single jest the unit and integration
// suites run while it starts. Suites that take turns at the vendors (test/harness/vendorLock.ts: they build
// Neutron routers) run last among the integration suites and first among the e2e suites: when `npm test`
// runs the two side by side (scripts/test.ts), each side's heavy suites then meet the other's light ones.
import { readFileSync } from 'node:fs';
import Sequencer from '@jest/test-sequencer';

const ORDER = ['unit', 'integration', 'e2e', 'resilience'];
const heavy = new Map();
const isHeavy = (path) => {
  if (!heavy.has(path)) heavy.set(path, readFileSync(path, 'utf8').includes('takeVendorTurns('));
  return heavy.get(path);
};
const rank = (test) => {
  const project = test.context.config.displayName?.name ?? '';
  const at = ORDER.indexOf(project);
  const group = (at === -1 ? ORDER.length : at) * 3;
  if (!isHeavy(test.path)) return group + 1;
  return project === 'e2e' ? group : group + 2;
};

export default class ProjectOrderSequencer extends Sequencer {
  async sort(tests) {
    // within a group, jest's own order (failed last time first, then slowest first); Array.prototype.sort is stable
    return [...(await super.sort(tests))].sort((a, b) => rank(a) - rank(b));
  }
}
