import { readFile } from 'node:fs/promises'
import { LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import { formatPath } from '../errors.ts'

/** A configuration or keys file that cannot be read or is invalid; the message names each problem with its line. */
export class ConfigFileError extends Error {
  override name = 'ConfigFileError'
}

/** Reads a JSON or YAML file validated by `schema`, as loadConfigFile does. */
export async function loadYamlFile<Schema extends z.ZodType>(
  schema: Schema,
  path: string,
  environment: Record<string, string | undefined>,
): Promise<{ config: z.output<Schema>; secrets: string[] }> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    throw new ConfigFileError(`${path}: cannot be read (${error instanceof Error ? error.message : String(error)})`)
  }
  return parseYamlFile(schema, text, path, environment)
}

/** Parses a JSON or YAML text validated by `schema`; `source` names it in the errors. */
export function parseYamlFile<Schema extends z.ZodType>(
  schema: Schema,
  text: string,
  source: string,
  environment: Record<string, string | undefined>,
): { config: z.output<Schema>; secrets: string[] } {
  const lineCounter = new LineCounter()
  // YAML is a superset of JSON: one parser serves both, with line numbers for both.
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const at = (offset: number | undefined) => {
    if (offset === undefined) return ''
    const { line, col } = lineCounter.linePos(offset)
    return `:${String(line)}:${String(col)}`
  }
  if (document.errors.length > 0) {
    throw new ConfigFileError(document.errors.map((error) => `${source}${at(error.pos[0])}: ${error.message}`).join('\n'))
  }
  const secrets: string[] = []
  const problems: string[] = []
  const raw = substitute(document.toJS() as unknown, [], environment, secrets, (path, name) => {
    problems.push(`${source}${at(nodeOffset(document, path))}: ${where(path)}: the environment has no ${name}`)
  })
  if (problems.length > 0) throw new ConfigFileError(problems.join('\n'))
  const parsed = schema.safeParse(raw)
  if (!parsed.success) {
    throw new ConfigFileError(
      parsed.error.issues
        .map((issue) => `${source}${at(nodeOffset(document, issue.path))}: ${where(issue.path)}: ${issue.message}`)
        .join('\n'),
    )
  }
  return { config: parsed.data, secrets }
}

/** Replaces `${VAR}` in every string with the environment's value, remembering those values as secrets. */
function substitute(
  value: unknown,
  path: PropertyKey[],
  environment: Record<string, string | undefined>,
  secrets: string[],
  missing: (path: PropertyKey[], name: string) => void,
): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_match, name: string) => {
      const found = environment[name]
      if (found === undefined || found === '') {
        missing(path, name)
        return ''
      }
      secrets.push(found)
      return found
    })
  }
  if (Array.isArray(value)) return value.map((item, index) => substitute(item, [...path, index], environment, secrets, missing))
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, substitute(item, [...path, key], environment, secrets, missing)]),
    )
  }
  return value
}

function nodeOffset(document: ReturnType<typeof parseDocument>, path: PropertyKey[]): number | undefined {
  // The deepest node that exists on the path: a missing key is reported where its parent is.
  for (let depth = path.length; depth >= 0; depth--) {
    const node = document.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined
    if (node?.range) return node.range[0]
  }
  return undefined
}

function where(path: readonly PropertyKey[]): string {
  return formatPath(path) || '(top level)'
}
