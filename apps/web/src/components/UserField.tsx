export function UserField(props: { user: string; onChange: (user: string) => void }) {
  return (
    <label className="field inline">
      <span>Signed in as</span>
      <input
        data-testid="user"
        className="narrow"
        value={props.user}
        onChange={(event) => props.onChange(event.target.value)}
        autoComplete="off"
        spellCheck={false}
      />
    </label>
  );
}
