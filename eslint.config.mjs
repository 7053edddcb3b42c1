import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';

/** The architecture, enforced: who may import whom (DESIGN.md 8). */
const deployables = ['adapters', 'controller', 'subgraphs', 'gateway', 'rest-bridge'];
const zones = [
  // schema is pure contracts: it imports nothing of ours but itself
  { target: './schema', from: ['./runtime', './platforms', './test', './scripts', './bench', ...deployables.map((d) => `./${d}`)] },
  // the runtime serves the deployables and never reaches into them
  { target: './runtime', from: ['./platforms', './test', './scripts', './bench', ...deployables.map((d) => `./${d}`)] },
  // resources as code (file format, live read, plan) serves a subgraph and the CLI alike
  { target: './resources', from: ['./platforms', './test', './scripts', './bench', './cli', ...deployables.map((d) => `./${d}`)] },
  // the CLI is a client: it talks to the API over HTTP, never imports a deployable
  { target: './cli', from: ['./platforms', './test', './scripts', './bench', ...deployables.map((d) => `./${d}`)] },
  // deployables talk over NATS or HTTP, never by import; none imports the local stand-ins or tests
  ...deployables.map((d) => ({
    target: `./${d}`,
    from: ['./platforms', './test', './scripts', './bench', ...deployables.filter((o) => o !== d).map((o) => `./${o}`)],
  })),
];

export default tseslint.config(
  { ignores: ['node_modules/**', '.local/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mjs', '**/*.js'],
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'] })] },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones }],
      'import-x/no-cycle': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
);
