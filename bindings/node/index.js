'use strict'
// atomicfile - atomic, crash-safe file operations for Linux, on
// libatomicfile (a Node-API addon).  Promise functions run on the libuv
// thread pool; each has a Sync twin.  writeFile/writeFileSync take
// write-file-atomic's signatures and options.  See README.md.

const fs = require('fs')
const nodePath = require('path')
const { Writable } = require('stream')
const native = require('./build/Release/atomicfile.node')

const F = native.flags
const SYNC = { full: 0, data: 1, none: 2 }
const LOCK_SHARED = 1
const LOCK_EXCLUSIVE = 2

function toPath (p) {
  if (p instanceof URL) return require('url').fileURLToPath(p)
  if (Buffer.isBuffer(p)) return p.toString()
  if (typeof p !== 'string') throw new TypeError('path must be a string, Buffer or URL')
  return p
}

function toBuffer (data, encoding) {
  if (Buffer.isBuffer(data)) return data
  if (typeof data === 'string') return Buffer.from(data, encoding || 'utf8')
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (data instanceof ArrayBuffer) return Buffer.from(data)
  if (data === null || data === undefined) return Buffer.alloc(0)
  // write-file-atomic writes String(data) for other values.
  return Buffer.from(String(data), encoding || 'utf8')
}

function normOpts (options) {
  if (typeof options === 'string') return { encoding: options }
  return options || {}
}

// The durability level from atomicfile's `sync` or write-file-atomic's
// `fsync` (false: no syncs at all).
function syncOf (o) {
  if (o.sync !== undefined) {
    if (!(o.sync in SYNC)) throw new TypeError("sync must be 'full', 'data' or 'none'")
    return SYNC[o.sync]
  }
  return o.fsync === false ? SYNC.none : SYNC.full
}

// opts.lock_wait_ms from a timeout in ms: undefined waits, 0 tries once.
function waitOf (t) {
  if (t === undefined || t === null || t === Infinity) return 0
  return t <= 0 ? -1 : Math.max(1, Math.floor(t))
}

function flagsOf (o) {
  let f = 0
  if (o.exclusive || o.flag === 'wx') f |= F.NOREPLACE
  if (o.followSymlinks === false) f |= F.NOFOLLOW
  if (o.breakHardlinks) f |= F.BREAK_HARDLINKS
  if (o.ownerBestEffort) f |= F.OWNER_BEST_EFFORT
  if (o.lock) f |= F.LOCK
  if (typeof o.mode === 'number') f |= F.SET_MODE
  return f
}

function needsWriter (o) {
  return Boolean(o.chown || o.tmpfileCreated)
}

function chownFd (fd, chown) {
  if (chown && (chown.uid !== undefined || chown.gid !== undefined)) {
    fs.fchownSync(fd, chown.uid ?? -1, chown.gid ?? -1)
  }
}

// ---------------- writeFile: write-file-atomic's signatures ----------------

async function writeWithWriter (p, buf, o) {
  const h = await native.writerOpen(p, flagsOf(o), syncOf(o), o.mode || 0, true)
  try {
    const fd = native.writerFd(h)
    chownFd(fd, o.chown)
    if (o.tmpfileCreated) await o.tmpfileCreated(`/proc/self/fd/${fd}`)
    await native.writerWrite(h, buf, true)
    await native.writerCommit(h, true)
  } catch (e) {
    await native.handleClose(h, true)
    throw e
  }
}

// Group commit.  Durable writes into one directory with the same options
// share their syncs.  At most GROUP_SLOTS native calls per directory are
// on the pool at once; writes made meanwhile wait in a queue, and when a
// call ends the queue goes out as one afile_write_many() per free slot
// (its temps synced together, published in call order, the directory
// synced once after the last rename).  Writes made in the same tick
// (Promise.all) go together from the start: the first native call waits
// for a microtask.  So every promise resolves after its file, and a
// directory sync that started after its rename, are durable, as with one
// afile_write().  Writes to one path keep their call order (the last call
// wins): they share a batch, or wait until the batch holding the path
// ends.  When a batch fails, its items are written again one by one, in
// order, each getting its own result (an item the batch had published is
// replaced by the same bytes; so NOREPLACE writes are never grouped).
// Two slots: on the 2-CPU machine of bench/node, two batches in flight
// (one staging while the other syncs) beat one and four on ext4 with and
// without a journal and on xfs (docs in bench/README.md).
const GROUP_SLOTS = 2
const groups = new Map()

