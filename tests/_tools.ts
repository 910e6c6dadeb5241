// Outside tools the server tests check against: curl as the client, and
// openssl for a certificate.

const dec = new TextDecoder();

/** Runs curl (each transfer bounded to 20 s); its stdout, or an error with its stderr. */
export async function curl(args: string[]): Promise<string> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "--max-time", "20", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`curl ${args.join(" ")} failed: ${dec.decode(out.stderr)}`);
  }
  return dec.decode(out.stdout);
}

/** Runs curl with `args` (the body to /dev/null); the status code it got, as text. */
export function curlStatus(args: string[]): Promise<string> {
  return curl(["-o", "/dev/null", "-w", "%{http_code}", ...args]);
}

/**
 * Makes a self-signed certificate for `localhost` and `127.0.0.1`
 * (subjectAltName) with openssl, as `dir/cert.pem` and `dir/key.pem`.
 */
export async function selfSignedCert(
  dir: string,
): Promise<{ certFile: string; keyFile: string; cert: string; key: string }> {
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const made = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!made.success) {
    throw new Error(`openssl failed: ${dec.decode(made.stderr)}`);
  }
  return {
    certFile,
    keyFile,
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
  };
}
