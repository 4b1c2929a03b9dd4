/** The JSON line bench/load.ts prints: what autocannon measured, and how many replies it checked. */
export interface LoadResult {
  requestsPerSecond: number
  latencyP50Ms: number
  latencyP99Ms: number
  total: number
  non2xx: number
  errors: number
  timeouts: number
  checked: number
  mismatched: number
}
