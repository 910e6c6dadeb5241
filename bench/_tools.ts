// Outside tools the bench scripts run (wrk, curl, hyperfine, taskset).

/** True if the shell finds `command` on the PATH. */
export function onPath(command: string): boolean {
  try {
    return new Deno.Command("sh", {
      args: ["-c", 'command -v "$1"', "sh", command],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}
