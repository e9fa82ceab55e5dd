// The hostile-input corpus (test/edge/hostile/suite.ts, docs/reliability.md section 3) against the edge on Node:
// real SQLite and the real S3BlobStore over s3rver. The same tables run against the Workers build inside workerd in
// test/edge/workers/hostile-input.test.ts.
import { hostileInputSuite } from './hostile/suite.ts';

hostileInputSuite('node');
