// The tenant isolation matrix (test/edge/isolation/matrix.ts, docs/security.md) against the Workers build of the edge
// inside workerd (`wrangler dev` local mode, started once for the file): local D1, KV and Queues, S3 on s3rver. The
// same matrix as test/edge/isolation-matrix.test.ts (Node).
import { isolationMatrixSuite } from '../isolation/matrix.ts';

isolationMatrixSuite('workerd');
