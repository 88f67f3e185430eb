/**
 * The server's event stream (`GET /api/v1/events`, Server-Sent Events): `scan-progress`,
 * `scan-finished` and `service-event`. One EventSource per page that listens; the browser
 * reconnects by itself after a network error, and the state says whether it is connected.
 */
import { useEffect, useRef, useState } from 'react';
import { API } from './api';

export type StreamState = 'connecting' | 'open' | 'closed';

export const EVENT_NAMES = ['scan-progress', 'scan-finished', 'service-event'] as const;
export type EventName = (typeof EVENT_NAMES)[number];

/** Bytes of one event the dashboard reads; anything larger is dropped, not parsed. */
const MAX_EVENT_CHARS = 64 * 1024;

export function useEventStream(onEvent: (name: EventName, data: unknown) => void): { state: StreamState; received: number; reconnect(): void } {
  const [state, setState] = useState<StreamState>('connecting');
  const [received, setReceived] = useState(0);
  const [attempt, setAttempt] = useState(0);
  const handler = useRef(onEvent);
  handler.current = onEvent;

  useEffect(() => {
    void attempt;
    const es = new EventSource(`${API}/events`);
    setState('connecting');
    es.onopen = () => setState('open');
    es.onerror = () => setState(es.readyState === EventSource.CLOSED ? 'closed' : 'connecting');
    const listeners = EVENT_NAMES.map((name) => {
      const fn = (e: MessageEvent) => {
        const text = typeof e.data === 'string' ? e.data : '';
        if (text.length > MAX_EVENT_CHARS) return;
        let data: unknown = text;
        try {
          data = JSON.parse(text);
        } catch {
          // Not JSON: handed over as text.
        }
        setReceived((n) => n + 1);
        handler.current(name, data);
      };
      es.addEventListener(name, fn as EventListener);
      return [name, fn] as const;
    });
    return () => {
      for (const [name, fn] of listeners) es.removeEventListener(name, fn as EventListener);
      es.close();
    };
  }, [attempt]);

  return { state, received, reconnect: () => setAttempt((n) => n + 1) };
}
