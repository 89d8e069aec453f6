/**
 * The internal port (`INTERNAL_PORT`, §13): `/metrics`, `/healthz` and
 * `/readyz` on a port of their own, to bind to a private network that load
 * balancers and Prometheus reach and clients do not. The public port then
 * answers `/metrics` with 404.
 */
import express from "express";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Metrics } from "../../metrics";
import { healthRoutes } from "./http-api";
import { securityHeaders } from "./security-headers";

export interface InternalServer {
  /** Listens; resolves with the port taken (useful with 0). */
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

export function createInternalServer(options: { isReady(): boolean; metrics: Metrics }): InternalServer {
  const app = express();
  app.disable("x-powered-by");
  app.use(securityHeaders());
  app.use(healthRoutes(options.isReady, options.metrics));
  app.use((_req, res) => void res.status(404).json({ error: { code: "not_found", message: "no such route" } }));
  const server: Server = createServer(app);
  return {
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve((server.address() as AddressInfo).port);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
