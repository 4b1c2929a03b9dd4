import type { FastifyRequest } from 'fastify'

/**
 * What a route is for, which decides what guards it: a route says it with `config: { kind }`, and
 * every guard (access control, rate limits, overload, closing) reads this one table.
 */
export const routeKinds = {
  /** Runs or lists tools (the default, and what an unknown route counts as). */
  work: { apiKey: 'required', rateLimited: true, answeredUnderPressure: false, answeredWhileClosing: false },
  /** Liveness: must answer while the process lives, or a busy or closing gateway would be restarted. */
  liveness: { apiKey: 'none', rateLimited: false, answeredUnderPressure: true, answeredWhileClosing: true },
  /** Readiness: an orchestrator's probe; it answers 503 while overloaded or closing, which is its point. */
  readiness: { apiKey: 'none', rateLimited: false, answeredUnderPressure: false, answeredWhileClosing: false },
  /** The scrape: shows why a gateway is busy, so it is answered under pressure too. */
  metrics: { apiKey: 'unless TOOLGATE_METRICS_WITHOUT_KEY', rateLimited: false, answeredUnderPressure: true, answeredWhileClosing: false },
  /** Checks the admin key itself. */
  admin: { apiKey: 'none', rateLimited: true, answeredUnderPressure: false, answeredWhileClosing: false },
} as const satisfies Record<string, RouteRules>

interface RouteRules {
  apiKey: 'required' | 'none' | 'unless TOOLGATE_METRICS_WITHOUT_KEY'
  rateLimited: boolean
  answeredUnderPressure: boolean
  answeredWhileClosing: boolean
}

export type RouteKind = keyof typeof routeKinds

declare module 'fastify' {
  interface FastifyContextConfig {
    /** What the route is for; see `routeKinds`. @default 'work' */
    kind?: RouteKind
  }
}

/** The rules of the route a request matched. */
export function rulesOf(request: FastifyRequest): RouteRules {
  return routeKinds[request.routeOptions.config.kind ?? 'work']
}
