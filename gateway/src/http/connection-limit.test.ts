import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Server } from "node:http";
import type { Socket } from "node:net";
import { describe, it } from "node:test";
import { ClientIpResolver } from "./client-ip";
import { ConnectionLimiter } from "./connection-limit";

/** A stand-in for an accepted TCP connection: an address, and close/destroy. */
function fakeSocket(remoteAddress: string): Socket {
  const s = new EventEmitter() as EventEmitter & { remoteAddress: string; destroy(): void };
  s.remoteAddress = remoteAddress;
  s.destroy = () => s.emit("close");
  return s as unknown as Socket;
}

describe("connection limiter", () => {
  const setup = (max: number, proxies: string[] = []) => {
    const server = new EventEmitter();
    let refused = 0;
    const limiter = new ConnectionLimiter({
      max,
      resolver: new ClientIpResolver(proxies),
      onRefused: () => {
        refused++;
      },
    });
    limiter.attach(server as unknown as Server);
    const accept = (addr: string) => {
      const s = fakeSocket(addr);
      server.emit("connection", s);
      return s;
    };
    return { limiter, accept, refused: () => refused };
  };

  it("counts IPv6 clients per /64 and IPv4 clients per address", () => {
    const { limiter, accept, refused } = setup(2);
    const a = accept("2001:db8:1:2::1");
    accept("2001:db8:1:2:ffff::9");
    const third = accept("2001:db8:1:2:abcd::1");
    assert.deepEqual(limiter.admit(third, "2001:db8:1:2:abcd::1"), { refused: true, close: true });
    assert.equal(limiter.admit(accept("2001:db8:1:3::1"), "2001:db8:1:3::1").refused, false);
    accept("::ffff:203.0.113.1");
    accept("203.0.113.1");
    assert.equal(limiter.admit(accept("203.0.113.1"), "203.0.113.1").refused, true);
    assert.equal(limiter.admit(accept("203.0.113.2"), "203.0.113.2").refused, false);
    assert.equal(refused(), 2);
    // A closed connection frees its place.
    a.destroy();
    assert.equal(limiter.admit(accept("2001:db8:1:2::7"), "2001:db8:1:2::7").refused, false);
  });

  it("counts requests through a trusted proxy by the forwarded client, while they last", () => {
    const { limiter, accept } = setup(1, ["10.0.0.1"]);
    const proxy = accept("10.0.0.1");
    const first = limiter.admit(proxy, "198.51.100.7");
    assert.equal(first.refused, false);
    assert.deepEqual(limiter.admit(proxy, "198.51.100.7"), { refused: true, close: false });
    assert.equal(limiter.admit(proxy, "198.51.100.8").refused, false);
    if (!first.refused) first.release?.();
    assert.equal(limiter.admit(proxy, "198.51.100.7").refused, false);
  });
});
