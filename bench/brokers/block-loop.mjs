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

// Flags shared by the broker scripts: --hooks none|js|wasm, --block-loop, --wasm PATH.
export function parseFlags(argv) {
  const flags = { hooks: 'none', blockLoop: false, wasm: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--hooks') flags.hooks = argv[++i]
    else if (a === '--block-loop') flags.blockLoop = true
    else if (a === '--wasm') flags.wasm = argv[++i]
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
export function stopOnStdinEnd(stop) {
  let stopping = false
  const once = () => {
    if (stopping) return
    stopping = true
    Promise.resolve(stop()).finally(() => process.exit(0))
  }
  process.stdin.on('end', once)
  process.stdin.on('error', once)
  process.stdin.resume()
  process.on('SIGTERM', once)
  process.on('SIGINT', once)
}
