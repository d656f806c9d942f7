import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { InvalidInputError, LimitError } from "./errors.js";
import { generate } from "./generate.js";
import { MoeRuntime } from "./runtime.js";
import { BUNDLED_MODEL_DIR, writeTinyModel } from "./testing.js";

let rt: MoeRuntime;
before(async () => {
  rt = await MoeRuntime.load(BUNDLED_MODEL_DIR);
});
after(async () => rt.release());

const prompts = [
  [0, 464, 1181],
  [0, 300, 301, 302, 303, 304, 305, 306, 307, 308, 309],
  [0, 1000],
];

test("a batch of prompts of different lengths generates what each prompt generates alone (greedy)", async () => {
  const batched = await generate(rt, prompts, { maxTokens: 12 });
  for (const [i, p] of prompts.entries()) {
    const alone = await generate(rt, [p], { maxTokens: 12 });
    assert.deepEqual(batched.tokens[i], alone.tokens[0], `prompt ${i}`);
  }
  assert.deepEqual(batched.finish, ["length", "length", "length"]);
});

test("sampling is reproducible for a seed and differs across seeds", async () => {
  const opts = { maxTokens: 16, temperature: 1, topP: 0.95 };
  const a = await generate(rt, [prompts[0]], { ...opts, seed: 1 });
  const b = await generate(rt, [prompts[0]], { ...opts, seed: 1 });
  const c = await generate(rt, [prompts[0]], { ...opts, seed: 2 });
  assert.deepEqual(a.tokens, b.tokens);
  assert.notDeepEqual(a.tokens, c.tokens);
});

test("generation stops at the EOS token with finish reason eos", async () => {
  const dir = join(mkdtempSync(join(tmpdir(), "eos-")), "m");
  writeTinyModel(dir);
  const tiny = await MoeRuntime.load(dir);
  const first = (await generate(tiny, [[0, 1, 2]], { maxTokens: 3 })).tokens[0][0];
  await tiny.release();
  writeTinyModel(dir, { config: { eos_token_id: first } });
  const withEos = await MoeRuntime.load(dir);
  const r = await generate(withEos, [[0, 1, 2]], { maxTokens: 10 });
  await withEos.release();
  assert.deepEqual(r.tokens[0], [first]);
  assert.deepEqual(r.finish, ["eos"]);
});

test("requests beyond the context or with bad sampling options get errors naming the limit and value", async () => {
  const long = new Array(rt.config.maxPositions - 3).fill(5);
  await assert.rejects(
    generate(rt, [long], { maxTokens: 10 }),
    (e) =>
      e instanceof LimitError &&
      e.limit === rt.config.maxPositions &&
      e.value === long.length + 10 &&
      /context length is 512/.test(e.message),
  );
  await assert.rejects(generate(rt, [[0]], { maxTokens: 0 }), (e) => e instanceof LimitError && e.field === "max_tokens");
  await assert.rejects(
    generate(rt, [[0]], { maxTokens: 4, temperature: -1 }),
    (e) => e instanceof InvalidInputError && e.field === "temperature",
  );
  await assert.rejects(
    rt.step([{ sequence: rt.newSequence(), tokens: [rt.config.vocabSize] }]),
    /token id 4096 is outside the vocabulary \[0, 4096\)/,
  );
});
