'use strict'
// bench.js [N] - durable small writes (1 KiB replacing an existing file,
// fsync on), N each (default 300), sync and async, in one run on one
// directory (BENCH_DIR, default a temp dir under the current directory,
// so that the file system is the one being measured, not /tmp's).
// Prints the median and p99 per write and the ratios to atomicfile.
// Note: write-file-atomic and atomically never sync the directory, so
// their rename can be lost in a power cut; atomicfile syncs it.
const fs = require('fs')
const path = require('path')
const af = require('atomicfile')
const wfa = require('write-file-atomic')

async function main () {
  const atomically = await import('atomically')
  const n = Number(process.argv[2] || 300)
  const dir = fs.mkdtempSync(path.join(process.env.BENCH_DIR || process.cwd(), '.bench-'))
  const data = Buffer.alloc(1024, 'x')
  const cases = {
    'atomicfile writeFileSync': (f) => af.writeFileSync(f, data),
    'write-file-atomic sync': (f) => wfa.sync(f, data),
    'atomically writeFileSync': (f) => atomically.writeFileSync(f, data),
    'atomicfile writeFile': (f) => af.writeFile(f, data),
    'write-file-atomic async': (f) => wfa(f, data),
    'atomically writeFile': (f) => atomically.writeFile(f, data)
  }
  const results = {}
  try {
    for (const [name, fn] of Object.entries(cases)) {
      const f = path.join(dir, name.replace(/\W+/g, '_'))
      fs.writeFileSync(f, data)
      for (let i = 0; i < 10; i++) await fn(f) // warm-up
      const t = []
      for (let i = 0; i < n; i++) {
        const s = process.hrtime.bigint()
        await fn(f)
        t.push(Number(process.hrtime.bigint() - s) / 1e6)
      }
      t.sort((a, b) => a - b)
      results[name] = { p50: t[Math.floor(n / 2)], p99: t[Math.floor(n * 0.99)] }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
  console.log(`durable 1 KiB replace, ${n} writes each, dir ${process.env.BENCH_DIR || process.cwd()}`)
  for (const [name, r] of Object.entries(results)) {
    const base = results[name.includes('ync') && !name.endsWith('writeFile') && !name.endsWith('async') ? 'atomicfile writeFileSync' : 'atomicfile writeFile']
    console.log(`${name.padEnd(28)} p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  p50 / atomicfile ${(r.p50 / base.p50).toFixed(2)}x (>1: atomicfile faster)`)
  }
}
main().catch((e) => { console.error(e); process.exit(1) })
