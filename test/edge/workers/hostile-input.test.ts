// The hostile-input corpus (test/edge/hostile/suite.ts, docs/reliability.md section 3) against the Workers build of the
// edge inside workerd (`wrangler dev` local mode, started once for the file): local D1, S3 on s3rver through aws4fetch.
// The same tables as test/edge/hostile-input.test.ts (Node); answers that differ here say why in their case.
import { hostileInputSuite } from '../hostile/suite.ts';

hostileInputSuite('workerd');
