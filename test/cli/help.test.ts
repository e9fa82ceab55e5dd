// `cocoop --help` and `cocoop <command> --help` against what each command's parser accepts, and
// against the flags docs/CLI.md and README.md use: the help cannot omit an accepted option, list one
// that is refused, and the docs cannot use a flag the command refuses.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../gpu-worker/cli.ts';
import { HelpRequested, UsageError } from '../../gpu-worker/cli/usage.ts';
import { cocoop, REPO_ROOT } from '../helpers/cli.ts';

const NAMES = COMMANDS.map((c) => c.spec.name);
const FLAG = /--[a-z][a-z0-9-]*/g;

/** The flags a help text's option lines show, and whether each takes a value (a placeholder follows it). */
function optionLines(help: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const line of help.split('\n')) {
    const m = /^ {2}(?:-h, )?--([a-z][a-z0-9-]*)( \S+)? {2,}/.exec(line);
    if (m) out.set(m[1], m[2] !== undefined);
  }
  return out;
}

/** Does the command's own entry point accept `--flag` (with a value when it takes one)? */
async function accepts(name: string, flag: string, takesValue: boolean): Promise<boolean> {
  const command = COMMANDS.find((c) => c.spec.name === name)!;
  try {
    // --help last: a command whose parser accepted everything before it stops there, before any work.
    await command.run([`--${flag}`, ...(takesValue ? ['1'] : []), '--help']);
  } catch (e) {
    if (e instanceof HelpRequested) return true;
    if (e instanceof UsageError && /Unknown option/.test(e.message)) return false;
    throw e;
  }
  throw new Error(`${name} --${flag}: ran instead of printing its help`);
}

/** `cocoop <cmd> ...` invocations in a markdown file's code blocks (continuation lines joined). */
function invocations(markdown: string): { command: string; flags: string[]; line: string }[] {
  const joined = markdown.replace(/\\\n\s*/g, ' ');
  const found: { command: string; flags: string[]; line: string }[] = [];
  for (const line of joined.split('\n')) {
    const m = /(?:^|\s)(?:npx )?cocoop ([a-z-]+)(.*)$/.exec(line);
    if (!m || !NAMES.includes(m[1])) continue;
    const args = m[2].split(/\s#\s/)[0]; // drop a trailing shell comment
    found.push({ command: m[1], flags: [...new Set(args.match(FLAG) ?? [])].map((f) => f.slice(2)), line: line.trim() });
  }
  return found;
}

describe('cocoop help', () => {
  const helps = new Map<string, string>();
  let mainHelp = '';

  beforeAll(async () => {
    const runs = await Promise.all([cocoop(['--help']), ...NAMES.map((n) => cocoop([n, '--help']))]);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    mainHelp = runs[0].stdout;
    NAMES.forEach((n, i) => helps.set(n, runs[i + 1].stdout));
  }, 60_000);

  it('each command\'s help has a line for every option its parser accepts, and -h prints the same', async () => {
    for (const { spec } of COMMANDS) {
      const shown = optionLines(helps.get(spec.name)!);
      expect([...shown.keys()].sort(), spec.name).toEqual([...Object.keys(spec.options), 'json', 'help'].sort());
    }
    const short = await cocoop(['train', '-h']);
    expect(short.code).toBe(0);
    expect(short.stdout).toBe(helps.get('train'));
  });

  it('every flag a help shows is accepted by that command, and an unlisted one is refused', async () => {
    for (const name of NAMES) {
      for (const [flag, takesValue] of optionLines(helps.get(name)!)) {
        expect(await accepts(name, flag, takesValue), `${name} --${flag}`).toBe(true);
      }
      expect(await accepts(name, 'no-such-flag', false), `${name} --no-such-flag`).toBe(false);
    }
  });

  it('cocoop --help names every command with all its flags', () => {
    const sections = mainHelp.split(/\n(?= {2}[a-z])/);
    for (const { spec } of COMMANDS) {
      const section = sections.find((s) => s.startsWith(`  ${spec.name} `));
      expect(section, spec.name).toBeDefined();
      const flags = new Set(section!.match(FLAG));
      for (const name of [...Object.keys(spec.options), 'json']) expect(flags.has(`--${name}`), `${spec.name} --${name}`).toBe(true);
    }
  });

  it('docs/CLI.md lists exactly the flags each command accepts', () => {
    const md = readFileSync(join(REPO_ROOT, 'docs/CLI.md'), 'utf8');
    for (const name of NAMES) {
      const row = md.split('\n').find((l) => l.startsWith(`| \`${name} `));
      expect(row, `docs/CLI.md table row for ${name}`).toBeDefined();
      const listed = new Set(row!.split('` |')[0].match(FLAG));
      expect([...listed].sort(), name).toEqual([...optionLines(helps.get(name)!).keys()].filter((f) => f !== 'help').map((f) => `--${f}`).sort());
    }
  });

  it('every cocoop flag README.md and docs/CLI.md use is in that command\'s help', () => {
    const uses = ['README.md', 'docs/CLI.md'].flatMap((f) => invocations(readFileSync(join(REPO_ROOT, f), 'utf8')));
    expect(uses.filter((u) => u.line.includes('npx cocoop')).length).toBeGreaterThan(5);
    for (const u of uses) {
      const shown = optionLines(helps.get(u.command)!);
      for (const flag of u.flags) expect(shown.has(flag), `${u.line}: --${flag}`).toBe(true);
    }
  });
});
