import type { IdempotencyEvent } from 'trpc-idempotency';

/**
 * The `event` label of the idempotency metrics: one per request, so the
 * values partition the idempotent requests. An execution that took over an
 * expired lease counts as `taken_over`, not `executed`: every execution is
 * `executed` + `taken_over`.
 */
export type MetricsEvent =
  | 'executed'
  | 'taken_over'
  | 'replayed'
  | 'joined'
  | 'conflict'
  | 'mismatch'
  | 'expired'
  | 'released'
  | 'fenced'
  | 'failed';

/** Upper bounds of the request duration buckets, in seconds: 1 ms to 10 s (a wait bound of 5 s fits). */
export const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

/** A gauge read when scraped, e.g. the connections of a database pool. */
export interface GaugeCollector {
  name: string;
  help: string;
  /** The samples now: label values and the value. */
  collect(): Array<{ labels: Record<string, string>; value: number }>;
}

/** The content type of the Prometheus text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The server's metrics in the Prometheus text format, counted in this
 * process (each server process exposes its own; Prometheus adds them up):
 * - `idempotency_events_total{event,path}`: idempotent requests by outcome
 * - `idempotency_request_duration_seconds{event,path}`: their latency, arrival to answer
 * - `idempotency_steps_total{path,step,outcome}`: lease-mode steps that ran or were skipped on resume
 * - `http_requests_total{method,route,status}`: every HTTP request answered
 * - whatever `gauges` collect at scrape time.
 */
export function createMetrics(opts: { gauges?: GaugeCollector[] } = {}) {
  const events = counter(
    'idempotency_events_total',
    'Idempotent requests by outcome (event): executed, taken_over (executed after taking over an expired lease, resuming after its finished steps), replayed, joined (a duplicate got the answer of an execution running in this process), conflict (409 in progress), mismatch (422 key reused), expired (404: the same operation retried after the TTL of its response, its tombstone kept; not executed again), released (transient failure, key freed), fenced (lost lease, write refused), failed (500: the idempotency store failed or the outcome could not be stored).',
  );
  const steps = counter(
    'idempotency_steps_total',
    'Steps of lease-mode executions that stored an outcome, by procedure path, step name and whether the step ran or was answered from an interrupted execution (skipped).',
  );
  const durations = histogram(
    'idempotency_request_duration_seconds',
    'Idempotent requests from arrival to answer, including any wait for a duplicate, by outcome (event).',
    DURATION_BUCKETS,
  );
  const requests = counter(
    'http_requests_total',
    'HTTP requests answered, by method, route (a procedure, "batch", "/metrics", or "other") and status.',
  );

  return {
    /** Counts one idempotency event (the `onEvent` of the builder). */
    observeEvent(event: IdempotencyEvent) {
      const labels = { event: metricsEvent(event), path: event.path };
      events.inc(labels);
      durations.observe(labels, event.durationMs / 1000);
      if (event.type === 'executed') {
        for (const step of event.stepsRun) steps.inc({ path: event.path, step, outcome: 'ran' });
        for (const step of event.stepsSkipped) {
          steps.inc({ path: event.path, step, outcome: 'skipped' });
        }
      }
    },
    /** Counts one answered HTTP request. */
    observeRequest(request: { method: string; route: string; status: number }) {
      requests.inc({
        method: request.method,
        route: request.route,
        status: String(request.status),
      });
    },
    /** The exposition, as `GET /metrics` answers it. */
    render(): string {
      const lines = [
        ...events.render(),
        ...durations.render(),
        ...steps.render(),
        ...requests.render(),
      ];
      for (const gauge of opts.gauges ?? []) {
        lines.push(`# HELP ${gauge.name} ${escapeHelp(gauge.help)}`, `# TYPE ${gauge.name} gauge`);
        for (const sample of gauge.collect()) {
          lines.push(`${gauge.name}${labelSet(sample.labels)} ${number(sample.value)}`);
        }
      }
      return `${lines.join('\n')}\n`;
    },
  };
}

/** The server's metrics, from {@link createMetrics}. */
export type Metrics = ReturnType<typeof createMetrics>;

function metricsEvent(event: IdempotencyEvent): MetricsEvent {
  if (event.type === 'executed' && event.takenOver) return 'taken_over';
  return event.type;
}

type Labels = Record<string, string>;

function counter(name: string, help: string) {
  const series = new Map<string, { labels: Labels; value: number }>();
  return {
    inc(labels: Labels) {
      const id = labelSet(labels);
      const entry = series.get(id);
      if (entry) entry.value++;
      else series.set(id, { labels, value: 1 });
    },
    render() {
      const lines = [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} counter`];
      for (const [id, entry] of series) lines.push(`${name}${id} ${number(entry.value)}`);
      return lines;
    },
  };
}

function histogram(name: string, help: string, buckets: readonly number[]) {
  const series = new Map<
    string,
    { labels: Labels; counts: number[]; sum: number; count: number }
  >();
  return {
    observe(labels: Labels, value: number) {
      const id = labelSet(labels);
      let entry = series.get(id);
      if (!entry) {
        entry = { labels, counts: buckets.map(() => 0), sum: 0, count: 0 };
        series.set(id, entry);
      }
      for (let i = 0; i < buckets.length; i++) if (value <= buckets[i]!) entry.counts[i]!++;
      entry.sum += value;
      entry.count++;
    },
    render() {
      const lines = [`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} histogram`];
      for (const [id, entry] of series) {
        buckets.forEach((le, i) => {
          lines.push(
            `${name}_bucket${labelSet({ ...entry.labels, le: String(le) })} ${entry.counts[i]}`,
          );
        });
        lines.push(`${name}_bucket${labelSet({ ...entry.labels, le: '+Inf' })} ${entry.count}`);
        lines.push(`${name}_sum${id} ${number(entry.sum)}`, `${name}_count${id} ${entry.count}`);
      }
      return lines;
    },
  };
}

/** `{a="x",b="y"}` with the values escaped as the format requires; empty for no labels. */
function labelSet(labels: Labels) {
  const pairs = Object.entries(labels).map(([label, value]) => `${label}="${escapeLabel(value)}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

/** Label values escape backslash, double quote and line feed. */
export function escapeLabel(value: string) {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and line feed. */
function escapeHelp(text: string) {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function number(value: number) {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(value);
}
