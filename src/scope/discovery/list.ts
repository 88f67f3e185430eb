/**
 * `--from-list`: endpoints written by hand or by another tool, one or more a line:
 * `10.0.0.5:104`, `[2001:db8::5]:104` (RFC 3986 §3.2.2 brackets: an IPv6 address's own colons
 * make `addr:port` ambiguous otherwise), separated by whitespace or commas, `#` to the end of
 * the line a comment. An entry without a port (`10.0.0.5`, `2001:db8::5`) takes the ports
 * given with the list, and is refused when none were given.
 */
import { parseIPv6 } from '../ip.js';
import { quoteToken, splitTokens } from '../ipset.js';
import type { ParseContext } from './context.js';
import { type TextSource, forEachLine } from './text-source.js';

function entry(ctx: ParseContext, token: string, line: number): void {
  ctx.stats.records++;
  let host: string;
  let portText: string | null;
  if (token.startsWith('[')) {
    const close = token.indexOf(']');
    if (close === -1) throw ctx.error(line, `bad entry ${quoteToken(token)}: "[" without "]"`);
    host = token.slice(1, close);
    const rest = token.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) throw ctx.error(line, `bad entry ${quoteToken(token)}: expected [address]:port`);
    portText = rest === '' ? null : rest.slice(1);
  } else if (parseIPv6(token) !== null) {
    host = token; /* a bare IPv6 address never carries a port */
    portText = null;
  } else {
    const colon = token.lastIndexOf(':');
    if (colon !== -1 && token.indexOf(':') !== colon) {
      throw ctx.error(line, `bad entry ${quoteToken(token)}: write an IPv6 endpoint as [address]:port`);
    }
    host = colon === -1 ? token : token.slice(0, colon);
    portText = colon === -1 ? null : token.slice(colon + 1);
  }
  if (portText === null) {
    if (ctx.defaultPorts.length === 0) throw ctx.error(line, `${quoteToken(token)} has no port: write address:port, or give the ports to pair bare addresses with (--ports)`);
    for (const port of ctx.defaultPorts) ctx.open(host, port, line);
    return;
  }
  ctx.open(host, ctx.port(portText, line), line);
}

/** Reads an endpoint list into the collector. */
export async function parseEndpointList(src: TextSource, ctx: ParseContext): Promise<void> {
  ctx.stats.format = 'endpoint-list';
  ctx.stats.lines = await forEachLine(src, (text, line) => {
    const hash = text.indexOf('#');
    for (const token of splitTokens(hash === -1 ? text : text.slice(0, hash))) entry(ctx, token, line);
  });
}
