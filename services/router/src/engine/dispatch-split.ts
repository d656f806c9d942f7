// One shard's expert work for one layer, cut into messages of at most `maxBytes` of hidden states each
// (gRPC caps a message at 32 MiB, limits.ts: a prefill at D = 2048, k = 8 and ~780 tokens is 51 MB).
// An expert whose rows do not fit in one message is cut by rows into consecutive pieces, one per message
// (a message still holds at most one entry per expert); the outputs come back in the same shape, so the
// pieces' outputs are joined in row order. One message in the common case: no copies then.
//
// Letters (glossary: docs/ARCHITECTURE.md): D hidden size.
import type { ExpertWork } from "@expertmesh/model";

/** Rows [start, start + rows) of work item `item`. */
export interface WorkPiece {
  readonly item: number;
  readonly start: number;
  readonly rows: number;
}

/** Pieces per message, in item then row order; every row of every item is in exactly one piece. */
export function splitWork(work: readonly ExpertWork[], D: number, maxBytes: number): WorkPiece[][] {
  const rowBytes = 4 * D;
  const maxRows = Math.max(1, Math.floor(maxBytes / rowBytes)); // a row is never cut
  const messages: WorkPiece[][] = [];
  let current: WorkPiece[] = [];
  let used = 0; // rows in `current`
  work.forEach((w, item) => {
    let start = 0;
    do {
      if (used === maxRows) {
        messages.push(current);
        current = [];
        used = 0;
      }
      const rows = Math.min(w.rows - start, maxRows - used);
      current.push({ item, start, rows });
      used += rows;
      start += rows;
    } while (start < w.rows);
  });
  if (current.length) messages.push(current);
  return messages;
}

/** The hidden states of one piece: a view when it is the whole item. */
export function pieceInput(work: readonly ExpertWork[], p: WorkPiece, D: number): Float32Array {
  const w = work[p.item];
  return p.start === 0 && p.rows === w.rows ? w.x : w.x.subarray(p.start * D, (p.start + p.rows) * D);
}

/** Each item's output [rows, D] from the pieces' outputs (`outputs[m][j]` answers `messages[m][j]`). */
export function joinOutputs(
  work: readonly ExpertWork[],
  messages: readonly WorkPiece[][],
  outputs: readonly Float32Array[][],
  D: number,
): Float32Array[] {
  const joined: (Float32Array | undefined)[] = new Array(work.length);
  const whole = (p: WorkPiece) => p.start === 0 && p.rows === work[p.item].rows;
  messages.forEach((pieces, m) => {
    pieces.forEach((p, j) => {
      const out = outputs[m][j];
      if (whole(p)) {
        joined[p.item] = out;
        return;
      }
      let target = joined[p.item];
      if (target === undefined) joined[p.item] = target = new Float32Array(work[p.item].rows * D);
      target.set(out, p.start * D);
    });
  });
  return joined.map((o, i) => o ?? new Float32Array(work[i].rows * D));
}
