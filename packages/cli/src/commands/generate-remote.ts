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

/** One prompt's stream read to its end; `onText` sees each chunk as it arrives. */
async function streamOne(
  client: ExpertMeshClient,
  prompt: string,
  o: Omit<RemoteGenerateOptions, "prompt">,
  signal: AbortSignal,
  onText?: (text: string) => void,
) {
  const start = performance.now();
  let firstToken: number | null = null;
  let text = "";
  const tokens: number[] = [];
  const stream = client.generate(prompt, {
    maxTokens: o.maxTokens,
    temperature: o.temperature,
    topP: o.topP,
    seed: o.seed,
    stop: o.stop,
    signal,
  });
  let r = await stream.next();
  while (!r.done) {
    firstToken ??= performance.now() - start;
    text += r.value.text;
    tokens.push(...r.value.tokenIds);
    onText?.(r.value.text);
    r = await stream.next();
  }
  return { text, tokens, end: r.value, firstTokenMs: firstToken, totalMs: performance.now() - start };
}

/** A client to the target for `run`, whose signal Ctrl-C aborts; closed after. */
async function withClient(
  o: Omit<RemoteGenerateOptions, "prompt">,
  run: (client: ExpertMeshClient, abort: AbortController) => Promise<void>,
) {
  const client = new ExpertMeshClient(o.target, { timeoutMs: o.timeoutMs, ...(o.tls ? { tls: o.tls } : {}) });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once("SIGINT", onSigint);
  try {
    await run(client, abort);
  } finally {
    process.removeListener("SIGINT", onSigint);
    client.close();
  }
}

export async function generateRemote(o: RemoteGenerateOptions): Promise<void> {
  await withClient(o, async (client, abort) => {
    const onText = o.json ? undefined : (t: string) => process.stdout.write(t);
    const { text, tokens, end, firstTokenMs, totalMs } = await streamOne(client, o.prompt, o, abort.signal, onText);
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
        ttft_ms: firstTokenMs,
        total_ms: totalMs,
        decode_tokens_per_s: tokens.length > 1 && firstTokenMs !== null ? (tokens.length - 1) / ((totalMs - firstTokenMs) / 1000) : null,
        target: o.target,
      }),
    );
  });
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
  await withClient(o, async (client, abort) => {
    const t0 = performance.now();
    const completions: RemoteCompletion[] = new Array(o.prompts.length);
    const one = async (index: number) => {
      const prompt = o.prompts[index];
      const { text, tokens, end, firstTokenMs, totalMs } = await streamOne(client, prompt, o, abort.signal);
      completions[index] = {
        index,
        prompt,
        text,
        tokens,
        prompt_tokens: end.usage?.promptTokens,
        completion_tokens: tokens.length,
        finish_reason: end.finishReason,
        ttft_ms: firstTokenMs,
        total_ms: totalMs,
      };
    };
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
  });
}
