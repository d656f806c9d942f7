// expertmesh generate --target HOST:PORT (--prompt TEXT | --prompts-file FILE) ...: the same generation
// through a running mesh, via the client SDK. Several prompts go as concurrent streams (at most
// REMOTE_IN_FLIGHT at a time, so that a long file does not overflow the router's queue): the router
// batches them.
import { ExpertMeshClient, type TlsOptions } from "@expertmesh/client";

export interface RemoteGenerateOptions {
  target: string;
  prompt: string;
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
  stop: string[];
  json: boolean;
  timeoutMs: number;
  /** TLS / mTLS to the router (--tls-ca, --tls-cert, --tls-key); undefined: plaintext. */
  tls?: TlsOptions | undefined;
}

export async function generateRemote(o: RemoteGenerateOptions): Promise<void> {
  const client = new ExpertMeshClient(o.target, { timeoutMs: o.timeoutMs, ...(o.tls ? { tls: o.tls } : {}) });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  try {
    const t0 = performance.now();
    let firstToken: number | null = null;
    let text = "";
    const tokens: number[] = [];
    const stream = client.generate(o.prompt, {
      maxTokens: o.maxTokens,
      temperature: o.temperature,
      topP: o.topP,
      seed: o.seed,
      stop: o.stop,
      signal: abort.signal,
    });
    let r = await stream.next();
    while (!r.done) {
      firstToken ??= performance.now() - t0;
      text += r.value.text;
      tokens.push(...r.value.tokenIds);
      if (!o.json) process.stdout.write(r.value.text);
      r = await stream.next();
    }
    const end = r.value;
    const totalMs = performance.now() - t0;
    if (!o.json) {
      process.stdout.write("\n");
      return;
    }
    console.log(
      JSON.stringify({
        text,
        tokens,
        completion_tokens: tokens.length,
        prompt_tokens: end.usage?.promptTokens,
        finish_reason: end.finishReason,
        ttft_ms: firstToken,
        total_ms: totalMs,
        decode_tokens_per_s: tokens.length > 1 && firstToken !== null ? (tokens.length - 1) / ((totalMs - firstToken) / 1000) : null,
        target: o.target,
      }),
    );
  } finally {
    process.removeListener("SIGINT", onSigint);
    client.close();
  }
}

/** Streams of one --prompts-file in flight at once. */
export const REMOTE_IN_FLIGHT = 8;

export interface RemoteBatchOptions extends Omit<RemoteGenerateOptions, "prompt"> {
  prompts: readonly string[];
}

interface RemoteCompletion {
  index: number;
  prompt: string;
  text: string;
  tokens: number[];
  prompt_tokens: number | undefined;
  completion_tokens: number;
  finish_reason: string;
  ttft_ms: number | null;
  total_ms: number;
}

export async function generateRemoteBatch(o: RemoteBatchOptions): Promise<void> {
  const client = new ExpertMeshClient(o.target, { timeoutMs: o.timeoutMs, ...(o.tls ? { tls: o.tls } : {}) });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  const t0 = performance.now();
  const completions: RemoteCompletion[] = new Array(o.prompts.length);
  const one = async (index: number) => {
    const start = performance.now();
    let firstToken: number | null = null;
    let text = "";
    const tokens: number[] = [];
    const stream = client.generate(o.prompts[index], {
      maxTokens: o.maxTokens,
      temperature: o.temperature,
      topP: o.topP,
      seed: o.seed,
      stop: o.stop,
      signal: abort.signal,
    });
    let r = await stream.next();
    while (!r.done) {
      firstToken ??= performance.now() - start;
      text += r.value.text;
      tokens.push(...r.value.tokenIds);
      r = await stream.next();
    }
    completions[index] = {
      index,
      prompt: o.prompts[index],
      text,
      tokens,
      prompt_tokens: r.value.usage?.promptTokens,
      completion_tokens: tokens.length,
      finish_reason: r.value.finishReason,
      ttft_ms: firstToken,
      total_ms: performance.now() - start,
    };
  };
  try {
    let next = 0;
    const worker = async () => {
      while (next < o.prompts.length && !abort.signal.aborted) await one(next++);
    };
    // The first failure cancels the other streams and is what the user sees.
    await Promise.all(Array.from({ length: Math.min(REMOTE_IN_FLIGHT, o.prompts.length) }, worker)).catch((e: unknown) => {
      abort.abort();
      throw e;
    });
    if (!o.json) {
      for (const c of completions) console.log(`[${c.index + 1}/${completions.length}] ${c.text}`);
      return;
    }
    console.log(JSON.stringify({ completions, total_ms: performance.now() - t0, in_flight: REMOTE_IN_FLIGHT, target: o.target }));
  } finally {
    process.removeListener("SIGINT", onSigint);
    client.close();
  }
}
