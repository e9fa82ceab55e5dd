// `cocoop remote --help` and each command's help against what its parser accepts, and against docs/CLI.md's remote
// table and the `cocoop remote` lines of README.md and docs/CLI.md: the help cannot omit an accepted option or list a
// refused one, and the docs cannot leave out an option or use a flag the command refuses. Also: a wrong command line
// is one line on stderr and exit 2, from the real command.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONNECTION_OPTIONS, HelpRequested, UsageError, allOptions, parseCommand, type CommandSpec } from '../../cli/remote/args.ts';
import { COMMANDS } from '../../cli/remote/main.ts';
import { REPO_ROOT, cocoop } from '../helpers/cli.ts';

const SPECS = COMMANDS.map((c) => c.spec);
const FLAG = /--[a-z][a-z0-9-]*/g;
const name = (s: CommandSpec) => s.words.join(' ');
/** No credentials from the test's environment or home: a command that got past its parser would say so. */
const NO_CREDENTIALS = { COCOOP_BASE_URL: '', COCOOP_API_KEY: '', XDG_CONFIG_HOME: '/nonexistent-cocoop-test' };

/** The flags a help text's option lines show, and whether each takes a value (a placeholder follows it). */
function optionLines(help: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const line of help.split('\n')) {
    const m = /^ {2}(?:-h, )?--([a-z][a-z0-9-]*)( \S+)? {2,}/.exec(line);
    if (m) out.set(m[1]!, m[2] !== undefined);
  }
  return out;
}

/** Does the command's parser accept `--flag` (with a value when it takes one)? */
function accepts(spec: CommandSpec, flag: string, takesValue: boolean): boolean {
  try {
    parseCommand(spec, [`--${flag}`, ...(takesValue ? ['1'] : []), '--help']);
  } catch (e) {
    if (e instanceof HelpRequested) return true;
    if (e instanceof UsageError && /Unknown option/.test(e.message)) return false;
    throw e;
  }
  throw new Error(`${name(spec)} --${flag}: parsed without stopping at --help`);
}

/** `cocoop remote <words> ...` invocations in a markdown file (continuation lines joined), with their flags. */
function invocations(markdown: string): { spec: CommandSpec; flags: string[]; line: string }[] {
  const found: { spec: CommandSpec; flags: string[]; line: string }[] = [];
  for (const line of markdown.replace(/\\\n\s*/g, ' ').split('\n')) {
    const m = /(?:^|\s|`)(?:npx )?cocoop remote ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?(.*)$/.exec(line);
    if (!m) continue;
    const spec = SPECS.find((s) => name(s) === `${m[1]} ${m[2]}`) ?? SPECS.find((s) => name(s) === m[1]);
    if (!spec) throw new Error(`no command "cocoop remote ${m[1]}${m[2] ? ` ${m[2]}` : ''}": ${line}`);
    const rest = spec.words.length === 2 ? m[3]! : `${m[2] ? ` ${m[2]}` : ''}${m[3]}`;
    const args = rest.split(/\s#\s|`/)[0]!; // drop a trailing shell comment or the end of inline code
    found.push({ spec, flags: [...new Set(args.match(FLAG) ?? [])].map((f) => f.slice(2)), line: line.trim() });
  }
  return found;
}

