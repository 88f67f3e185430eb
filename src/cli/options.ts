import { InvalidArgumentError } from 'commander';
import { UsageError } from '../core/errors.js';

export function intOption(flag: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`${flag} takes a non-negative integer (got "${value}")`);
    return Number(value);
  };
}

export function listOption(value: string): string[] {
  return value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `104,4242,11000-11112` → sorted unique ports; anything else is a UsageError naming the token. */
export function parsePorts(spec: string): number[] {
  const out = new Set<number>();
  for (const tok of listOption(spec)) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(tok);
    if (!m) throw new UsageError(`--ports: "${tok}" is not a port or a range (e.g. 104,4242,11000-11112)`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a < 1 || b > 65535 || a > b) throw new UsageError(`--ports: "${tok}" is outside 1-65535 or reversed`);
    if (out.size + (b - a + 1) > 65535) throw new UsageError('--ports: too many ports');
    for (let p = a; p <= b; p++) out.add(p);
  }
  if (out.size === 0) throw new UsageError('--ports: empty list');
  return [...out].sort((x, y) => x - y);
}
