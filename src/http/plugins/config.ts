import fp from 'fastify-plugin'
import type { Config } from '../../config/env.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The validated configuration the gateway was built with. */
    config: Config
  }
}

export const configPlugin = fp<{ config: Config }>(
  (app, { config }, done) => {
    app.decorate('config', config)
    done()
  },
  { name: 'toolgate-config', fastify: '5.x' },
)
