import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  bridgeMtu,
  mtuWarning,
  readInterfaceMtu,
  storageDriverWarning,
} from "../../../src/action/warnings.ts";

describe("storageDriverWarning", () => {
  it.each([
    ["overlay2", undefined],
    ["fuse-overlayfs", undefined],
    ["vfs", /vfs storage driver.*Fix: mount an emptyDir .* at \/var\/lib\/docker/],
  ])("%s", (driver, expected) => {
    const warning = storageDriverWarning(driver);
    if (expected === undefined) expect(warning).toBeUndefined();
    else {
      expect(warning?.title).toBe("dind-setup: slow storage driver (vfs)");
      expect(warning?.message).toMatch(expected);
    }
  });
});

describe("bridgeMtu", () => {
  it.each([
    [{ Name: "bridge", Options: { "com.docker.network.driver.mtu": "1400" } }, 1400],
    [{ Name: "bridge", Options: {} }, 1500],
    [{ Name: "bridge", Options: null }, 1500],
    [{ Name: "bridge", Options: { "com.docker.network.driver.mtu": "nope" } }, 1500],
  ])("%j → %d", (network, expected) => {
    expect(bridgeMtu(network)).toBe(expected);
  });
});

describe("mtuWarning", () => {
  it.each([
    [1500, 1500, undefined],
    [1400, 1500, undefined],
    [1500, undefined, undefined],
    [
      1500,
      1450,
      /bridge MTU \(1500\) is larger than the Pod's eth0 MTU \(1450\).*--mtu=1450 --default-network-opt=bridge=com.docker.network.driver.mtu=1450/,
    ],
  ])("bridge %d, eth0 %s", (bridge, pod, expected) => {
    const warning = mtuWarning(bridge, pod);
    if (expected === undefined) expect(warning).toBeUndefined();
    else {
      expect(warning?.title).toBe("dind-setup: bridge MTU larger than the Pod's");
      expect(warning?.message).toMatch(expected);
    }
  });
});

describe("readInterfaceMtu", () => {
  it("reads the sysfs format and ignores what it cannot read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "mtu-"));
    try {
      await writeFile(join(dir, "mtu"), "1450\n");
      await writeFile(join(dir, "junk"), "n/a\n");
      expect(await readInterfaceMtu(join(dir, "mtu"))).toBe(1450);
      expect(await readInterfaceMtu(join(dir, "junk"))).toBeUndefined();
      expect(await readInterfaceMtu(join(dir, "absent"))).toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