function groupable (flags, sync, group) {
  return group !== false && sync !== SYNC.none && !(flags & (F.NOREPLACE | F.LOCK))
}

function grouped (p, buf, flags, sync, mode, group) {
  if (!groupable(flags, sync, group)) return native.write(p, buf, flags, sync, mode, 0, true)
  const abs = nodePath.resolve(p)
  const key = `${flags}/${sync}/${mode}/${nodePath.dirname(abs)}`
  let g = groups.get(key)
  if (!g) {
    g = { key, flags, sync, mode, inflight: 0, scheduled: false, queue: [], busy: new Set() }
    groups.set(key, g)
  }
  return new Promise((resolve, reject) => {
    g.queue.push({ p, abs, buf, resolve, reject })
    groupKick(g)
  })
}

function groupDrop (g) {
  if (g.inflight === 0 && g.queue.length === 0 && groups.get(g.key) === g) groups.delete(g.key)
}

function groupKick (g) {
  if (!g.scheduled && g.inflight < GROUP_SLOTS && g.queue.length > 0) {
    g.scheduled = true
    queueMicrotask(() => groupPump(g))
  }
}

function groupPump (g) {
  g.scheduled = false
  const free = GROUP_SLOTS - g.inflight
  // Take the queue in order, but not a path still in flight (nor any
  // later write to a path that waits).
  const take = []
  const wait = []
  const waiting = new Set()
  for (const it of g.queue) {
    if (g.busy.has(it.abs) || waiting.has(it.abs)) {
      wait.push(it)
      waiting.add(it.abs)
    } else {
      take.push(it)
    }
  }
  g.queue = wait
  if (take.length === 0) {
    groupDrop(g)
    return
  }
  // Split into up to `free` batches; one path's writes share a batch.
  const paths = [...new Set(take.map((it) => it.abs))]
  const n = Math.min(free, paths.length)
  const index = new Map(paths.map((a, i) => [a, i % n]))
  const batches = Array.from({ length: n }, () => [])
  for (const it of take) batches[index.get(it.abs)].push(it)
  for (const b of batches) groupBatch(g, b)
}

function groupBatch (g, items) {
  g.inflight++
  for (const it of items) g.busy.add(it.abs)
  const one = (it) => native.write(it.p, it.buf, g.flags, g.sync, g.mode, 0, true)
    .then(() => it.resolve(), (e) => it.reject(e))
  let done
  if (items.length === 1) {
    done = one(items[0])
  } else {
    done = native.writeMany(items.map((it) => [it.p, it.buf]), g.flags, g.sync, g.mode, true)
      .then(() => { for (const it of items) it.resolve() },
        async () => { for (const it of items) await one(it) })
  }
  done.then(() => {
    g.inflight--
    for (const it of items) g.busy.delete(it.abs)
    groupDrop(g)
    groupKick(g)
  })
}

/**
 * writeFile(filename, data[, options][, callback]) - atomically replace
 * filename.  Without a callback it returns a Promise.
 */
function writeFile (filename, data, options, callback) {
  if (typeof options === 'function') {
    callback = options
    options = {}
  }
  let promise
  try {
    const o = normOpts(options)
    const p = toPath(filename)
    const buf = toBuffer(data, o.encoding)
    const run = () => needsWriter(o)
      ? writeWithWriter(p, buf, o)
      : grouped(p, buf, flagsOf(o) & ~F.LOCK, syncOf(o), o.mode || 0, o.lock ? false : o.groupCommit)
    promise = o.lock ? withLock(p, run, { timeout: o.lockTimeout }) : run()
  } catch (e) {
    promise = Promise.reject(e)
  }
  if (typeof callback === 'function') {
    promise.then(() => callback(null), callback)
    return undefined
  }
  return promise
}

