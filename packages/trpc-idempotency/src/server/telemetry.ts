/**
 * OpenTelemetry traces and metrics of idempotent calls (SPEC 12.1, 12.2),
 * through `@opentelemetry/api` alone, an optional peer: it is loaded with a
 * dynamic `import()` the first time a builder is made (SvelteKit loads it the
 * same way), and when it is not installed, or no tracer or meter provider is
 * registered, a call costs one check of the global providers. The SDK, the
 * exporters and the context manager are the application's, as with every
 * OpenTelemetry instrumentation.
 * @see README.md#opentelemetry
 */
import { createHash } from 'node:crypto';
import type {
  Attributes,
  Context,
  Counter,
  Histogram,
  Meter,
  MeterProvider,
  Span,
  Tracer,
  TracerProvider,
} from '@opentelemetry/api';
import type { IdempotencyEvent } from './events';

type OpenTelemetryApi = typeof import('@opentelemetry/api');

/** The instrumentation scope: what spans and metrics name as their source. */
export const INSTRUMENTATION_NAME = 'trpc-idempotency';
/** The package's version: `pnpm version-packages` rewrites it after `changeset version`; a test keeps it equal to package.json's. */
export const INSTRUMENTATION_VERSION = '0.1.0';

/**
 * Where the builder's spans and metrics go.
 * @see README.md#opentelemetry
 */
export interface IdempotencyTelemetryOptions {
  /**
   * An OpenTelemetry `TracerProvider` to take the tracer from. Default: the
   * global one (`provider.register()`, `trace.setGlobalTracerProvider()`).
   */
  tracerProvider?: { getTracer(name: string, version?: string): object };
  /**
   * An OpenTelemetry `MeterProvider` to take the meter from. Default: the
   * global one (`metrics.setGlobalMeterProvider()`).
   */
  meterProvider?: { getMeter(name: string, version?: string): object };
}

/**
 * What `idempotency.outcome` says of a call: its event's type, except that an
 * execution that took over an expired lease is `taken_over` (so the values
 * partition the calls, as the events do).
 */
export type IdempotencyOutcome = IdempotencyEvent['type'] | 'taken_over';

/** Upper bounds of the duration histogram's buckets, in seconds: 1 ms to 10 s (a wait bound of 5 s fits). */
export const DURATION_BUCKETS_SECONDS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

// `undefined`: not loaded yet; `null`: not installed (or failed to load).
let api: OpenTelemetryApi | null | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads `@opentelemetry/api` once per process. Returns the pending load, or
 * `undefined` once it settled, so a call awaits it only before then.
 */
function loadApi(): Promise<void> | undefined {
  if (api !== undefined) return undefined;
  loading ??= import('@opentelemetry/api').then(
    (module) => {
      api = module;
    },
    () => {
      // Not installed: telemetry is off, as the peer dependency is optional.
      api = null;
    },
  );
  return loading;
}

/** The outcome attribute of an event. */
export function outcomeOf(event: IdempotencyEvent): IdempotencyOutcome {
  return event.type === 'executed' && event.takenOver ? 'taken_over' : event.type;
}

/**
 * The telemetry of one builder. `startCall` is the one check a call pays
 * when nothing records.
 */
