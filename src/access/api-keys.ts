import { z } from 'zod'
import { ConfigFileError, loadYamlFile } from '../config/yaml-file.ts'
import { keyLengthRule, minKeyChars, type Config } from '../config/env.ts'

/** Who a request comes from: one API key, by the name logs and rate limits use instead of the key. */
export interface Caller {
  name: string
  /** The tools this key may call; every tool when undefined. */
  tools: ReadonlySet<string> | undefined
  /** Requests per minute this key may make; the server-wide limit when undefined. */
  rateLimitPerMinute: number | undefined
  /** The tools whose every call by this key waits for a human's approval, whatever the tool's own policy. */
  approve: ReadonlySet<string> | undefined
}

export interface ApiKey extends Caller {
  key: string
}

const keyName = z.string().regex(/^[\w.-]{1,64}$/, 'must be 1 to 64 letters, digits, "_", "." or "-"')

export const apiKeysFileSchema = z.strictObject({
  keys: z
    .array(
      z.strictObject({
        name: keyName.describe('Shown in logs and metrics instead of the key.'),
        key: z.string().min(minKeyChars, keyLengthRule).describe('The bearer token; write ${VAR} to take it from the environment.'),
        tools: z
          .array(z.string().min(1))
          .optional()
          .describe('The tools this key may call; the others answer forbidden_tool and are hidden from its GET /tools.'),
        rateLimitPerMinute: z.int().min(0).optional().describe('Requests per minute for this key; 0 means unlimited.'),
        approve: z
          .array(z.string().min(1))
          .optional()
          .describe("Tools whose every call by this key waits for a human's approval (see Approvals), even a tool marked approval: never."),
      }),
    )
    .min(1),
})

/**
 * The API keys in force: those of TOOLGATE_API_KEYS (named key-1, key-2, ..., allowed every tool)
 * and those of TOOLGATE_API_KEYS_FILE. Two keys with one name or one value are refused.
 */
export async function loadApiKeys(config: Pick<Config, 'apiKeys' | 'apiKeysFile'>, environment = process.env): Promise<ApiKey[]> {
  const keys: ApiKey[] = config.apiKeys.map((key, index) => ({
    name: `key-${String(index + 1)}`,
    key,
    tools: undefined,
    rateLimitPerMinute: undefined,
    approve: undefined,
  }))
  if (config.apiKeysFile !== undefined) {
    const { config: file } = await loadYamlFile(apiKeysFileSchema, config.apiKeysFile, environment)
    for (const entry of file.keys) {
      keys.push({
        name: entry.name,
        key: entry.key,
        tools: entry.tools && new Set(entry.tools),
        rateLimitPerMinute: entry.rateLimitPerMinute,
        approve: entry.approve && new Set(entry.approve),
      })
    }
  }
  const names = new Set<string>()
  const values = new Set<string>()
  for (const { name, key } of keys) {
    if (names.has(name)) throw new ConfigFileError(`${config.apiKeysFile ?? 'TOOLGATE_API_KEYS'}: two API keys are named "${name}"`)
    if (values.has(key)) throw new ConfigFileError(`${config.apiKeysFile ?? 'TOOLGATE_API_KEYS'}: the key named "${name}" is given twice`)
    names.add(name)
    values.add(key)
  }
  return keys
}