function writeFileSync (filename, data, options) {
  const o = normOpts(options)
  const p = toPath(filename)
  const buf = toBuffer(data, o.encoding)
  if (needsWriter(o)) return writeWithWriterSync(p, buf, o)
  native.write(p, buf, flagsOf(o), syncOf(o), o.mode || 0, waitOf(o.lockTimeout), false)
}

function writeWithWriterSync (p, buf, o) {
  const h = native.writerOpen(p, flagsOf(o), syncOf(o), o.mode || 0, false)
  try {
    const fd = native.writerFd(h)
    chownFd(fd, o.chown)
    if (o.tmpfileCreated) o.tmpfileCreated(`/proc/self/fd/${fd}`)
    native.writerWrite(h, buf, false)
    native.writerCommit(h, false)
  } catch (e) {
    native.handleClose(h, false)
    throw e
  }
}

// ---------------- the other operations ----------------

function readFile (p, options) {
  const o = normOpts(options)
  return native.read(toPath(p), o.followSymlinks === false ? F.NOFOLLOW : 0, true)
    .then((b) => (o.encoding ? b.toString(o.encoding) : b))
}

function readFileSync (p, options) {
  const o = normOpts(options)
  const b = native.read(toPath(p), o.followSymlinks === false ? F.NOFOLLOW : 0, false)
  return o.encoding ? b.toString(o.encoding) : b
}

function removeImpl (p, options, async) {
  const o = options || {}
  return native.remove(toPath(p), o.lock ? F.LOCK : 0, syncOf(o), waitOf(o.lockTimeout), async)
}
const remove = async (p, o) => (o && o.lock)
  ? withLock(p, () => removeImpl(p, { ...o, lock: false }, true), { timeout: o.lockTimeout })
  : removeImpl(p, o, true)
const removeSync = (p, o) => { removeImpl(p, o, false) }

function copyImpl (src, dst, options, async) {
  const o = options || {}
  return native.copy(toPath(src), toPath(dst), flagsOf(o), syncOf(o), o.mode || 0,
    waitOf(o.lockTimeout), async)
}
const copyFile = async (s, d, o) => (o && o.lock)
  ? withLock(d, () => copyImpl(s, d, { ...o, lock: false }, true), { timeout: o.lockTimeout })
  : copyImpl(s, d, o, true)
const copyFileSync = (s, d, o) => { copyImpl(s, d, o, false) }

function renameImpl (src, dst, options, async) {
  const o = options || {}
  let f = flagsOf({ exclusive: o.exclusive, ownerBestEffort: o.ownerBestEffort, lock: o.lock })
  if (o.exchange) f |= F.EXCHANGE
  return native.rename(toPath(src), toPath(dst), f, syncOf(o), 0, waitOf(o.lockTimeout), async)
}
const rename = async (s, d, o) => (o && o.lock)
  ? withLock(d, () => renameImpl(s, d, { ...o, lock: false }, true), { timeout: o.lockTimeout })
  : renameImpl(s, d, o, true)
const renameSync = (s, d, o) => { renameImpl(s, d, o, false) }

function patchImpl (p, offset, data, options, async) {
  const o = normOpts(options)
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError('offset must be a non-negative integer')
  return native.patch(toPath(p), offset, toBuffer(data, o.encoding),
    flagsOf({ followSymlinks: o.followSymlinks, breakHardlinks: o.breakHardlinks, lock: o.lock }),
    syncOf(o), waitOf(o.lockTimeout), async)
}
const patch = async (p, off, d, o) => (o && o.lock)
  ? withLock(p, () => patchImpl(p, off, d, { ...o, lock: false }, true), { timeout: o.lockTimeout })
  : patchImpl(p, off, d, o, true)
const patchSync = (p, off, d, o) => { patchImpl(p, off, d, o, false) }

