import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { BUNDLED_MODEL_DIR } from "@expertmesh/model";
import { InvalidArgumentError } from "@expertmesh/runtime";
import { ChatTemplate } from "./chat-template.js";

test("the bundled model's template renders a question and opens the answer", () => {
  const t = ChatTemplate.load(BUNDLED_MODEL_DIR)!;
  const text = t.render([
    { role: "system", content: "Be brief." },
    { role: "user", content: "Why?" },
    { role: "assistant", content: "Because." },
    { role: "user", content: "And?" },
  ]);
  assert.equal(text, "Be brief.\n\nQuestion: Why?\nAnswer: Because.<|endoftext|>\nQuestion: And?\nAnswer:");
});

test("raise_exception in a template is a 400 naming messages", () => {
  assert.throws(
    () => ChatTemplate.load(BUNDLED_MODEL_DIR)!.render([{ role: "tool", content: "x" }]),
    (e) => e instanceof InvalidArgumentError && e.field === "messages" && /got tool/.test(e.message),
  );
});

test('a model without chat_template has none; a list of named templates uses "default" and the special tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), "chat-template-"));
  try {
    writeFileSync(join(dir, "tokenizer_config.json"), JSON.stringify({ eos_token: "</s>" }));
    assert.equal(ChatTemplate.load(dir), undefined);
    writeFileSync(
      join(dir, "tokenizer_config.json"),
      JSON.stringify({
        bos_token: { content: "<s>" },
        eos_token: "</s>",
        chat_template: [
          { name: "tool_use", template: "T" },
          { name: "default", template: "{{ bos_token }}{% for m in messages %}[{{ m.content }}]{% endfor %}{{ eos_token }}" },
        ],
      }),
    );
    assert.equal(ChatTemplate.load(dir)!.render([{ role: "user", content: "a" }]), "<s>[a]</s>");
  } finally {
    rmSync(dir, { recursive: true });
  }
});
