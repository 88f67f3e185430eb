/**
 * A worker's live opt-out list: the inventory's opt_outs table (src/inventory/opt-out.ts) and
 * the worker's own `--opt-out-file` lists, reloaded at every shard start and every
 * `everyMs` (default 60 s) while the worker runs, so an opt-out recorded during a run stops
 * traffic to its range within that interval on every worker. Between reloads a lookup is a
 * binary search over the merged ranges (the scope module's IpSet).
 *
 * A reload that fails (database unavailable, a file gone) keeps the last list and says so; the
 * list only ever comes from a complete read, never from part of one.
 */
import { messageOf } from '../core/errors.js';
import { loadOptOutSet } from '../inventory/opt-out.js';
import type { KyselyInventory } from '../inventory/index.js';
import { IpSet, loadIpSetSpecs } from '../scope/index.js';

/** Default and longest reload interval: the promise made to owners is "within a minute". */
export const OPT_OUT_RELOAD_MS = 60_000;

export class OptOutWatch {
  private set: IpSet = IpSet.empty();
  private timer: NodeJS.Timeout | null = null;
  private loading: Promise<void> | null = null;
  /** Successful reloads so far. */
  reloads = 0;

  constructor(
    private readonly inv: KyselyInventory,
    private readonly opts: { files: readonly string[]; everyMs: number; log: (line: string) => void },
  ) {}

  /** True when `ip` is on the list as last loaded. */
  has(ip: string): boolean {
    return !this.set.isEmpty && this.set.has(ip);
  }

  get ranges(): number {
    return this.set.rangeCount;
  }

  /** Reads the list again (concurrent calls share one read); throws when it cannot be read. */
  reload(): Promise<void> {
    this.loading ??= (async () => {
      try {
        let next = await loadOptOutSet(this.inv);
        if (this.opts.files.length > 0) next = next.union(await loadIpSetSpecs([], [...this.opts.files], undefined, 'opt-out file'));
        const before = this.set;
        this.set = next;
        this.reloads++;
        if (!(before.containsAll(next) && next.containsAll(before))) {
          this.opts.log(`opt-out list loaded: ${next.rangeCount} range(s), ${next.size} address(es)`);
        }
      } finally {
        this.loading = null;
      }
    })();
    return this.loading;
  }

  /** Reloads every `everyMs` until stop(); a failed reload keeps the last list and is logged. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      this.reload().catch((err) => this.opts.log(`reloading the opt-out list failed (${messageOf(err)}); keeping the list loaded before`));
    }, this.opts.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}
