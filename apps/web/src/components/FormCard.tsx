import type { ReactNode } from 'react';

/**
 * A card holding one form: its title, a row of fields (`children`), and a
 * submit button (`submit`: its label and `data-testid`). `extra` goes between
 * the title and the fields (a `<datalist>`).
 */
export function FormCard(props: {
  title: string;
  submit: { label: string; testId: string };
  onSubmit: () => void;
  extra?: ReactNode;
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
      <button type="submit" data-testid={props.submit.testId} className="primary">
        {props.submit.label}
      </button>
    </form>
  );
}
