#!/usr/bin/env node
// The toolgate command (package.json "bin"). A JavaScript file, so that the Node version check runs
// before any TypeScript is loaded; the command itself is main.ts.
import './node-version.js'
import process from 'node:process'

const { main } = await import('./main.ts')
await main(process.argv.slice(2))
