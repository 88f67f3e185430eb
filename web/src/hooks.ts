import { type RefObject, useCallback, useEffect, useRef, useState } from 'react';
import { get } from './api';

export interface Fetched<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload(): void;
}

/**
 * GET `path` whenever it changes (null: nothing to fetch). A newer request aborts the older
 * one, so a slow answer never overwrites a newer one. The last data stays shown while the
 * next page loads.
 */
export function useGet<T>(path: string | null): Fetched<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(path !== null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    void tick;
    if (path === null) {
      setLoading(false);
      return;
    }
    const ctl = new AbortController();
    setLoading(true);
    setError(null);
    get<T>(path, { signal: ctl.signal })
      .then((d) => {
        setData(d);
        setError(null);
        setLoading(false);
      })
      .catch((err: unknown) => {
        if (ctl.signal.aborted) return;
        setError(err);
        setLoading(false);
      });
    return () => ctl.abort();
  }, [path, tick]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { data, error, loading, reload };
}

/** A page was shown already: the next one is an in-app navigation. */
let pageShown = false;

/**
 * Sets document.title and, after an in-app navigation, moves focus to the page's heading (so a
 * screen reader announces the new page). On first load the browser keeps focus at the start.
 */
export function usePageTitle(title: string): RefObject<HTMLHeadingElement | null> {
  const ref = useRef<HTMLHeadingElement | null>(null);
  useEffect(() => {
    document.title = `${title} · medsurface`;
  }, [title]);
  useEffect(() => {
    if (pageShown) ref.current?.focus();
    pageShown = true;
  }, []);
  return ref;
}
