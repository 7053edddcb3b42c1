// TypeScript runs as-is on Node 24 (type stripping); jest needs a transform of its own, so swc strips
// the types and keeps ES modules (jest runs with --experimental-vm-modules).
const transform = {
  '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2024' }, module: { type: 'es6' } }],
};
const common = { transform, extensionsToTreatAsEsm: ['.ts'], testEnvironment: 'node' };

/** @type {import('jest').Config} */
const config = {
  // integration and e2e tests wait for real services (each call bounded by its own timeout); a global option in jest
  testTimeout: 30_000,
  // unit, then integration, then e2e: the e2e system starts in the background meanwhile (test/harness/sequencer.mjs)
  testSequencer: '<rootDir>/test/harness/sequencer.mjs',
  projects: [
    {
      ...common,
      displayName: 'unit',
      roots: [
        '<rootDir>/schema',
        '<rootDir>/runtime',
        '<rootDir>/adapters',
        '<rootDir>/controller',
        '<rootDir>/subgraphs',
        '<rootDir>/resources',
        '<rootDir>/cli',
        '<rootDir>/gateway',
        '<rootDir>/rest-bridge',
      ],
      testMatch: ['**/*.test.ts'],
    },
    { ...common, displayName: 'integration', roots: ['<rootDir>/test/integration'], testMatch: ['**/*.test.ts'] },
    // one local system for every e2e suite of the run (test/harness/sharedSystem.ts), started only when an e2e suite runs
    {
      ...common,
      displayName: 'e2e',
      roots: ['<rootDir>/test/e2e'],
      testMatch: ['**/*.test.ts'],
      globalSetup: '<rootDir>/test/harness/e2eGlobalSetup.ts',
      globalTeardown: '<rootDir>/test/harness/e2eGlobalTeardown.ts',
    },
    // failure tests on a system of their own (three JetStream servers, two controllers, fault proxies): `npm run test:resilience`
    { ...common, displayName: 'resilience', roots: ['<rootDir>/test/resilience'], testMatch: ['**/*.test.ts'] },
  ],
};
export default config;
