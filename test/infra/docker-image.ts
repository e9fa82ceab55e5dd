// The container images without Docker: infra/docker/*.Dockerfile read with dockerfile-ast, their build context as
// Docker would send it (the repository's files minus .dockerignore), and an image's filesystem assembled in a temp
// folder by replaying its COPY instructions and its `RUN infra/docker/install.sh …` steps (the only RUN lines that
// install anything the image runs; the others add a system user or build tools and are listed, not run).
import { type ChildProcess, spawn, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix } from 'node:path';
import { type Copy as AstCopy, DockerfileParser, type Instruction } from 'dockerfile-ast';
import { ROOT } from '../helpers/processes.ts';

// A CommonJS package whose types declare an ES default export.
const ignore = createRequire(import.meta.url)('@balena/dockerignore') as typeof import('@balena/dockerignore').default;

export interface CopyStep {
  /** --from=<stage or image>, or null: from the build context. */
  from: string | null;
  sources: string[];
  /** Absolute path in the image (relative destinations resolved against the WORKDIR). */
  dest: string;
}

export interface Stage {
  name: string | null;
  /** The FROM image with build ARGs' defaults filled in. */
  image: string;
  workdir: string;
  /** COPY and RUN in file order. */
  steps: ({ kind: 'copy' } & CopyStep | { kind: 'run'; command: string })[];
  env: Record<string, string>;
  user: string | null;
  cmd: string[] | null;
  entrypoint: string[] | null;
  healthcheck: string[] | null;
}

export interface ParsedDockerfile {
  path: string;
  args: Record<string, string>;
  stages: Stage[];
  /** The last stage: the image. */
  final: Stage;
}

function jsonForm(ins: Instruction): string[] | null {
  const strings = (ins as unknown as { getJSONStrings?: () => { getJSONValue(): string }[] }).getJSONStrings?.() ?? [];
  return strings.length ? strings.map((s) => s.getJSONValue()) : null;
}

function substitute(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)\}|\$(\w+)/g, (m, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? m);
}

/** Reads a Dockerfile (path relative to the repository root). */
export function readDockerfile(path: string): ParsedDockerfile {
  const df = DockerfileParser.parse(readFileSync(join(ROOT, path), 'utf8'));
  const args: Record<string, string> = {};
  for (const arg of df.getInitialARGs()) {
    const prop = arg.getProperty();
    if (prop) args[prop.getName()] = prop.getValue() ?? '';
  }
  const stages: Stage[] = [];
  let stage: Stage | null = null;
  for (const ins of df.getInstructions()) {
    const keyword = ins.getKeyword();
    const argValues = ins.getArguments().map((a) => a.getValue());
    if (keyword === 'FROM') {
      const from = ins as unknown as { getImage(): string | null; getBuildStage(): string | null };
      stage = {
        name: from.getBuildStage(),
        image: substitute(from.getImage() ?? '', args),
        workdir: '/',
        steps: [],
        env: {},
        user: null,
        cmd: null,
        entrypoint: null,
        healthcheck: null,
      };
      stages.push(stage);
      continue;
    }
    if (!stage) continue; // ARGs before the first FROM
    if (keyword === 'WORKDIR') stage.workdir = posix.resolve(stage.workdir, argValues[0]!);
    else if (keyword === 'USER') stage.user = argValues[0] ?? null;
    else if (keyword === 'ENV') {
      for (const p of (ins as unknown as { getProperties(): { getName(): string; getValue(): string | null }[] }).getProperties()) {
        stage.env[p.getName()] = p.getValue() ?? '';
      }
    } else if (keyword === 'COPY' || keyword === 'ADD') {
      const flags = (ins as AstCopy).getFlags();
      const from = flags.find((f) => f.getName() === 'from')?.getValue() ?? null;
      const paths = jsonForm(ins) ?? argValues;
      const dest = paths[paths.length - 1]!;
      stage.steps.push({
        kind: 'copy',
        from,
        sources: paths.slice(0, -1),
        dest: posix.resolve(stage.workdir, dest) + (dest.endsWith('/') ? '/' : ''),
      });
    } else if (keyword === 'RUN') {
      stage.steps.push({ kind: 'run', command: ins.getRawArgumentsContent() ?? argValues.join(' ') });
    } else if (keyword === 'CMD') stage.cmd = jsonForm(ins);
    else if (keyword === 'ENTRYPOINT') stage.entrypoint = jsonForm(ins);
    else if (keyword === 'HEALTHCHECK') {
      const raw = ins.getRawArgumentsContent() ?? '';
      const json = raw.slice(raw.indexOf('['));
      stage.healthcheck = raw.includes('CMD') ? (JSON.parse(json.replace(/\\\n/g, '')) as string[]) : null;
    }
  }
  if (!stages.length) throw new Error(`${path}: no FROM`);
  return { path, args, stages, final: stages[stages.length - 1]! };
}

