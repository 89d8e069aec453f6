/**
 * compose.yaml: the documented way to scale out (`docker compose up`). No
 * Docker engine here, so the file is checked by parsing it, and with Debian's
 * docker-compose (v1, which validates and interpolates without an engine)
 * where it is installed.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { parse } from "yaml";
import { REPO_ROOT } from "./nginx-harness";

const COMPOSE_PATH = join(REPO_ROOT, "compose.yaml");
const DOCKER_COMPOSE = process.env.DOCKER_COMPOSE_BIN ?? "/usr/bin/docker-compose";
const execFileAsync = promisify(execFile);

interface Service {
  image?: string;
  build?: unknown;
  environment?: Record<string, string | number | null> | string[];
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] | string };
  deploy?: { replicas?: number };
}

// `merge: true`: the app services share one definition through `<<: *huddle`, as docker-compose reads it.
const compose = parse(readFileSync(COMPOSE_PATH, "utf8"), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;

const environmentOf = (service: Service): Record<string, string> => {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((line) => line.split(/=(.*)/s).slice(0, 2)));
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value ?? "")]));
};

/** The app services (built from this repo's Dockerfile), each counted as many times as its replicas. */
const appServices = Object.entries(services).filter(([, service]) => service.build !== undefined);
const appNodes = appServices.flatMap(([name, service]) => Array(service.deploy?.replicas ?? 1).fill(name) as string[]);

