'use strict'
// node --test: the atomicfile package.
const test = require('node:test')
const assert = require('node:assert')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { pipeline } = require('node:stream/promises')
const { Readable } = require('node:stream')
const af = require('..')

function tmpdir (t) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'afile-node-'))
  t.after(() => fs.rmSync(d, { recursive: true, force: true }))
  return d
}
const temps = (d) => fs.readdirSync(d).filter((n) => /\.afile-(tmp|txn)$/.test(n))

test('write-file-atomic signatures: promise, callback, options string, sync', async (t) => {
  const d = tmpdir(t)
  const f = path.join(d, 'f')
  await af(f, 'one')
  assert.strictEqual(fs.readFileSync(f, 'utf8'), 'one')
  await new Promise((resolve, reject) =>
    af.writeFile(f, 'two', (err) => (err ? reject(err) : resolve())))
  assert.strictEqual(fs.readFileSync(f, 'utf8'), 'two')
  await new Promise((resolve, reject) =>
    af.writeFile(f, Buffer.from('6869', 'hex').toString('latin1'), 'latin1', (err) => (err ? reject(err) : resolve())))
  assert.strictEqual(fs.readFileSync(f, 'utf8'), 'hi')
  af.sync(f, 'three', { mode: 0o640, fsync: false })
  assert.strictEqual(fs.readFileSync(f, 'utf8'), 'three')
  assert.strictEqual(fs.statSync(f).mode & 0o777, 0o640)
  af.writeFileSync(f, new Uint8Array([52, 50]))
  assert.strictEqual(fs.readFileSync(f, 'utf8'), '42')
  const created = []
  await af.writeFile(f, 'four', { tmpfileCreated: (tmp) => { created.push(tmp) }, chown: { uid: process.getuid(), gid: process.getgid() } })
  assert.strictEqual(created.length, 1)
  assert.strictEqual(fs.readFileSync(f, 'utf8'), 'four')
  af.writeFileSync(f, 'five', { tmpfileCreated: (tmp) => created.push(tmp) })
  assert.strictEqual(created.length, 2)
  assert.deepStrictEqual(temps(d), [])
})

test('callback gets the error; errors carry code, errno, syscall, path', async (t) => {
  const d = tmpdir(t)
  const f = path.join(d, 'missing', 'f')
  const err = await new Promise((resolve) => af.writeFile(f, 'x', resolve))
  assert.strictEqual(err.code, 'ENOENT')
  assert.strictEqual(err.errno, -2)
  assert.ok(err.syscall)
  assert.ok(err.path.includes('missing'))
  assert.throws(() => af.writeFileSync(f, 'x'), { code: 'ENOENT' })
  await assert.rejects(af.readFile(path.join(d, 'nope')), { code: 'ENOENT' })
  fs.writeFileSync(path.join(d, 'a'), 'a')
  fs.linkSync(path.join(d, 'a'), path.join(d, 'b'))
  await assert.rejects(af.writeFile(path.join(d, 'a'), 'new'), { code: 'EAFILEHARDLINKS' })
  await assert.rejects(af.writeFile(path.join(d, 'a'), 'new', { exclusive: true }), { code: 'EEXIST' })
  assert.strictEqual(fs.readFileSync(path.join(d, 'a'), 'utf8'), 'a')
})

test('read, remove, copy, rename, patch (promise and sync)', async (t) => {
  const d = tmpdir(t)
  const a = path.join(d, 'a')
  const b = path.join(d, 'b')
  const c = path.join(d, 'c')
  af.writeFileSync(a, '0123456789')
  assert.strictEqual(await af.readFile(a, 'utf8'), '0123456789')
  assert.ok(Buffer.isBuffer(af.readFileSync(a)))
  await af.copyFile(a, b)
  af.copyFileSync(a, c)
  await af.patch(b, 2, 'xy')
  af.patchSync(c, 0, Buffer.from('Z'))
  assert.strictEqual(fs.readFileSync(b, 'utf8'), '01xy456789')
  assert.strictEqual(fs.readFileSync(c, 'utf8'), 'Z123456789')
  await af.rename(b, path.join(d, 'b2'))
  assert.ok(!fs.existsSync(b))
  await assert.rejects(af.rename(a, c, { exclusive: true }), { code: 'EEXIST' })
  af.renameSync(a, c, { exchange: true })
  assert.strictEqual(fs.readFileSync(a, 'utf8'), 'Z123456789')
  await af.remove(a)
  af.removeSync(c)
  await assert.rejects(af.remove(a), { code: 'ENOENT' })
  assert.deepStrictEqual(fs.readdirSync(d).filter((n) => !n.startsWith('.')), ['b2'])
})

