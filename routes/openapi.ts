import type { FastifyPluginCallbackZod } from 'fastify-type-provider-zod'

const openapiRoutes: FastifyPluginCallbackZod = (app, _options, done) => {
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger())
  done()
}

export default openapiRoutes
