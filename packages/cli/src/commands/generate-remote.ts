// expertmesh generate --target HOST:PORT --prompt TEXT ...: the same generation through a running mesh,
// via the client SDK.
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
