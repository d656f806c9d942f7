import assert from "node:assert/strict";
import { test } from "node:test";
import { InvalidArgumentError } from "@expertmesh/runtime";
import { parseChatRequest, parseCompletionRequest } from "./openai-requests.js";

const field = (name: string) => (e: unknown) => e instanceof InvalidArgumentError && e.field === name;

test("a completion request maps OpenAI's fields onto the sampling options; unset ones stay unset", () => {
  const r = parseCompletionRequest({
    model: "m",
    prompt: "hi",
    max_tokens: 5,
    temperature: 0.5,
    top_p: 0.9,
    seed: 7,
    stop: "x",
    user: "u",
  });
  assert.deepEqual(r, {
    model: "m",
    prompt: "hi",
    stream: false,
    includeUsage: false,
    sampling: { maxTokens: 5, temperature: 0.5, topP: 0.9, seed: 7, stop: ["x"] },
  });
  assert.deepEqual(parseCompletionRequest({ model: "m", prompt: ["hi"] }).sampling, { maxTokens: 0, stop: [] });
});

test("what would change OpenAI's answer and is not implemented is refused, naming the field", () => {
  assert.throws(() => parseCompletionRequest({ model: "m", prompt: "hi", n: 3 }), field("n"));
  assert.throws(() => parseCompletionRequest({ model: "m", prompt: "hi", echo: true }), field("echo"));
  assert.throws(() => parseCompletionRequest({ model: "m", prompt: "hi", logprobs: 2 }), field("logprobs"));
  assert.throws(() => parseCompletionRequest({ model: "m", prompt: [1, 2] }), field("prompt"));
  assert.throws(() => parseChatRequest({ model: "m", messages: [{ role: "user", content: "x" }], tools: [{}] }), field("tools"));
  assert.throws(
    () => parseChatRequest({ model: "m", messages: [{ role: "user", content: "x" }], frequency_penalty: 1 }),
    field("frequency_penalty"),
  );
});

test("malformed fields are refused with the field named", () => {
  assert.throws(() => parseCompletionRequest([]), field(""));
  assert.throws(() => parseCompletionRequest({ prompt: "x" }), field("model"));
  assert.throws(() => parseCompletionRequest({ model: "m", prompt: "x", max_tokens: 0 }), field("max_tokens"));
  assert.throws(() => parseCompletionRequest({ model: "m", prompt: "x", temperature: "hot" }), field("temperature"));
  assert.throws(() => parseCompletionRequest({ model: "m", prompt: "x", seed: -1 }), field("seed"));
  assert.throws(
    () => parseCompletionRequest({ model: "m", prompt: "x", stream_options: { include_usage: true } }),
    field("stream_options"),
  );
  assert.throws(() => parseChatRequest({ model: "m", messages: [] }), field("messages"));
  assert.throws(() => parseChatRequest({ model: "m", messages: [{ content: "x" }] }), field("messages[0].role"));
  assert.throws(
    () => parseChatRequest({ model: "m", messages: [{ role: "user", content: [{ type: "image_url" }] }] }),
    field("messages[0].content[0]"),
  );
});

test("chat: text content parts are joined, max_completion_tokens wins over max_tokens, include_usage is read", () => {
  const r = parseChatRequest({
    model: "m",
    messages: [
      {
        role: "user",
        content: [
          { type: "text", text: "a" },
          { type: "text", text: "b" },
        ],
      },
    ],
    max_tokens: 9,
    max_completion_tokens: 3,
    stream: true,
    stream_options: { include_usage: true },
  });
  assert.deepEqual(r.messages, [{ role: "user", content: "ab" }]);
  assert.equal(r.sampling.maxTokens, 3);
  assert.equal(r.includeUsage, true);
});
