/**
 * Bench groups for scale-out (issue 15): locality, four nodes, Redis Cluster: merged into sessions.mjs (SESSIONS, GROUPS)
 * and report.mjs (SHOWN, TARGETS).
 */

/** Sessions: { nodes, backing(target, ctx) } (see SESSIONS in sessions.mjs). */
export const SESSIONS = {};
/** Groups selectable with --only: { session, scenarios, targets?, run(ctx, env) }. */
export const GROUPS = {};
/** Metrics shown per scenario: [metric, label, flag?]. */
export const SHOWN = {};
/** Targets per scenario and metric: { text, check(huddle, bare), absolute? }. */
export const TARGETS = {};
