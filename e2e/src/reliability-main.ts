// `make test-reliability`: the long reliability suite (reliability-suite.ts), printing its table; exits 1
// when a row fails. EXPERTMESH_SOAK_S shortens the soak (default 600 s).
import { releaseReference } from "./reference.js";
import { runReliability } from "./reliability-suite.js";
import { reliabilityTable } from "./reliability-table.js";

const soakS = Number(process.env.EXPERTMESH_SOAK_S ?? 600);
const rows = await runReliability({ long: true, soakS, log: (l) => console.error(l) });
await releaseReference();
console.log(reliabilityTable(rows));
const failed = rows.filter((r) => !r.ok).length;
console.log(failed === 0 ? `\nreliability: all ${rows.length} rows held` : `\nreliability: ${failed} of ${rows.length} rows failed`);
process.exit(failed === 0 ? 0 : 1);