test('update: concurrent increments are not lost; keep; errors', async (t) => {
  const d = tmpdir(t)
  const f = path.join(d, 'n')
  const inc = async (old) => String(Number(old ?? 0) + 1)
  await Promise.all(Array.from({ length: 40 }, () => af.update(f, inc, { encoding: 'utf8', sync: 'none' })))
  assert.strictEqual(fs.readFileSync(f, 'utf8'), '40')
  af.updateSync(f, (old) => Buffer.concat([old, Buffer.from('!')]))
  assert.strictEqual(fs.readFileSync(f, 'utf8'), '40!')
  await af.update(f, () => undefined)
  await assert.rejects(af.update(f, () => { throw new Error('boom') }), /boom/)
  assert.strictEqual(fs.readFileSync(f, 'utf8'), '40!')
  assert.deepStrictEqual(temps(d), [])
})

test('withLock excludes; try-once and timeout fail', async (t) => {
  const d = tmpdir(t)
  const f = path.join(d, 'f')
  await af.withLock(f, async () => {
    await assert.rejects(af.withLock(f, () => {}, { timeout: 0 }), { code: 'EAGAIN' })
    await assert.rejects(af.withLock(f, () => {}, { timeout: 30 }), { code: 'ETIMEDOUT' })
    assert.throws(() => af.withLockSync(f, () => {}, { timeout: 0 }), { code: 'EAGAIN' })
  })
  assert.strictEqual(af.withLockSync(f, () => 7), 7)
  await af.withLock(f, () => af.withLock(f, () => 1, { shared: true }), { shared: true })
})

test('transaction: commit on success, rollback on throw', async (t) => {
  const d = tmpdir(t)
  fs.writeFileSync(path.join(d, 'old'), 'old')
  const r = await af.transaction(d, async (txn) => {
    await txn.writeFile('a', 'A')
    await txn.create('b', 'B')
    await txn.rename('old', 'renamed')
    return 'done'
  })
  assert.strictEqual(r, 'done')
  assert.strictEqual(fs.readFileSync(path.join(d, 'a'), 'utf8'), 'A')
  assert.strictEqual(fs.readFileSync(path.join(d, 'renamed'), 'utf8'), 'old')
  await assert.rejects(af.transaction(d, async (txn) => {
    await txn.writeFile('a', 'changed')
    await txn.remove('b')
    throw new Error('abort')
  }), /abort/)
  assert.strictEqual(fs.readFileSync(path.join(d, 'a'), 'utf8'), 'A')
  assert.strictEqual(fs.readFileSync(path.join(d, 'b'), 'utf8'), 'B')
  af.transactionSync(d, (txn) => { txn.put('s', 'S') })
  assert.strictEqual(fs.readFileSync(path.join(d, 's'), 'utf8'), 'S')
  await assert.rejects(af.transaction(d, async (txn) => {
    await txn.writeFile('c', 'C')
    await txn.create('a', 'again')
  }), { code: 'EEXIST' })
  assert.ok(!fs.existsSync(path.join(d, 'c')))
  assert.deepStrictEqual(temps(d), [])
  assert.strictEqual((await af.recover(d)).action, 'none')
  assert.strictEqual(af.recoverSync(d).action, 'none')
})

test('writeMany', async (t) => {
  const d = tmpdir(t)
  await af.writeMany(Array.from({ length: 10 }, (_, i) => [path.join(d, `f${i}`), `v${i}`]))
  af.writeManySync([{ path: path.join(d, 'g'), data: 'G' }])
  assert.strictEqual(fs.readFileSync(path.join(d, 'f7'), 'utf8'), 'v7')
  assert.strictEqual(fs.readFileSync(path.join(d, 'g'), 'utf8'), 'G')
})

test('createWriteStream: commit on finish, discard on error and destroy', async (t) => {
  const d = tmpdir(t)
  const f = path.join(d, 'f')
  fs.writeFileSync(f, 'old')
  await pipeline(Readable.from(['a', 'b', 'c']), af.createWriteStream(f))
  assert.strictEqual(fs.readFileSync(f, 'utf8'), 'abc')
  const failing = new Readable({
    read () {
      this.push('partial')
      this.destroy(new Error('source failed'))
    }
  })
  await assert.rejects(pipeline(failing, af.createWriteStream(f)), /source failed/)
  assert.strictEqual(fs.readFileSync(f, 'utf8'), 'abc')
  const s = af.createWriteStream(f)
  s.write('never')
  await new Promise((resolve) => s.once('ready', resolve).once('error', resolve).write('', resolve))
  s.destroy()
  await new Promise((resolve) => s.once('close', resolve))
  assert.strictEqual(fs.readFileSync(f, 'utf8'), 'abc')
  await assert.rejects(pipeline(Readable.from(['x']), af.createWriteStream(path.join(d, 'no', 'f'))), { code: 'ENOENT' })
  assert.deepStrictEqual(temps(d), [])
})

test('the event loop keeps running during a blocking call', async (t) => {
  const d = tmpdir(t)
  const f = path.join(d, 'f')
  let ticks = 0
  await af.withLock(f, async () => {
    const waiting = af.withLock(f, () => 'got it')
    // The waiter blocks a pool thread, not this one: timers still fire.
    await new Promise((resolve) => setTimeout(resolve, 20))
    ticks++
    return waiting.then.bind(waiting)
  }).then((then) => new Promise((resolve, reject) => then(resolve, reject)))
    .then((v) => assert.strictEqual(v, 'got it'))
  assert.strictEqual(ticks, 1)
})

