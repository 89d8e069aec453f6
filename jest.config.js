/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: "node",
  roots: ["<rootDir>/tests"],
  testMatch: ["**/*.test.ts"],
  transform: {
    // Type checking is `tsc`'s job in `npm test`; ts-jest only transpiles, which keeps test start-up fast.
    "^.+\\.ts$": ["ts-jest", { isolatedModules: true, tsconfig: "tsconfig.json" }],
  },
  testTimeout: 30000,
  maxWorkers: 2,
};
