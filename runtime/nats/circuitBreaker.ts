import { ErrorCode, InfrafedError } from '../../schema/errors.ts';
import type { Placement } from '../../schema/model.ts';

export interface CircuitBreakerOptions {
  /** While open, the placement is probed this often, milliseconds (default 1 000). */
  probeMs?: number;
  /** The probe: resolves when the placement answers (e.g. its adapter's health check with a short timeout). */
  probe: (placement: Placement) => Promise<unknown>;
  /** A timeout counts only when the call waited at least this long, milliseconds (default 1 000): a call sent with almost no time left says nothing about the region. */
  minWaitMs?: number;
  /** Told when a placement's circuit opens or closes. */
  onChange?: (placement: Placement, open: boolean) => void;
}

/**
 * Per region and platform, for reads: after a call times out, the placement's circuit is open and reads
 * fail at once (REGION_TIMEOUT with `circuit: "open"`) instead of waiting for their deadline; the breaker
 * probes the placement in the background and closes the circuit when it answers. No responders is
 * already immediate and does not open it.
 */
export function createCircuitBreaker(options: CircuitBreakerOptions) {
  const probeMs = options.probeMs ?? 1_000;
  const minWaitMs = options.minWaitMs ?? 1_000;
  const open = new Map<string, { since: number; timer: NodeJS.Timeout }>();
  const keyOf = (p: Placement) => `${p.region}/${p.platform}`;

  function trip(placement: Placement) {
    const key = keyOf(placement);
    if (open.has(key)) return;
    let probing = false;
    const timer = setInterval(() => {
      if (probing) return;
      probing = true;
      options
        .probe(placement)
        .then(() => close(placement))
        .catch(() => undefined)
        .finally(() => (probing = false));
    }, probeMs);
    timer.unref();
    open.set(key, { since: Date.now(), timer });
    options.onChange?.(placement, true);
  }

  function close(placement: Placement) {
    const key = keyOf(placement);
    const state = open.get(key);
    if (!state) return;
    clearInterval(state.timer);
    open.delete(key);
    options.onChange?.(placement, false);
  }

  return {
    async call<T>(placement: Placement, work: () => Promise<T>): Promise<T> {
      const state = open.get(keyOf(placement));
      if (state) {
        throw new InfrafedError(
          ErrorCode.REGION_TIMEOUT,
          `region ${placement.region} (${placement.platform}) did not answer in time; not waiting for it until it answers again`,
          { region: placement.region, platform: placement.platform, circuit: 'open', since: new Date(state.since).toISOString() },
        );
      }
      const started = Date.now();
      try {
        return await work();
      } catch (error) {
        if (error instanceof InfrafedError && error.code === ErrorCode.REGION_TIMEOUT && Date.now() - started >= minWaitMs) trip(placement);
        throw error;
      }
    },
    isOpen: (placement: Placement) => open.has(keyOf(placement)),
    stop() {
      for (const { timer } of open.values()) clearInterval(timer);
      open.clear();
    },
  };
}
export type CircuitBreaker = ReturnType<typeof createCircuitBreaker>;
