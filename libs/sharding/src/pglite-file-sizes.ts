// Postgres asks a relation file's length with lseek(fd, 0, SEEK_END) whenever it plans a query or
// starts a scan (mdnblocks), and Emscripten's NODEFS answers every such seek with an fstat of the
// real file: the embedded checkout spent a share of its CPU in those fstats (issue 13). This
// process is the only writer of a data dir (it is never opened twice), and every change of a file's
// length goes through NODEFS's write or setattr (truncate), so the length can be kept here: learned
// by the first fstat, grown by writes past it, forgotten on any setattr. Reads and writes still go
// to the real files; nothing about durability changes.
import type { PGlite } from "@electric-sql/pglite";

interface NodefsStream {
  node: object;
  position: number;
}

interface NodefsStreamOps {
  llseek(stream: NodefsStream, offset: number, whence: number): number;
  write(stream: NodefsStream, buffer: Uint8Array, offset: number, length: number, position: number, canOwn?: boolean): number;
  setattr(stream: NodefsStream, attr: unknown): void;
}

interface NodefsNodeOps {
  setattr(node: object, attr: unknown): void;
}

interface Nodefs {
  stream_ops: NodefsStreamOps;
  node_ops: NodefsNodeOps;
}

const SEEK_END = 2;
const patched = new WeakSet<object>();

/**
 * Makes this PGlite's NODEFS keep the length of each open relation file instead of asking the
 * file system at every SEEK_END. Call once the instance is ready; does nothing for in-memory ones.
 */
export function keepPgliteFileSizes(db: PGlite): void {
  const nodefs = (db.Module as unknown as { NODEFS?: Nodefs }).NODEFS;
  if (!nodefs || patched.has(nodefs)) return;
  patched.add(nodefs);
  const sizes = new WeakMap<object, number>();
  const streamOps = nodefs.stream_ops;
  const nodeOps = nodefs.node_ops;
  const { llseek, write, setattr: streamSetattr } = streamOps;
  const nodeSetattr = nodeOps.setattr;

  streamOps.llseek = function (stream, offset, whence) {
    if (whence !== SEEK_END) return llseek.call(this, stream, offset, whence);
    let size = sizes.get(stream.node);
    if (size === undefined) {
      // The original adds the fstat's size to the offset; asked with 0 it is the size itself.
      size = llseek.call(this, stream, 0, whence);
      sizes.set(stream.node, size);
    }
    return llseek.call(this, stream, size + offset, 0);
  };
  streamOps.write = function (stream, buffer, offset, length, position, canOwn) {
    let written: number;
    try {
      written = write.call(this, stream, buffer, offset, length, position, canOwn);
    } catch (error) {
      // A failed write may have written part: ask the file system next time.
      sizes.delete(stream.node);
      throw error;
    }
    const size = sizes.get(stream.node);
    if (size !== undefined && typeof position === "number" && position + written > size) sizes.set(stream.node, position + written);
    return written;
  };
  streamOps.setattr = function (stream, attr) {
    sizes.delete(stream.node);
    return streamSetattr.call(this, stream, attr);
  };
  nodeOps.setattr = function (node, attr) {
    sizes.delete(node);
    return nodeSetattr.call(this, node, attr);
  };
}