// Group commit (index.js): concurrent durable writes into one directory
// share their syncs, in at most two batches in flight.
test('group commit: writes in one tick share the directory syncs', async (t) => {
  const d = tmpdir(t)
  const files = Array.from({ length: 8 }, (_, i) => path.join(d, `f${i}`))
  for (const f of files) fs.writeFileSync(f, 'old')
  const s0 = af.stats()
  await Promise.all(files.map((f, i) => af.writeFile(f, `new${i}`)))
  const s1 = af.stats()
  files.forEach((f, i) => assert.strictEqual(fs.readFileSync(f, 'utf8'), `new${i}`))
  assert.ok(s1.dirSyncs - s0.dirSyncs <= 2, `${s1.dirSyncs - s0.dirSyncs} directory syncs for 8 writes`)
  assert.ok(s1.dirSyncs - s0.dirSyncs >= 1)
  // groupCommit: false: one afile_write, one directory sync each.
  await Promise.all(files.map((f, i) => af.writeFile(f, `x${i}`, { groupCommit: false })))
  assert.strictEqual(af.stats().dirSyncs - s1.dirSyncs, 8)
  // mode and fsync: false reach the batch.
  await Promise.all(files.map((f) => af.writeFile(f, 'm', { mode: 0o600 })))
  for (const f of files) assert.strictEqual(fs.statSync(f).mode & 0o777, 0o600)
  const s2 = af.stats()
  await Promise.all(files.map((f) => af.writeFile(f, 'n', { fsync: false })))
  assert.strictEqual(af.stats().syncs - s2.syncs, 0)
  assert.strictEqual(af.stats().dirSyncs - s2.dirSyncs, 0)
  // lock: true writes are never grouped (the lock is held only for its own write).
  const s3 = af.stats()
  await Promise.all(files.slice(0, 4).map((f) => af.writeFile(f, 'locked', { lock: true })))
  assert.strictEqual(af.stats().dirSyncs - s3.dirSyncs, 4)
  for (const f of files.slice(0, 4)) assert.strictEqual(fs.readFileSync(f, 'utf8'), 'locked')
  assert.deepStrictEqual(temps(d), [])
})

test('group commit: writes to one path keep their call order', async (t) => {
  const d = tmpdir(t)
  const f = path.join(d, 'f')
  const other = path.join(d, 'o')
  const pending = []
  for (let round = 0; round < 12; round++) {
    // Some in the same tick, some while earlier batches are in flight.
    pending.push(af.writeFile(f, `r${round}a`), af.writeFile(other, `${round}`))
    if (round % 3 === 0) await new Promise((resolve) => setImmediate(resolve))
    pending.push(af.writeFile(f, `r${round}b`))
  }
  await Promise.all(pending)
  assert.strictEqual(fs.readFileSync(f, 'utf8'), 'r11b')
  assert.strictEqual(fs.readFileSync(other, 'utf8'), '11')
  // A later write to a path whose batch is still in flight waits for it,
  // even when the other slot is free: a large write, then a small one.
  for (let i = 0; i < 3; i++) {
    const big = af.writeFile(f, Buffer.alloc(8 << 20, 'B'))
    await af.writeFile(other, 'o') // the other slot, done while big runs
    const small = af.writeFile(f, 'small')
    await Promise.all([big, small])
    assert.strictEqual(fs.readFileSync(f, 'utf8'), 'small')
  }
  assert.deepStrictEqual(temps(d), [])
})

test('group commit: a failing write in a batch fails alone', async (t) => {
  const d = tmpdir(t)
  const names = ['a', 'b', 'c', 'd', 'e', 'f'].map((n) => path.join(d, n))
  for (const f of names) fs.writeFileSync(f, 'old')
  fs.linkSync(names[1], path.join(d, 'b-link')) // b: two links, refused
  fs.mkdirSync(path.join(d, 'dir'))
  const all = [...names, path.join(d, 'dir')] // a directory: refused
  const res = await Promise.allSettled(all.map((f) => af.writeFile(f, 'new')))
  const codes = res.map((r) => (r.status === 'fulfilled' ? 'ok' : r.reason.code))
  assert.deepStrictEqual(codes.slice(0, 6), ['ok', 'EAFILEHARDLINKS', 'ok', 'ok', 'ok', 'ok'])
  assert.notStrictEqual(codes[6], 'ok')
  assert.strictEqual(res[1].reason.path, names[1])
  for (const i of [0, 2, 3, 4, 5]) assert.strictEqual(fs.readFileSync(names[i], 'utf8'), 'new')
  assert.strictEqual(fs.readFileSync(names[1], 'utf8'), 'old')
  assert.deepStrictEqual(temps(d), [])
  // exclusive writes are never grouped: the one that exists fails alone.
  const ex = await Promise.allSettled(['a', 'x', 'y'].map((n) => af.writeFile(path.join(d, n), 'z', { exclusive: true })))
  assert.deepStrictEqual(ex.map((r) => r.status === 'fulfilled' ? 'ok' : r.reason.code), ['EEXIST', 'ok', 'ok'])
})