let contextCache: string[] | null = null;

/** The build context's files (posix paths from the repository root): what exists in the work tree and is neither
 * git-ignored nor excluded by .dockerignore. */
export function buildContext(): string[] {
  if (contextCache !== null) return contextCache;
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter((p) => p && existsSync(join(ROOT, p)) && statSync(join(ROOT, p)).isFile());
  const ig = ignore().add(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));
  const files = ig.filter([...new Set(listed)]).sort();
  contextCache = files;
  return files;
}

/** The context files a COPY source names: the file itself, or every file under the folder. */
export function filesOfSource(source: string): string[] {
  const clean = posix.normalize(source).replace(/\/$/, '');
  return buildContext().filter((f) => f === clean || f.startsWith(clean + '/'));
}

/** Where a context file lands: `dest` for a file copied to a file name, under `dest` otherwise. */
function landing(file: string, source: string, dest: string, manySources: boolean): string {
  const clean = posix.normalize(source).replace(/\/$/, '');
  if (file === clean) return dest.endsWith('/') || manySources ? posix.join(dest, posix.basename(file)) : dest;
  return posix.join(dest, file.slice(clean.length + 1));
}

/** The repository files (paths from the stage's WORKDIR) that a stage copies from the build context. */
export function copiedFiles(stage: Stage): Set<string> {
  const out = new Set<string>();
  for (const step of stage.steps) {
    if (step.kind !== 'copy' || step.from !== null) continue;
    for (const source of step.sources) {
      for (const file of filesOfSource(source)) out.add(posix.relative(stage.workdir, landing(file, source, step.dest, step.sources.length > 1)));
    }
  }
  return out;
}

export interface AssembledImage {
  /** The temp folder standing for the image's / ; the WORKDIR is appFolder. */
  root: string;
  appFolder: string;
  final: Stage;
  /** RUN lines of every stage that were not replayed (system packages, users, npm itself). */
  skippedRuns: string[];
  /** Output of the replayed install steps. */
  installLog: string;
}

const INSTALL_RUN = /^infra\/docker\/install\.sh(\s|$)/;

