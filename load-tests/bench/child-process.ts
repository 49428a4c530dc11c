// Starting and stopping the platform (or a bare server) as a child process for a bench: started
// when its output matches `ready`, stopped by its PID (SIGTERM, then SIGKILL after 30 s).
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export interface StartedChild {
  child: ChildProcess;
  /** What `ready` matched in the child's output. */
  match: RegExpExecArray;
  /** The child's output so far (the last ~100 KB). */
  output(): string;
}

/** The repository's root: benches start the platform's scripts from there. */
export const repoRoot = join(import.meta.dirname, "..", "..");

export function startChild(command: string, args: string[], env: Record<string, string>, ready: RegExp): Promise<StartedChild> {
  const child = spawn(command, args, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  return new Promise((resolve, reject) => {
    let output = "";
    const onData = (data: Buffer) => {
      output += data.toString();
      if (output.length > 200_000) output = output.slice(-100_000);
      const match = ready.exec(output);
      if (match) resolve({ child, match, output: () => output });
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${args[0] ?? command} exited with ${code} before it was ready:\n${output.slice(-2000)}`)));
  });
}

export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill(signal);
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 30_000).unref())]);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}
