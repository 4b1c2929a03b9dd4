import { CallError, clipped } from '../errors.ts'
import { maxLoggedIdChars } from '../limits.ts'
import type { ToolRegistry } from '../tools/registry.ts'
import type { AnsweredCall } from './call-result.ts'
import type { ArgumentLimits } from './parse-arguments.ts'
import { checkArguments, type PreparedCall } from './prepare-call.ts'

/** A call's lane in its batch: the key it shares with the calls it is ordered with, and whether its failure stops them. */
export interface CallLane {
  key: string
  stopOnFailure: boolean
  /** A call held for approval: answered in its turn without running (its hold is its answer), never skipped. */
  held: boolean
}

type Answer = AnsweredCall | Promise<AnsweredCall>

export interface LaneSteps {
  /** Runs call `index`, which waited `waitedMs` for the calls before it in its lane. Never rejects. */
  run(index: number, waitedMs: number): Answer
  /** Answers call `index` with `error` without running it: a call before it in its lane failed and stopped the lane. */
  skip(index: number, error: CallError, waitedMs: number): AnsweredCall
}

/**
 * Each call's lane (none for a call refused before running, or whose tool declares none), or
 * undefined when no call of the batch has one: such a batch runs as if lanes did not exist. A call
 * held for approval keeps its place in its lane: what comes after it is ordered after its hold.
 */
export function lanesOf(
  prepared: readonly PreparedCall[],
  registry: ToolRegistry,
  limits: ArgumentLimits,
): Array<CallLane | undefined> | undefined {
  if (!registry.hasLanes) return undefined
  let laned = false
  const lanes: Array<CallLane | undefined> = []
  for (const entry of prepared) {
    const held = entry.error !== undefined && entry.approval !== undefined
    const lane = entry.tool === undefined ? undefined : registry.lane(entry.tool.name)
    let args: unknown
    if (entry.error === undefined) args = entry.args
    else if (held && lane !== undefined && entry.tool !== undefined) {
      const checked = checkArguments(entry.call, entry.tool, limits)
      if (checked.error === undefined) args = checked.args
    }
    const key = args === undefined ? undefined : lane?.keyOf(args)
    if (lane === undefined || key === undefined) lanes.push(undefined)
    else {
      laned = true
      lanes.push({ key, stopOnFailure: lane.stopOnFailure, held })
    }
  }
  return laned ? lanes : undefined
}

/** A lane of the batch so far: its last call's answer, and the failed call that stopped it, if one did. */
interface LaneState {
  last: Answer
  stoppedBy: AnsweredCall | undefined
}

/**
 * Starts every call of a batch and gives its answers, in the calls' order: a call in no lane at
 * once, a call in a lane once the call before it in that lane is answered (in `sequential` mode,
 * once the call before it in the batch is). A call waiting for its lane is in no queue and holds
 * no slot. Calls answered synchronously let the next of their lane start synchronously.
 */
export function runInLanes(lanes: ReadonlyArray<CallLane | undefined>, steps: LaneSteps, sequential: boolean): Answer[] {
  const started = performance.now()
  const states = new Map<string, LaneState>()
  const answers: Answer[] = []
  let previous: Answer | undefined
  for (const [index, lane] of lanes.entries()) {
    const state = lane === undefined ? undefined : states.get(lane.key)
    const start = (waitedMs: number): Answer => {
      const stoppedBy = state?.stoppedBy
      if (lane === undefined || stoppedBy === undefined || lane.held) return steps.run(index, waitedMs)
      return steps.skip(index, skipped(stoppedBy, lane.key), waitedMs)
    }
    const before = sequential ? previous : state?.last
    const answer = before instanceof Promise ? before.then(() => start(performance.now() - started)) : start(0)
    const settled = lane === undefined ? answer : recorded(answer, lane, state ?? newLane(states, lane.key, answer))
    answers.push(settled)
    previous = settled
  }
  return answers
}

function newLane(states: Map<string, LaneState>, key: string, first: Answer): LaneState {
  const state: LaneState = { last: first, stoppedBy: undefined }
  states.set(key, state)
  return state
}

/** `answer`, once its lane has taken note of it: the lane's last call, and its stop if it failed and stops its lane. */
function recorded(answer: Answer, lane: CallLane, state: LaneState): Answer {
  const note = (answered: AnsweredCall) => {
    // A cancelled call means a cancelled batch: the calls after it are answered cancelled, not skipped.
    const stops = lane.stopOnFailure && !answered.result.ok && answered.result.error?.code !== 'cancelled'
    if (stops && state.stoppedBy === undefined) state.stoppedBy = answered
    return answered
  }
  const settled = answer instanceof Promise ? answer.then(note) : note(answer)
  state.last = settled
  return settled
}

function skipped(failed: AnsweredCall, key: string): CallError {
  const { id, name, error } = failed.result
  return new CallError(
    'skipped',
    `not run: the call ${JSON.stringify(clipped(id, maxLoggedIdChars))} of ${name} before it in its lane ${JSON.stringify(clipped(key, 80))} failed (${error?.code ?? 'failed'}), and a failure of ${name} stops the lane`,
  )
}
