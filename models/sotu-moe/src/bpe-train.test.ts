import assert from "node:assert/strict";
import { test } from "node:test";
import { Tokenizer } from "@huggingface/tokenizers";
import { bytesToUnicode, tokenizerJson, trainBpe } from "./bpe-train.js";

const text = "the cat sat on the mat. the cat ate the rat; the rat sat. Ünïcödé and 123 456!";

test("bytesToUnicode maps the 256 bytes to 256 distinct printable characters", () => {
  const t = bytesToUnicode();
  assert.equal(new Set(t).size, 256);
  assert.equal(t[" ".charCodeAt(0)], "Ġ");
  assert.equal(t["a".charCodeAt(0)], "a");
});

test("the trained tokenizer.json loads in @huggingface/tokenizers, merges frequent words, and round-trips text", () => {
  const bpe = trainBpe([text, text], 300, 1);
  assert.deepEqual(bpe.merges[0], ["a", "t"]); // the most frequent pair: cat, sat, mat, ate, rat
  const tok = new Tokenizer(tokenizerJson(bpe, ["<|endoftext|>"]), {});
  const enc = tok.encode(text, { add_special_tokens: false });
  assert.ok(enc.tokens.includes("Ġthe"), enc.tokens.join("|"));
  assert.ok(enc.ids.length < Buffer.byteLength(text) / 2);
  assert.equal(tok.decode(enc.ids), text);
  assert.equal(tok.encode("<|endoftext|>hi", { add_special_tokens: false }).ids[0], 0);
});
