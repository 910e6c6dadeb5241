// Real web servers for CGI tests: start lighttpd, apache2, or nginx with
// fcgiwrap in the foreground on a free 127.0.0.1 port, with a config written
// to a temp dir, serving given CGI programs; stop them and clean up.
//
//   await using server = await startCgiServer("lighttpd", {
//     programs: { app: { script: "/abs/path/app.ts", flags: ["--allow-env"] } },
//   });
//   const res = await fetch(`${server.url}/app/some/path?x=1`);
//   await server.errorLog(); // the server's error log, CGI stderr included
//
// Each program is reached at `/<name>` (and `/<name>/<PATH_INFO>`). A
// program is either a Deno script (run through `deno run --no-config
// --no-lock <flags>` by a small /bin/sh wrapper) or an executable file run
// as is (its `#!` line finds `deno` on the PATH given to CGI programs).
//
// CGI programs run with a minimal environment: the helper gives them a PATH
// that holds this `deno`, and a DENO_DIR warmed by one run of each program.
// When the tests run as root, apache2 runs CGI programs as www-data: the
// helper then makes sure that user can reach `deno`, the scripts and the
// cache (a hard link or copy of `deno` and of the repository's .ts files
// when they are not world-readable).
//
// Skip rule (see `serverOrSkip`): a missing server binary skips the test
// with a printed reason, except under CI=true, where it fails.

function dirname(p: string): string {
  const i = p.replace(/\/+$/, "").lastIndexOf("/");
  return i <= 0 ? "/" : p.slice(0, i);
}
function join(...parts: string[]): string {
  return parts.join("/").replace(/\/+/g, "/");
}

/** The servers this helper can run ("nginx" is nginx + fcgiwrap). */
export type ServerName = "lighttpd" | "apache2" | "nginx";

/** The binaries (and Debian packages) each server needs. */
const BINARIES: Record<ServerName, string[]> = {
  lighttpd: ["lighttpd"],
  apache2: ["apache2"],
  nginx: ["nginx", "fcgiwrap"],
};

/** A CGI program to serve. */
export type CgiProgram =
  | { script: string; flags?: string[] }
  | { executable: string };

/** What to serve and how. */
export interface CgiServerOptions {
  /** URL name (no slash) → program. */
  programs: Record<string, CgiProgram>;
  /** Extra environment variables for the CGI programs. */
  env?: Record<string, string>;
  /** A DENO_DIR to use instead of a fresh one warmed by the helper. */
  denoDir?: string;
  /** Milliseconds to wait for the server to listen; 15 000 by default. */
  startTimeout?: number;
}

/** A running server. */
export interface CgiServer extends AsyncDisposable {
  /** Which server. */
  readonly name: ServerName;
  /** The port on 127.0.0.1. */
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  /** The temp dir holding the config, logs and cgi wrappers. */
  readonly dir: string;
  /** The error log so far, with CGI programs' stderr (lighttpd keeps that in its breakagelog). */
  errorLog(): Promise<string>;
  /** Stops the server and removes the temp dir. */
  close(): Promise<void>;
}

const REPO = dirname(
  dirname(decodeURIComponent(new URL(import.meta.url).pathname)),
);
const SEARCH = ["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/bin", "/bin"];

/** The path of an installed binary, or undefined. */
export function findServer(name: string): string | undefined {
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), ...SEARCH];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      const st = Deno.statSync(p);
      if (st.isFile && (st.mode ?? 0o111) & 0o111) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/**
 * For `Deno.test({ ignore })`: true (and a printed reason) when the server
 * is missing outside CI. Under CI=true a missing server is not ignored: the
 * test then fails in {@linkcode startCgiServer}.
 */
export function serverMissing(name: ServerName): boolean {
  const missing = BINARIES[name].filter((b) => !findServer(b));
  if (missing.length === 0) return false;
  if (Deno.env.get("CI") === "true") return false;
  console.log(
    `SKIP ${name} tests: ${missing.join(" and ")} not installed ` +
      `(apt-get install -y ${
        missing.join(" ")
      }); under CI=true this is a failure`,
  );
  return true;
}

const isRoot = () => Deno.uid() === 0;

/** True if `path` and every directory above it can be reached by others. */
function worldReachable(path: string, needExec = false): boolean {
  try {
    const st = Deno.statSync(path);
    const mode = st.mode ?? 0o777;
    if (!(mode & 0o004)) return false;
    if ((needExec || st.isDirectory) && !(mode & 0o001)) return false;
    for (let d = dirname(path); d !== "/"; d = dirname(d)) {
      const m = Deno.statSync(d).mode ?? 0o777;
      if (!(m & 0o001)) return false;
    }
    return true;
  } catch {
    return false;
  }
}

