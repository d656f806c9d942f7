// Shared by this package's tests (not exported from index.ts): a real InferenceService on an in-process
// gRPC server (plaintext or TLS) whose handlers the test chooses, and certificates made with openssl.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ServerCredentials } from "@grpc/grpc-js";
import { FinishReason, InferenceServiceService, type GenerateResponse } from "@expertmesh/proto";
import { createServer, service, silentLogger, type CallContext, type Server } from "@expertmesh/runtime";

export interface TestHandlers {
  /** Default: one chunk per word of the prompt, then a last chunk with finish reason and usage. */
  generate?: (prompt: string, ctx: CallContext) => AsyncIterable<GenerateResponse>;
  /** Default: the prompt reversed. */
  complete?: (prompt: string, ctx: CallContext) => Promise<string> | string;
  /** Default: 12-layer model "test-model". */
  modelInfo?: (ctx: CallContext) => Promise<void> | void;
}

export async function* wordStream(prompt: string): AsyncGenerator<GenerateResponse> {
  const words = prompt.split(" ");
  for (const [i, w] of words.entries())
    yield { tokenIds: [i], text: w, finishReason: FinishReason.FINISH_REASON_UNSPECIFIED, usage: undefined };
  const d = { seconds: 1, nanos: 500_000_000 };
  yield {
    tokenIds: [],
    text: "",
    finishReason: FinishReason.FINISH_REASON_LENGTH,
    usage: { promptTokens: 3, completionTokens: words.length, queueDuration: d, prefillDuration: d, decodeDuration: d, totalDuration: d },
  };
}

export function startTestInference(h: TestHandlers = {}, credentials?: ServerCredentials): Promise<Server> {
  return createServer({
    name: "client-test",
    signals: [],
    logger: silentLogger,
    credentials,
    services: [
      service(InferenceServiceService, {
        generate: (req, ctx) => (h.generate ?? wordStream)(req.prompt, ctx),
        complete: async (req, ctx) => {
          const text = h.complete ? await h.complete(req.prompt, ctx) : [...req.prompt].reverse().join("");
          return { tokenIds: [1, 2], text, finishReason: FinishReason.FINISH_REASON_LENGTH, usage: undefined };
        },
        tokenize: (req) => ({ tokenIds: [...req.text].map((c) => c.charCodeAt(0)), tokens: [...req.text] }),
        modelInfo: async (_req, ctx) => {
          await h.modelInfo?.(ctx);
          return {
            name: "test-model",
            architecture: "Test",
            numLayers: 12,
            numExperts: 8,
            topK: 2,
            vocabSize: 256,
            contextLength: 64,
            hiddenSize: 16,
            predictor: "",
          };
        },
      }),
    ],
  });
}

export interface TestPki {
  ca: Buffer;
  serverCert: Buffer;
  serverKey: Buffer;
  clientCert: Buffer;
  clientKey: Buffer;
  /** A CA that signed nothing here: a client trusting only it must refuse the server. */
  otherCa: Buffer;
}

/** A CA, a server certificate for 127.0.0.1 / localhost and a client certificate, made with openssl (P-256). */
export function makeTestPki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), "expertmesh-pki-"));
  const f = (name: string) => join(dir, name);
  const ssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  try {
    const key = (name: string) => ssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", f(name));
    const ca = (name: string) => {
      key(`${name}.key`);
      ssl("req", "-x509", "-new", "-key", f(`${name}.key`), "-subj", `/CN=${name}`, "-days", "1", "-out", f(`${name}.crt`));
    };
    const leaf = (name: string) => {
      key(`${name}.key`);
      ssl("req", "-new", "-key", f(`${name}.key`), "-subj", `/CN=${name}`, "-out", f(`${name}.csr`));
      ssl(
        "x509",
        "-req",
        "-in",
        f(`${name}.csr`),
        "-CA",
        f("ca.crt"),
        "-CAkey",
        f("ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        f(`${name}.ext`),
        "-out",
        f(`${name}.crt`),
      );
    };
    ca("ca");
    ca("other-ca");
    execFileSync("sh", [
      "-c",
      `printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth\\n' > ${f("server.ext")}; printf 'extendedKeyUsage=clientAuth\\n' > ${f("client.ext")}`,
    ]);
    leaf("server");
    leaf("client");
    const r = (name: string) => readFileSync(f(name));
    return {
      ca: r("ca.crt"),
      serverCert: r("server.crt"),
      serverKey: r("server.key"),
      clientCert: r("client.crt"),
      clientKey: r("client.key"),
      otherCa: r("other-ca.crt"),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
