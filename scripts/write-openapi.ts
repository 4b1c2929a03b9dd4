import { writeFile } from 'node:fs/promises'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config/env.ts'

// Writes the OpenAPI document of a server on its defaults to openapi/openapi.json (npm run openapi).
const app = await buildApp(loadConfig({}), { logger: undefined })
await app.ready()
const target = new URL('../openapi/openapi.json', import.meta.url)
await writeFile(target, `${JSON.stringify(app.swagger(), null, 2)}\n`)
await app.close()
process.stdout.write(`wrote ${target.pathname}\n`)
