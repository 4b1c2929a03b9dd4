/** What makes an OpenAPI document unfit to become tools, and where in the document (a JSON path, [] for the whole document). */
export class OpenApiProblem extends Error {
  override name = 'OpenApiProblem'
  readonly path: readonly PropertyKey[]

  constructor(path: readonly PropertyKey[], message: string) {
    super(message)
    this.path = path
  }
}
