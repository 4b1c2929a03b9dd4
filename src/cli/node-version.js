// Plain JavaScript on purpose: it must run, and say what is wrong in one line, on a Node too old to
// load TypeScript (a machine's system Node 20, reached when npm's install scripts were skipped).
// The launcher imports it before anything else; npm scripts that run TypeScript run it first.
import process from 'node:process'

const [major] = process.versions.node.split('.').map(Number)
if (major === undefined || major < 24) {
  const inNpm = process.env.npm_lifecycle_event !== undefined
  process.stderr.write(
    `toolgate: needs Node.js 24 or later; this is Node ${process.versions.node} (${process.execPath}). ` +
      (inNpm
        ? "npm scripts run the project's own Node 24 from the `node` dev dependency, whose install script did not run " +
          '(npm ci --ignore-scripts, or ignore-scripts=true in .npmrc): run `npm rebuild node --ignore-scripts=false`, then try again.\n'
        : "Start it through npm (`npm start`, `npx toolgate`) or with the project's Node: `node_modules/.bin/node src/cli/toolgate.js`.\n"),
  )
  process.exit(1)
}
