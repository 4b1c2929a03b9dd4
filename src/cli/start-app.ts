import { buildApp, type App, type AppOptions } from '../app.ts'
import { ConfigError, loadConfig, type Config } from '../config/env.ts'
import { ConfigFileError } from '../config/yaml-file.ts'
import { installProcessGuards } from '../observability/process-guards.ts'
import { ToolDefinitionError } from '../tools/tool.ts'
import { fail } from './fail.ts'

/**
 * What a command that runs the gateway starts with: the configuration from the environment and the
 * app built from it, with the process guards on. A bad configuration, configuration file or tool
 * set ends the command with one line saying what is wrong, without a stack trace.
 */
export async function startApp(environment: NodeJS.ProcessEnv, options: AppOptions = {}): Promise<{ config: Config; app: App }> {
  let config: Config
  try {
    config = loadConfig(environment)
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message)
    throw error
  }
  let app: App
  try {
    app = await buildApp(config, options)
  } catch (error) {
    if (error instanceof ConfigFileError || error instanceof ToolDefinitionError) fail(error.message)
    throw error
  }
  installProcessGuards(app.log, {
    onFailure: () => {
      app.metrics.uncaughtFailure()
    },
  })
  return { config, app }
}
