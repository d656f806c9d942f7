// The model's chat template: `chat_template` from tokenizer_config.json (a Jinja string, or a list of
// named templates of which "default" is used), rendered with @huggingface/jinja the way Hugging Face
// transformers' apply_chat_template does: messages, add_generation_prompt, bos_token, eos_token.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { InvalidArgumentError } from "@expertmesh/runtime";
import type { ChatMessage } from "./openai-requests.js";

export class ChatTemplate {
  private constructor(
    private readonly template: Template,
    private readonly specialTokens: Record<string, string>,
  ) {}

  /** The template of a model directory; undefined when it has none (chat completions then answer 400). */
  static load(modelDir: string): ChatTemplate | undefined {
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(readFileSync(join(modelDir, "tokenizer_config.json"), "utf8")) as Record<string, unknown>;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new Error(`${join(modelDir, "tokenizer_config.json")}: ${(e as Error).message}`, { cause: e });
    }
    let source = config.chat_template;
    if (Array.isArray(source)) source = (source as { name?: string; template?: string }[]).find((t) => t.name === "default")?.template;
    if (typeof source !== "string") return undefined;
    const token = (key: string): string => {
      const t = config[key];
      return typeof t === "string"
        ? t
        : typeof (t as { content?: unknown })?.content === "string"
          ? (t as { content: string }).content
          : "";
    };
    return new ChatTemplate(new Template(source), { bos_token: token("bos_token"), eos_token: token("eos_token") });
  }

  /** The prompt text for `messages`, ending where the assistant's reply begins. */
  render(messages: readonly ChatMessage[]): string {
    try {
      return this.template.render({ messages, add_generation_prompt: true, ...this.specialTokens });
    } catch (e) {
      throw new InvalidArgumentError("messages", `the model's chat template refused them: ${(e as Error).message}`);
    }
  }
}
