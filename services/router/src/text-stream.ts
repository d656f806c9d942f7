// Turns generated token ids into text deltas for streaming: decodes the whole completion each time (so
// multi-byte characters split across tokens come out whole), holds back a trailing partial character and
// any suffix that could begin a stop string, and reports the first stop string found.
import type { TextTokenizer } from "@expertmesh/model";

export class TextStream {
  private tokens: number[] = [];
  private emitted = 0; // characters of the decoded text already sent
  stopped = false;

  constructor(
    private readonly tok: TextTokenizer,
    private readonly stops: readonly string[],
  ) {}

  /** Adds a token; returns the text that can be sent now (possibly ""). */
  push(token: number): string {
    this.tokens.push(token);
    let text = this.tok.decode(this.tokens);
    const hit = this.firstStop(text);
    if (hit >= 0) {
      this.stopped = true;
      text = text.slice(0, hit);
      return this.take(text, text.length);
    }
    let safe = text.length;
    if (text.endsWith("\uFFFD")) safe--; // an incomplete UTF-8 sequence, completed by a later token
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, safe); n > 0; n--) {
        if (text.slice(safe - n, safe) === s.slice(0, n)) {
          safe -= n;
          break;
        }
      }
    }
    return this.take(text, safe);
  }

  /** The rest of the text once generation has ended. */
  flush(): string {
    let text = this.tok.decode(this.tokens);
    const hit = this.firstStop(text);
    if (hit >= 0) text = text.slice(0, hit);
    return this.take(text, text.length);
  }

  private firstStop(text: string): number {
    let first = -1;
    for (const s of this.stops) {
      const i = text.indexOf(s);
      if (i >= 0 && (first < 0 || i < first)) first = i;
    }
    return first;
  }

  private take(text: string, upTo: number): string {
    if (upTo <= this.emitted) return "";
    const out = text.slice(this.emitted, upTo);
    this.emitted = upTo;
    return out;
  }
}
