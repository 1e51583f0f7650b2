import { Document, isMap, isSeq } from 'yaml';

import { parseRegistry } from '../../registry/index.js';
import type { ConvertedRegistry } from './convert.js';

/** Where the YAML came from, for its header. */
export interface ImportSource {
  readonly repoPath: string;
  readonly project: string;
  readonly registryPath: string;
}

/** A titled list for the header comment; nothing when the list is empty. */
function commentSection(title: string, lines: readonly string[]): string[] {
  return lines.length === 0 ? [] : ['', ` ${title}`, ...lines.map((line) => `   - ${line}`)];
}

/** Writes the node at `path` on one line (`[user, item]`), and with `items`, each of its items. */
function oneLine(doc: Document, path: (string | number)[], items: boolean): void {
  const node: unknown = doc.getIn(path, true);
  if (!isSeq(node)) return;
  if (!items) node.flow = true;
  else for (const item of node.items) if (isMap(item)) item.flow = true;
}

/**
 * The Cassette registry YAML, headed by comments naming its source and listing everything
 * that was not imported (or imported differently). It is checked as `cassette apply` checks
 * it, so a file that prints is one that applies.
 */
export function renderRegistryYaml(converted: ConvertedRegistry, source: ImportSource): string {
  const doc = new Document(converted.document);
  // As in schema/example.yaml: an entity or feature per line.
  oneLine(doc, ['entities'], true);
  converted.document.feature_views.forEach((_, i) => {
    oneLine(doc, ['feature_views', i, 'entities'], false);
    oneLine(doc, ['feature_views', i, 'features'], true);
  });
  doc.commentBefore = [
    ` Imported from the Feast repository ${source.repoPath}`,
    ` (project ${source.project}, registry ${source.registryPath}) by \`cassette import-feast\`.`,
    ...commentSection('Not imported (Cassette cannot represent it):', converted.notImported),
    ...commentSection('Imported differently:', converted.changed),
  ].join('\n');
  const yaml = doc.toString({ lineWidth: 0 });
  parseRegistry(yaml, 'the imported registry');
  return yaml;
}