async function run(cmd: string, args: string[], env?: Record<string, string>) {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return out;
}

/** Copies the repository's TypeScript files (not .git) into `dest`. */
async function copyRepo(dest: string): Promise<void> {
  async function walk(from: string, to: string): Promise<void> {
    await Deno.mkdir(to, { recursive: true, mode: 0o755 });
    for await (const e of Deno.readDir(from)) {
      if (e.name.startsWith(".") || e.name === "node_modules") continue;
      const src = join(from, e.name);
      const dst = join(to, e.name);
      if (e.isDirectory) await walk(src, dst);
      else if (e.isFile && /\.(ts|js|json)$/.test(e.name)) {
        await Deno.copyFile(src, dst);
        await Deno.chmod(dst, (await Deno.stat(src)).mode! | 0o444);
      }
    }
  }
  await walk(REPO, dest);
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function waitListening(
  port: number,
  child: Deno.ChildProcess,
  timeout: number,
): Promise<void> {
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = Date.now() + timeout;
  while (Date.now() < deadline) {
    if (exited) throw new Error("the server exited at start");
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`the server did not listen on port ${port} in ${timeout} ms`);
}

function lighttpdConfig(
  dir: string,
  port: number,
  programs: Record<string, string>,
  env: Record<string, string>,
): string {
  const q = (s: string) => JSON.stringify(s);
  // lighttpd matches plain prefixes, first match wins: longest first.
  const entries = Object.entries(programs).sort((a, b) =>
    b[0].length - a[0].length
  );
  const aliases = entries.map(([name, file]) =>
    `  ${q("/" + name)} => ${q(file)},`
  ).join("\n");
  const envs = Object.entries(env).map(([k, v]) => `  ${q(k)} => ${q(v)},`)
    .join("\n");
  return `server.document-root = ${q(join(dir, "htdocs"))}
server.bind = "127.0.0.1"
server.port = ${port}
server.errorlog = ${q(join(dir, "error.log"))}
server.upload-dirs = (${q(dir)})
server.breakagelog = ${q(join(dir, "cgi-stderr.log"))}
# lighttpd answers 400 to a path that is not UTF-8 unless told otherwise;
# CGI is about raw bytes.
server.http-parseopts = ("url-invalid-utf8-reject" => "disable")
server.modules = ("mod_setenv", "mod_alias", "mod_cgi")
alias.url = (
${aliases}
)
cgi.assign = ("" => "")
setenv.add-environment = (
${envs}
)
`;
}

function apacheConfig(
  dir: string,
  port: number,
  programs: Record<string, string>,
  env: Record<string, string>,
): string {
  const q = (s: string) => JSON.stringify(s);
  const mods = "/usr/lib/apache2/modules";
  const aliases = Object.entries(programs).map(([name, file]) =>
    `ScriptAlias ${q("/" + name)} ${q(file)}\n` +
    `<Directory ${q(dirname(file))}>\n  Options +ExecCGI +FollowSymLinks\n` +
    `  Require all granted\n</Directory>`
  ).join("\n");
  const envs = Object.entries(env).map(([k, v]) => `SetEnv ${k} ${q(v)}`)
    .join("\n");
  return `ServerRoot ${q(dir)}
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
LoadModule mpm_prefork_module ${mods}/mod_mpm_prefork.so
LoadModule authz_core_module ${mods}/mod_authz_core.so
LoadModule alias_module ${mods}/mod_alias.so
LoadModule cgi_module ${mods}/mod_cgi.so
LoadModule env_module ${mods}/mod_env.so
StartServers 2
MinSpareServers 1
MaxSpareServers 4
${isRoot() ? "User www-data\nGroup www-data" : ""}
PidFile ${q(join(dir, "httpd.pid"))}
DefaultRuntimeDir ${q(dir)}
ErrorLog ${q(join(dir, "error.log"))}
LogLevel warn
DocumentRoot ${q(join(dir, "htdocs"))}
<Directory />
  Require all denied
</Directory>
<Directory ${q(join(dir, "htdocs"))}>
  Require all granted
</Directory>
${aliases}
${envs}
`;
}

function nginxConfig(
  dir: string,
  port: number,
  programs: Record<string, string>,
  env: Record<string, string>,
): string {
  const q = (s: string) => JSON.stringify(s);
  const envs = Object.entries(env).map(([k, v]) =>
    `    fastcgi_param ${k} ${q(v)};`
  ).join("\n");
  // docs/cgi.md's recipe (tests/readme_test.ts checks they agree): /app
  // and /app/..., not /appx (a prefix location would take it, PATH_INFO
  // "x"); (?s) keeps a %0A in PATH_INFO.
  const locations = Object.entries(programs).map(([name, file]) =>
    `  location ~ (?s)^/${name}(/.*)?$ {
    fastcgi_split_path_info (?s)^(/${name})(/.*)?$;
    include /etc/nginx/fastcgi_params;
    fastcgi_param SCRIPT_FILENAME ${q(file)};
    fastcgi_param SCRIPT_NAME $fastcgi_script_name;
    fastcgi_param PATH_INFO $fastcgi_path_info;
${envs}
    fastcgi_pass unix:${join(dir, "fcgi.sock")};
  }`
  ).join("\n");
  const tmp = (n: string) => q(join(dir, "tmp", n));
  return `daemon off;
worker_processes 1;
pid ${q(join(dir, "nginx.pid"))};
error_log ${q(join(dir, "error.log"))} warn;
events { worker_connections 64; }
http {
  access_log off;
  client_max_body_size 10m;
  client_body_temp_path ${tmp("body")};
  fastcgi_temp_path ${tmp("fastcgi")};
  proxy_temp_path ${tmp("proxy")};
  uwsgi_temp_path ${tmp("uwsgi")};
  scgi_temp_path ${tmp("scgi")};
  server {
    listen 127.0.0.1:${port};
    root ${q(join(dir, "htdocs"))};
${locations}
  }
}
`;
}

/**
 * Starts fcgiwrap on a unix socket in `dir` (`-f`: CGI programs' stderr goes
 * to nginx's error log), reachable by nginx's workers.
 */
async function startFcgiwrap(
  dir: string,
  path: string,
): Promise<{ proc: Deno.ChildProcess; output: Promise<unknown> }> {
  const sock = join(dir, "fcgi.sock");
  const proc = new Deno.Command("setsid", {
    args: [
      "-w",
      findServer("fcgiwrap")!,
      "-f",
      "-c",
      "4",
      "-s",
      `unix:${sock}`,
    ],
    env: { PATH: path },
    clearEnv: true,
    // Its preforked workers would hold piped output open after it exits.
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const output = proc.status;
  for (let i = 0; i < 200; i++) {
    try {
      await Deno.chmod(sock, 0o777);
      return { proc, output };
    } catch {
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  killGroup(proc, "SIGKILL");
  await output;
  throw new Error(`fcgiwrap did not create ${sock} (its stderr is above)`);
}

/**
 * Signals `proc` and its process group (it leads one: started by `setsid`),
 * so that forked workers go too.
 */
function killGroup(proc: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    Deno.kill(-proc.pid, signal);
  } catch {
    try {
      proc.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Stops a child: SIGTERM, then SIGKILL after 5 s. */
async function stop(
  proc: Deno.ChildProcess,
  output: Promise<unknown>,
): Promise<void> {
  killGroup(proc, "SIGTERM");
  const timer = setTimeout(() => killGroup(proc, "SIGKILL"), 5000);
  await output;
  clearTimeout(timer);
}

/**
 * Starts `name` on a free 127.0.0.1 port serving `options.programs`, and
 * waits until it listens. Throws (with the server's output) if it cannot.
 */
export async function startCgiServer(
  name: ServerName,
  options: CgiServerOptions,
): Promise<CgiServer> {
  const missing = BINARIES[name].filter((b) => !findServer(b));
  if (missing.length) {
    throw new Error(
      `${missing.join(" and ")} not installed: apt-get install -y ${
        missing.join(" ")
      }`,
    );
  }
  const binary = findServer(name)!;
  const dir = await Deno.makeTempDir({ prefix: `wsgiref-${name}-` });
  let child: Deno.ChildProcess | undefined;
  let fcgi: { proc: Deno.ChildProcess; output: Promise<unknown> } | undefined;
  try {
    await Deno.chmod(dir, 0o755);
    await Deno.mkdir(join(dir, "htdocs"), { mode: 0o755 });
    await Deno.mkdir(join(dir, "cgi-bin"), { mode: 0o755 });

    // As root, apache2 runs CGI programs as www-data: everything they touch
    // must be reachable by others.
    const asOther = isRoot() && name === "apache2";
    let deno = Deno.execPath();
    if (asOther && !worldReachable(deno, true)) {
      const local = join(dir, "deno");
      try {
        await Deno.link(deno, local);
      } catch {
        await Deno.copyFile(deno, local);
      }
      await Deno.chmod(local, 0o755);
      deno = local;
    }
    let repo = REPO;
    if (asOther && !worldReachable(join(REPO, "handlers.ts"))) {
      repo = join(dir, "repo");
      await copyRepo(repo);
    }
    const remap = (p: string) =>
      p.startsWith(REPO + "/") ? repo + p.slice(REPO.length) : p;

    const denoDir = options.denoDir ?? join(dir, "deno_dir");
    await Deno.mkdir(denoDir, { recursive: true, mode: 0o777 });
    const path = `${dirname(deno)}:/usr/local/bin:/usr/bin:/bin`;
    const cgiEnv = { ...options.env, DENO_DIR: denoDir, PATH: path };

    const files: Record<string, string> = {};
    for (const [prog, p] of Object.entries(options.programs)) {
      if ("script" in p) {
        const wrapper = join(dir, "cgi-bin", prog);
        const flags = (p.flags ?? ["--allow-env"]).map(shellQuote).join(" ");
        await Deno.writeTextFile(
          wrapper,
          `#!/bin/sh\nexec ${shellQuote(deno)} run --no-config --no-lock ` +
            `${flags} ${shellQuote(remap(p.script))}\n`,
        );
        await Deno.chmod(wrapper, 0o755);
        files[prog] = wrapper;
      } else {
        files[prog] = remap(p.executable);
      }
    }

    // Warm the cache: one run of each program, as a server would run it.
    for (const file of Object.values(files)) {
      const warm = await run(file, [], {
        ...cgiEnv,
        REQUEST_METHOD: "GET",
        SERVER_PROTOCOL: "HTTP/1.0",
        GATEWAY_INTERFACE: "CGI/1.1",
      });
      if (!warm.success) {
        throw new Error(
          `warming ${file} failed: ${new TextDecoder().decode(warm.stderr)}`,
        );
      }
    }
    if (asOther && options.denoDir === undefined) {
      await run("chmod", ["-R", "a+rwX", denoDir]);
    }

    if (name === "nginx") {
      // Its workers run as another user when the tests run as root.
      for (const t of ["body", "fastcgi", "proxy", "uwsgi", "scgi"]) {
        await Deno.mkdir(join(dir, "tmp", t), { recursive: true });
        await Deno.chmod(join(dir, "tmp", t), 0o777);
      }
      fcgi = await startFcgiwrap(dir, path);
    }

    const errorLogPath = join(dir, "error.log");
    let lastError = "";
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = freePort();
      const conf = join(dir, `${name}.conf`);
      await Deno.writeTextFile(
        conf,
        name === "lighttpd"
          ? lighttpdConfig(dir, port, files, cgiEnv)
          : name === "nginx"
          ? nginxConfig(dir, port, files, cgiEnv)
          : apacheConfig(dir, port, files, cgiEnv),
      );
      await Deno.writeTextFile(errorLogPath, "");
      if (asOther) await Deno.chmod(errorLogPath, 0o666);
      const args = name === "lighttpd"
        ? ["-D", "-f", conf]
        : name === "nginx"
        ? ["-e", errorLogPath, "-c", conf]
        : ["-DFOREGROUND", "-f", conf];
      // Its own session: apache2 signals its whole process group on stop.
      child = new Deno.Command("setsid", {
        args: ["-w", binary, ...args],
        env: { PATH: path },
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const output = child.output();
      try {
        await waitListening(port, child, options.startTimeout ?? 15000);
      } catch (e) {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
        const o = await output;
        lastError = `${(e as Error).message}\n` +
          new TextDecoder().decode(o.stdout) +
          new TextDecoder().decode(o.stderr) +
          await Deno.readTextFile(errorLogPath).catch(() => "");
        child = undefined;
        continue;
      }
      const proc = child;
      const wrapper = fcgi;
      let closed = false;
      const server: CgiServer = {
        name,
        port,
        url: `http://127.0.0.1:${port}`,
        dir,
        async errorLog() {
          const read = (p: string) => Deno.readTextFile(p).catch(() => "");
          return await read(errorLogPath) +
            await read(join(dir, "cgi-stderr.log"));
        },
        async close() {
          if (closed) return;
          closed = true;
          await stop(proc, output);
          if (wrapper) await stop(wrapper.proc, wrapper.output);
          await Deno.remove(dir, { recursive: true }).catch(() => {});
        },
        [Symbol.asyncDispose]() {
          return this.close();
        },
      };
      return server;
    }
    throw new Error(`${name} would not start:\n${lastError}`);
  } catch (e) {
    for (const proc of [child, fcgi?.proc]) {
      if (!proc) continue;
      killGroup(proc, "SIGKILL");
      await proc.status;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}
