/**
 * Light and dark: the system's `prefers-color-scheme` unless the user picked one, which is kept
 * in localStorage. The choice is an attribute on <html> (`data-theme`); styles.css holds both
 * palettes. Charts read the resolved theme to pick their colours.
 */
import { useSyncExternalStore } from 'react';

export type ThemeChoice = 'system' | 'light' | 'dark';
export type Theme = 'light' | 'dark';

const KEY = 'medsurface-theme';
const EVENT = 'medsurface:theme';
const media = (): MediaQueryList => window.matchMedia('(prefers-color-scheme: dark)');

export function storedChoice(): ThemeChoice {
  try {
    const v = window.localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

export function applyTheme(choice: ThemeChoice = storedChoice()): void {
  const root = document.documentElement;
  if (choice === 'system') delete root.dataset.theme;
  else root.dataset.theme = choice;
}

export function setThemeChoice(choice: ThemeChoice): void {
  try {
    if (choice === 'system') window.localStorage.removeItem(KEY);
    else window.localStorage.setItem(KEY, choice);
  } catch {
    // Storage refused (private mode): the choice lasts for this page only.
  }
  applyTheme(choice);
  window.dispatchEvent(new Event(EVENT));
}

function subscribe(cb: () => void): () => void {
  const m = media();
  m.addEventListener('change', cb);
  window.addEventListener(EVENT, cb);
  window.addEventListener('storage', cb);
  return () => {
    m.removeEventListener('change', cb);
    window.removeEventListener(EVENT, cb);
    window.removeEventListener('storage', cb);
  };
}

export function useThemeChoice(): ThemeChoice {
  return useSyncExternalStore(subscribe, storedChoice);
}

export function useResolvedTheme(): Theme {
  return useSyncExternalStore(subscribe, () => {
    const c = storedChoice();
    if (c !== 'system') return c;
    return media().matches ? 'dark' : 'light';
  });
}