export function createTelemetry(opts: IdempotencyTelemetryOptions = {}) {
  const pending = loadApi();
  let tracers: { provider: object; tracer: Tracer | undefined } | undefined;
  let meters: { provider: object; instruments: Instruments | undefined } | undefined;

  /**
   * The tracer, or `undefined` when no provider is registered. The global
   * provider is a proxy whose delegate is set on registration, so the
   * delegate (not the proxy) says whether it changed.
   */
  function currentTracer(otel: OpenTelemetryApi): Tracer | undefined {
    const provider = (opts.tracerProvider ?? otel.trace.getTracerProvider()) as TracerProvider;
    const proxy = provider as Partial<ProxyProvider>;
    const delegate: object =
      typeof proxy.getDelegate === 'function' ? proxy.getDelegate() : provider;
    if (tracers?.provider !== delegate) {
      const tracer =
        typeof proxy.getDelegateTracer === 'function'
          ? proxy.getDelegateTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION)
          : provider.getTracer(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
      tracers = { provider: delegate, tracer };
    }
    return tracers.tracer;
  }

  /** The instruments, or `undefined` when no meter provider is registered (the API's no-op meter). */
  function currentInstruments(otel: OpenTelemetryApi): Instruments | undefined {
    const provider = (opts.meterProvider ?? otel.metrics.getMeterProvider()) as MeterProvider;
    if (meters?.provider !== provider) {
      const meter = provider.getMeter(INSTRUMENTATION_NAME, INSTRUMENTATION_VERSION);
      meters = {
        provider,
        instruments: meter === otel.createNoopMeter() ? undefined : createInstruments(meter),
      };
    }
    return meters.instruments;
  }

  return {
    /** A promise to await before the first call while the API is loading; else `undefined`. */
    ready: () => (api === undefined ? pending : undefined),
    /**
     * The telemetry of a call that arrived now, a child of the active span;
     * `undefined` when neither traces nor metrics record.
     */
    startCall(call: { path: string; scope: string; key: string }): CallTelemetry | undefined {
      if (!api) return undefined;
      const tracer = currentTracer(api);
      const instruments = currentInstruments(api);
      if (!tracer && !instruments) return undefined;
      return createCallTelemetry(api, { tracer, instruments, ...call });
    },
  };
}

/** One builder's telemetry. */
export type Telemetry = ReturnType<typeof createTelemetry>;

/** The part of the API's global `ProxyTracerProvider` read to tell whether a provider is registered. */
interface ProxyProvider {
  getDelegate(): TracerProvider;
  getDelegateTracer(name: string, version?: string): Tracer | undefined;
}

interface Instruments {
  calls: Counter;
  duration: Histogram;
  steps: Counter;
}

function createInstruments(meter: Meter): Instruments {
  return {
    calls: meter.createCounter('idempotency.calls', {
      description:
        'Idempotent calls by outcome (idempotency.outcome) and procedure path (idempotency.path).',
      unit: '{call}',
    }),
    duration: meter.createHistogram('idempotency.call.duration', {
      description:
        'Idempotent calls from arrival to answer, including any wait for a duplicate, by outcome and procedure path.',
      unit: 's',
      advice: { explicitBucketBoundaries: [...DURATION_BUCKETS_SECONDS] },
    }),
    steps: meter.createCounter('idempotency.steps', {
      description:
        'Steps of lease-mode executions that stored an outcome, by procedure path, step name and whether the step ran or was answered from an interrupted execution (skipped).',
      unit: '{step}',
    }),
  };
}

/**
 * The span (if traced) and metrics of one call. `end` is called once, with
 * the call's one event; what a call learns on the way (a replay's record)
 * goes on the span before.
 */
export interface CallTelemetry {
  /** Runs `fn` with the call's span active, so the handler's own spans are its children. */
  run<T>(fn: () => T): T;
  /** W3C `traceparent` of the call's span, stored with the outcome; `undefined` if not traced. */
  readonly traceContext: string | undefined;
  /** The call answers with `record`'s outcome: link to the span of the execution that stored it. */
  answeredFrom(record: { attempt?: number; traceContext?: string | undefined }): void;
  /** A lease-mode step as a child span; `run` calls the step's `fn` only if the step runs now. */
  step<T>(
    name: string,
    fn: () => T,
    run: (fn: () => T) => Promise<Awaited<T>>,
  ): Promise<Awaited<T>>;
  /** Records the call's event and ends its span. */
  end(event: IdempotencyEvent): void;
  /** Ends the span if no event did (a call that failed outside the state machine). */
  abandon(error: unknown): void;
}

