/** Ends the command with one line on stderr, no stack trace: 1 for a bad configuration or a failed check, 2 for bad usage. */
export function fail(message: string, exitCode: 1 | 2 = 1): never {
  process.stderr.write(`toolgate: ${message}\n`)
  process.exit(exitCode)
}
