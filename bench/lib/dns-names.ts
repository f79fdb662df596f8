/** The benchmark's names and addresses: svcN.marathon.l4lb.thisdcos.directory → 10.1.x.y. */
export function benchNames(count: number): [string, string][] {
  return Array.from({ length: count }, (_, i) => [
    `svc${i}.marathon.l4lb.thisdcos.directory`,
    `10.1.${(i >> 8) & 255}.${i & 255}`,
  ]);
}
