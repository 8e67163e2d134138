import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normaliseIp } from "@pkiserver/kit/core";
import { ClientIpResolver, clientKey } from "./client-ip";

/** A connection from `remoteAddress`, as the socket of a request. */
const from = (remoteAddress: string) => ({ remoteAddress });

describe("client address", () => {
  it("normalises IPv4-mapped IPv6 to IPv4 and IPv6 to one spelling", () => {
    assert.equal(normaliseIp("::ffff:127.0.0.1"), "127.0.0.1");
    assert.equal(normaliseIp("2001:DB8::1"), normaliseIp("2001:db8:0:0:0:0:0:1"));
    assert.equal(normaliseIp("nonsense"), undefined);
  });

  it("ignores X-Forwarded-For from a peer that is not a trusted proxy", () => {
    const r = new ClientIpResolver([]);
    assert.equal(r.resolveFor(from("::ffff:10.0.0.5"), "1.2.3.4"), "10.0.0.5");
  });

  it("takes the first untrusted hop from the right when the peer is a trusted proxy", () => {
    const r = new ClientIpResolver(["10.0.0.0/8", "192.168.1.1"]);
    assert.equal(r.resolveFor(from("10.0.0.5"), "1.2.3.4, 192.168.1.1"), "1.2.3.4");
    // A forged leftmost entry does not win over the real client the proxy appended.
    assert.equal(r.resolveFor(from("10.0.0.5"), "6.6.6.6, 1.2.3.4"), "1.2.3.4");
    assert.equal(r.resolveFor(from("10.0.0.5"), undefined), "10.0.0.5");
  });

  it("reads X-Forwarded-For entries that carry a port", () => {
    const r = new ClientIpResolver(["10.0.0.0/8"]);
    assert.equal(r.resolveFor(from("10.0.0.5"), "1.2.3.4:5678"), "1.2.3.4");
    assert.equal(r.resolveFor(from("10.0.0.5"), "[2001:db8::7]:80"), normaliseIp("2001:db8::7"));
    assert.equal(r.resolveFor(from("10.0.0.5"), "[::1]:80"), normaliseIp("::1"));
    assert.equal(r.resolveFor(from("10.0.0.5"), "1.2.3.4:5678, 10.0.0.9:443"), "1.2.3.4");
    // A bare IPv6 address is not mistaken for one with a port.
    assert.equal(r.resolveFor(from("10.0.0.5"), "2001:db8::1234"), normaliseIp("2001:db8::1234"));
    // Still malformed: not an address with or without a port.
    assert.equal(r.resolveFor(from("10.0.0.5"), "1.2.3.4:notaport"), "10.0.0.5");
    assert.equal(r.resolveFor(from("10.0.0.5"), "1.2.3.4:99999"), "10.0.0.5");
  });

  it("counts an IPv6 client by its /64 and an IPv4 client by its address", () => {
    assert.equal(clientKey("2001:db8:1:2:aaaa::1"), clientKey("2001:db8:1:2:ffff:1:2:3"));
    assert.notEqual(clientKey("2001:db8:1:2::1"), clientKey("2001:db8:1:3::1"));
    assert.equal(clientKey("203.0.113.9"), "203.0.113.9");
    assert.notEqual(clientKey("203.0.113.9"), clientKey("203.0.113.10"));
    assert.equal(clientKey("::ffff:203.0.113.9"), "203.0.113.9");
  });

  it("gives the same key for an address asked again, after many other addresses too", () => {
    const first = clientKey("2001:db8:7:8::1");
    assert.equal(clientKey("2001:db8:7:8::1"), first);
    // More addresses than the remembered keys: what was forgotten is worked out again.
    for (let i = 0; i < 5000; i++) clientKey(`10.${(i >> 8) & 255}.${i & 255}.1`);
    assert.equal(clientKey("2001:db8:7:8::1"), first);
    assert.equal(clientKey("2001:db8:7:8::1"), "2001:db8:7:8:0:0:0:0/64");
    assert.equal(clientKey("10.19.135.1"), "10.19.135.1");
  });
});
