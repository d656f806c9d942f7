import assert from "node:assert/strict";
import { test } from "node:test";
import { BUNDLED_MODEL_DIR, readConfig, TextTokenizer } from "@expertmesh/model";
import { TextStream } from "./text-stream.js";

const tok = TextTokenizer.load(BUNDLED_MODEL_DIR, readConfig(BUNDLED_MODEL_DIR));

function run(text: string, stops: string[]) {
  const s = new TextStream(tok, stops);
  const deltas: string[] = [];
  for (const id of tok.encode(text)) {
    deltas.push(s.push(id));
    if (s.stopped) break;
  }
  if (!s.stopped) deltas.push(s.flush());
  return { text: deltas.join(""), deltas, stopped: s.stopped };
}

test("without stop strings the deltas concatenate to the decoded text", () => {
  const text = "The Congress shall assemble at least once in every year.";
  assert.equal(run(text, []).text, text);
});

test("a stop string ends the text before it, and no delta ever contains part of it", () => {
  const r = run("We hold these truths to be self-evident, that all men", [" to be", "xyz"]);
  assert.equal(r.stopped, true);
  assert.equal(r.text, "We hold these truths");
  for (const d of r.deltas) assert.ok(!d.includes(" to"), JSON.stringify(d));
});

test("text that only looks like the start of a stop string is released when it turns out not to be", () => {
  const r = run("The union of states and the union of hearts", ["union jack"]);
  assert.equal(r.stopped, false);
  assert.equal(r.text, "The union of states and the union of hearts");
});
