// A strict parser of the Prometheus text exposition format 0.0.4, for tests of the /metrics endpoints. Written here
// because the npm parser (parse-prometheus-text-format 1.1.1, last released 2019) skips lines it cannot read and drops
// the labels, _sum and _count of prom-client's histograms; this one throws on anything it does not recognise.
// Checks: line grammar (names, label escapes, float values, optional timestamp), one TYPE/HELP per family given before
// its samples, samples of a family contiguous, sample names that fit the family's type, no duplicate series, and for
// histograms: every series has buckets with `le`, cumulative counts, a +Inf bucket equal to _count, and a _sum.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
export type Labels = Record<string, string>;

export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

export interface Family {
  name: string;
  type: MetricType;
  help?: string;
  samples: Sample[];
}

export class PrometheusTextError extends Error {}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set<MetricType>(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<MetricType, string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/** A value as Go's strconv.ParseFloat reads it (the format's definition): special values in any case. */
function parseFloatStrict(s: string, line: number): number {
  if (/^\+?inf(inity)?$/i.test(s)) return Infinity;
  if (/^-inf(inity)?$/i.test(s)) return -Infinity;
  if (/^nan$/i.test(s)) return NaN; // prom-client writes "Nan"
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new PrometheusTextError(`line ${line}: bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** `{a="x",b="y"}` starting at text[0] === '{'; returns the labels and the rest after '}'. */
function parseLabels(text: string, line: number): { labels: Labels; rest: string } {
  const labels: Labels = {};
  let i = 1;
  const fail = (why: string): never => {
    throw new PrometheusTextError(`line ${line}: ${why} in ${JSON.stringify(text)}`);
  };
  for (;;) {
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const eq = text.indexOf('=', i);
    if (eq < 0) fail('label without =');
    const name = text.slice(i, eq).trim();
    if (!LABEL_NAME.test(name)) fail(`bad label name ${JSON.stringify(name)}`);
    if (name in labels) fail(`label ${name} twice`);
    if (text[eq + 1] !== '"') fail('label value not quoted');
    let j = eq + 2;
    let value = '';
    for (;;) {
      const ch = text[j];
      if (ch === undefined) fail('unterminated label value');
      if (ch === '"') break;
      if (ch === '\\') {
        const next = text[j + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else fail(`bad escape \\${next}`);
        j += 2;
        continue;
      }
      value += ch;
      j++;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail('expected , or }');
  }
}

function seriesKey(name: string, labels: Labels): string {
  return `${name}{${Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',')}}`;
}

function checkHistogram(f: Family): void {
  const series = new Map<string, { buckets: { le: number; value: number }[]; sum?: number; count?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = seriesKey(f.name, rest);
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new PrometheusTextError(`${s.name} without le`);
      entry.buckets.push({ le: parseFloatStrict(le, 0), value: s.value });
    } else if (le !== undefined) {
      throw new PrometheusTextError(`${s.name} with le`);
    } else if (s.name === `${f.name}_sum`) entry.sum = s.value;
    else entry.count = s.value;
  }
  for (const [key, e] of series) {
    if (e.sum === undefined || e.count === undefined) throw new PrometheusTextError(`${key}: histogram without _sum or _count`);
    const sorted = [...e.buckets].sort((a, b) => a.le - b.le);
    if (sorted.length === 0 || sorted[sorted.length - 1].le !== Infinity) throw new PrometheusTextError(`${key}: no +Inf bucket`);
    sorted.forEach((b, i) => {
      if (i > 0 && b.value < sorted[i - 1].value) throw new PrometheusTextError(`${key}: buckets not cumulative at le=${b.le}`);
    });
    if (sorted[sorted.length - 1].value !== e.count) throw new PrometheusTextError(`${key}: +Inf bucket ${sorted[sorted.length - 1].value} != _count ${e.count}`);
  }
}

/** Parses the exposition; throws PrometheusTextError on anything malformed. */
export function parsePrometheusText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: Family | null = null;
  const closed = new Set<string>();

  const family = (name: string, line: number): Family => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', samples: [] };
      families.set(name, f);
    }
    if (current !== f) {
      if (closed.has(name)) throw new PrometheusTextError(`line ${line}: samples of ${name} are not contiguous`);
      if (current) closed.add(current.name);
      current = f;
    }
    return f;
  };

  /** The family a sample name belongs to: the declared family whose type allows this suffix. */
  const familyOfSample = (name: string): string => {
    for (const f of families.values()) {
      if (SUFFIXES[f.type].some((suffix) => `${f.name}${suffix}` === name)) return f.name;
    }
    return name;
  };

  text.split('\n').forEach((raw, idx) => {
    const line = idx + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(raw);
      if (!m) return; // a comment
      const [, kind, name, rest = ''] = m;
      if (!METRIC_NAME.test(name)) throw new PrometheusTextError(`line ${line}: bad metric name ${JSON.stringify(name)}`);
      const f = family(name, line);
      if (kind === 'TYPE') {
        if (f.samples.length > 0) throw new PrometheusTextError(`line ${line}: TYPE of ${name} after its samples`);
        if (seen.has(`TYPE ${name}`)) throw new PrometheusTextError(`line ${line}: second TYPE of ${name}`);
        if (!TYPES.has(rest.trim() as MetricType)) throw new PrometheusTextError(`line ${line}: unknown type ${JSON.stringify(rest)}`);
        f.type = rest.trim() as MetricType;
        seen.add(`TYPE ${name}`);
      } else {
        if (seen.has(`HELP ${name}`)) throw new PrometheusTextError(`line ${line}: second HELP of ${name}`);
        f.help = rest.replace(/\\n/g, '\n').replace(/\\\\/g, '\\');
        seen.add(`HELP ${name}`);
      }
      return;
    }
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(raw);
    if (!nameMatch) throw new PrometheusTextError(`line ${line}: not a sample: ${JSON.stringify(raw)}`);
    const name = nameMatch[0];
    let rest = raw.slice(name.length);
    let labels: Labels = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    const parts = rest.trim().split(/\s+/);
    if (!/^\s/.test(rest) || parts.length < 1 || parts.length > 2 || parts[0] === '') {
      throw new PrometheusTextError(`line ${line}: expected "value [timestamp]" after ${name}: ${JSON.stringify(raw)}`);
    }
    const value = parseFloatStrict(parts[0], line);
    if (parts.length === 2 && !/^-?\d+$/.test(parts[1])) throw new PrometheusTextError(`line ${line}: bad timestamp ${JSON.stringify(parts[1])}`);
    const f = family(familyOfSample(name), line);
    if (!SUFFIXES[f.type].some((suffix) => `${f.name}${suffix}` === name)) {
      throw new PrometheusTextError(`line ${line}: sample ${name} does not fit ${f.type} ${f.name}`);
    }
    const key = seriesKey(name, labels);
    if (seen.has(key)) throw new PrometheusTextError(`line ${line}: duplicate series ${key}`);
    seen.add(key);
    f.samples.push({ name, labels, value });
  });
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

/** The value of the series `name` with exactly `labels`; undefined when there is none. */
export function sampleValue(families: Map<string, Family>, name: string, labels: Labels = {}): number | undefined {
  const key = seriesKey(name, labels);
  for (const f of families.values()) {
    for (const s of f.samples) if (seriesKey(s.name, s.labels) === key) return s.value;
  }
  return undefined;
}
