import { useMutationState, useQueryClient } from '@tanstack/react-query';
import { useContext } from 'react';
import { type OperationView, viewOf } from '../operations';
import { PendingContext } from '../pending';
import { useWireRecord } from '../wire';
import { formatAmount, formatTime, shortKey } from './format';

function describe(view: OperationView) {
  const { operation } = view;
  if (operation.kind === 'open') {
    return `Open account for ${operation.input.owner || '—'} with ${formatAmount(operation.input.initialBalance)}`;
  }
  const { amount, fromAccountId, toAccountId } = operation.input;
  return `Transfer ${formatAmount(amount)} from ${fromAccountId || '—'} to ${toAccountId || '—'}`;
}

/** The badge: what the user needs to know about the operation, in a few words. */
function statusOf(view: OperationView, retries: number, replayed: boolean) {
  switch (view.state) {
    case 'succeeded':
      if (view.alreadyDone) return 'Already done';
      return replayed ? 'Succeeded · replayed' : 'Succeeded';
    case 'failed':
      return 'Failed';
    case 'unknown':
      return 'Outcome unknown';
    default:
      if (view.waiting) return 'Waiting for network';
      return view.state === 'retrying' ? `Retrying (${retries})` : 'Pending';
  }
}

/** A sentence under the title when the badge alone would leave a question. */
function explanation(view: OperationView) {
  if (view.alreadyDone) {
    return view.resultExpired
      ? 'Already done earlier: the server no longer keeps its result, and did not run it again.'
      : 'Already done: the same operation was submitted again, and the server answered it from its record.';
  }
  if (view.resultExpired) {
    return 'Done: the server ran it earlier and no longer keeps its result.';
  }
  if (view.state === 'unknown') {
    return view.unknownWhy === 'past-horizon'
      ? 'Older than the server keeps keys: not sent again. It may or may not have run; check the transfers.'
      : 'Discarded before an answer came: not sent again. It may or may not have run; check the transfers.';
  }
  if (view.waiting) {
    return 'No answer yet: its outcome is unknown. It keeps its key and is sent again when the network allows.';
  }
  return undefined;
}

function OperationRow(props: { view: OperationView }) {
  const { view } = props;
  const pending = useContext(PendingContext);
  const wire = useWireRecord(view.key);
  // The link's retries happen inside one of TanStack Query's attempts: count them from the wire.
  const retries = Math.max(view.failures, wire.attempts - 1);
  const state = view.state === 'pending' && retries > 0 ? 'retrying' : view.state;
  const result = view.operation.result;
  const why = explanation(view);
  // Given up only once it has failed to get an answer: while an attempt is on its way,
  // the discard takes effect when that attempt ends without one.
  const canDiscard = state === 'retrying';

  return (
    <li
      className={`operation ${state}${view.waiting ? ' waiting' : ''}`}
      data-testid="operation"
      data-key={view.key}
      data-state={state}
      data-replayed={wire.replayed ? 'true' : 'false'}
      data-already-done={view.alreadyDone ? 'true' : 'false'}
      data-attempts={wire.attempts}
      {...(result && { 'data-result-id': result.id })}
    >
      <div className="operation-main">
        <div className="operation-title">{describe(view)}</div>
        <div className="muted small">
          {formatTime(view.submittedAt)} · key <code title={view.key}>{shortKey(view.key)}</code>
          {wire.attempts > 1 && ` · ${wire.attempts} attempts, one key`}
          {result && (
            <>
              {' · '}
              <code>{result.id}</code>
            </>
          )}
        </div>
        {why && <div className="note small">{why}</div>}
        {state === 'failed' && view.error && (
          <div className="reason">
            {view.error.code && <code>{view.error.code}</code>} {view.error.message}
          </div>
        )}
        {(state === 'retrying' || view.waiting) && view.error && (
          <div className="muted small">Last attempt: {view.error.message}</div>
        )}
        {canDiscard && pending && (
          <button
            type="button"
            className="link-button"
            data-testid="operation-discard"
            onClick={() => void pending.discard(view.key)}
          >
            Stop trying (outcome stays unknown)
          </button>
        )}
      </div>
      <span className="badge">{statusOf(view, retries, wire.replayed)}</span>
    </li>
  );
}

/**
 * Every operation asked for, newest first; a key appears once, however often
 * it was submitted: its latest submission says where it stands, its first
 * one where it goes in the list.
 */
export function OperationList() {
  const queryClient = useQueryClient();
  const views = useMutationState({ select: (mutation) => viewOf(queryClient, mutation) });
  const byKey = new Map<string, { latest: OperationView; firstOrder: number }>();
  for (const view of views) {
    if (!view) continue;
    const known = byKey.get(view.key);
    if (!known) byKey.set(view.key, { latest: view, firstOrder: view.order });
    else {
      if (view.order > known.latest.order) known.latest = view;
      known.firstOrder = Math.min(known.firstOrder, view.order);
    }
  }
  const operations = [...byKey.values()]
    .sort((a, b) => b.firstOrder - a.firstOrder)
    .map((entry) => entry.latest);

  return (
    <section className="card">
      <h2>Operations</h2>
      {operations.length === 0 ? (
        <p className="empty">Operations you ask for appear here, with their idempotency keys.</p>
      ) : (
        <ul className="operations">
          {operations.map((view) => (
            <OperationRow key={view.key} view={view} />
          ))}
        </ul>
      )}
    </section>
  );
}
