/**
 * compose.cluster.yaml: the Redis Cluster shape (§12). Checked by parsing it,
 * and with Debian's docker-compose where it is installed (no engine here).
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { REPO_ROOT } from "./nginx-harness";

const PATH = join(REPO_ROOT, "compose.cluster.yaml");
const DOCKER_COMPOSE = process.env.DOCKER_COMPOSE_BIN ?? "/usr/bin/docker-compose";

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number | null>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
}
const compose = parse(readFileSync(PATH, "utf8"), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const env = (service: Service) =>
  Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v ?? "")]));
const command = (service: Service) => [service.command ?? []].flat().join(" ");
const redisServers = Object.entries(services).filter(([name]) => /^redis-\d+$/.test(name));
const nodes = Object.entries(services).filter(([, service]) => service.build !== undefined);

test("six Redis servers in cluster mode, each announcing its service name and keeping its own volume", () => {
  expect(redisServers.map(([name]) => name).sort()).toEqual([
    "redis-1",
    "redis-2",
    "redis-3",
    "redis-4",
    "redis-5",
    "redis-6",
  ]);
  for (const [name, service] of redisServers) {
    expect(service.image).toMatch(/^redis:7/);
    expect(command(service)).toContain("--cluster-enabled yes");
    expect(command(service)).toContain("--cluster-preferred-endpoint-type hostname");
    expect(env(service).HOSTNAME_ANNOUNCED).toBe(name);
    expect(service.volumes).toEqual([`${name}-data:/data`]);
  }
});

test("an init service forms the cluster once, three masters with a replica each, after every server is healthy", () => {
  const init = services["redis-cluster-init"]!;
  const text = command(init);
  expect(text).toContain("--cluster create");
  expect(text).toContain("--cluster-replicas 1");
  for (const [name] of redisServers) {
    expect(text).toContain(`${name}:6379`);
    expect(init.depends_on?.[name]).toEqual({ condition: "service_healthy" });
  }
  expect(text).toMatch(/cluster_state:ok/); // formed already: nothing to do
});

test("three Huddle nodes on the cluster (every server a seed), started once it is formed, behind round-robin nginx", () => {
  expect(nodes).toHaveLength(3);
  for (const [name, service] of nodes) {
    const vars = env(service);
    expect(vars.REDIS_CLUSTER_NODES!.split(",").sort()).toEqual(
      redisServers.map(([server]) => `${server}:6379`).sort(),
    );
    expect(vars.REDIS_URL).toBeUndefined();
    expect(vars.ADVERTISE_URL).toBe(`http://${name}:3000`);
    expect(service.depends_on?.["redis-cluster-init"]).toEqual({ condition: "service_completed_successfully" });
  }
  const nginx = services.nginx!;
  expect(nginx.volumes).toContain("./nginx/default.conf.template:/etc/nginx/templates/default.conf.template:ro");
  const template = readFileSync(join(REPO_ROOT, "nginx", "default.conf.template"), "utf8");
  expect(template).not.toMatch(/^\s*(hash|ip_hash|sticky)\b/m); // round-robin
});

(existsSync(DOCKER_COMPOSE) ? test : test.skip)("docker-compose accepts the file when JWT_SECRET is set", async () => {
  const { stdout } = await promisify(execFile)(DOCKER_COMPOSE, ["-f", PATH, "config"], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", JWT_SECRET: "x".repeat(48) },
  });
  const rendered = parse(stdout) as { services: Record<string, Service> };
  expect(Object.keys(rendered.services)).toHaveLength(6 + 1 + 3 + 2); // redis, init, nodes, postgres and nginx
});
