// The batcher with a step batch: every running sequence decodes in exactly one step per iteration, steps
// hold at most T sequences, and greedy output is the same as in-process generation whatever the schedule
// (the bundled model, all experts in process).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { BUNDLED_MODEL_DIR, generate, MoeRuntime, TextTokenizer } from "@expertmesh/model";
import { Batcher, type BatchRequest } from "./batcher.js";
import type { FromEngine } from "./protocol.js";

const PROMPTS = [
  "The state of the Union is",
  "Fellow-Citizens of the Senate and House of Representatives:",
  "We must never forget that",
  "The Congress",
  "Our foreign relations",
  "In the past year the Government has",
];
const MAX_TOKENS = 10;
let rt: MoeRuntime;
let prompts: number[][];
let reference: number[][];

before(async () => {
  rt = await MoeRuntime.load(BUNDLED_MODEL_DIR);
  const tok = TextTokenizer.load(BUNDLED_MODEL_DIR, rt.config);
  prompts = PROMPTS.map((p) => tok.encodePrompt(p));
  reference = await Promise.all(prompts.map(async (p) => (await generate(rt, [p], { maxTokens: MAX_TOKENS })).tokens[0]));
});
after(() => rt.release());

async function run(schedule: { mode: "arrival" | "regroup"; stepBatch: number }) {
  const tokens = new Map<number, number[]>();
  const steps: { prefill: boolean; ids: number[] }[] = [];
  const batcher = new Batcher(
    rt,
    8,
    (m: FromEngine) => {
      if (m.type === "token") tokens.set(m.id, [...(tokens.get(m.id) ?? []), m.token]);
      if (m.type === "error") assert.fail(`request ${m.id}: ${m.message}`);
    },
    {
      wrapStep: (members: readonly BatchRequest[], step, go) => {
        steps.push({ prefill: step.prefill, ids: members.map((m) => m.id) });
        return go();
      },
    },
    schedule,
  );
  const deadline = Date.now() + 60_000;
  prompts.forEach((prompt, id) => {
    batcher.submit({
      id,
      prompt,
      sampling: { maxTokens: MAX_TOKENS, temperature: 0, topP: 1, seed: 1 },
      deadline,
      arrived: performance.now(),
    });
  });
  await batcher.idle();
  return { tokens: prompts.map((_, id) => tokens.get(id) ?? []), steps };
}

for (const schedule of [
  { mode: "arrival", stepBatch: 0 },
  { mode: "arrival", stepBatch: 2 },
  { mode: "regroup", stepBatch: 2 },
  { mode: "regroup", stepBatch: 4 },
] as const) {
  test(`${schedule.mode} with step batch ${schedule.stepBatch}: greedy tokens equal in-process generation, each sequence once per iteration`, async () => {
    const { tokens, steps } = await run(schedule);
    assert.deepEqual(tokens, reference);
    // Every decode step holds at most T sequences; each request decodes MAX_TOKENS - 1 tokens, one step each.
    const decode = steps.filter((st) => !st.prefill);
    const T = schedule.stepBatch || Infinity;
    for (const st of decode) assert.ok(st.ids.length <= T, `a step of ${st.ids.length}`);
    for (let id = 0; id < PROMPTS.length; id++)
      assert.equal(decode.filter((st) => st.ids.includes(id)).length, MAX_TOKENS - 1, `request ${id}`);
    // Iterations (a new one starts when a sequence comes back): disjoint steps, as few as T allows.
    let iteration: number[] = [];
    let count = 0;
    const close = () => assert.equal(count, Math.ceil(iteration.length / T) || 1, `iteration of ${iteration.length} in ${count} steps`);
    for (const st of decode) {
      if (st.ids.some((id) => iteration.includes(id))) {
        close();
        [iteration, count] = [[], 0];
      }
      iteration.push(...st.ids);
      count++;
    }
    close();
  });
}
