import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DEPENDENCY_FLOORS } from "./dependency-floors";

type Lock = { packages: Record<string, { version?: string; dev?: boolean }> };
const lock: Lock = JSON.parse(readFileSync(join(__dirname, "../../package-lock.json"), "utf8"));

function compareVersions(a: string, b: string): number {
  const pa = a.split("-")[0]!.split(".").map(Number);
  const pb = b.split("-")[0]!.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Every installed copy of `name` that ships to production (nested copies included). */
function productionCopies(name: string): { path: string; version: string }[] {
  return Object.entries(lock.packages)
    .filter(
      ([path, entry]) => (path === `node_modules/${name}` || path.endsWith(`/node_modules/${name}`)) && !entry.dev,
    )
    .map(([path, entry]) => ({ path, version: entry.version ?? "0.0.0" }));
}

describe("production dependencies are at or above their last security fix", () => {
  test.each(DEPENDENCY_FLOORS.map((floor) => [floor.name, floor] as const))("%s", (name, floor) => {
    const copies = productionCopies(name);
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      if (compareVersions(copy.version, floor.min) < 0) {
        throw new Error(`${copy.path} is ${copy.version}, below ${floor.min} (${floor.advisory})`);
      }
    }
  });

  test("the version comparison orders patch, minor and major releases", () => {
    expect(compareVersions("4.2.6", "4.2.7")).toBeLessThan(0);
    expect(compareVersions("4.10.0", "4.9.9")).toBeGreaterThan(0);
    expect(compareVersions("5.0.0", "4.20.0")).toBeGreaterThan(0);
    expect(compareVersions("8.21.0", "8.21.0")).toBe(0);
  });
});
