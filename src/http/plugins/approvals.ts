import fp from 'fastify-plugin'
import { Approvals } from '../../approvals/approvals.ts'

declare module 'fastify' {
  interface FastifyInstance {
    /** Approval hold points: tokens signed with TOOLGATE_APPROVAL_SECRETS, their one use recorded in the state store. */
    approvals: Approvals
  }
}

/** The approvals, on the executions' state store; a batch that brings no approvals of its own gets the executor's fallback. */
export const approvalsPlugin = fp(
  (app, _options, done) => {
    const { config } = app
    const approvals = new Approvals({ secrets: config.approvalSecrets, ttlSeconds: config.approvalTtlSeconds }, app.executions.store)
    app.executor.fallbackApprovals = approvals.withoutDecisions()
    app.decorate('approvals', approvals)
    done()
  },
  { name: 'toolgate-approvals', fastify: '5.x', dependencies: ['toolgate-config', 'toolgate-executor', 'toolgate-executions'] },
)
