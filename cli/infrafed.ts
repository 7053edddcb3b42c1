#!/usr/bin/env node
// `infrafed`: customer resources as code against an infrafed API. `infrafed --help` says how.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseResources } from '../resources/document.ts';
import { sseEvents } from '../runtime/sse.ts';
import type { ResourcePlan } from '../resources/plan.ts';

const HELP = `infrafed: your organisation's projects as code (YAML, one document per project)

Usage:
  infrafed export [--project NAME] [-o FILE]     write the current projects as YAML (stdout without -o)
  infrafed plan -f FILE [--prune] [--json]       show what applying FILE would change; changes nothing
                                                 exit 0: no changes, 2: changes, 1: error
  infrafed apply -f FILE [--prune]               make the clouds match FILE, showing each operation's steps
  infrafed schema                                print the JSON Schema of the file format

  --prune   also remove what FILE no longer names (projects, members, networks, rules); never without it

The API and the token: --url or INFRAFED_URL (default http://127.0.0.1:4000/graphql), INFRAFED_TOKEN, or
a config file (--config, INFRAFED_CONFIG, default ~/.config/infrafed/config.json) holding
{"url": "...", "token": "..."}. An interrupted apply, run again, continues where the clouds are: what is
done is no longer planned, and what was in flight is sent with the same Idempotency-Key.
`;

class CliError extends Error {
  /** Printed as it is (compiler-style lines), without the `infrafed:` prefix. */
  readonly plain: boolean;
  constructor(message: string, plain = false) {
    super(message);
    this.plain = plain;
  }
}

interface Options {
  url: string;
  token: string;
}

interface GraphQLAnswer<T> {
  data?: T;
  errors?: {
    message: string;
    extensions?: { code?: string; problems?: { path: string; message: string; line?: number; column?: number; document?: number }[] };
  }[];
}

function configOf(flags: { url?: string; config?: string }): Options {
  const path =
    flags.config ??
    process.env.INFRAFED_CONFIG ??
    join(process.env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'infrafed', 'config.json');
  let file: { url?: string; token?: string } = {};
  if (existsSync(path)) {
    try {
      file = JSON.parse(readFileSync(path, 'utf8')) as typeof file;
    } catch (error) {
      throw new CliError(`${path}: not JSON (${(error as Error).message})`);
    }
  } else if (flags.config) {
    throw new CliError(`${path}: no such file`);
  }
  const url = flags.url ?? process.env.INFRAFED_URL ?? file.url ?? 'http://127.0.0.1:4000/graphql';
  const token = process.env.INFRAFED_TOKEN ?? file.token;
  if (!token) throw new CliError(`no token: set INFRAFED_TOKEN or put "token" in ${path}`);
  return { url, token };
}

