import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HOOK = fileURLToPath(new URL('./tsCache.mjs', import.meta.url));

describe('the stripped-JavaScript cache (runtime/tsCache.mjs)', () => {
  it('runs a TypeScript module, keeps its JavaScript, and the next process runs it without loading the stripper', () => {
    const dir = mkdtempSync(join(tmpdir(), 'infrafed-tscache-'));
    try {
      const cache = join(dir, 'cache');
      const module = join(dir, 'module.ts');
      const main = join(dir, 'main.ts');
      // as in this repository: an ES module package (no syntax detection, which would strip to look)
      writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
      writeFileSync(module, 'export const answer = (n: number): number => n * 2;\n');
      // reports what it computed, whether Node's stripper was loaded, and the line of an error it throws
      writeFileSync(
        main,
        [
          "import { answer } from './module.ts';",
          'interface Report { value: number; stripper: boolean; line: string }',
          'let line = "";',
          'try { throw new Error("here"); } catch (e) { line = (e as Error).stack?.split("\\n")[1]?.match(/:(\\d+):\\d+\\)?$/)?.[1] ?? ""; }',
          "const report: Report = { value: answer(21), stripper: process.moduleLoadList.some((m: string) => m.includes('amaro')), line };",
          'console.log(JSON.stringify(report));',
        ].join('\n'),
      );
      const run = () =>
        JSON.parse(
          execFileSync(process.execPath, ['--import', HOOK, main], { env: { ...process.env, INFRAFED_TS_CACHE: cache }, encoding: 'utf8' }),
        ) as { value: number; stripper: boolean; line: string };

      // first run: stripped (the stripper loaded) and kept, one entry per file
      expect(run()).toEqual({ value: 42, stripper: true, line: '4' });
      expect(readdirSync(cache)).toHaveLength(2);
      // second run: from the cache only; the error's line is still the .ts file's
      expect(run()).toEqual({ value: 42, stripper: false, line: '4' });
      // a changed source is stripped again and replaces its entry
      writeFileSync(module, 'export const answer = (n: number): number => n * 3;\n');
      expect(run()).toEqual({ value: 63, stripper: true, line: '4' });
      expect(readdirSync(cache)).toHaveLength(2);
      expect(run()).toEqual({ value: 63, stripper: false, line: '4' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