describe('cocoop remote help', () => {
  const helps = new Map<string, string>();
  let mainHelp = '';

  beforeAll(async () => {
    const runs = await Promise.all([cocoop(['remote', '--help']), ...SPECS.map((s) => cocoop(['remote', ...s.words, '--help']))]);
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    mainHelp = runs[0]!.stdout;
    SPECS.forEach((s, i) => helps.set(name(s), runs[i + 1]!.stdout));
  }, 120_000);

  it("each command's help has a line for every option its parser accepts, and -h prints the same", async () => {
    for (const spec of SPECS) {
      const shown = optionLines(helps.get(name(spec))!);
      expect([...shown.keys()].sort(), name(spec)).toEqual(Object.keys(allOptions(spec)).sort());
    }
    const short = await cocoop(['remote', 'train', '-h']);
    expect(short.code).toBe(0);
    expect(short.stdout).toBe(helps.get('train'));
  });

  it('every flag a help shows is accepted by that command, and an unlisted one is refused', () => {
    for (const spec of SPECS) {
      for (const [flag, takesValue] of optionLines(helps.get(name(spec))!)) expect(accepts(spec, flag, takesValue), `${name(spec)} --${flag}`).toBe(true);
      expect(accepts(spec, 'no-such-flag', false), `${name(spec)} --no-such-flag`).toBe(false);
    }
  });

  it('cocoop remote --help names every command with all its flags; cocoop --help points to it', async () => {
    const sections = mainHelp.split(/\n(?= {2}[a-z])/);
    for (const spec of SPECS) {
      const section = sections.find((s) => s.startsWith(`  ${name(spec)}  `));
      expect(section, name(spec)).toBeDefined();
      const flags = new Set(section!.match(FLAG));
      for (const key of Object.keys(allOptions(spec)).filter((k) => k !== 'help')) expect(flags.has(`--${key}`), `${name(spec)} --${key}`).toBe(true);
    }
    const top = await cocoop(['--help']);
    expect(top.stdout).toContain('cocoop remote --help');
  });

  it('docs/CLI.md has a row per remote command listing exactly its own options, and the shared ones once', () => {
    const md = readFileSync(join(REPO_ROOT, 'docs/CLI.md'), 'utf8');
    const section = md.slice(md.indexOf('## `cocoop remote`'));
    expect(section.length, 'docs/CLI.md has a "## `cocoop remote`" section').toBeLessThan(md.length);
    for (const spec of SPECS) {
      const row = section.split('\n').find((l) => l.startsWith(`| \`remote ${name(spec)}\`` ) || l.startsWith(`| \`remote ${name(spec)} `));
      expect(row, `docs/CLI.md row for remote ${name(spec)}`).toBeDefined();
      const listed = new Set(row!.split('` |')[0]!.match(FLAG));
      expect([...listed].sort(), name(spec)).toEqual(Object.keys(spec.options).map((k) => `--${k}`).sort());
      for (const p of spec.positionals ?? []) expect(row, `${name(spec)} ${p.name}`).toContain(p.name);
    }
    for (const flag of [...Object.keys(CONNECTION_OPTIONS), 'json']) expect(section, `--${flag}`).toContain(`\`--${flag}`);
  });

  it('every cocoop remote flag README.md and docs/CLI.md use is accepted by that command', () => {
    const uses = ['README.md', 'docs/CLI.md'].flatMap((f) => invocations(readFileSync(join(REPO_ROOT, f), 'utf8')));
    expect(uses.filter((u) => u.line.includes('npx cocoop remote')).length).toBeGreaterThan(3);
    for (const u of uses) {
      const shown = optionLines(helps.get(name(u.spec))!);
      for (const flag of u.flags) expect(shown.has(flag), `${u.line}: --${flag}`).toBe(true);
    }
  });
});

describe('cocoop remote: a wrong command line', () => {
  it.each([
    [['remote'], /^usage: cocoop remote/],
    [['remote', 'nope'], /^cocoop remote: unknown command "nope"/],
    [['remote', 'jobs'], /^usage: cocoop remote jobs <command>/],
    [['remote', 'jobs', 'nope'], /^cocoop remote: unknown command "jobs nope"/],
    [['remote', 'jobs', 'get'], /^cocoop remote jobs get: JOB_ID is missing/],
    [['remote', 'jobs', 'get', 'job_1', 'job_2'], /^cocoop remote jobs get: unexpected argument "job_2"/],
    [['remote', 'datasets', 'list', '--no-such-flag'], /^cocoop remote datasets list: Unknown option '--no-such-flag' \(try: /],
    [['remote', 'classify', '--image', 'x.png'], /^cocoop remote classify: --model is required/],
    [['remote', 'train', 'folder', '--epochs', 'two'], /^cocoop remote train: --epochs must be an integer ≥ 1, got "two"/],
    [['remote', 'train', '--wait'], /^cocoop remote train: give a FOLDER or --dataset ID/],
    [['remote', 'train', 'folder', '--cancel-on-interrupt'], /^cocoop remote train: --cancel-on-interrupt goes with --wait/],
    [['remote', 'datasets', 'list', '--limit', '500'], /^cocoop remote datasets list: --limit must be an integer in 1\.\.100, got "500"/],
    [['remote', 'usage', '--from', 'yesterday'], /^cocoop remote usage: --from must be a date YYYY-MM-DD/],
    [['remote', 'webhooks', 'update', 'whe_1'], /^cocoop remote webhooks update: nothing to change/],
    [['remote', 'login', '--base-url', 'http://127.0.0.1:1'], /^cocoop remote login: --api-key is required/],
  ])('%j → exit 2, one line (or the usage) on stderr, nothing on stdout', async (args, message) => {
    const r = await cocoop(args, 60_000, NO_CREDENTIALS);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(message);
    if (!/^usage:/.test(r.stderr)) expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
