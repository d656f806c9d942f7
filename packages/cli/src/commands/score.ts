// expertmesh score --model DIR --file TEXT [--json]: mean NLL per token and perplexity of a text file.
import { readFileSync } from "node:fs";
import { score, TextTokenizer } from "@expertmesh/model";
import { parseFlags, UsageError, fileFlagError } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";

export async function scoreCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, { ...modelFlags, file: { type: "string" }, json: { type: "boolean" } });
  if (v.file === undefined) throw new UsageError("--file is required");
  let text: string;
  try {
    text = readFileSync(v.file, "utf8");
  } catch (e) {
    throw fileFlagError("--file", v.file, e);
  }
  const rt = await loadModel(v);
  try {
    const tok = TextTokenizer.load(rt.checkpoint.dir, rt.config);
    const t0 = performance.now();
    const r = await score(rt, tok.encodePrompt(text));
    const seconds = (performance.now() - t0) / 1000;
    if (v.json) {
      console.log(
        JSON.stringify({
          file: v.file,
          tokens: r.tokens,
          mean_nll: r.meanNll,
          perplexity: r.perplexity,
          tokens_per_s: Math.round(r.tokens / seconds),
        }),
      );
    } else {
      console.log(`${v.file}: ${r.tokens} tokens, mean NLL ${r.meanNll.toFixed(4)} nats/token, perplexity ${r.perplexity.toFixed(3)}`);
    }
  } finally {
    await rt.release();
  }
}