function runInstall(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((ok, fail) => {
    const child = spawn('bash', ['-c', command], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', fail);
    child.once('exit', (code) => (code === 0 ? ok(out) : fail(new Error(`${command} (in ${cwd}) exited ${code}:\n${out}`))));
  });
}

/**
 * Builds `dockerfile`'s image into `into` (a folder per stage, each standing for that stage's /): COPY from the
 * build context and from earlier stages, and the install.sh RUN steps, with `env` (e.g. PATH, the npm cache).
 * A COPY --from an image that is not a stage here (e.g. node from the Node image) is an error: such a Dockerfile
 * cannot be replayed without Docker.
 */
export async function assembleImage(dockerfile: ParsedDockerfile, into: string, env: NodeJS.ProcessEnv): Promise<AssembledImage> {
  const roots = new Map<string, string>();
  const skippedRuns: string[] = [];
  let installLog = '';
  let last = '';
  for (const [i, stage] of dockerfile.stages.entries()) {
    const root = join(into, stage.name ?? `stage-${i}`);
    mkdirSync(join(root, stage.workdir), { recursive: true });
    for (const step of stage.steps) {
      if (step.kind === 'run') {
        if (INSTALL_RUN.test(step.command)) {
          const workdir = join(root, stage.workdir);
          installLog += await runInstall(step.command, workdir, { ...env, ...stage.env });
        } else skippedRuns.push(step.command);
        continue;
      }
      if (step.from !== null) {
        const fromRoot = roots.get(step.from);
        if (!fromRoot) throw new Error(`${dockerfile.path}: COPY --from=${step.from} names no stage built here`);
        for (const source of step.sources) {
          const target = join(root, step.dest.endsWith('/') ? posix.join(step.dest, posix.basename(source)) : step.dest);
          mkdirSync(dirname(target), { recursive: true });
          renameSync(join(fromRoot, source), target); // each stage is built once here: moving is copying
        }
        continue;
      }
      for (const source of step.sources) {
        const files = filesOfSource(source);
        if (!files.length) throw new Error(`${dockerfile.path}: COPY ${source}: nothing in the build context`);
        for (const file of files) {
          const target = join(root, landing(file, source, step.dest, step.sources.length > 1));
          mkdirSync(dirname(target), { recursive: true });
          cpSync(join(ROOT, file), target, { preserveTimestamps: true });
        }
      }
    }
    if (stage.name) roots.set(stage.name, root);
    last = root;
  }
  return { root: last, appFolder: join(last, dockerfile.final.workdir), final: dockerfile.final, skippedRuns, installLog };
}

/** An absolute path of the image (e.g. an ENV value like /data) as a folder of the assembled image. */
export function imagePath(img: AssembledImage, path: string): string {
  const workdir = img.final.workdir.replace(/\/$/, '');
  if (path === workdir || path.startsWith(workdir + '/')) return join(img.appFolder, path.slice(workdir.length));
  return join(img.root, path);
}

export interface Started {
  child: ChildProcess;
  lines: string[];
  /** The first line matching `re` (polls the collected output). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

/** Runs a `node …` command (a CMD, a compose command) in the image's WORKDIR with exactly `env`. */
export function startInImage(img: AssembledImage, command: string[], env: NodeJS.ProcessEnv): Started {
  if (command[0] !== 'node') throw new Error(`not a node command: ${command.join(' ')}`);
  const child = spawn(process.execPath, command.slice(1), { cwd: img.appFolder, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const listeners = new Set<() => void>();
  let partial = '';
  const onData = (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop()!;
    lines.push(...parts);
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let code: number | null | undefined;
  const exited = new Promise<number | null>((ok) =>
    child.once('exit', (c) => {
      if (partial) lines.push(partial);
      code = c;
      for (const l of listeners) l();
      ok(c);
    }),
  );
  const waitFor = (re: RegExp, timeoutMs = 60_000) =>
    new Promise<RegExpMatchArray>((ok, fail) => {
      const done = (err: Error | null, m?: RegExpMatchArray) => {
        listeners.delete(check);
        clearTimeout(timer);
        if (err) fail(err);
        else ok(m!);
      };
      const why = (what: string) => new Error(`${command.join(' ')}: no line matching ${re} (${what}); output:\n${lines.slice(-30).join('\n')}`);
      const check = () => {
        for (const line of lines) {
          const m = line.match(re);
          if (m) return done(null, m);
        }
        if (code !== undefined) done(why(`exited ${code}`));
      };
      const timer = setTimeout(() => done(why(`nothing after ${timeoutMs} ms`)), timeoutMs);
      listeners.add(check);
      check();
    });
  return { child, lines, waitFor, exited };
}
