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
  it("gives the loopback one form however it is written", () => {
    for (const form of [
      "::1",
      "0:0:0:0:0:0:0:1",
      "0000:0000:0000:0000:0000:0000:0000:0001",
      "[::1]",
      " ::1 ",
      "::1%lo",
    ]) {
      assert.equal(normaliseIp(form), "::1", form);
    }
    for (const form of ["127.0.0.1", "::ffff:127.0.0.1", "::FFFF:7f00:1", "[::ffff:127.0.0.1]"]) {
      assert.equal(normaliseIp(form), "127.0.0.1", form);
    }
  });

  it("drops zone ids, keeps RFC 5952's choices and takes IPv4 only in four-part decimal", () => {
    const cases: [string | undefined, string | undefined][] = [
      ["FE80::1%eth0", "fe80::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["127.1", undefined],
      ["0x7f.0.0.1", undefined],
      ["127.000.000.001", undefined],
      [undefined, undefined],
    ];
    for (const [input, expected] of cases) assert.equal(normaliseIp(input), expected, String(input));
  });
});
