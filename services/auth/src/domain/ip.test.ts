import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normaliseIp } from "./ip";

describe("client IP normalisation for ipAddr: bindings", () => {
  it("writes one address one way", () => {
    assert.equal(normaliseIp("192.168.1.20"), "192.168.1.20");
    assert.equal(normaliseIp("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
    assert.equal(normaliseIp("2001:db8::1"), "2001:db8::1");
    assert.equal(normaliseIp("::ffff:10.0.0.7"), "10.0.0.7");
    assert.equal(normaliseIp("::1"), "::1");
  });
  it("rejects what is not an address", () => {
    assert.equal(normaliseIp("example.com"), undefined);
    assert.equal(normaliseIp(""), undefined);
    assert.equal(normaliseIp("300.1.1.1"), undefined);
  });
});
