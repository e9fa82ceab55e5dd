// The strict text-format parser of the metrics tests (test/helpers/prometheus-text.ts) rejects what Prometheus would
// not read, so a malformed /metrics fails the tests instead of being skipped over.
import { describe, expect, it } from 'vitest';
import { PrometheusTextError, parsePrometheusText, sampleValue } from '../../helpers/prometheus-text.ts';

const GOOD = [
  '# HELP req_total Requests "answered" \\\\ by route.',
  '# TYPE req_total counter',
  'req_total{route="/v1/a/:id",method="GET"} 3',
  'req_total{route="x\\"y\\\\z\\n",method="GET"} 1 1700000000000',
  '# TYPE lat_seconds histogram',
  'lat_seconds_bucket{le="0.1",route="/x"} 1',
  'lat_seconds_bucket{le="1",route="/x"} 2',
  'lat_seconds_bucket{le="+Inf",route="/x"} 2',
  'lat_seconds_sum{route="/x"} 0.6',
  'lat_seconds_count{route="/x"} 2',
  '# TYPE g gauge',
  'g Nan',
  'g{a="b"} -Inf',
  '',
].join('\n');

describe('parsePrometheusText', () => {
  it('reads counters, histograms and gauges with escaped labels, timestamps and special values', () => {
    const m = parsePrometheusText(GOOD);
    expect(sampleValue(m, 'req_total', { route: '/v1/a/:id', method: 'GET' })).toBe(3);
    expect(sampleValue(m, 'req_total', { route: 'x"y\\z\n', method: 'GET' })).toBe(1);
    expect(sampleValue(m, 'lat_seconds_count', { route: '/x' })).toBe(2);
    expect(sampleValue(m, 'lat_seconds_bucket', { route: '/x', le: '1' })).toBe(2);
    expect(sampleValue(m, 'g')).toBeNaN();
    expect(sampleValue(m, 'g', { a: 'b' })).toBe(-Infinity);
    expect(sampleValue(m, 'g', { a: 'c' })).toBeUndefined();
    expect(m.get('req_total')).toMatchObject({ type: 'counter', help: 'Requests "answered" \\ by route.' });
  });

  it.each([
    ['an unterminated label set', 'x{a="b" 1'],
    ['an unquoted label value', 'x{a=b} 1'],
    ['a line that is no sample', 'garbage line here'],
    ['a value that is no number', 'x abc'],
    ['too many fields', 'x 1 2 3'],
    ['an unknown type', '# TYPE x bogus\nx 1'],
    ['a TYPE after samples', 'x 1\n# TYPE x gauge'],
    ['a duplicate series', 'x{a="1"} 1\nx{a="1"} 2'],
    ['samples of a family split', '# TYPE x gauge\nx 1\n# TYPE y gauge\ny 1\nx{a="2"} 1'],
    ['a histogram sample without its suffix', '# TYPE h histogram\nh 1'],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1'],
    ['a histogram whose +Inf is not its count', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1'],
    ['buckets that are not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2'],
    ['a bad escape', 'x{a="\\t"} 1'],
  ])('rejects %s', (_, text) => {
    expect(() => parsePrometheusText(text)).toThrow(PrometheusTextError);
  });
});
