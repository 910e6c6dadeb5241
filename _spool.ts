// A request body on its way to `wsgi.input`: kept in memory up to a
// threshold, spooled to a temporary file past it (as nginx's
// client_body_temp, waitress's inbuf_overflow and Werkzeug's form parser
// do), and read back synchronously, as PEP 3333's `wsgi.input` is read.
//
// The temporary file is removed from its directory as soon as it is open
// (where the system allows it), so that no file is left behind whatever
// happens to the process; closing the spool closes the file, which frees
// its space. Both servers (simple_server.ts and the Fetch bridge) fill a
// spool as the body arrives and close it when the response ends.

import type { InputStream } from "./types.ts";
import { BytesIO } from "./util.ts";
import { LimitedInput } from "./_handlers.ts";

/** Where and when a body goes to disk. */
export interface SpoolOptions {
  /** Bodies larger than this many bytes are written to a temporary file. */
  threshold: number;
  /** The directory of the temporary files; the system's when undefined. */
  dir?: string;
}

/**
 * The default largest request body: 1 GiB, as Apache httpd's
 * `LimitRequestBody` (a body that large waits on disk, not in memory).
 */
export const DEFAULT_MAX_REQUEST_BODY = 1024 * 1024 * 1024;

/** The default spool threshold: bodies over 1 MiB go to a temporary file. */
export const DEFAULT_SPOOL_THRESHOLD = 1024 * 1024;

/** The prefix of a spool file's name, to tell it in a directory listing. */
export const SPOOL_PREFIX = "wsgiref-body-";

/** The smallest in-memory buffer a body of unknown length starts with. */
const FIRST_BUFFER = 16 * 1024;
/**
 * Bytes gathered before each write to the file: small appends (a socket's
 * 16 KiB reads) are written in blocks this large (bench/ has the figures).
 */
const WRITE_BLOCK = 256 * 1024;

/**
 * Thrown by {@linkcode BodySpool.append} when the temporary file cannot be
 * made or written: `cause` is the system's error. `permission` is true when
 * Deno's permissions refused it (the server answers 413 and says which
 * permission to grant); otherwise the disk failed (full, read-only, gone)
 * and the server answers 507.
 */
export class SpoolError extends Error {
  /** True when a permission was missing. */
  readonly permission: boolean;
  /** The directory the spool tried to write in. */
  readonly dir: string;

