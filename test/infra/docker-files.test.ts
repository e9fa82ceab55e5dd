// The container files read without Docker (docs/deploy.md "Containers"): every Dockerfile's COPY finds its files in
// the build context that .dockerignore leaves, each image holds every source file and package its CMD loads, runs
// as a non-root user in production mode, and sets only environment variables the code reads; the compose file
// parses, builds from these Dockerfiles, passes only variables the code reads, takes its secrets from the env file
// (whose example holds no secret) and checks the health of every long-running service.
// test/infra/docker-install.test.ts runs the install steps and the CMDs themselves.
import { readFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/processes.ts';
import { COMPOSE_PATH, type ComposeService, composeVariables, envExample, readCompose } from './docker-compose-file.ts';
import { type ParsedDockerfile, buildContext, copiedFiles, filesOfSource, readDockerfile } from './docker-image.ts';
import { importClosure } from './docker-import-closure.ts';

const DOCKERFILES = ['infra/docker/worker.Dockerfile', 'infra/docker/worker-cuda.Dockerfile', 'infra/docker/edge.Dockerfile'];
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

/** Variables read by a library, not by this repository's code; each with where. */
const READ_BY_LIBRARIES: Record<string, string> = {
  NODE_ENV: 'Node libraries (production mode)',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'the AWS SDK (its Node-version notice; docs/deploy.md section 2)',
};

/** The TypeScript entry of a `node bin/run-ts.mjs FILE` command. */
function entryOf(command: string[]): string[] {
  expect(command[0], command.join(' ')).toBe('node');
  return command[1] === 'bin/run-ts.mjs' ? ['bin/run-ts.mjs', command[2]!] : [command[1]!];
}

function codeReads(files: string[], name: string): boolean {
  const re = new RegExp(`\\b${name}\\b`);
  return files.some((f) => re.test(readFileSync(join(ROOT, f), 'utf8')));
}

const parsed = new Map<string, ParsedDockerfile>(DOCKERFILES.map((p) => [p, readDockerfile(p)]));

describe.each(DOCKERFILES)('%s', (path) => {
  const df = parsed.get(path)!;
  const files = copiedFiles(df.final);
  const entry = entryOf(df.final.cmd ?? []);

  it('every COPY from the build context finds files there, and every --from names an earlier stage', () => {
    for (const [i, stage] of df.stages.entries()) {
      for (const step of stage.steps) {
        if (step.kind !== 'copy') continue;
        if (step.from === null) for (const s of step.sources) expect(filesOfSource(s), `${path}: COPY ${s}`).not.toEqual([]);
        else expect(df.stages.slice(0, i).map((st) => st.name), `${path}: COPY --from=${step.from}`).toContain(step.from);
      }
    }
  });

  it('the image holds every file its CMD loads, and the packages it loads are production dependencies', () => {
    expect(df.final.entrypoint).toBeNull();
    const closure = importClosure(entry);
    expect(closure.files.length).toBeGreaterThan(10);
    expect(closure.files.filter((f) => !files.has(f)), 'loaded by the CMD but not in the image').toEqual([]);
    expect(closure.packages.filter((p) => !(p in pkg.dependencies)), 'not a production dependency').toEqual([]);
  });

  it('runs as a non-root user, in production mode, with the ONNX cache and scratch space writable paths, and a health check', () => {
    expect(df.final.user).toMatch(/^[1-9]\d*(:[1-9]\d*)?$/);
    expect(df.final.env.NODE_ENV).toBe('production');
    expect(df.final.healthcheck?.[0]).toBe('node');
    for (const stage of df.stages) expect(stage.image, 'base images carry a tag').toMatch(/:(?!latest$)[\w.-]+$/);
    // install.sh: only the kinds it takes.
    const installs = df.stages.flatMap((s) => s.steps).filter((s) => s.kind === 'run' && s.command.startsWith('infra/docker/install.sh'));
    expect(installs.length).toBeGreaterThan(0);
    for (const run of installs) expect((run as { command: string }).command).toMatch(/^infra\/docker\/install\.sh (check )?(worker|edge)( --cuda)?$/);
  });

  it('every ENV it sets is read by the code its CMD loads (or by a named library)', () => {
    const closure = importClosure(entry).files;
    for (const name of Object.keys(df.final.env)) {
      if (name in READ_BY_LIBRARIES) continue;
      expect(codeReads(closure, name), `${path} sets ${name}, which nothing its CMD loads reads`).toBe(true);
    }
  });
});

describe('the build context (.dockerignore)', () => {
  it('is an allowlist: no tests, docs, git data, local data, env files or node_modules are sent', () => {
    const context = buildContext();
    expect(context).toContain('package-lock.json');
    for (const f of context) expect(f, f).not.toMatch(/^(test|docs|lab|scripts|\.git|\.data|node_modules)\/|(^|\/)\.env$|\.cocoop-cache\//);
  });

  it('the CUDA image installs the CUDA provider and checks its libraries on its own base; the CPU images never run that download', () => {
    const runs = (p: string) => parsed.get(p)!.stages.flatMap((s) => s.steps.filter((x) => x.kind === 'run').map((x) => (x as { command: string }).command));
    expect(runs('infra/docker/worker-cuda.Dockerfile')).toEqual(expect.arrayContaining(['infra/docker/install.sh worker --cuda', 'infra/docker/install.sh check worker --cuda']));
    expect(parsed.get('infra/docker/worker-cuda.Dockerfile')!.final.image).toMatch(/^nvidia\/cuda:\d+\.\d+\.\d+-cudnn-runtime-ubuntu/);
    for (const p of ['infra/docker/worker.Dockerfile', 'infra/docker/edge.Dockerfile']) expect(runs(p).join('\n')).not.toMatch(/--cuda|ONNXRUNTIME_NODE_INSTALL/);
  });
});

describe(COMPOSE_PATH, () => {
  const compose = readCompose();
  const services = Object.entries(compose.services);
  const ours = services.filter(([, s]) => s.image?.startsWith('cocoop-'));

  it('parses, and each of our services builds from a Dockerfile here with the repository as its context', () => {
    expect(ours.map(([n]) => n).sort()).toEqual(['bucket', 'edge', 'worker', 'worker-cuda']);
    for (const [name, s] of ours) {
      expect(s.build, name).toBeDefined();
      expect(posix.normalize(posix.join('infra/docker', s.build!.context)), name).toBe('.');
      expect(DOCKERFILES, name).toContain(s.build!.dockerfile);
      // One image name per Dockerfile.
      for (const [other, o] of ours) if (o.build!.dockerfile === s.build!.dockerfile) expect(o.image, `${name} vs ${other}`).toBe(s.image);
    }
    for (const [name, s] of services.filter(([, s]) => !s.image?.startsWith('cocoop-'))) {
      expect(s.build, name).toBeUndefined();
      expect(s.image, `${name}: a pinned image`).toMatch(/:(?!latest$)[\w.-]+$/);
    }
  });

  it('every service it depends on exists; long-running services have a health check; the edge keeps SQLite on a named volume', () => {
    for (const [name, s] of services) {
      for (const dep of Object.keys(s.depends_on ?? {})) expect(Object.keys(compose.services), `${name} depends on ${dep}`).toContain(dep);
      if (s.restart !== 'no') expect(s.healthcheck?.test?.length, `${name} has a healthcheck`).toBeGreaterThan(0);
    }
    const dataDir = parsed.get('infra/docker/edge.Dockerfile')!.final.env.DATA_DIR;
    expect(compose.services.edge!.volumes?.map((v) => v.split('#')[0]!.trim())).toContain(`edge-data:${dataDir}`);
    expect(Object.keys(compose.volumes ?? {})).toContain('edge-data');
    expect(compose.services.worker!.deploy?.replicas).toBe('${WORKERS:-1}');
  });

  it('runs in each of our services a command whose files are in its image, and passes it only variables that code reads', () => {
    for (const [name, s] of ours) {
      const df = parsed.get(s.build!.dockerfile)!;
      const closure = importClosure(entryOf(s.command ?? df.final.cmd ?? [])).files;
      const files = copiedFiles(df.final);
      expect(closure.filter((f) => !files.has(f)), `${name}: loaded but not in ${df.path}`).toEqual([]);
      for (const v of Object.keys(s.environment ?? {})) expect(codeReads(closure, v), `${name}: ${v}`).toBe(true);
    }
  });

  it('the edge and the workers agree: tokens, S3 settings, the inference port and the model name', () => {
    const { edge, worker } = compose.services as Record<string, ComposeService>;
    for (const k of ['WORKER_TOKEN', 'INFERENCE_TOKEN', 'S3_ENDPOINT', 'S3_BUCKET', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
      expect(worker!.environment![k], k).toBe(edge!.environment![k]);
    }
    const workerEnv = parsed.get('infra/docker/worker.Dockerfile')!.final.env;
    expect(edge!.environment!.INFERENCE_URL).toBe(`http://worker:${workerEnv.INFERENCE_PORT}`);
    expect(worker!.environment!.EDGE_URL).toBe(`http://edge:${parsed.get('infra/docker/edge.Dockerfile')!.final.env.PORT}`);
    expect(posix.basename(workerEnv.MODEL_DIR!)).toBe('toy-clip');
    expect(String(edge!.environment!.BASE_MODEL)).toBe('${BASE_MODEL:-toy-clip}');
  });

  it('takes every setting from the env file, whose example names each one and holds no secret', () => {
    const example = envExample();
    const names = example.map((e) => e.name);
    expect(composeVariables().filter((v) => !names.includes(v)), 'variables missing from .env.example').toEqual([]);
    expect(names.filter((n) => !composeVariables().includes(n)), '.env.example names the compose file does not use').toEqual([]);
    for (const secret of ['ADMIN_TOKEN', 'WORKER_TOKEN', 'INFERENCE_TOKEN', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY']) {
      const line = example.find((e) => e.name === secret);
      expect(line, secret).toMatchObject({ value: '', commented: false });
      expect(JSON.stringify(compose), secret).toContain(`\${${secret}:?`);
    }
    expect(readFileSync(join(ROOT, 'infra/docker/.gitignore'), 'utf8').split('\n')).toContain('.env');
  });
});

describe('infra/k8s/worker-deployment.yaml', () => {
  it('names the worker Dockerfile as the source of its image', () => {
    const text = readFileSync(join(ROOT, 'infra/k8s/worker-deployment.yaml'), 'utf8');
    expect(text).toContain('infra/docker/worker.Dockerfile');
    const cmd = text.match(/command: (\[.*\])/)![1]!;
    expect(JSON.parse(cmd)).toEqual(parsed.get('infra/docker/worker.Dockerfile')!.final.cmd);
  });
});
