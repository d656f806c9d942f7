// Byte-level BPE training (GPT-2 conventions) producing a Hugging Face `tokenizer.json`.
//
// Words are the pieces of GPT-2's pre-tokenisation regex; each word is a sequence of byte symbols
// (bytes mapped to printable characters by `bytesToUnicode`). Training repeatedly merges the most
// frequent adjacent pair (ties broken by the pair's text, so the result is deterministic), updating
// pair counts only for the words that contain the merged pair.

export const GPT2_SPLIT = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's reversible map from the 256 byte values to printable unicode characters. */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable.includes(b) ? String.fromCharCode(b) : String.fromCharCode(256 + extra++);
  }
  return table;
}

export interface BpeResult {
  vocab: Map<string, number>;
  merges: [string, string][];
}

/** Learns merges until the vocabulary (bytes + merges + `reserved` special ids) reaches `vocabSize`. */
export function trainBpe(texts: Iterable<string>, vocabSize: number, reserved: number): BpeResult {
  const byteChar = bytesToUnicode();
  const encoder = new TextEncoder();
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const m of text.matchAll(GPT2_SPLIT)) wordCounts.set(m[0], (wordCounts.get(m[0]) ?? 0) + 1);
  }
  const words: string[][] = [];
  const counts: number[] = [];
  for (const [w, c] of wordCounts) {
    words.push(Array.from(encoder.encode(w), (b) => byteChar[b]));
    counts.push(c);
  }

  const vocab = new Map<string, number>();
  for (let b = 0; b < 256; b++) vocab.set(byteChar[b], reserved + b);

  const SEP = "\u0000";
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addWord = (wi: number, sign: number) => {
    const sym = words[wi];
    for (let i = 0; i + 1 < sym.length; i++) {
      const key = sym[i] + SEP + sym[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * counts[wi]);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addWord(wi, +1);

  const merges: [string, string][] = [];
  while (vocab.size + reserved < vocabSize) {
    let best = "";
    let bestCount = 0;
    for (const [key, c] of pairCount) {
      if (c > bestCount || (c === bestCount && c > 0 && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (bestCount < 2) break;
    const [a, b] = best.split(SEP) as [string, string];
    const merged = a + b;
    merges.push([a, b]);
    vocab.set(merged, vocab.size + reserved);
    for (const wi of pairWords.get(best) ?? []) {
      addWord(wi, -1);
      const sym = words[wi];
      const out: string[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          out.push(merged);
          i++;
        } else out.push(sym[i]);
      }
      words[wi] = out;
      addWord(wi, +1);
    }
    pairWords.delete(best);
    pairCount.delete(best);
    for (const [key, c] of pairCount) if (c === 0) pairCount.delete(key);
  }
  return { vocab, merges };
}

/** The Hugging Face `tokenizer.json` for a byte-level BPE with the given special tokens at ids 0..n-1. */
export function tokenizerJson(bpe: BpeResult, specials: string[]): object {
  const vocab: Record<string, number> = {};
  specials.forEach((s, i) => {
    vocab[s] = i;
  });
  for (const [tok, id] of bpe.vocab) vocab[tok] = id;
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, id) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: bpe.merges.map(([a, b]) => `${a} ${b}`),
    },
  };
}
