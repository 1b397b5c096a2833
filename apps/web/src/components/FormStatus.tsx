import type { OperationState } from 'trpc-idempotency/react-query';
import { shortKey } from './format';

/**
 * What became of the form's current operation, in one line: a resubmission
 * of one already done says so, and a new submission of the same input will
 * be the same operation until the user starts a new one.
 */
export function FormStatus(props: {
  operation: { key: string; state: OperationState; alreadyDone: boolean } | undefined;
  noun: string;
  testId: string;
}) {
  const { operation, noun } = props;
  if (!operation) return null;
  const key = <code title={operation.key}>{shortKey(operation.key)}</code>;
  let text: string;
  switch (operation.state) {
    case 'succeeded':
      text = operation.alreadyDone
        ? `Already done: this ${noun} was sent before, and the server did not run it again.`
        : `Done. Submitting the same form again replays it; “New ${noun}” starts another.`;
      break;
    case 'waiting':
      text = `Waiting for network: its outcome is unknown, and it will be sent again with its key.`;
      break;
    case 'failed':
      text = `The server refused it. Change the form to try again.`;
      break;
    case 'unknown':
      text = `Outcome unknown: not sent again.`;
      break;
    default:
      text = `Sending…`;
  }
  return (
    <p className="form-status small" data-testid={props.testId} data-state={operation.state}>
      {text} Key {key}.
    </p>
  );
}
