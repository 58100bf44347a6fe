'use strict'
// bench.js - durable small writes from Node: atomicfile against
// write-file-atomic and atomically, side by side in one run.
//
//   node bench.js [DIR ...]            (default: BENCH_DIR or the current
//                                       directory, and /dev/shm)
//   node bench.js --count=PEER DIR     (one peer's writes only, for strace)
//
// Every write replaces an existing 1 KiB file with fsync on (each peer's
// durable default).  Rows, per directory (one file system each):
//   sync  x1  writeFileSync / sync(), one after the other
//   async x1  writeFile(), each awaited before the next
//   async xC  C writeFile() in flight at once (Promise.all), to C files
//             of the directory (wfa's README use is async)
// Each round runs every peer once, in an order that rotates from round to
// round and is reversed every other round, so that load from the machine
// falls on all of them alike.  p50 over the rounds; ratio = peer p50 /
// atomicfile p50 (>1: atomicfile faster).  The whole run is repeated
// BENCH_REPEAT times and each repetition's ratio printed.  Settings from
// the environment: BENCH_N (rounds per row, 100), BENCH_CONC
// (concurrencies of the async rows, "1,8"), BENCH_REPEAT (1).
//
// Durability is not the same: write-file-atomic and atomically fsync the
// temp but never the directory, so after a power cut the rename (the new
// contents) can be lost although the call succeeded.  atomicfile also
// syncs the directory after the rename; its syncs per write (file and
// directory, from the library's own counters) are printed.  bench/node/
// run.sh also counts every peer's syncs with strace.
const fs = require('fs')
const path = require('path')
const { execFileSync } = require('child_process')
const af = require('atomicfile')
const wfa = require('write-file-atomic')

const N = Number(process.env.BENCH_N || 100)
const CONC = (process.env.BENCH_CONC || '1,8').split(',').map(Number)
const REPEAT = Number(process.env.BENCH_REPEAT || 1)
const data = Buffer.alloc(1024, 'x')

// What file system DIR is on, as findmnt and ext4's sysfs say.
function fsName (dir) {
  try {
    const [src, type] = execFileSync('findmnt', ['-n', '-o', 'SOURCE,FSTYPE', '-T', dir],
      { encoding: 'utf8' }).split('\n')[0].trim().split(/\s+/)
    if (type === 'ext4') {
      const j = path.join('/sys/fs/ext4', path.basename(src), 'journal_task')
      try {
        if (fs.readFileSync(j, 'utf8').trim() === '<none>') return `ext4 no journal (${src})`
        return `ext4 journal (${src})`
      } catch { return `ext4 (${src})` }
    }
    return `${type} (${src})`
  } catch { return 'unknown' }
}

function peers (atomically) {
  return {
    atomicfile: { sync: (f) => af.writeFileSync(f, data), async: (f) => af.writeFile(f, data) },
    'write-file-atomic': { sync: (f) => wfa.sync(f, data), async: (f) => wfa(f, data) },
    atomically: { sync: (f) => atomically.writeFileSync(f, data), async: (f) => atomically.writeFile(f, data) },
    // The same without the binding's group commit: one native call per write.
    'atomicfile (no group commit)': { async: (f) => af.writeFile(f, data, { groupCommit: false }) }
  }
}

const DURABILITY = {
  atomicfile: 'file + directory synced: the rename survives a power cut',
  'write-file-atomic': 'file synced, directory NOT synced: the rename can be lost',
  atomically: 'file synced, directory NOT synced: the rename can be lost',
  'atomicfile (no group commit)': 'as atomicfile'
}

