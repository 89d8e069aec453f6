// The "redis-cluster" Jest project: shared-redis.ts starts a Redis Cluster instead of one redis-server.
process.env.HUDDLE_TEST_REDIS = "cluster";