function manyImpl (items, options, async) {
  const o = normOpts(options)
  const list = []
  for (const it of items) {
    const [p, d] = Array.isArray(it) ? it : [it.path, it.data]
    list.push([toPath(p), toBuffer(d, o.encoding)])
  }
  return native.writeMany(list, o.followSymlinks === false ? F.NOFOLLOW : 0, syncOf(o), 0, async)
}
const writeMany = async (items, o) => manyImpl(items, o, true)
const writeManySync = (items, o) => { manyImpl(items, o, false) }

const recover = (root) => native.recover(toPath(root), true)
const recoverSync = (root) => native.recover(toPath(root), false)

// ---------------- locks ----------------

function lockArgs (options) {
  const o = options || {}
  const t = o.timeout
  const ms = t === undefined || t === null || t === Infinity ? -1 : Math.max(0, Math.floor(t))
  return [o.shared ? LOCK_SHARED : LOCK_EXCLUSIVE, ms]
}

// A lock wait must not sit on a libuv pool thread: with four waiters the
// pool (4 threads) would be full and the holder could never finish its
// own pooled I/O.  So the async API tries once on the pool and waits
// between tries with timers (backoff up to 50 ms), as the library itself
// polls for a bounded wait.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

async function pollAcquire (tryOnce, timeout, p) {
  const deadline = timeout === undefined || timeout === null || timeout === Infinity
    ? Infinity
    : Date.now() + Math.max(0, timeout)
  let delay = 1
  for (;;) {
    try {
      return await tryOnce()
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e
      const left = deadline - Date.now()
      if (left <= 0) {
        if (timeout > 0) {
          const t = new Error(`ETIMEDOUT: lock not acquired in ${timeout} ms '${p}'`)
          Object.assign(t, { code: 'ETIMEDOUT', errno: -110, syscall: 'lock', path: p })
          throw t
        }
        throw e
      }
      await sleep(Math.min(delay + Math.random() * delay, left))
      delay = Math.min(delay * 2, 50)
    }
  }
}

/**
 * withLock(path, fn[, {shared, timeout}]) - run fn() (may be async) while
 * holding path's lock (a sidecar .NAME.afile-lock); the lock is released
 * however fn ends.  timeout in ms: undefined waits, 0 tries once.
 */
async function withLock (p, fn, options) {
  const o = options || {}
  const file = toPath(p)
  const mode = o.shared ? LOCK_SHARED : LOCK_EXCLUSIVE
  const h = await pollAcquire(() => native.lockAcquire(file, mode, 0, true), o.timeout, file)
  try {
    return await fn()
  } finally {
    native.handleClose(h, false)
  }
}

function withLockSync (p, fn, options) {
  const h = native.lockAcquire(toPath(p), ...lockArgs(options), false)
  try {
    return fn()
  } finally {
    native.handleClose(h, false)
  }
}

/**
 * update(path, fn[, options]) - locked read-modify-write: fn(old) gets the
 * current contents (a Buffer, or null when path does not exist; a string
 * with options.encoding) and returns (or resolves to) the new contents, or
 * undefined/null to leave the file as it is.  Concurrent updaters never
 * lose an update.
 */
async function update (p, fn, options) {
  const o = normOpts(options)
  const file = toPath(p)
  return withLock(file, async () => {
    let old = null
    try {
      old = await native.read(file, 0, true)
      if (o.encoding) old = old.toString(o.encoding)
    } catch (e) {
      if (e.code !== 'ENOENT') throw e
    }
    const next = await fn(old)
    if (next === undefined || next === null) return
    await native.write(file, toBuffer(next, o.encoding), 0, syncOf(o), 0, 0, true)
  }, { timeout: o.timeout })
}

function updateSync (p, fn, options) {
  const o = normOpts(options)
  const file = toPath(p)
  return withLockSync(file, () => {
    let old = null
    try {
      old = native.read(file, 0, false)
      if (o.encoding) old = old.toString(o.encoding)
    } catch (e) {
      if (e.code !== 'ENOENT') throw e
    }
    const next = fn(old)
    if (next && typeof next.then === 'function') throw new TypeError('updateSync: fn returned a Promise; use update()')
    if (next === undefined || next === null) return
    native.write(file, toBuffer(next, o.encoding), 0, syncOf(o), 0, 0, false)
  }, { timeout: o.timeout })
}

