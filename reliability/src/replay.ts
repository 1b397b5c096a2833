import { type Answer, answerOf, type ObservedCall } from '@ledger/testkit';
import { send } from './http';

/**
 * Sends every call once more, straight to the server, and compares: a key
 * answers with what its call got, byte for byte. Returns the
 * differences.
 */
export async function replayCalls(opts: {
  url: string;
  calls: readonly ObservedCall<unknown>[];
}): Promise<string[]> {
  const problems: string[] = [];
  for (const call of opts.calls) {
    const response = await send({
      url: opts.url,
      path: call.path,
      user: call.user,
      body: JSON.stringify({ ...(call.input as object), idempotencyKey: call.key }),
    });
    const replay: Answer | undefined = answerOf(response.status, response.json);
    const first = call.record.final;
    if (!replay || replay.body !== first.body || replay.status !== first.status) {
      problems.push(
        `${call.user}/${call.key}: replay ${replay?.status} ${replay?.body} differs from ${first.status} ${first.body}`,
      );
    }
  }
  return problems;
}
