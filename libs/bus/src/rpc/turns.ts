// Waiting helpers both ends of RPC use in their receive loops.

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Resolves after the process.nextTick callbacks queued so far: the Redis layer writes a tick's sends
 * (and the pop queued with them) from one, so what a receive loop just woke — replies on the server,
 * the callers' next requests on the client — leaves before the loop takes its next turn instead of
 * after it (that turn was on a sequential call's critical path).
 */
export const afterQueuedWrites = () => new Promise<void>((resolve) => process.nextTick(resolve));
