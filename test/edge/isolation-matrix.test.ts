// The tenant isolation matrix (test/edge/isolation/matrix.ts, docs/security.md) against the edge on Node with SQLite
// and s3rver. The same matrix runs against the Workers build inside workerd in test/edge/workers/isolation-matrix.test.ts.
import { isolationMatrixSuite } from './isolation/matrix.ts';

isolationMatrixSuite('node');
