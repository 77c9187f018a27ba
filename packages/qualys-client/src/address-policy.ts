/**
 * Which addresses a Qualys client may connect to. In production (https only) the API server is never a
 * loopback, link-local (169.254.169.254, the cloud metadata service, is one), unspecified, multicast or
 * reserved address, nor a known metadata address; private ranges only when allowed (a Qualys private
 * cloud platform can live there). Every address a host name resolves to is checked, and the socket
 * connects to the checked address (the lookup hook hands it to net.connect), so a DNS answer that
 * changes between check and connect cannot swap it.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { QualysError } from './errors.ts';

export interface AddressPolicy {
  /** false: any address (plain-http deployments: the simulator, tests) */
  restrict: boolean;
  /** RFC 1918, CGNAT and IPv6 unique-local addresses (QPC_ALLOW_PRIVATE_QUALYS) */
  allowPrivate: boolean;
}

export type AddressKind = 'loopback' | 'link-local' | 'unspecified' | 'metadata' | 'reserved' | 'private' | 'public';

const lists: [AddressKind, [string, number, 'ipv4' | 'ipv6'][]][] = [
  ['metadata', [['100.100.100.200', 32, 'ipv4'], ['192.0.0.192', 32, 'ipv4'], ['fd00:ec2::254', 128, 'ipv6']]],
  ['unspecified', [['0.0.0.0', 8, 'ipv4'], ['::', 128, 'ipv6']]],
  ['loopback', [['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']]],
  ['link-local', [['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']]],
  [
    'reserved',
    [
      ['224.0.0.0', 4, 'ipv4'], // multicast
      ['240.0.0.0', 4, 'ipv4'], // reserved and broadcast
      ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
      ['198.18.0.0', 15, 'ipv4'], // benchmarking
      ['ff00::', 8, 'ipv6'], // multicast
      ['64:ff9b::', 96, 'ipv6'], // NAT64: may reach any IPv4, loopback included
      ['2002::', 16, 'ipv6'], // 6to4: the same
      ['100::', 64, 'ipv6'], // discard
    ],
  ],
  ['private', [['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'], ['100.64.0.0', 10, 'ipv4'], ['fc00::', 7, 'ipv6']]],
];

const blocks = lists.map(([kind, nets]) => {
  const b = new BlockList();
  for (const [net, prefix, type] of nets) b.addSubnet(net, prefix, type);
  return [kind, b] as const;
});

/** An IPv4 address written as IPv6 (::ffff:127.0.0.1) is classified as the IPv4 address it is. */
function unmapped(ip: string): { ip: string; type: 'ipv4' | 'ipv6' } {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (m) return { ip: m[1]!, type: 'ipv4' };
  return { ip, type: isIP(ip) === 4 ? 'ipv4' : 'ipv6' };
}

export function addressKind(address: string): AddressKind {
  const { ip, type } = unmapped(address.replace(/^\[|\]$/g, ''));
  for (const [kind, b] of blocks) if (b.check(ip, type)) return kind;
  return 'public';
}

/** Why the policy refuses this address, or undefined when it may be dialled. */
export function refusal(address: string, policy: AddressPolicy): string | undefined {
  if (!policy.restrict) return undefined;
  const kind = addressKind(address);
  if (kind === 'public' || (kind === 'private' && policy.allowPrivate)) return undefined;
  if (kind === 'private') return 'a private address (allowed only with QPC_ALLOW_PRIVATE_QUALYS=1)';
  return `a ${kind} address`;
}

export function addressRefused(host: string, address: string, why: string): QualysError {
  const shown = host === address ? host : `${host} (${address})`;
  return new QualysError('QUALYS_ADDRESS_REFUSED', `the Qualys host ${shown} is ${why}: refused`, { retryable: false });
}

type Resolve = (host: string) => Promise<LookupAddress[]>;

const systemResolve: Resolve = (host) =>
  new Promise((resolve, reject) => dnsLookup(host, { all: true, verbatim: true }, (err, addrs) => (err ? reject(err) : resolve(addrs))));

/** Resolve `host` and check every address; the addresses, or QUALYS_ADDRESS_REFUSED naming the first refused. */
export async function checkedAddresses(host: string, policy: AddressPolicy, resolve: Resolve = systemResolve): Promise<LookupAddress[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  const addrs = isIP(bare) ? [{ address: bare, family: isIP(bare) }] : await resolve(bare);
  for (const a of addrs) {
    const why = refusal(a.address, policy);
    if (why) throw addressRefused(bare, a.address, why);
  }
  return addrs;
}

/** A net.connect lookup that answers only checked addresses (the socket then connects to exactly those). */
export function guardedLookup(policy: AddressPolicy, resolve: Resolve = systemResolve): LookupFunction {
  return (hostname, options, callback) => {
    checkedAddresses(hostname, policy, resolve).then(
      (addrs) => {
        const wanted = options.family === 4 || options.family === 6 ? addrs.filter((a) => a.family === options.family) : addrs;
        if (wanted.length === 0) {
          callback(Object.assign(new Error(`no IPv${String(options.family)} address for ${hostname}`), { code: 'ENOTFOUND' }), '', 0);
          return;
        }
        if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, wanted);
        else callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, '', 0),
    );
  };
}
