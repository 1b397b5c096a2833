import type { ReactNode } from 'react';

/**
 * A card holding one form: its title, a row of fields (`children`), a
 * submit button (`submit`: its label and `data-testid`) and, beside it, the
 * button that starts a new operation on purpose (`startNew`). `extra` goes
 * between the title and the fields (a `<datalist>`), `status` under the buttons.
 */
export function FormCard(props: {
  title: string;
  submit: { label: string; testId: string };
  startNew?: { label: string; testId: string; onClick: () => void };
  onSubmit: () => void;
  extra?: ReactNode;
  status?: ReactNode;
  children: ReactNode;
}) {
  return (
    <form
      className="card"
      noValidate
      onSubmit={(event) => {
        event.preventDefault();
        props.onSubmit();
      }}
    >
      <h2>{props.title}</h2>
      {props.extra}
      <div className="row">{props.children}</div>
      <div className="actions">
        <button type="submit" data-testid={props.submit.testId} className="primary">
          {props.submit.label}
        </button>
        {props.startNew && (
          <button
            type="button"
            className="secondary"
            data-testid={props.startNew.testId}
            onClick={props.startNew.onClick}
          >
            {props.startNew.label}
          </button>
        )}
      </div>
      {props.status}
    </form>
  );
}
