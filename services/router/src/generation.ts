// One generation as the public API sees it: validated request in, text deltas and token ids out, ending
// with finish reason and usage. Generate streams it; Complete collects it.
import { FinishReason, type Usage } from "@expertmesh/proto";
import type { CallContext } from "@expertmesh/runtime";
import type { EngineTimings } from "./engine/protocol.js";
import { validateGeneration } from "./request-validation.js";
import type { RouterState } from "./router-state.js";
import { TextStream } from "./text-stream.js";
import type { SamplingOptions } from "@expertmesh/proto";

export interface GenerationChunk {
  tokenIds: number[];
  text: string;
  finishReason: FinishReason;
  usage: Usage | undefined;
}

/** What a generation needs of its call: its deadline and cancellation (a gRPC call or an HTTP request). */
export type GenerationContext = Pick<CallContext, "signal" | "deadline">;

const duration = (ms: number) => ({ seconds: Math.floor(ms / 1000), nanos: Math.round((ms % 1000) * 1e6) });

export async function* runGeneration(
  state: RouterState,
  req: { model: string; prompt: string; sampling?: SamplingOptions | undefined },
  ctx: GenerationContext,
): AsyncGenerator<GenerationChunk> {
  const started = performance.now();
  const clock = state.metrics.request();
  const v = validateGeneration(req, state.modelName, state.config, state.model, state.tokenizer);
  const text = new TextStream(state.tokenizer, v.stops);
  clock.prompt(v.prompt.length);
  const stopAll = new AbortController();
  const signal = AbortSignal.any([ctx.signal, stopAll.signal]);
  let completion = 0;
  let finish = FinishReason.FINISH_REASON_UNSPECIFIED;
  let timings: EngineTimings = { queueMs: 0, prefillMs: 0, decodeMs: 0 };
  for await (const e of state.engine.submit(v.prompt, v.sampling, ctx.deadline, signal)) {
    if (e.type === "token") {
      completion++;
      clock.token();
      const delta = text.push(e.token);
      if (text.stopped) {
        finish = FinishReason.FINISH_REASON_STOP_STRING;
        yield { tokenIds: [e.token], text: delta, finishReason: FinishReason.FINISH_REASON_UNSPECIFIED, usage: undefined };
        stopAll.abort();
        break;
      }
      yield { tokenIds: [e.token], text: delta, finishReason: FinishReason.FINISH_REASON_UNSPECIFIED, usage: undefined };
    } else {
      timings = e.timings;
      finish =
        e.finish === "eos"
          ? FinishReason.FINISH_REASON_EOS
          : e.finish === "length"
            ? FinishReason.FINISH_REASON_LENGTH
            : FinishReason.FINISH_REASON_CANCELLED;
    }
  }
  if (ctx.signal.aborted) {
    clock.abort(); // the client left, or the deadline passed
    ctx.signal.throwIfAborted();
  }
  clock.finish(
    finish === FinishReason.FINISH_REASON_LENGTH ? "length" : finish === FinishReason.FINISH_REASON_CANCELLED ? "abort" : "stop",
    timings,
  );
  yield {
    tokenIds: [],
    text: text.flush(),
    finishReason: finish,
    usage: {
      promptTokens: v.prompt.length,
      completionTokens: completion,
      queueDuration: duration(timings.queueMs),
      prefillDuration: duration(timings.prefillMs),
      decodeDuration: duration(timings.decodeMs),
      totalDuration: duration(performance.now() - started),
    },
  };
}
