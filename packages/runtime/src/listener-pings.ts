// Keepalive enforcement on the server side (grpc-js servers do not police pings): a client that pings
// more often than `minPingIntervalMs` while it opens no stream earns a strike; past `maxPingStrikes`
// the connection gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings" (the code and text gRPC servers use, on
// which grpc clients back their keepalive off) and is closed. A new stream clears the strikes.
import { constants, type ServerHttp2Session } from "node:http2";

export interface PingPolicy {
  readonly minPingIntervalMs: number;
  readonly maxPingStrikes: number;
}

/** Polices `session`'s pings; `onRefused` runs once when it is closed for pinging too often. */
export function policePings(session: ServerHttp2Session, policy: PingPolicy, onRefused: () => void): void {
  let last = -Infinity;
  let strikes = 0;
  session.on("stream", () => {
    strikes = 0;
  });
  session.on("ping", () => {
    const now = performance.now();
    if (now - last < policy.minPingIntervalMs) strikes++;
    last = now;
    if (strikes <= policy.maxPingStrikes || session.destroyed || session.closed) return;
    onRefused();
    session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM, 0, Buffer.from("too_many_pings"));
    setTimeout(() => session.destroy(), 250).unref(); // lets the GOAWAY reach the client first
  });
}