describe("compose.yaml topology", () => {
  test("runs PostgreSQL, Redis, three Huddle nodes built from the Dockerfile, and nginx", () => {
    expect(services.postgres?.image).toMatch(/^postgres:1[5-9]/);
    expect(services.redis?.image).toMatch(/^redis:7/);
    expect(appNodes).toHaveLength(3);
    expect(services.nginx?.image).toMatch(/^nginx:1\.2[7-9]|^nginx:1\.[3-9]\d/);
  });

  test("points every node at the Redis service and requires JWT_SECRET with a message", () => {
    for (const [name, service] of appServices) {
      const env = environmentOf(service);
      expect({ name, redis: env.REDIS_URL }).toEqual({ name, redis: "redis://redis:6379" });
      expect(env.JWT_SECRET).toMatch(/^\$\{JWT_SECRET:\?.+\}$/);
      expect(Object.keys(env)).toContain("DEV_TOKENS");
    }
  });

  test("keeps PostgreSQL's data in a named volume, checks its health, and points every node at it", () => {
    const postgres = services.postgres!;
    expect(postgres.volumes).toEqual(["postgres-data:/var/lib/postgresql/data"]);
    expect((compose as { volumes?: Record<string, unknown> }).volumes).toHaveProperty("postgres-data");
    expect(postgres.healthcheck?.test).toEqual(expect.arrayContaining(["pg_isready"]));
    expect(postgres).not.toHaveProperty("ports");
    const db = environmentOf(postgres);
    for (const [name, service] of appServices) {
      const env = environmentOf(service);
      expect({ name, url: env.DATABASE_URL }).toEqual({
        name,
        url: `postgres://${db.POSTGRES_USER}:\${POSTGRES_PASSWORD:-huddle}@postgres:5432/${db.POSTGRES_DB}`,
      });
      expect(service.depends_on).toMatchObject({ postgres: { condition: "service_healthy" } });
    }
  });

  test("serves metrics on an internal port that nothing publishes and nginx does not proxy", () => {
    for (const [name, service] of appServices) {
      expect({ name, port: environmentOf(service).INTERNAL_PORT }).toEqual({ name, port: "9090" });
      expect(service.ports ?? []).toEqual([]);
    }
    const nginx = services.nginx!;
    expect(JSON.stringify(environmentOf(nginx))).not.toContain("9090");
    expect(readFileSync(join(REPO_ROOT, "nginx", "default.conf.template"), "utf8")).not.toContain("9090");
  });

  test("gives each node the address the other nodes forward its sessions' requests to: its service name", () => {
    for (const [name, service] of appServices) {
      expect({ name, advertise: environmentOf(service).ADVERTISE_URL }).toEqual({
        name,
        advertise: `http://${name}:3000`,
      });
    }
  });

  test("gives each node its own NODE_ID", () => {
    const ids = appServices.map(([, service]) => environmentOf(service).NODE_ID);
    if (appServices.length === 1) return expect(ids[0]).toBeUndefined(); // replicas: the default (host name and pid) is unique
    expect(new Set(ids).size).toBe(appServices.length);
  });

  test("starts the nodes only once Redis is healthy, and nginx only once every node is healthy", () => {
    expect(services.redis?.healthcheck?.test).toEqual(expect.arrayContaining(["redis-cli", "ping"]));
    for (const [name, service] of appServices) {
      expect({ name, healthcheck: JSON.stringify(service.healthcheck?.test) }).toEqual({
        name,
        healthcheck: expect.stringContaining("/healthz"),
      });
      expect(service.depends_on).toMatchObject({ redis: { condition: "service_healthy" } });
    }
    const nginxDeps = services.nginx?.depends_on as Record<string, { condition: string }>;
    for (const [name] of appServices) expect(nginxDeps[name]).toEqual({ condition: "service_healthy" });
  });

  test("mounts the repo's nginx template where the nginx image renders templates, and publishes 8080", () => {
    const nginx = services.nginx!;
    expect(nginx.volumes).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^\.\/nginx\/default\.conf\.template:\/etc\/nginx\/templates\/default\.conf\.template(:ro)?$/,
        ),
      ]),
    );
    expect(nginx.ports).toContain("8080:80");
    expect(environmentOf(nginx).NGINX_PORT).toBe("80");
  });

  test("lists every node, and only nodes, as its own upstream server line on the app's port", () => {
    const upstreams = environmentOf(services.nginx!)
      .HUDDLE_UPSTREAMS!.trim()
      .split("\n")
      .map((line) => line.trim());
    const expected = appServices.map(([name]) => `server ${name}:3000;`);
    // One line per node: each is its own service, with its own name to advertise (ADVERTISE_URL).
    expect(upstreams.sort()).toEqual(expected.sort());
    expect(appServices.every(([, service]) => (service.deploy?.replicas ?? 1) === 1)).toBe(true);
  });

  test("limits envsubst in the nginx container to the template's two placeholders", () => {
    const filter = new RegExp(environmentOf(services.nginx!).NGINX_ENVSUBST_FILTER!.replace(/\$\$/g, "$"));
    const candidates = ["HUDDLE_UPSTREAMS", "NGINX_PORT", "NGINX_VERSION", "PATH", "HOME", "HOSTNAME", "PKG_RELEASE"];
    expect(candidates.filter((name) => filter.test(name))).toEqual(["HUDDLE_UPSTREAMS", "NGINX_PORT"]);
  });
});

const hasDockerCompose = existsSync(DOCKER_COMPOSE);

describe("docker-compose config", () => {
  const run = (env: Record<string, string>) =>
    execFileAsync(DOCKER_COMPOSE, ["-f", COMPOSE_PATH, "config"], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env },
    });

  (hasDockerCompose ? test : test.skip)("accepts the file when JWT_SECRET is set", async () => {
    const { stdout } = await run({ JWT_SECRET: "x".repeat(48) });
    const rendered = parse(stdout) as { services: Record<string, Service> };
    expect(Object.keys(rendered.services).sort()).toEqual(
      ["nginx", "postgres", "redis", ...appServices.map(([name]) => name)].sort(),
    );
    for (const [name] of appServices) {
      const env = environmentOf(rendered.services[name]!);
      expect(env.JWT_SECRET).toBe("x".repeat(48));
      expect(env.DATABASE_URL).toBe("postgres://huddle:huddle@postgres:5432/huddle");
    }
  });

  (hasDockerCompose ? test : test.skip)("refuses to start without JWT_SECRET and says what to set", async () => {
    await expect(run({})).rejects.toMatchObject({ stderr: expect.stringContaining("set JWT_SECRET") });
  });
});
