import fp from 'fastify-plugin'
import { KeyRing } from '../../access/key-ring.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** The API keys in force. */
    keyRing: KeyRing
  }
}

export const keyRingPlugin = fp(
  async (app) => {
    app.decorate('keyRing', await KeyRing.load(app.config))
  },
  { name: 'toolgate-key-ring', fastify: '5.x', dependencies: ['toolgate-config'] },
)
