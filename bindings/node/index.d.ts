// Type declarations of the atomicfile package (bindings/node).
/// <reference types="node" />

/** The module is write-file-atomic's writeFile itself, with the rest as properties. */
declare function atomicfile(filename: atomicfile.PathLike, data: atomicfile.Data, options?: atomicfile.WriteOptions | BufferEncoding): Promise<void>
declare function atomicfile(filename: atomicfile.PathLike, data: atomicfile.Data, callback: atomicfile.Callback): void
declare function atomicfile(filename: atomicfile.PathLike, data: atomicfile.Data, options: atomicfile.WriteOptions | BufferEncoding, callback: atomicfile.Callback): void


declare namespace atomicfile {
  export type PathLike = string | Buffer | URL
  export type Data = string | NodeJS.ArrayBufferView | ArrayBuffer
  export type Sync = 'full' | 'data' | 'none'

  /** An Error of this package: .code is 'ENOENT', 'EEXIST', 'EAFILECORRUPT', ... */
  export interface AtomicFileError extends Error {
    code: string
    /** Negative errno, or the library's code (-5000 and below). */
    errno: number
    /** The failing step of the library, e.g. 'sync temporary file'. */
    syscall?: string
    path?: string
  }

  export interface WriteOptions {
    /** Exact permission bits of the file (default: kept on replace, 0666 & ~umask when new). */
    mode?: number
    /** write-file-atomic: owner of the new file. */
    chown?: { uid?: number; gid?: number }
    encoding?: BufferEncoding
    /** write-file-atomic: false syncs nothing (sync: 'none'). */
    fsync?: boolean
    /** Durability level; takes precedence over fsync. Default 'full'. */
    sync?: Sync
    /** Called with the temp's /proc/self/fd path before data is written. */
    tmpfileCreated?: (tmpfile: string) => unknown
    /** Fail with EEXIST if the file exists (also flag: 'wx'). */
    exclusive?: boolean
    flag?: string
    followSymlinks?: boolean
    breakHardlinks?: boolean
    ownerBestEffort?: boolean
    /** Hold the file's lock (see withLock) during the write. */
    lock?: boolean
    lockTimeout?: number
    /**
     * Promise API only.  false: one native call per write.  Default true:
     * concurrent durable writes into one directory with the same options
     * share their syncs (at most two batches in flight; see README).
     */
    groupCommit?: boolean
  }

  /** The library's process-wide counters (afile_stats_get). */
  export interface Stats {
    ops: number
    failures: number
    bytesWritten: number
    bytesRead: number
    /** File syncs (a syncfs counts as one). */
    syncs: number
    dirSyncs: number
    retries: number
    syncNs: number
  }

  export interface LockOptions {
    shared?: boolean
    /** Milliseconds; undefined waits, 0 tries once (EAGAIN), else ETIMEDOUT. */
    timeout?: number
  }

  export interface RecoverReport {
    action: 'none' | 'redone' | 'rolled-back' | 'corrupt'
    txnId: number
    records: number
    tempsRemoved: number
  }

  export interface Transaction<R = Promise<void>> {
    writeFile(path: string, data: Data, options?: { encoding?: BufferEncoding; breakHardlinks?: boolean; ownerBestEffort?: boolean }): R
    put(path: string, data: Data, options?: { encoding?: BufferEncoding }): R
    create(path: string, data: Data, options?: { encoding?: BufferEncoding }): R
    remove(path: string): R
    rename(from: string, to: string): R
  }

  export type Callback = (err: AtomicFileError | null) => void

  export function writeFile(filename: PathLike, data: Data, options?: WriteOptions | BufferEncoding): Promise<void>
  export function writeFile(filename: PathLike, data: Data, callback: Callback): void
  export function writeFile(filename: PathLike, data: Data, options: WriteOptions | BufferEncoding, callback: Callback): void


  export function writeFileSync(filename: PathLike, data: Data, options?: WriteOptions | BufferEncoding): void
  export const sync: typeof writeFileSync
  export function readFile(path: PathLike): Promise<Buffer>
  export function readFile(path: PathLike, options: BufferEncoding | { encoding: BufferEncoding; followSymlinks?: boolean }): Promise<string>
  export function readFileSync(path: PathLike): Buffer
  export function readFileSync(path: PathLike, options: BufferEncoding | { encoding: BufferEncoding; followSymlinks?: boolean }): string
  export function remove(path: PathLike, options?: { sync?: Sync; lock?: boolean; lockTimeout?: number }): Promise<void>
  export function removeSync(path: PathLike, options?: { sync?: Sync; lock?: boolean; lockTimeout?: number }): void
  export function copyFile(src: PathLike, dst: PathLike, options?: WriteOptions): Promise<void>
  export function copyFileSync(src: PathLike, dst: PathLike, options?: WriteOptions): void
  export function rename(src: PathLike, dst: PathLike, options?: { sync?: Sync; exclusive?: boolean; exchange?: boolean; lock?: boolean }): Promise<void>
  export function renameSync(src: PathLike, dst: PathLike, options?: { sync?: Sync; exclusive?: boolean; exchange?: boolean; lock?: boolean }): void
  export function patch(path: PathLike, offset: number, data: Data, options?: WriteOptions): Promise<void>
  export function patchSync(path: PathLike, offset: number, data: Data, options?: WriteOptions): void
  export function update(path: PathLike, fn: (old: Buffer | string | null) => Data | null | undefined | Promise<Data | null | undefined>, options?: { encoding?: BufferEncoding; sync?: Sync; timeout?: number }): Promise<void>
  export function updateSync(path: PathLike, fn: (old: Buffer | string | null) => Data | null | undefined, options?: { encoding?: BufferEncoding; sync?: Sync; timeout?: number }): void
  export function withLock<T>(path: PathLike, fn: () => T | Promise<T>, options?: LockOptions): Promise<T>
  export function withLockSync<T>(path: PathLike, fn: () => T, options?: LockOptions): T
  export function transaction<T>(root: PathLike, fn: (txn: Transaction<Promise<void>>) => Promise<T>, options?: { sync?: Sync; timeout?: number }): Promise<T>
  export function transactionSync<T>(root: PathLike, fn: (txn: Transaction<void>) => T, options?: { sync?: Sync; timeout?: number }): T
  export function writeMany(items: Iterable<[PathLike, Data] | { path: PathLike; data: Data }>, options?: { sync?: Sync; encoding?: BufferEncoding }): Promise<void>
  export function writeManySync(items: Iterable<[PathLike, Data] | { path: PathLike; data: Data }>, options?: { sync?: Sync; encoding?: BufferEncoding }): void
  export function recover(root: PathLike): Promise<RecoverReport>
  export function recoverSync(root: PathLike): RecoverReport
  export function createWriteStream(path: PathLike, options?: WriteOptions & { highWaterMark?: number }): NodeJS.WritableStream & import('stream').Writable
  export const version: string
  /** The library's process-wide counters: syncs, directory syncs, ... */
  export function stats(): Stats
}

export = atomicfile
