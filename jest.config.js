/** @type {import('jest').Config} */
const common = {
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  // Tests import the client as an app does, by its package name; here it is its sources (tsconfig.json "paths").
  moduleNameMapper: { "^@huddle/client$": "<rootDir>/client/src/index.ts" },
  transform: {
    // Type checking is `tsc`'s job in `npm test`; ts-jest only transpiles, which keeps test start-up fast.
    "^.+\\.ts$": ["ts-jest", { isolatedModules: true, tsconfig: "tsconfig.json" }],
  },
};

/** The suites that run a second time on a private Redis Cluster (tests/helpers/shared-redis.ts, §12). */
const ON_REDIS_CLUSTER = [
  "stores/messages.contract",
  "stores/message-changes.contract",
  "stores/reads.contract",
  "stores/presence-typing.contract",
  "stores/limits.contract",
  "cluster/cross-node",
  "cluster/read-state",
  "cluster/limits",
  "cluster/locality",
];

module.exports = {
  maxWorkers: 2,
  testTimeout: 30000,
  projects: [
    { ...common, displayName: "redis", testMatch: ["**/*.test.ts"] },
    {
      ...common,
      displayName: "redis-cluster",
      testMatch: ON_REDIS_CLUSTER.map((name) => `<rootDir>/tests/${name}.test.ts`),
      setupFiles: ["<rootDir>/tests/helpers/on-redis-cluster.js"],
    },
  ],
};
