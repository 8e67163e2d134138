import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClientIpResolver, normaliseIp } from "./client-ip";

describe("client address", () => {
  it("normalises IPv4-mapped IPv6 to IPv4 and IPv6 to one spelling", () => {
    assert.equal(normaliseIp("::ffff:127.0.0.1"), "127.0.0.1");
    assert.equal(normaliseIp("2001:DB8::1"), normaliseIp("2001:db8:0:0:0:0:0:1"));
    assert.equal(normaliseIp("nonsense"), undefined);
  });

  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", () => {
    const r = new ClientIpResolver([]);
    assert.equal(r.resolve("::ffff:10.0.0.5", "1.2.3.4"), "10.0.0.5");
  });

  it("takes the first untrusted hop from the right when the peer is a trusted proxy", () => {
    const r = new ClientIpResolver(["10.0.0.0/8", "192.168.1.1"]);
    assert.equal(r.resolve("10.0.0.5", "1.2.3.4, 192.168.1.1"), "1.2.3.4");
    // A forged leftmost entry does not win over the real client the proxy appended.
    assert.equal(r.resolve("10.0.0.5", "6.6.6.6, 1.2.3.4"), "1.2.3.4");
    assert.equal(r.resolve("10.0.0.5", undefined), "10.0.0.5");
  });
});
