import { parseArgs } from 'node:util'
import packageJson from '../../package.json' with { type: 'json' }
import { fail } from './fail.ts'
import { helpText } from './help.ts'

/** The toolgate command: the gateway, or one of its small commands. */
export async function main(argv: string[]): Promise<void> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        connect: { type: 'boolean' },
      },
    })
  } catch (error) {
    fail(`${error instanceof Error ? error.message : String(error)}; see toolgate --help`, 2)
  }
  const { values, positionals } = parsed
  const [command, ...rest] = positionals
  if (values.help === true || command === 'help') {
    process.stdout.write(helpText('toolgate', packageJson.version))
    return
  }
  if (values.version === true) {
    process.stdout.write(`${packageJson.version}\n`)
    return
  }
  if (values.connect === true && command !== 'check-config') fail('--connect goes with check-config; see toolgate --help', 2)
  switch (command) {
    case undefined:
    case 'serve': {
      if (rest.length > 0) fail(`unexpected argument ${rest.join(' ')}; see toolgate --help`, 2)
      const { serve } = await import('./serve.ts')
      return serve()
    }
    case 'check-config': {
      if (rest.length > 1) fail('check-config takes one file; see toolgate --help', 2)
      const { checkConfig } = await import('./check-config.ts')
      return checkConfig(rest[0], { connect: values.connect === true })
    }
    case 'mcp-stdio': {
      if (rest.length > 0) fail(`unexpected argument ${rest.join(' ')}; see toolgate --help`, 2)
      const { mcpStdio } = await import('./mcp-stdio.ts')
      return mcpStdio()
    }
    case 'healthcheck': {
      const { healthcheck } = await import('./healthcheck.ts')
      return healthcheck()
    }
    default:
      fail(`no command ${JSON.stringify(command)}; see toolgate --help`, 2)
  }
}
