/** Routes API calls through the fault proxy: lost answers, resets and 502s, retried with the same key. */
export function FlakyNetworkSwitch(props: { on: boolean; onChange: (on: boolean) => void }) {
  return (
    <label
      className="switch"
      title="Send calls through a proxy that loses answers, resets connections and answers 502"
    >
      <input
        type="checkbox"
        role="switch"
        aria-checked={props.on}
        data-testid="flaky"
        checked={props.on}
        onChange={(event) => props.onChange(event.target.checked)}
      />
      <span className="track" aria-hidden="true" />
      <span>Flaky network</span>
    </label>
  );
}