function createCallTelemetry(
  otel: OpenTelemetryApi,
  call: {
    tracer: Tracer | undefined;
    instruments: Instruments | undefined;
    path: string;
    scope: string;
    key: string;
  },
): CallTelemetry {
  const parent = otel.context.active();
  let span: Span | undefined;
  let active: Context = parent;
  let traceContext: string | undefined;
  if (call.tracer) {
    span = call.tracer.startSpan(
      `idempotency ${call.path}`,
      { kind: otel.SpanKind.INTERNAL, attributes: { 'idempotency.path': call.path } },
      parent,
    );
    active = otel.trace.setSpan(parent, span);
    if (span.isRecording()) {
      span.setAttribute('idempotency.key_hash', keyHash(call.scope, call.key));
      traceContext = traceparentOf(span);
    }
  }
  let ended = false;

  return {
    run: (fn) => (span ? otel.context.with(active, fn) : fn()),
    traceContext,
    answeredFrom(record) {
      if (!span?.isRecording()) return;
      if (record.attempt !== undefined) span.setAttribute('idempotency.attempt', record.attempt);
      const link = record.traceContext ? linkedSpanContext(otel, record.traceContext) : undefined;
      if (link && typeof span.addLink === 'function') {
        span.addLink({ context: link, attributes: { 'idempotency.link': 'stored_outcome' } });
      }
    },
    async step<T>(
      name: string,
      fn: () => T,
      run: (fn: () => T) => Promise<Awaited<T>>,
    ): Promise<Awaited<T>> {
      if (!span) return run(fn);
      const stepSpan = call.tracer!.startSpan(
        `idempotency.step ${name}`,
        { attributes: { 'idempotency.path': call.path, 'idempotency.step.name': name } },
        active,
      );
      let ran = false;
      try {
        const value = await run(() => {
          ran = true;
          return otel.context.with(otel.trace.setSpan(active, stepSpan), fn);
        });
        stepSpan.setAttribute('idempotency.step.outcome', ran ? 'ran' : 'skipped');
        return value;
      } catch (error) {
        stepSpan.setAttribute('idempotency.step.outcome', 'failed');
        recordError(otel, stepSpan, error);
        throw error;
      } finally {
        stepSpan.end();
      }
    },
    end(event) {
      if (ended) return;
      ended = true;
      const outcome = outcomeOf(event);
      const attributes: Attributes = {
        'idempotency.outcome': outcome,
        'idempotency.path': call.path,
      };
      if (call.instruments) {
        call.instruments.calls.add(1, attributes);
        call.instruments.duration.record(event.durationMs / 1000, attributes);
        if (event.type === 'executed') {
          for (const step of event.stepsRun)
            call.instruments.steps.add(1, stepAttributes(call.path, step, 'ran'));
          for (const step of event.stepsSkipped) {
            call.instruments.steps.add(1, stepAttributes(call.path, step, 'skipped'));
          }
        }
      }
      if (!span) return;
      if (span.isRecording()) {
        span.setAttribute('idempotency.outcome', outcome);
        if ('attempt' in event) span.setAttribute('idempotency.attempt', event.attempt);
        if ('outcome' in event) span.setAttribute('idempotency.stored_outcome', event.outcome);
        if (event.type === 'failed') {
          span.setStatus({ code: otel.SpanStatusCode.ERROR, message: event.reason });
        } else if (event.type === 'released') {
          span.setStatus({
            code: otel.SpanStatusCode.ERROR,
            message: 'transient failure: key released',
          });
        }
      }
      span.end();
    },
    abandon(error) {
      if (ended || !span) return;
      ended = true;
      recordError(otel, span, error);
      span.end();
    },
  };
}

function stepAttributes(path: string, step: string, outcome: 'ran' | 'skipped'): Attributes {
  return {
    'idempotency.path': path,
    'idempotency.step.name': step,
    'idempotency.step.outcome': outcome,
  };
}

function recordError(otel: OpenTelemetryApi, span: Span, error: unknown) {
  if (!span.isRecording()) return;
  span.setStatus({
    code: otel.SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/**
 * The record's identity, hashed: calls of one operation share it, and
 * neither the key nor the scope can be read back from a trace.
 */
function keyHash(scope: string, key: string) {
  return createHash('sha256').update(`${scope}\u0000${key}`).digest('hex').slice(0, 32);
}

/** `00-<trace id>-<span id>-<flags>`, the W3C trace context of `span`. */
function traceparentOf(span: Span) {
  const { traceId, spanId, traceFlags } = span.spanContext();
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/** The span context a stored `traceparent` names, or `undefined` if it is not a valid one. */
function linkedSpanContext(otel: OpenTelemetryApi, traceparent: string) {
  const match = TRACEPARENT.exec(traceparent);
  if (!match) return undefined;
  const context = {
    traceId: match[1]!,
    spanId: match[2]!,
    traceFlags: Number.parseInt(match[3]!, 16),
    isRemote: true,
  };
  return otel.trace.isSpanContextValid(context) ? context : undefined;
}
