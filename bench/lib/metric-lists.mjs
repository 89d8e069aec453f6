/**
 * Figures shared by several scenarios' report rows (report.mjs and the group files), so a chat-rooms scenario on
 * any backing shows the same core in the same order.
 */

/** Every chat-rooms scenario's core: throughput, losses, acks, deliveries and the server's CPU. */
export const CHAT_ROOMS_CORE = [
  ["deliveriesPerSec", "deliveries/s achieved"],
  ["lost", "lost", "zero"],
  ["duplicates", "duplicates", "zero"],
  ["ackP50Ms", "ack p50 (ms)"],
  ["ackP99Ms", "ack p99 (ms)"],
  ["latencyP50Ms", "delivery p50 (ms)"],
  ["latencyP99Ms", "delivery p99 (ms)"],
  ["sendErrors", "send errors", "zero"],
  ["cpuUsPerDelivery", "server CPU per delivery (µs)"],
];
