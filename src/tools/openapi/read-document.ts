import { open } from 'node:fs/promises'
import { isAbsolute, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import $RefParser from '@apidevtools/json-schema-ref-parser'
import { parseDocument } from 'yaml'
import { causeOf, describeThrown } from '../../errors.ts'
import { maxOpenApiDocumentBytes, openApiDereferenceTimeoutMs, openApiFetchTimeoutMs } from '../../limits.ts'
import { readText, refuseRedirect } from '../http/fetch-json.ts'
import { OpenApiProblem } from './problem.ts'

export interface DocumentLimits {
  /** Bytes of the document, on disk or fetched. */
  maxBytes: number
  /** The longest fetching a document by URL may take, its body included. */
  fetchTimeoutMs: number
  /** The longest resolving the document's $refs may take. */
  dereferenceTimeoutMs: number
}

export const defaultDocumentLimits: DocumentLimits = {
  maxBytes: maxOpenApiDocumentBytes,
  fetchTimeoutMs: openApiFetchTimeoutMs,
  dereferenceTimeoutMs: openApiDereferenceTimeoutMs,
}

/** An OpenAPI 3.x document with its internal `$ref`s resolved, and where it was read from (relative server URLs resolve against it). */
export interface OpenApiDocument {
  url: URL
  /** "3.0" or "3.1": which JSON Schema dialect its schemas speak. */
  version: '3.0' | '3.1'
  root: Record<string, unknown>
}

/**
 * Reads the document `location` names: an http(s) URL, fetched within the limits without following
 * redirects, or a file (relative to `baseDir`). JSON or YAML; it must be OpenAPI 3.0 or 3.1. Its
 * `$ref`s inside the document are resolved, a circular one into a cycle; one to another document
 * is left as it is (never read: a fetched document must not make toolgate read local files or
 * other hosts). Both are refused where an operation uses them. Throws an OpenApiProblem.
 */
export async function readOpenApiDocument(location: string, baseDir: string, limits: DocumentLimits): Promise<OpenApiDocument> {
  const url = /^https?:\/\//i.test(location)
    ? new URL(location)
    : pathToFileURL(isAbsolute(location) ? location : resolve(baseDir, location))
  const text = url.protocol === 'file:' ? await readFileBounded(url, limits.maxBytes) : await fetchBounded(url, limits)
  const parsed = parseDocument(text, { prettyErrors: false, uniqueKeys: true })
  if (parsed.errors.length > 0) throw new OpenApiProblem([], `is neither JSON nor YAML: ${parsed.errors[0]?.message ?? ''}`)
  let root: unknown
  try {
    // The aliases a YAML document may expand are bounded by the library (maxAliasCount: 100).
    root = parsed.toJS()
  } catch (error) {
    throw new OpenApiProblem([], `cannot be read: ${describeThrown(error)}`)
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root))
    throw new OpenApiProblem([], 'is not an OpenAPI document (an object)')
  const version = (root as { openapi?: unknown }).openapi
  if (typeof version !== 'string' || !/^3\.[01]\.\d+$/.test(version)) {
    throw new OpenApiProblem(['openapi'], `is ${JSON.stringify(version ?? null)}: only OpenAPI 3.0 and 3.1 documents are read`)
  }
  try {
    // Circular $refs become cycles (with 'ignore', the library would walk every use of a shared schema: exponential).
    await $RefParser.dereference(url.href, root as Record<string, unknown>, {
      resolve: { external: false },
      timeoutMs: limits.dereferenceTimeoutMs,
    })
  } catch (error) {
    const at = (error as { parentPath?: unknown }).parentPath
    throw new OpenApiProblem(typeof at === 'string' ? pointerPath(at, root) : [], `a $ref cannot be resolved: ${describeThrown(error)}`)
  }
  return { url, version: version.startsWith('3.0') ? '3.0' : '3.1', root: root as Record<string, unknown> }
}

async function readFileBounded(url: URL, maxBytes: number): Promise<string> {
  let file
  try {
    file = await open(url)
  } catch (error) {
    throw new OpenApiProblem([], `cannot be read (${describeThrown(error)})`)
  }
  try {
    const buffer = Buffer.alloc(maxBytes + 1)
    const { bytesRead } = await file.read(buffer, 0, maxBytes + 1, 0)
    if (bytesRead > maxBytes) throw new OpenApiProblem([], `is larger than ${String(maxBytes)} bytes`)
    return buffer.toString('utf8', 0, bytesRead)
  } finally {
    await file.close()
  }
}

async function fetchBounded(url: URL, limits: DocumentLimits): Promise<string> {
  const signal = AbortSignal.timeout(limits.fetchTimeoutMs)
  const service = 'the document'
  try {
    const response = await fetch(url, { signal, redirect: 'manual', headers: { accept: 'application/json, application/yaml, text/yaml' } })
    await refuseRedirect(service, response)
    if (!response.ok) {
      await response.body?.cancel()
      throw new OpenApiProblem([], `cannot be fetched: HTTP ${String(response.status)}`)
    }
    return await readText(service, response, limits.maxBytes)
  } catch (error) {
    if (error instanceof OpenApiProblem) throw error
    if (signal.aborted) throw new OpenApiProblem([], `was not fetched within ${String(limits.fetchTimeoutMs)} ms`)
    throw new OpenApiProblem([], `cannot be fetched: ${describeThrown(causeOf(error))}`)
  }
}

/** `#/paths/~1pets/get/parameters/0` as a path into `root`: ['paths', '/pets', 'get', 'parameters', 0]. */
function pointerPath(pointer: string, root: unknown): PropertyKey[] {
  const [, fragment = ''] = pointer.split('#')
  let node = root
  return fragment
    .split('/')
    .slice(1)
    .map((token) => {
      const key = decodeURIComponent(token).replaceAll('~1', '/').replaceAll('~0', '~')
      const isIndex = Array.isArray(node)
      node = typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined
      return isIndex ? Number(key) : key
    })
}
