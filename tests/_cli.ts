// A command-line child process for the tests that run `deno run`,
// `deno serve` or `deno task` as a user runs them: its output kept as it
// comes, waits bounded in time, and cleanup by `await using`.

/** A `deno run` child whose stdout and stderr are kept as they come. */
export class Cli implements AsyncDisposable {
  out = "";
  err = "";
  readonly child: Deno.ChildProcess;
  readonly status: Promise<Deno.CommandStatus>;
  #pumps: Promise<unknown>;
  #changed = Promise.withResolvers<void>();

  constructor(args: string[], cwd: string, env: Record<string, string> = {}) {
    this.child = new Deno.Command(Deno.execPath(), {
      args,
      cwd,
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (
      stream: ReadableStream<Uint8Array>,
      to: "out" | "err",
    ) => {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) {
        this[to] += text;
        this.#changed.resolve();
        this.#changed = Promise.withResolvers<void>();
      }
    };
    this.#pumps = Promise.all([
      pump(this.child.stdout, "out"),
      pump(this.child.stderr, "err"),
    ]);
    this.status = this.child.status;
    this.status.then(() => this.#changed.resolve());
  }

  /** Waits (at most 30 s) until `re` matches the output of `stream`. */
  async waitFor(stream: "out" | "err", re: RegExp): Promise<RegExpExecArray> {
    const deadline = Date.now() + 30000;
    let exited = false;
    this.status.then(() => (exited = true));
    for (;;) {
      const m = re.exec(this[stream]);
      if (m) return m;
      if (exited || Date.now() > deadline) {
        throw new Error(
          `${exited ? "exited" : "nothing after 30 s"} before ${re} on ` +
            `std${stream}:\n${this.out}\n${this.err}`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#changed.promise,
        new Promise((r) => (timer = setTimeout(r, 1000))),
      ]);
      clearTimeout(timer);
    }
  }

  /** The port (or socket path) it printed once listening. */
  async listening(): Promise<{ scheme: string; host: string; port: number }> {
    const m = await this.waitFor(
      "out",
      /^Serving (HTTPS?) on (\S+) port (\d+) \.\.\.\n/,
    );
    return { scheme: m[1], host: m[2], port: Number(m[3]) };
  }

  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch { /* exited */ }
  }

  /** The exit status, or null if it still runs after `ms` ms. */
  async exitWithin(ms: number): Promise<Deno.CommandStatus | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<null>((r) => (timer = setTimeout(r, ms, null)));
    try {
      return await Promise.race([this.status, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.status;
    await this.#pumps;
  }
}
