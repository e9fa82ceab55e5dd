// Generated sections of hand-written docs: a benchmark replaces the text between its BEGIN and END
// markers and keeps everything else (the analysis written around it).
import { readFileSync, writeFileSync } from 'node:fs';

export function writeDocSection(file: string, name: string, content: string, newDocHeader: string): void {
  const begin = `<!-- ${name} begin -->`;
  const end = `<!-- ${name} end -->`;
  let doc: string;
  try {
    doc = readFileSync(file, 'utf8');
  } catch {
    doc = newDocHeader;
  }
  const section = `${begin}\n${content.trimEnd()}\n${end}`;
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + section + doc.slice(j + end.length) : doc.trimEnd() + '\n\n' + section + '\n';
  writeFileSync(file, doc);
}
