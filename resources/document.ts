import { isNode, LineCounter, parseAllDocuments, stringify, type Document } from 'yaml';
import { toPath } from '../runtime/problems.ts';
import { RESOURCES_API_VERSION, resourceProject, type ResourceProject } from '../schema/resources.ts';

/** One mistake in a resources file: where it is (1-based line and column, path inside its document) and what is wrong. */
export interface DocumentProblem {
  /** 1-based index of the YAML document (project) in the file. */
  document: number;
  line: number;
  column: number;
  path: string;
  message: string;
}

/** At most this many bytes of a resources file (about 5,000 projects with everything). */
export const MAX_DOCUMENT_BYTES = 4 * 1024 * 1024;

/**
 * Reads a resources file (YAML documents, or JSON) and checks every project against the format: every
 * problem at once, each with its line, column and path. Empty documents (a trailing `---`) are skipped.
 */
export function parseResources(text: string): { projects: ResourceProject[]; problems: DocumentProblem[] } {
  if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) {
    return {
      projects: [],
      problems: [{ document: 1, line: 1, column: 1, path: '', message: `the file is larger than ${MAX_DOCUMENT_BYTES} bytes` }],
    };
  }
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const problems: DocumentProblem[] = [];
  const at = (offset: number) => {
    const pos = lineCounter.linePos(offset);
    return { line: pos.line, column: pos.col };
  };
  if (!Array.isArray(docs)) {
    // an empty stream
    return { projects: [], problems: [] };
  }
  const projects: ResourceProject[] = [];
  const names = new Map<string, number>();
  docs.forEach((doc: Document.Parsed, i) => {
    const document = i + 1;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) problems.push({ document, ...at(e.pos[0]), path: '', message: e.message.split('\n')[0] as string });
      return;
    }
    if (doc.contents === null) return;
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    const parsed = resourceProject.safeParse(value);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        problems.push({
          document,
          ...at(offsetOf(doc, issue.path as PropertyKey[])),
          path: toPath(issue.path as PropertyKey[]),
          message: issue.message,
        });
      }
      return;
    }
    const earlier = names.get(parsed.data.name);
    if (earlier !== undefined) {
      problems.push({
        document,
        ...at(offsetOf(doc, ['name'])),
        path: 'name',
        message: `project ${JSON.stringify(parsed.data.name)} is also document ${earlier}`,
      });
      return;
    }
    names.set(parsed.data.name, document);
    projects.push(parsed.data);
  });
  problems.sort((a, b) => a.line - b.line || a.column - b.column);
  return { projects, problems };
}

/** The start of the node at `path`, or of the nearest node above it that exists (a missing key: its map). */
function offsetOf(doc: Document.Parsed, path: PropertyKey[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n) as (string | number)[], true);
    if (isNode(node) && node.range) {
      // a key that is there but wrong: point at its value; a key that is missing: at the map holding it
      return node.range[0];
    }
  }
  return 0;
}

/** Projects as YAML documents, in the order given, keys in the format's order; empty lists left out. */
export function toYaml(projects: ResourceProject[], header = ''): string {
  const docs = projects.map((p) => {
    const out: Record<string, unknown> = { apiVersion: RESOURCES_API_VERSION, kind: 'Project', name: p.name };
    if (p.description) out.description = p.description;
    out.placements = p.placements;
    if (p.members.length > 0) out.members = p.members;
    if (p.networks.length > 0) out.networks = p.networks;
    if (p.accessRules.length > 0) out.accessRules = p.accessRules;
    if (Object.keys(p.quotas).length > 0) out.quotas = p.quotas;
    return stringify(out, { lineWidth: 0, flowCollectionPadding: false });
  });
  return header + docs.join('---\n');
}
