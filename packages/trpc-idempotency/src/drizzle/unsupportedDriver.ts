/**
 * A Drizzle database on a driver the store of its dialect cannot run on. The
 * message names the driver found, why it is out, and the supported ones.
 * @see README.md#postgres-drivers
 */
export class UnsupportedDriverError extends TypeError {
  override readonly name = 'UnsupportedDriverError';
  constructor(opts: { caller: string; found: string; reason: string; supported: string }) {
    super(
      `${opts.caller}: ${opts.found} is not supported: ${opts.reason}. Supported: ${opts.supported}`,
    );
  }
}
