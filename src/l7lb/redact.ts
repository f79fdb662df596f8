// The config as `/_haproxy_getconfig` shows it to anyone who can reach :9090: userlist password
// hashes (from HAPROXY_{n}_AUTH) and `stats auth` credentials are replaced by a marker, so the
// endpoint cannot be used to collect hashes for offline cracking.
export const REDACTED = '<redacted>';

export function redactConfig(text: string): string {
  return text
    .replace(/^([ \t]*user[ \t]+\S+[ \t]+(?:insecure-)?password[ \t]+)\S+/gm, `$1${REDACTED}`)
    .replace(/^([ \t]*stats[ \t]+auth[ \t]+[^:\s]+:)\S+/gm, `$1${REDACTED}`);
}