async function graphql<T>(
  options: Options,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<T> {
  let res: Response;
  try {
    res = await fetch(options.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${options.token}`,
        ...headers,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new CliError(
      `cannot reach ${options.url}: ${(error as Error).cause instanceof Error ? ((error as Error).cause as Error).message : (error as Error).message}`,
    );
  }
  let body: GraphQLAnswer<T>;
  try {
    body = (await res.json()) as GraphQLAnswer<T>;
  } catch {
    throw new CliError(`${options.url} answered ${res.status} without GraphQL`);
  }
  if (body.errors && body.errors.length > 0) {
    const lines = body.errors.flatMap((e) => {
      const problems = e.extensions?.problems;
      if (problems && problems.length > 0)
        return problems.map((p) => `${p.line ? `${p.line}:${p.column ?? 1}: ` : ''}${p.path ? `${p.path}: ` : ''}${p.message}`);
      return [`${e.message}${e.extensions?.code ? ` (${e.extensions.code})` : ''}`];
    });
    throw new CliError(lines.join('\n'));
  }
  return body.data as T;
}

function schemaUrl(options: Options): string {
  return new URL('/schemas/resources.json', options.url).toString();
}

/** The file, checked here first: every mistake with file:line:column, before anything is asked of the API. */
function readDocument(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new CliError(`${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  const { problems } = parseResources(text);
  if (problems.length > 0) {
    const lines = problems.map((p) => `${file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`);
    throw new CliError(
      `${lines.join('\n')}\n${problems.length} problem${problems.length === 1 ? '' : 's'} in ${file}; nothing was planned`,
      true,
    );
  }
  return text;
}

const PLAN_QUERY = `query($document: String!, $prune: Boolean) { plan(document: $document, prune: $prune) {
  changes held text
  projects { name projectId action changes { op resource name region pruneOnly fields { field from to } } }
  actions { key project projectId mutation variables summary } } }`;

type WirePlan = Omit<ResourcePlan, 'actions'> & {
  text: string;
  actions: (Omit<ResourcePlan['actions'][number], 'variables'> & { variables: string })[];
};

async function plan(options: Options, file: string, prune: boolean): Promise<WirePlan> {
  const document = readDocument(file);
  return (await graphql<{ plan: WirePlan }>(options, PLAN_QUERY, { document, prune })).plan;
}

const OPERATION = '{ id status projectId steps { region platform action status error { code message } } error { code message } }';
const MUTATIONS: Record<string, string> = {
  createProject: `mutation($input: CreateProjectInput!) { op: createProject(input: $input) ${OPERATION} }`,
  deleteProject: `mutation($id: ID!) { op: deleteProject(id: $id) ${OPERATION} }`,
  addMember: `mutation($projectId: ID!, $user: String, $group: String, $role: String!) { op: addMember(projectId: $projectId, user: $user, group: $group, role: $role) ${OPERATION} }`,
  removeMember: `mutation($projectId: ID!, $user: String, $group: String) { op: removeMember(projectId: $projectId, user: $user, group: $group) ${OPERATION} }`,
  createNetwork: `mutation($input: CreateNetworkInput!) { op: createNetwork(input: $input) ${OPERATION} }`,
  deleteNetwork: `mutation($projectId: ID!, $id: ID!) { op: deleteNetwork(projectId: $projectId, id: $id) ${OPERATION} }`,
  applyAccessRule: `mutation($projectId: ID!, $rule: AccessRuleInput!) { op: applyAccessRule(projectId: $projectId, rule: $rule) ${OPERATION} }`,
  removeAccessRule: `mutation($projectId: ID!, $ruleId: ID!) { op: removeAccessRule(projectId: $projectId, ruleId: $ruleId) ${OPERATION} }`,
  setQuota: `mutation($projectId: ID!, $region: String!, $limits: QuotaLimitsInput!) { op: setQuota(projectId: $projectId, region: $region, limits: $limits) ${OPERATION} }`,
};

interface Operation {
  id: string;
  status: string;
  projectId: string | null;
  steps: { region: string; platform: string; action: string; status: string; error: { code: string; message: string } | null }[];
  error: { code: string; message: string } | null;
}
const FINAL = new Set(['SUCCEEDED', 'FAILED']);

/**
 * Prints each step's status as it changes, until the operation is done: live from the `operationUpdated`
 * subscription (Server-Sent Events); should the stream break, by asking for the operation until it ends.
 */
async function follow(options: Options, first: Operation, say: (line: string) => void): Promise<Operation> {
  const seen = new Map<string, string>();
  const show = (op: Operation) => {
    for (const s of op.steps) {
      const key = `${s.region}/${s.platform} ${s.action}`;
      if (seen.get(key) === s.status) continue;
      seen.set(key, s.status);
      say(`    ${key}: ${s.status}${s.error ? ` (${s.error.code}: ${s.error.message})` : ''}`);
    }
  };
  let op = first;
  show(op);
  if (FINAL.has(op.status)) return op;
  try {
    const res = await fetch(options.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${options.token}` },
      body: JSON.stringify({ query: `subscription($id: ID!) { operationUpdated(id: $id) ${OPERATION} }`, variables: { id: op.id } }),
    });
    if (res.ok && res.body) {
      for await (const { event, data } of sseEvents(res.body)) {
        const next =
          event === 'next' ? (JSON.parse(data) as { data?: { operationUpdated?: Operation } }).data?.operationUpdated : undefined;
        if (next) {
          op = next;
          show(op);
        }
        if (FINAL.has(op.status)) return op;
      }
    }
  } catch {
    // the stream broke: ask instead
  }
  while (!FINAL.has(op.status)) {
    await new Promise((r) => setTimeout(r, 300));
    const next = (
      await graphql<{ operation: Operation | null }>(options, `query($id: ID!) { operation(id: $id) ${OPERATION} }`, { id: op.id })
    ).operation;
    if (!next) throw new CliError(`operation ${op.id} is no longer known`);
    op = next;
    show(op);
  }
  return op;
}

/** Where an apply keeps the seed of its Idempotency-Keys until it has finished (per file and content). */
function journalPath(file: string): string {
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'infrafed');
  return join(dir, `apply-${createHash('sha256').update(resolve(file)).digest('hex').slice(0, 16)}.json`);
}

async function apply(options: Options, file: string, prune: boolean, say: (line: string) => void): Promise<number> {
  const planned = await plan(options, file, prune);
  say(planned.text.trimEnd());
  if (planned.actions.length === 0) return 0;
  const content = createHash('sha256').update(readFileSync(file)).digest('hex');
  const journal = journalPath(file);
  let seed = randomBytes(8).toString('hex');
  try {
    const kept = JSON.parse(readFileSync(journal, 'utf8')) as { content: string; seed: string; url: string };
    // the same file against the same API, not finished last time: the same keys, so nothing is done twice
    if (kept.content === content && kept.url === options.url) {
      seed = kept.seed;
      say(`\n(continuing an apply of this file that did not finish)`);
    }
  } catch {
    // none: a new apply
  }
  mkdirSync(dirname(journal), { recursive: true });
  writeFileSync(journal, JSON.stringify({ content, seed, url: options.url, startedAt: new Date().toISOString() }));

  say('');
  const created = new Map<string, string>();
  let done = 0;
  const started = performance.now();
  for (const action of planned.actions) {
    const variables = JSON.parse(action.variables) as Record<string, unknown>;
    const projectId = action.projectId ?? created.get(action.project) ?? null;
    if (action.mutation !== 'createProject' && action.projectId === null) {
      if (!projectId) throw new CliError(`${action.summary}: its project was not created`);
      if ('input' in variables) (variables.input as Record<string, unknown>).projectId = projectId;
      else variables.projectId = projectId;
    }
    say(`[${done + 1}/${planned.actions.length}] ${action.summary}`);
    const res = await graphql<{ op: Operation }>(options, MUTATIONS[action.mutation] as string, variables, {
      'idempotency-key': `infrafed-apply-${seed}-${action.key}`,
      // answered at once: the steps are followed live
      prefer: 'respond-async',
    });
    const op = await follow(options, res.op, say);
    if (op.status !== 'SUCCEEDED') {
      say(
        `  ${op.id} FAILED: ${op.error ? `${op.error.code}: ${op.error.message}` : 'see its steps'} (all-or-nothing: its placements were put back)`,
      );
      say(
        `\nApply stopped: ${done} of ${planned.actions.length} actions done. Fix the cause and run apply again: it continues where the clouds are.`,
      );
      return 1;
    }
    if (action.mutation === 'createProject' && op.projectId) created.set(action.project, op.projectId);
    say(`  ${op.id} SUCCEEDED`);
    done++;
  }
  rmSync(journal, { force: true });
  say(
    `\nApply complete: ${done} action${done === 1 ? '' : 's'} in ${((performance.now() - started) / 1000).toFixed(1)} s (${planned.changes} change${planned.changes === 1 ? '' : 's'}).`,
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      file: { type: 'string', short: 'f' },
      output: { type: 'string', short: 'o' },
      project: { type: 'string' },
      prune: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      url: { type: 'string' },
      config: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  const out = (line: string) => process.stdout.write(`${line}\n`);
  if (values.help || !command || command === 'help') {
    process.stdout.write(HELP);
    return command || values.help ? 0 : 1;
  }
  if (command === 'schema') {
    const { resourcesJsonSchema } = await import('../schema/resources.ts');
    out(JSON.stringify(resourcesJsonSchema(), null, 2));
    return 0;
  }
  const options = configOf(values);
  switch (command) {
    case 'export': {
      const doc = (
        await graphql<{ resourcesDocument: string }>(options, 'query($p: String) { resourcesDocument(project: $p) }', {
          p: values.project ?? null,
        })
      ).resourcesDocument;
      const text = `# yaml-language-server: $schema=${schemaUrl(options)}\n${doc}`;
      if (values.output) {
        writeFileSync(values.output, text);
        process.stderr.write(`wrote ${values.output}\n`);
      } else process.stdout.write(text);
      return 0;
    }
    case 'plan': {
      if (!values.file) throw new CliError('plan needs -f FILE');
      const planned = await plan(options, values.file, values.prune === true);
      if (values.json)
        out(
          JSON.stringify(
            { ...planned, actions: planned.actions.map((a) => ({ ...a, variables: JSON.parse(a.variables) as unknown })) },
            null,
            2,
          ),
        );
      else process.stdout.write(planned.text);
      return planned.changes > 0 ? 2 : 0;
    }
    case 'apply': {
      if (!values.file) throw new CliError('apply needs -f FILE');
      return apply(options, values.file, values.prune === true, out);
    }
    default:
      throw new CliError(`unknown command ${JSON.stringify(command)} (export, plan, apply, schema; --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof CliError && error.plain) {
      process.stderr.write(`${error.message}\n`);
    } else if (error instanceof CliError || (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      process.stderr.write(`infrafed: ${(error as Error).message}\n`);
    } else {
      process.stderr.write(`infrafed: unexpected error: ${(error as Error).stack ?? String(error)}\n`);
    }
    process.exitCode = 1;
  },
);
