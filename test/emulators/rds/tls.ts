import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execOk } from '../../../lib/util/exec.ts';

export interface TestCa {
  /** PEM of the CA: what a client trusts (the stand-in for the RDS CA bundle). */
  caFile: string;
  caPem: string;
  /** The copies' server certificate (for 127.0.0.1 and localhost), signed by the CA. */
  certFile: string;
  keyFile: string;
}

/** A throwaway CA and a server certificate for loopback, made with openssl (nothing is downloaded). */
export async function makeTestCa(dir: string): Promise<TestCa> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const at = (name: string) => join(dir, name);
  await execOk('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=restore-drill test RDS CA',
    '-keyout', at('ca.key'), '-out', at('ca.crt')]);
  await execOk('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-keyout', at('server.key'), '-out', at('server.csr')]);
  await writeFile(at('server.ext'), 'subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\n');
  await execOk('openssl', ['x509', '-req', '-in', at('server.csr'), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial',
    '-days', '2', '-extfile', at('server.ext'), '-out', at('server.crt')]);
  return { caFile: at('ca.crt'), caPem: await readFile(at('ca.crt'), 'utf8'), certFile: at('server.crt'), keyFile: at('server.key') };
}
