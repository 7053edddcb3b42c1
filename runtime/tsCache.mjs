// Node runs infrafed's TypeScript as-is by stripping its types, and the stripper (amaro, a WebAssembly build
// of swc) costs every isolate that loads it about 20 MiB that it never gives back: each component process,
// each worker thread of the all-in-one mode. These module hooks keep the stripped JavaScript of each file
// on disk and hand it to Node as plain JavaScript, so a component whose files are all kept never loads the
// stripper (measured: npm run bench, README "Footprint"). Stripping only replaces types with blanks, so
// lines and columns of stack traces stay those of the .ts file.
//
// Used as `node --import ./runtime/tsCache.mjs <file.ts>` (worker threads inherit it with the execArgv);
// `node runtime/tsCache.mjs --warm` strips every file of the deployables ahead of time (the Dockerfile).
// The cache lives in INFRAFED_TS_CACHE (default .local/ts-cache): one file per source file, named by its
// path, holding the hash of the source it was made from; a changed source is stripped again. A cache that
// cannot be written (a read-only image) only costs the stripping.
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { registerHooks, stripTypeScriptTypes } from 'node:module';
import { join } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL, URL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIR = process.env.INFRAFED_TS_CACHE || join(ROOT, '.local', 'ts-cache');
// the stripper's output may differ between Node versions: part of every source's hash
const hashOf = (source) => createHash('sha256').update(process.version).update('\0').update(source).digest('hex');
// by file: a module loaded twice under queries (\`main.ts?component=…\`, the all-in-one's adapters) is one entry
const entryOf = (url) =>
  join(
    DIR,
    `${createHash('sha256')
      .update(url.replace(/[?#].*$/, ''))
      .digest('hex')
      .slice(0, 32)}.js`,
  );
let writable = true;

/** The JavaScript of a TypeScript module: the kept one when its source is unchanged, else stripped now and kept. */
function javascriptOf(url, source) {
  const hash = hashOf(source);
  const entry = entryOf(url);
  try {
    const kept = readFileSync(entry, 'utf8');
    const newline = kept.indexOf('\n');
    if (kept.slice(0, newline) === `//${hash}`) return kept.slice(newline + 1);
  } catch {
    // not kept yet
  }
  // the same stripping Node does itself, without Node's notice that the function is experimental
  const emitWarning = process.emitWarning;
  process.emitWarning = (warning, ...rest) => {
    if (!String(warning).includes('stripTypeScriptTypes')) emitWarning.call(process, warning, ...rest);
  };
  let js;
  try {
    js = stripTypeScriptTypes(source, { mode: 'strip' });
  } finally {
    process.emitWarning = emitWarning;
  }
  if (writable) {
    try {
      mkdirSync(DIR, { recursive: true });
      // written whole, then renamed: another process may read the same entry meanwhile
      const temp = `${entry}.${process.pid}.${Math.random().toString(36).slice(2)}`;
      writeFileSync(temp, `//${hash}\n${js}`);
      renameSync(temp, entry);
    } catch {
      writable = false;
    }
  }
  return js;
}

const TYPESCRIPT = { 'module-typescript': 'module', 'commonjs-typescript': 'commonjs' };

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes('--warm')) {
  // ahead of time: every .ts file of the deployables (tests excluded)
  const dirs = [
    'schema',
    'runtime',
    'resources',
    'adapters',
    'controller',
    'subgraphs',
    'gateway',
    'rest-bridge',
    'platforms',
    'scripts',
    'cli',
  ];
  let count = 0;
  const walk = (dir) => {
    let names;
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== 'node_modules') walk(path);
      } else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) {
        javascriptOf(pathToFileURL(path).href, readFileSync(path, 'utf8'));
        count++;
      }
    }
  };
  for (const dir of dirs) walk(join(ROOT, dir));
  process.stdout.write(`${count} TypeScript files kept in ${DIR}${writable ? '' : ' (not writable: nothing kept)'}\n`);
} else {
  registerHooks({
    load(url, context, nextLoad) {
      const loaded = nextLoad(url, context);
      const format = TYPESCRIPT[loaded.format];
      if (!format || loaded.source === undefined || loaded.source === null) return loaded;
      const source = typeof loaded.source === 'string' ? loaded.source : Buffer.from(loaded.source).toString('utf8');
      return { format, source: javascriptOf(url, source), shortCircuit: true };
    },
  });
}
