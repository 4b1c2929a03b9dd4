/** A function that strikes the given secrets out of a text, for error messages. */
export function redactor(secrets: readonly string[]): (text: string) => string {
  return (text) => secrets.reduce((result, secret) => result.split(secret).join('[redacted]'), text)
}
