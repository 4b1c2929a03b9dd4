import { z } from 'zod'
import { redactor } from '../../config/secrets.ts'
import type { HttpToolConfig } from '../../config/tools-file.ts'
import type { Tool } from '../tool.ts'
import { callHttp, type HttpCaller } from './http-call.ts'

/**
 * A tool behind an HTTP endpoint, declared in the configuration file: the arguments, validated
 * against the declared JSON Schema, are POSTed as JSON to the configured URL (nothing the model
 * writes decides the host), through callHttp. `idempotent` and `readOnly` (which implies it) land
 * on the tool; only such a tool's upstream failures are retryable. `secrets` (values that came
 * from the environment) are struck out of every error message.
 */
export function createHttpTool(config: HttpToolConfig, secrets: readonly string[] = []): Tool {
  const { name, description, parameters, http, idempotent, readOnly, ...limits } = config
  const repeatable = idempotent || readOnly
  const caller: HttpCaller = { toolName: name, service: `${name}'s endpoint`, repeatable, redact: redactor(secrets) }
  const url = new URL(http.url)
  const headers = Object.entries(http.headers ?? {})
  return {
    name,
    description,
    parameters,
    inputSchema: z.fromJSONSchema(parameters),
    ...limits,
    idempotent: repeatable,
    readOnly,
    execute: (args, context) => callHttp(caller, { method: 'POST', url, headers, body: JSON.stringify(args) }, context),
  }
}
