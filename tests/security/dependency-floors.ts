/**
 * The lowest version of each production package of the real-time stack that
 * carries its last known security fix. The registry's advisory endpoint is not
 * reachable from our build machines (`npm audit` fails there), so this table is
 * the check; where `npm audit --omit=dev` works, run it too.
 *
 * Raise a floor when a new advisory lands; add the advisory id beside it.
 */
export interface Floor {
  readonly name: string;
  /** Lowest acceptable version (inclusive), per major line when `major` is given. */
  readonly min: string;
  /** The advisory (or advisories) this floor comes from. */
  readonly advisory: string;
}

export const DEPENDENCY_FLOORS: readonly Floor[] = [
  {
    name: "socket.io",
    min: "4.8.3",
    advisory: "pulls fixed engine.io and socket.io-parser; GHSA-25hc-qcg6-38wj (CVE-2024-38355) fixed since 4.6.2",
  },
  {
    name: "engine.io",
    min: "6.6.9",
    advisory: "GHSA-gr94-w7qr-f4j3, GHSA-r635-g3xr-vw7x (polling connection exhaustion); CVE-2026-59725 fixed in 6.6.7",
  },
  {
    name: "socket.io-parser",
    min: "4.2.7",
    advisory: "CVE-2026-69185 (memory exhaustion from crafted packets, < 4.2.7)",
  },
  { name: "ws", min: "8.21.0", advisory: "CVE-2026-48779 / GHSA-96hv-2xvq-fx4p (memory exhaustion), CVE-2026-45736" },
  { name: "jsonwebtoken", min: "9.0.0", advisory: "CVE-2022-23529, CVE-2022-23539, CVE-2022-23540, CVE-2022-23541" },
  { name: "express", min: "4.20.0", advisory: "CVE-2024-43796 (open redirect / XSS in res.redirect); 5.x is fine" },
];
