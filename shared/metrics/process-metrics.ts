// prom-client's process metrics (CPU, memory, event loop, ...) for the Node processes' Prometheus endpoints (the edge on
// Node, a worker's inference server). Registered once per process, in their own registry, which each endpoint merges
// with its own registry on a scrape (tests run several edges and servers in one process). Node only: the Workers build
// of the edge must not import this module.
import { Registry, collectDefaultMetrics } from 'prom-client';

let processRegistry: Registry | null = null;

/** The process-wide registry of prom-client's default metrics (created on first use). */
export function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}
