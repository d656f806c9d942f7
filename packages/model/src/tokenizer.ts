// The checkpoint's tokenizer.json through @huggingface/tokenizers (offline). Prompts start with the BOS
// token when the model has one and the tokenizer's post-processor did not add it.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Tokenizer } from "@huggingface/tokenizers";
import type { MoeConfig } from "./config.js";
import { CheckpointError } from "./errors.js";

export class TextTokenizer {
  private constructor(
    private readonly tok: Tokenizer,
    private readonly bos: number | null,
  ) {}

  static load(dir: string, config: MoeConfig): TextTokenizer {
    const read = (name: string, required: boolean): object => {
      const file = join(dir, name);
      try {
        return JSON.parse(readFileSync(file, "utf8"));
      } catch (e) {
        if (!required && (e as NodeJS.ErrnoException).code === "ENOENT") return {};
        throw new CheckpointError(
          file,
          (e as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : `unreadable: ${(e as Error).message}`,
          { cause: e },
        );
      }
    };
    return new TextTokenizer(new Tokenizer(read("tokenizer.json", true), read("tokenizer_config.json", false)), config.bosTokenId);
  }

  /** Token ids of a prompt, BOS first. */
  encodePrompt(text: string): number[] {
    const ids = this.encode(text);
    return this.bos != null && ids[0] !== this.bos ? [this.bos, ...ids] : ids;
  }

  /** Token ids of text, without special tokens. */
  encode(text: string): number[] {
    return this.tok.encode(text, { add_special_tokens: false }).ids;
  }

  decode(ids: readonly number[]): string {
    return this.tok.decode([...ids], { skip_special_tokens: true });
  }
}
