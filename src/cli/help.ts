import { envSchema } from '../config/env.ts'

const usage = `Usage:
  toolgate                         run the gateway, configured by the environment below
  toolgate check-config [FILE]     check the environment and a tools file (default: TOOLGATE_CONFIG), then exit;
                                   MCP servers are started and asked for their tools only with --connect
  toolgate mcp-stdio               serve the same tools over MCP on stdin/stdout (logs on stderr), for clients that launch
                                   local processes; with API keys configured, TOOLGATE_MCP_STDIO_KEY picks the caller's key
  toolgate healthcheck             GET /healthz of the gateway this environment configures: exit 0 if it answers 200
  toolgate --help | --version

Signals: SIGTERM and SIGINT finish the batches in flight (up to TOOLGATE_SHUTDOWN_GRACE_MS) and exit 0;
a second one exits at once. SIGHUP rereads TOOLGATE_CONFIG and TOOLGATE_API_KEYS_FILE.`

/** Wraps `text` to lines of at most `width` characters, each after `indent`. */
function wrap(text: string, indent: string, width = 100): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line)
      line = word
    } else line = line === '' ? word : `${line} ${word}`
  }
  if (line !== '') lines.push(indent + line)
  return lines.join('\n')
}

/** Every variable of the configuration schema, with its default and meaning: the schema is the one source. */
export function environmentHelp(): string {
  return Object.entries(envSchema.shape)
    .map(([name, schema]) => {
      const byDefault = schema.parse(undefined)
      const shown = byDefault === undefined ? '(unset)' : `default ${String(byDefault)}`
      return `  ${name}  ${shown}\n${wrap(schema.description ?? '', '      ')}`
    })
    .join('\n')
}

export function helpText(name: string, version: string): string {
  return `${name} ${version}: a tool-execution gateway for LLM agents.\n\n${usage}\n\nEnvironment (an empty variable counts as unset):\n${environmentHelp()}\n`
}