// ---------------- transactions ----------------

class Transaction {
  constructor (h, async) {
    this._h = h
    this._async = async
  }

  _op (op, p, arg, flags) {
    return native.txnOp(this._h, op, toPath(p), arg, flags, this._async)
  }

  /** Stage new contents for p (relative to the root). */
  writeFile (p, data, options) {
    const o = normOpts(options)
    return this._op(0, p, toBuffer(data, o.encoding),
      flagsOf({ breakHardlinks: o.breakHardlinks, ownerBestEffort: o.ownerBestEffort }))
  }

  /** Stage a file that must not exist at commit. */
  create (p, data, options) {
    return this._op(1, p, toBuffer(data, normOpts(options).encoding), 0)
  }

  remove (p) { return this._op(2, p, undefined, 0) }
  rename (from, to) { return this._op(3, from, toPath(to), 0) }
}
Transaction.prototype.put = Transaction.prototype.writeFile

/**
 * transaction(root, async (txn) => {...}[, {sync, timeout}]) - stage
 * changes with txn.writeFile/create/remove/rename (await each); they are
 * committed all or nothing when fn resolves, rolled back if it throws.
 * Resolves to fn's result.
 */
async function transaction (root, fn, options) {
  const o = options || {}
  const r = toPath(root)
  const sync = syncOf(o)
  const h = await pollAcquire(() => native.txnBegin(r, sync, -1, true), o.timeout, r)
  let ok = false
  try {
    const result = await fn(new Transaction(h, true))
    await native.txnCommit(h, true)
    ok = true
    return result
  } finally {
    if (!ok) await native.handleClose(h, true)
  }
}

function transactionSync (root, fn, options) {
  const o = options || {}
  const h = native.txnBegin(toPath(root), syncOf(o), waitOf(o.timeout), false)
  let ok = false
  try {
    const result = fn(new Transaction(h, false))
    native.txnCommit(h, false)
    ok = true
    return result
  } finally {
    if (!ok) native.handleClose(h, false)
  }
}

// ---------------- a write stream ----------------

/**
 * createWriteStream(path[, options]) - a Writable whose data replaces path
 * atomically when the stream finishes; an error or destroy() before that
 * discards it (path unchanged).  Emits 'finish' after the commit.
 */
function createWriteStream (p, options) {
  const o = normOpts(options)
  const file = toPath(p)
  let h = null
  let opening = null
  const open = () => {
    if (!opening) {
      opening = native.writerOpen(file, flagsOf(o), syncOf(o), o.mode || 0, true)
        .then((handle) => { h = handle; chownFd(native.writerFd(h), o.chown); return h })
    }
    return opening
  }
  return new Writable({
    highWaterMark: o.highWaterMark,
    defaultEncoding: o.encoding || 'utf8',
    construct (cb) { open().then(() => cb(), cb) },
    write (chunk, enc, cb) {
      native.writerWrite(h, toBuffer(chunk, enc), true).then(() => cb(), cb)
    },
    writev (chunks, cb) {
      const buf = Buffer.concat(chunks.map((c) => toBuffer(c.chunk, c.encoding)))
      native.writerWrite(h, buf, true).then(() => cb(), cb)
    },
    final (cb) {
      native.writerCommit(h, true).then(() => cb(), cb)
    },
    destroy (err, cb) {
      if (h) native.handleClose(h, false)
      cb(err)
    }
  })
}

// write-file-atomic's shape: the module itself is writeFile, with .sync;
// atomically's and fs's: named functions.
module.exports = writeFile
Object.assign(module.exports, {
  writeFile,
  writeFileSync,
  readFile,
  readFileSync,
  remove,
  removeSync,
  copyFile,
  copyFileSync,
  rename,
  renameSync,
  patch,
  patchSync,
  update,
  updateSync,
  withLock,
  withLockSync,
  transaction,
  transactionSync,
  writeMany,
  writeManySync,
  recover,
  recoverSync,
  createWriteStream,
  stats: native.stats,
  sync: writeFileSync,
  version: native.version
})
module.exports.default = module.exports
