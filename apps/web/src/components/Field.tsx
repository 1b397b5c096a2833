/** A labelled text or number input of a form; `testId` is its `data-testid`. */
export function Field(props: {
  label: string;
  testId: string;
  value: string;
  onChange: (value: string) => void;
  /** Takes the row's free width. */
  grow?: boolean;
  /** A whole number: the numeric keyboard on phones. */
  numeric?: boolean;
  placeholder?: string;
  /** The id of a `<datalist>` of suggestions. */
  list?: string;
}) {
  return (
    <label className={props.grow ? 'field grow' : 'field'}>
      <span>{props.label}</span>
      <input
        data-testid={props.testId}
        type={props.numeric ? 'number' : undefined}
        inputMode={props.numeric ? 'numeric' : undefined}
        list={props.list}
        value={props.value}
        placeholder={props.placeholder}
        onChange={(event) => props.onChange(event.target.value)}
      />
    </label>
  );
}
