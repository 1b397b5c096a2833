import { useMutationState } from '@tanstack/react-query';
import { type OperationView, viewOf } from '../operations';
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

function OperationRow(props: { view: OperationView }) {
  const { view } = props;
  const wire = useWireRecord(view.key);
  // The link's retries happen inside one of TanStack Query's attempts: count them from the wire.
  const retries = Math.max(view.failures, wire.attempts - 1);
  const state = view.state === 'pending' && retries > 0 ? 'retrying' : view.state;
  const result = view.operation.result;
  let status: string;
  if (state === 'succeeded') status = wire.replayed ? 'Succeeded · replayed' : 'Succeeded';
  else if (state === 'failed') status = 'Failed';
  else if (view.queued) status = 'Waiting for network';
  else if (state === 'retrying') status = `Retrying (${retries})`;
  else status = 'Pending';

  return (
    <li
      className={`operation ${state}`}
      data-testid="operation"
      data-key={view.key}
      data-state={state}
      data-replayed={wire.replayed ? 'true' : 'false'}
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
        {state === 'failed' && view.error && (
          <div className="reason">
            {view.error.code && <code>{view.error.code}</code>} {view.error.message}
          </div>
        )}
        {state === 'retrying' && view.error && (
          <div className="muted small">{view.error.message}</div>
        )}
      </div>
      <span className="badge">{status}</span>
    </li>
  );
}

/** Every operation asked for, newest first; a key appears once, however often it was submitted. */
export function OperationList() {
  const views = useMutationState({ select: viewOf });
  const newestFirst = views
    .filter((view): view is OperationView => view !== undefined)
    .sort((a, b) => b.submittedAt - a.submittedAt);
  const seen = new Set<string>();
  const operations = newestFirst.filter((view) => !seen.has(view.key) && seen.add(view.key));

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