  /**
   * Makes the error.
   *
   * @param dir the spool directory (as given, or "the temporary directory")
   * @param cause the error the file system gave
   */
  constructor(dir: string, cause: unknown) {
    const permission = cause instanceof Deno.errors.NotCapable ||
      cause instanceof Deno.errors.PermissionDenied;
    super(
      permission
        ? `spooling a request body to ${dir} needs --allow-read and ` +
          `--allow-write for it (${errorText(cause)})`
        : `spooling a request body to ${dir} failed: ${errorText(cause)}`,
      { cause },
    );
    this.name = "SpoolError";
    this.permission = permission;
    this.dir = dir;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * One request body, kept as it arrives: in memory while it is at most
 * `threshold` bytes, else in a temporary file. Await each
 * {@linkcode BodySpool.append} before the next, and {@linkcode BodySpool.end}
 * at the end; {@linkcode BodySpool.input} then reads it back
 * synchronously. Close it when the response ends
 * (`using` does): the file, if any, is closed and gone.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { BodySpool } from "./_spool.ts";
 *
 * using spool = new BodySpool({ threshold: 4 });
 * await spool.append(new TextEncoder().encode("a=1\n"));
 * await spool.append(new TextEncoder().encode("b=2\n")); // past 4 bytes: to a file
 * await spool.end();
 * assertEquals(spool.onDisk, true);
 * const input = spool.input();
 * assertEquals(new TextDecoder().decode(input.readline()), "a=1\n");
 * assertEquals(new TextDecoder().decode(input.read()), "b=2\n");
 * ```
 */
export class BodySpool implements Disposable {
  /** Bytes appended so far. */
  length = 0;
  readonly #threshold: number;
  readonly #dir: string | undefined;
  #memory: Uint8Array | null = null;
  #file: Deno.FsFile | null = null;
  /** Bytes gathered for the next write to the file. */
  #block: Uint8Array | null = null;
  #blockLen = 0;
  /** The file's path while it is still in its directory (on Windows). */
  #path: string | null = null;
  #closed = false;

  /**
   * A spool for one body. When `expected` (the Content-Length) is over the
   * threshold, the body goes to a file from its first byte.
   *
   * @param options the threshold and the directory
   * @param expected the body's length if known, else -1
   */
  constructor(options: SpoolOptions, readonly expected = -1) {
    this.#threshold = options.threshold;
    this.#dir = options.dir;
  }

  /** True once the body is in a temporary file. */
  get onDisk(): boolean {
    return this.#file !== null;
  }

  /**
   * Appends a copy of `bytes` (the caller may reuse its buffer at once).
   * Returns a promise only when the bytes go to the file. Throws a
   * {@linkcode SpoolError} if the file cannot be made or written.
   */
  append(bytes: Uint8Array): void | Promise<void> {
    if (this.#closed) throw new Error("append() on a closed BodySpool");
    const n = bytes.length;
    if (n === 0) return;
    const total = this.length + n;
    if (this.#file === null) {
      if (total <= this.#threshold && this.expected <= this.#threshold) {
        this.#keep(bytes, total);
        return;
      }
      return this.#spill(bytes);
    }
    return this.#gather(bytes);
  }

  /**
   * Copies `bytes` into the write block; writes the block to the file each
   * time it fills.
   */
  #gather(bytes: Uint8Array): void | Promise<void> {
    const block = this.#block!;
    const room = block.length - this.#blockLen;
    if (bytes.length < room) {
      block.set(bytes, this.#blockLen);
      this.#blockLen += bytes.length;
      this.length += bytes.length;
      return;
    }
    return this.#gatherSlow(bytes);
  }

  async #gatherSlow(bytes: Uint8Array): Promise<void> {
    const block = this.#block!;
    let off = 0;
    while (off < bytes.length) {
      const n = Math.min(bytes.length - off, block.length - this.#blockLen);
      block.set(bytes.subarray(off, off + n), this.#blockLen);
      this.#blockLen += n;
      this.length += n;
      off += n;
      if (this.#blockLen === block.length) await this.#flushBlock();
    }
  }

  /** Writes the gathered block to the file. */
  async #flushBlock(): Promise<void> {
    const n = this.#blockLen;
    this.#blockLen = 0;
    if (n > 0) await this.#write(this.#block!.subarray(0, n));
  }

  /**
   * Writes what is still gathered to the file: call it (and await it) once
   * the whole body is in, before {@linkcode BodySpool.input}.
   */
  end(): void | Promise<void> {
    if (this.#file !== null && this.#blockLen > 0) return this.#flushBlock();
  }

  /** Copies `bytes` into the memory buffer, growing it as needed. */
  #keep(bytes: Uint8Array, total: number): void {
    let mem = this.#memory;
    if (mem === null || mem.length < total) {
      const size = this.expected >= total ? this.expected : Math.min(
        this.#threshold,
        Math.max(total, FIRST_BUFFER, (mem?.length ?? 0) * 2),
      );
      const grown = new Uint8Array(size);
      if (mem !== null) grown.set(mem.subarray(0, this.length));
      mem = this.#memory = grown;
    }
    mem.set(bytes, this.length);
    this.length = total;
  }

  /** Opens the file, moves what memory holds into it, then `bytes`. */
  async #spill(bytes: Uint8Array): Promise<void> {
    // The caller may reuse its buffer once append() returns: copy first.
    const held = this.#memory?.subarray(0, this.length);
    const block = new Uint8Array(WRITE_BLOCK);
    block.set(bytes.subarray(0, WRITE_BLOCK));
    const rest = bytes.length > WRITE_BLOCK ? bytes.slice(WRITE_BLOCK) : null;
    this.#memory = null;
    await this.#open();
    if (held !== undefined && held.length) await this.#write(held);
    this.#block = block;
    this.#blockLen = Math.min(bytes.length, WRITE_BLOCK);
    this.length += this.#blockLen;
    if (rest !== null) await this.#gatherSlow(rest);
  }

  async #open(): Promise<void> {
    const dir = this.#dir;
    let path: string;
    try {
      path = await Deno.makeTempFile({ dir, prefix: SPOOL_PREFIX });
    } catch (e) {
      throw new SpoolError(dir ?? "the temporary directory", e);
    }
    try {
      this.#file = await Deno.open(path, { read: true, write: true });
    } catch (e) {
      await Deno.remove(path).catch(() => {});
      throw new SpoolError(dir ?? "the temporary directory", e);
    }
    try {
      // Gone from the directory now; the space is freed when the file
      // closes, even if this process dies first.
      await Deno.remove(path);
    } catch {
      this.#path = path; // Windows: an open file stays; removed in close()
    }
    if (this.#closed) this.close(); // closed while the file was opening
  }

  async #write(bytes: Uint8Array): Promise<void> {
    const file = this.#file;
    if (file === null) throw new Error("the BodySpool was closed");
    try {
      let off = 0;
      while (off < bytes.length) off += await file.write(bytes.subarray(off));
    } catch (e) {
      throw new SpoolError(this.#dir ?? "the temporary directory", e);
    }
  }

  /**
   * The body, read from its start, as `wsgi.input`: over memory, or over
   * the file (synchronous reads). Call it once the whole body is in and
   * {@linkcode BodySpool.end} has completed.
   */
  input(): InputStream {
    const file = this.#file;
    if (this.#blockLen > 0) {
      throw new Error("BodySpool.input() before end() completed");
    }
    if (file === null) {
      return new BytesIO(
        this.#memory === null ? new Uint8Array(0) : this.#memory.subarray(
          0,
          this.length,
        ),
      );
    }
    file.seekSync(0, Deno.SeekMode.Start);
    return new LimitedInput(file, this.length);
  }

  /** Closes the file and removes it (idempotent); the memory is let go. */
  close(): void {
    this.#closed = true;
    this.#memory = this.#block = null;
    this.#blockLen = 0;
    const file = this.#file;
    this.#file = null;
    if (file !== null) {
      try {
        file.close();
      } catch { /* already closed */ }
    }
    const path = this.#path;
    this.#path = null;
    if (path !== null) {
      try {
        Deno.removeSync(path);
      } catch { /* gone already */ }
    }
  }

  /** `using spool = new BodySpool(…)`: {@linkcode BodySpool.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * A server's spooling: its options, the spools of its requests, and what
 * to answer when one fails. A missing permission is logged once per
 * spooler (the log would otherwise repeat it for every large body); a disk
 * that fails is logged each time.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * import { Spooler, SpoolError } from "./_spool.ts";
 *
 * const spooler = new Spooler({ threshold: 1024 * 1024 });
 * using spool = spooler.open(10);
 * assertEquals(spool.onDisk, false);
 *
 * const denied = new SpoolError("/tmp", new Deno.errors.NotCapable("no"));
 * assertEquals(spooler.answer(denied).status, 413);
 * assertEquals(spooler.answer(denied).log, null); // said once already
 * ```
 */
export class Spooler {
  #toldPermission = false;

  /**
   * A spooler with these options.
   *
   * @param options the threshold and the directory
   */
  constructor(readonly options: Readonly<SpoolOptions>) {}

  /**
   * A spool for one body of `expected` bytes (-1: unknown).
   *
   * @param expected the Content-Length, or -1
   */
  open(expected: number): BodySpool {
    return new BodySpool(this.options, expected);
  }

  /**
   * The answer for a request whose body could not be spooled: 413 when a
   * permission is missing (the server will not take bodies that large),
   * 507 when the disk failed; and the line to log, or null when it was
   * logged already.
   *
   * @param error what the spool threw
   */
  answer(error: SpoolError): { status: 413 | 507; log: string | null } {
    if (!error.permission) return { status: 507, log: error.message };
    if (this.#toldPermission) return { status: 413, log: null };
    this.#toldPermission = true;
    return {
      status: 413,
      log: `${error.message}; bodies over ${this.options.threshold} bytes ` +
        `are refused with 413 until then (said once)`,
    };
  }
}