const p50 = (t) => { const s = [...t].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

// One row: every peer that has this mode, N rounds, rotating order.
async function row (dir, ps, mode, conc) {
  const names = Object.keys(ps).filter((n) => ps[n][mode] && (conc > 1 || !n.includes('no group')))
  const files = {}
  for (const n of names) {
    files[n] = []
    for (let i = 0; i < conc; i++) {
      const f = path.join(dir, `${n.replace(/\W+/g, '_')}-${mode}-${conc}-${i}`)
      fs.writeFileSync(f, data)
      files[n].push(f)
    }
  }
  const op = (n) => mode === 'sync'
    ? ps[n].sync(files[n][0])
    : Promise.all(files[n].map((f) => ps[n].async(f)))
  for (const n of names) for (let i = 0; i < 3; i++) await op(n) // warm-up
  const t = Object.fromEntries(names.map((n) => [n, []]))
  const syncs = { file: 0, dir: 0 }
  for (let r = 0; r < N; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length])
    if (r % 2) order.reverse()
    for (const n of order) {
      const s0 = n === 'atomicfile' ? af.stats() : null
      const s = process.hrtime.bigint()
      await op(n)
      t[n].push(Number(process.hrtime.bigint() - s) / 1e6)
      if (s0) {
        const s1 = af.stats()
        syncs.file += s1.syncs - s0.syncs
        syncs.dir += s1.dirSyncs - s0.dirSyncs
      }
    }
  }
  const base = p50(t.atomicfile)
  return names.map((n) => ({
    peer: n,
    p50: p50(t[n]),
    ratio: p50(t[n]) / base,
    syncs: n === 'atomicfile' ? `${(syncs.file / (N * conc)).toFixed(2)} + ${(syncs.dir / (N * conc)).toFixed(2)}` : ''
  }))
}

async function countMode (peer, dir) {
  // --count=PEER: N async writes of PEER one after the other, nothing
  // else that syncs (for strace -c -f).
  const atomically = await import('atomically')
  const f = path.join(dir, 'count')
  fs.writeFileSync(f, data)
  const ps = peers(atomically)
  for (let i = 0; i < N; i++) await ps[peer].async(f)
}

async function main () {
  const args = process.argv.slice(2)
  const count = args.find((a) => a.startsWith('--count='))
  const dirs = args.filter((a) => !a.startsWith('--'))
  if (count) return countMode(count.slice(8), dirs[0] || '.')
  if (dirs.length === 0) {
    dirs.push(process.env.BENCH_DIR || process.cwd())
    if (fs.existsSync('/dev/shm')) dirs.push('/dev/shm')
  }
  const atomically = await import('atomically')
  const ps = peers(atomically)
  const results = [] // [rep][row] -> rows
  for (let rep = 0; rep < REPEAT; rep++) {
    const out = []
    for (const top of dirs) {
      const dir = fs.mkdtempSync(path.join(top, '.afile-bench-'))
      try {
        const fsn = fsName(dir)
        out.push({ fs: fsn, mode: 'sync', conc: 1, rows: await row(dir, ps, 'sync', 1) })
        for (const c of CONC) out.push({ fs: fsn, mode: 'async', conc: c, rows: await row(dir, ps, 'async', c) })
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
    results.push(out)
    process.stderr.write(`repetition ${rep + 1}/${REPEAT} done\n`)
  }
  console.log(`durable 1 KiB replaces, ${N} rounds per row, ${REPEAT} repetition(s); node ${process.version}`)
  console.log('ratio = peer p50 / atomicfile p50 (>1: atomicfile faster); for xC rows one op is C writes in flight')
  console.log('syncs/write (atomicfile only, library counters): file syncs (a syncfs counts one) + directory syncs\n')
  const hdr = ['file system', 'mode', 'peer', 'p50 ms/op (last)', ...results.map((_, i) => `ratio #${i + 1}`), 'syncs/write']
  const lines = [hdr]
  results[0].forEach((r, i) => {
    r.rows.forEach((x, j) => {
      const last = results[results.length - 1][i].rows[j]
      lines.push([r.fs, `${r.mode} x${r.conc}`, x.peer, last.p50.toFixed(3),
        ...results.map((rr) => rr[i].rows[j].ratio.toFixed(2)), last.syncs])
    })
  })
  const w = hdr.map((_, k) => Math.max(...lines.map((l) => String(l[k]).length)))
  for (const l of lines) console.log(l.map((c, k) => String(c).padEnd(w[k])).join('  ').trimEnd())
  console.log('\ndurability reached by each peer:')
  for (const [n, d] of Object.entries(DURABILITY)) console.log(`  ${n.padEnd(29)} ${d}`)
}
main().catch((e) => { console.error(e); process.exit(1) })
