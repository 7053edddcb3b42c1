/**
 * IP addresses and CIDR blocks as numbers, for the checks a string pattern cannot do (a gateway inside
 * its subnet, host bits set) and for one canonical spelling (so the same rule is recognised however a
 * platform or a caller writes it).
 */
export interface IpAddress {
  version: 4 | 6;
  value: bigint;
}

export interface Cidr extends IpAddress {
  prefix: number;
}

const bits = (version: 4 | 6) => (version === 4 ? 32 : 128);

function parseIpv4(text: string): bigint | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0n;
  for (const part of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) return null;
    value = (value << 8n) | BigInt(part);
  }
  return value;
}

function parseIpv6(text: string): bigint | null {
  if (!/^[0-9a-fA-F:.]+$/.test(text)) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === '') return [];
    const out: number[] = [];
    const items = half.split(':');
    for (const [i, item] of items.entries()) {
      // an IPv4 tail (::ffff:192.0.2.1) counts as two groups
      if (i === items.length - 1 && item.includes('.')) {
        const v4 = parseIpv4(item);
        if (v4 === null) return null;
        out.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
      } else if (/^[0-9a-fA-F]{1,4}$/.test(item)) {
        out.push(parseInt(item, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0] as string);
  const tail = halves.length === 2 ? groups(halves[1] as string) : [];
  if (!head || !tail) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  let value = 0n;
  for (const g of [...head, ...new Array<number>(missing).fill(0), ...tail]) value = (value << 16n) | BigInt(g);
  return value;
}

export function parseIp(text: string): IpAddress | null {
  const v4 = parseIpv4(text);
  if (v4 !== null) return { version: 4, value: v4 };
  const v6 = text.includes(':') ? parseIpv6(text) : null;
  return v6 === null ? null : { version: 6, value: v6 };
}

/** `a.b.c.d/n` or `x:y::/n`; host bits may be set here (see {@link hostBitsSet}). */
export function parseCidr(text: string): Cidr | null {
  const m = /^([^/]+)\/(0|[1-9][0-9]{0,2})$/.exec(text);
  if (!m) return null;
  const ip = parseIp(m[1] as string);
  const prefix = Number(m[2]);
  if (!ip || prefix > bits(ip.version)) return null;
  return { ...ip, prefix };
}

function hostMask(cidr: Cidr): bigint {
  return (1n << BigInt(bits(cidr.version) - cidr.prefix)) - 1n;
}

export function networkAddress(cidr: Cidr): bigint {
  return cidr.value & ~hostMask(cidr);
}

export function hostBitsSet(cidr: Cidr): boolean {
  return (cidr.value & hostMask(cidr)) !== 0n;
}

export function contains(cidr: Cidr, ip: IpAddress): boolean {
  return ip.version === cidr.version && (ip.value & ~hostMask(cidr)) === networkAddress(cidr);
}

/** The broadcast address of an IPv4 block (IPv6 has none). */
export function isIpv4Broadcast(cidr: Cidr, ip: IpAddress): boolean {
  return cidr.version === 4 && cidr.prefix < 31 && ip.value === (networkAddress(cidr) | hostMask(cidr));
}

export function formatIp(ip: IpAddress): string {
  if (ip.version === 4) return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  const groups = Array.from({ length: 8 }, (_, i) => Number((ip.value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: the longest run (2 or more) of zero groups becomes ::, the first one on a tie
  let best = { at: -1, len: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.len && j - i >= 2) best = { at: i, len: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.at < 0) return hex.join(':');
  return `${hex.slice(0, best.at).join(':')}::${hex.slice(best.at + best.len).join(':')}`;
}

/** Canonical spelling of a block: the network address (host bits cleared) and the prefix. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp({ version: cidr.version, value: networkAddress(cidr) })}/${cidr.prefix}`;
}
