import readline from 'node:readline'

// Blocks the Node event loop 50 ms of every 100 ms with a busy loop, as a
// host application doing synchronous work would (bench scenario 6).
export function blockLoop(busyMs = 50, periodMs = 100) {
  const tick = () => {
    const end = performance.now() + busyMs
    while (performance.now() < end) {
      // busy on purpose
    }
    setTimeout(tick, periodMs - busyMs)
  }
  setTimeout(tick, periodMs - busyMs)
}

// Flags shared by the broker scripts: --hooks none|js|wasm, --block-loop, --wasm PATH,
// --persistence DIR.
export function parseFlags(argv) {
  const flags = { hooks: 'none', blockLoop: false, wasm: null, persistence: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--hooks') flags.hooks = argv[++i]
    else if (a === '--block-loop') flags.blockLoop = true
    else if (a === '--wasm') flags.wasm = argv[++i]
    else if (a === '--persistence') flags.persistence = argv[++i]
    else throw new Error(`unknown flag ${a}`)
  }
  return flags
}

// The bench's rules, the same in every backend: allow the password "demo";
// allow publishing under "<username>/" (or "server/public/").
export function allowsPassword(password) {
  return password != null && Buffer.from(password).toString() === 'demo'
}

export function allowsTopic(username, topic) {
  return (username != null && topic.startsWith(`${username}/`)) || topic.startsWith('server/public/')
}

// Runs `stop` when the bench closes our stdin (its cue) or signals us.
// `commands` maps a line the bench may send (e.g. "stop", "start") to an
// async function whose result is answered as `OK <result>` (`FAILED <why>`
// when it throws); commands run one at a time, in order.
export function stopOnStdinEnd(stop, commands = {}) {
  let stopping = false
  let queue = Promise.resolve()
  const once = () => {
    if (stopping) return
    stopping = true
    queue.then(() => stop()).finally(() => process.exit(0))
  }
  const lines = readline.createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    const command = commands[line.trim()]
    queue = queue.then(async () => {
      if (!command) return console.log(`FAILED unknown command ${JSON.stringify(line)}`)
      try {
        console.log(`OK ${await command()}`)
      } catch (e) {
        console.log(`FAILED ${e?.code ?? ''} ${String(e?.message ?? e).split('\n')[0]}`)
      }
    })
  })
  lines.on('close', once)
  process.stdin.on('error', once)
  process.on('SIGTERM', once)
  process.on('SIGINT', once)
}

// Microseconds since `t0` (a `process.hrtime.bigint()`).
export function microsSince(t0) {
  return (process.hrtime.bigint() - t0) / 1000n
}
