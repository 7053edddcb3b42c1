// Jest's order, grouped by project: unit, then integration, then e2e. The e2e project's global setup starts
// the shared local system in the background (e2eGlobalSetup.ts); the unit and integration suites run while
// it starts, so the e2e suites, last, find it ready instead of the whole run waiting for it.
import Sequencer from '@jest/test-sequencer';

const ORDER = ['unit', 'integration', 'e2e', 'resilience'];
const rank = (test) => {
  const at = ORDER.indexOf(test.context.config.displayName?.name ?? '');
  return at === -1 ? ORDER.length : at;
};

export default class ProjectOrderSequencer extends Sequencer {
  async sort(tests) {
    // within a project, jest's own order (failed last time first, then slowest first); Array.prototype.sort is stable
    return [...(await super.sort(tests))].sort((a, b) => rank(a) - rank(b));
  }
}
