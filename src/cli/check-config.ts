import { pino } from 'pino'
import { loadApiKeys } from '../access/api-keys.ts'
import { ConfigError, loadConfig } from '../config/env.ts'
import { ConfigFileError } from '../config/yaml-file.ts'
import { ToolDefinitionError } from '../tools/tool.ts'
import { ToolSources } from '../tools/tool-sources.ts'
import { fail } from './fail.ts'

/**
 * `toolgate check-config [FILE] [--connect]`: what start-up would refuse, without starting: the
 * environment, the tools file (FILE, or TOOLGATE_CONFIG) and the tools it declares, and the API
 * keys file if TOOLGATE_API_KEYS_FILE names one. Exits 1 with what is wrong, or prints what it found.
 */
export async function checkConfig(file: string | undefined, options: { connect: boolean }, environment = process.env): Promise<void> {
  try {
    const config = loadConfig(file === undefined ? environment : { ...environment, TOOLGATE_CONFIG: file })
    const log = pino({ level: 'warn' }, pino.destination(2))
    const { tools, mcpUnchecked } = await ToolSources.check(config, { log, connectMcp: options.connect })
    const keys = await loadApiKeys(config, environment)
    const lines = [
      `${config.configFile ?? '(no tools file: the built-in tools)'}: ${String(tools.length)} tools: ${tools.join(', ')}`,
      ...(mcpUnchecked.length > 0
        ? [`MCP servers not started (--connect starts them and checks their tools): ${mcpUnchecked.join(', ')}`]
        : []),
      ...(keys.length > 0 ? [`API keys: ${String(keys.length)} (${keys.map((key) => key.name).join(', ')})`] : []),
    ]
    process.stdout.write(`${lines.join('\n')}\nok\n`)
  } catch (error) {
    if (error instanceof ConfigError || error instanceof ConfigFileError || error instanceof ToolDefinitionError) fail(error.message)
    throw error
  }
}
