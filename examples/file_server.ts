#!/usr/bin/env -S deno run --allow-net --allow-read
/**
 * wsgiref's directory server (the example at the end of the `wsgiref` docs):
 * serves the files of one directory on {@linkcode makeServer}.
 *
 *     deno run --allow-net --allow-read examples/file_server.ts [directory] [port]
 *
 * The directory defaults to the current one, the port to 8000 (`0` picks a
 * free one). A directory answers its `index.html`; the MIME type comes from
 * `@std/media_types`; the bytes go out through `wsgi.file_wrapper`; what is
 * missing is a 404. Nothing outside the directory can be reached: `..`
 * segments are refused however they are spelled (`%2e%2e`, `..%2F`, since
 * `PATH_INFO` is already percent-decoded), and every path is resolved
 * (symlinks included) and must still lie inside the directory.
 *
 * @module
 */

import { contentType } from "@std/media_types";
import { makeServer } from "../simple_server.ts";
import type { WSGIApplication, WSGIEnvironment } from "../types.ts";
import { nativeToText } from "../util.ts";

const typeFor: (extensionOrType: string) => string | undefined = contentType;

/** True if `path` is `root` or lies below it. */
function inside(root: string, path: string): boolean {
  return path === root ||
    path.startsWith(root.endsWith("/") ? root : root + "/");
}

async function realPath(path: string): Promise<string | null> {
  try {
    return await Deno.realPath(path);
  } catch {
    return null;
  }
}

/**
 * The real path of the file that `pathInfo` names under `root` (a real
 * path itself), or null when there is none or it would leave `root`.
 */
async function resolve(root: string, pathInfo: string): Promise<string | null> {
  let text: string;
  try {
    text = nativeToText(pathInfo); // "/caf\xc3\xa9.txt" → "/café.txt"
  } catch {
    return null; // not UTF-8: no such file name here
  }
  if (text.includes("\0")) return null;
  const segments = text.split("/").filter((s) => s !== "" && s !== ".");
  if (segments.some((s) => s === ".." || s.includes("\\"))) return null;
  let real = await realPath([root, ...segments].join("/"));
  if (real === null || !inside(root, real)) return null;
  let stat = await Deno.stat(real);
  if (stat.isDirectory) {
    real = await realPath(`${real}/index.html`);
    if (real === null || !inside(root, real)) return null;
    stat = await Deno.stat(real);
  }
  // Only regular files: opening a FIFO or a device could block or worse.
  return stat.isFile ? real : null;
}

function extension(path: string): string {
  const name = path.slice(path.lastIndexOf("/") + 1);
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot) : "";
}

/**
 * The directory server as a WSGI app: `GET` or `HEAD` of a path under
 * `directory` answers that file (or a directory's `index.html`).
 *
 * @param directory the directory to serve
 * @returns the WSGI app
 */
export function fileApp(directory: string): WSGIApplication {
  const root = Deno.realPathSync(directory);
  return async (environ: WSGIEnvironment, startResponse) => {
    const method = environ.REQUEST_METHOD;
    if (method !== "GET" && method !== "HEAD") {
      startResponse("405 Method Not Allowed", [
        ["Content-Type", "text/plain"],
        ["Allow", "GET, HEAD"],
      ]);
      return [new TextEncoder().encode("method not allowed")];
    }
    let path: string | null = null;
    let file: Deno.FsFile | undefined;
    try {
      path = await resolve(root, environ.PATH_INFO ?? "");
      if (path !== null) file = await Deno.open(path);
      const stat = await file?.stat();
      if (file !== undefined && stat?.isFile) {
        startResponse("200 OK", [
          [
            "Content-Type",
            typeFor(extension(path!)) ?? "application/octet-stream",
          ],
          ["Content-Length", String(stat.size)],
        ]);
        return environ["wsgi.file_wrapper"]!(file, 65536);
      }
    } catch {
      // unreadable: answered as missing
    }
    file?.close();
    startResponse("404 Not Found", [["Content-Type", "text/plain"]]);
    return [new TextEncoder().encode("not found")];
  };
}

if (import.meta.main) {
  const directory = Deno.args[0] ?? Deno.cwd();
  const port = Number(Deno.args[1] ?? 8000);
  await using httpd = makeServer("", port, fileApp(directory));
  console.log(
    `Serving ${directory} on port ${httpd.port}, control-C to stop`,
  );
  await httpd.serveForever();
}
