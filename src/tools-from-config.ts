import type { Config } from './config.ts'
import { ConfigFileError, loadConfigFile } from './config-file.ts'
import { createHttpTool } from './http-tool.ts'
import type { Tool } from './tool.ts'
import { createBuiltinTools } from './tools/builtin-tools.ts'

/** The tools a server starts with: the built-in ones, changed and completed by the configuration file if there is one. */
export async function toolsFromConfig(config: Config): Promise<Tool[]> {
  const builtins = createBuiltinTools(config)
  if (config.configFile === undefined) return builtins
  const { config: file, secrets } = await loadConfigFile(config.configFile)
  const names = new Set(builtins.map((tool) => tool.name))
  const unknown = [...file.builtins.disabled, ...Object.keys(file.builtins.overrides)].filter((name) => !names.has(name))
  if (unknown.length > 0) {
    throw new ConfigFileError(`${config.configFile}: builtins: no built-in tool named ${unknown.join(', ')} (there are ${[...names].join(', ')})`)
  }
  const kept = builtins
    .filter((tool) => !file.builtins.disabled.includes(tool.name))
    .map((tool) => ({ ...tool, ...file.builtins.overrides[tool.name] }))
  return [...kept, ...file.tools.map((tool) => createHttpTool(tool, secrets))]
}
