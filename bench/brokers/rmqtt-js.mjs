// This project embedded in a Node process, as a user embeds it, for the bench:
// prints `READY <port>`, stops when stdin closes.
// Flags: --hooks none|js|wasm (an auth hook and a publish ACL hook, same rules
// in both backends), --wasm PATH (the policy for --hooks wasm), --block-loop,
// --persistence DIR (start with `persistence: { dir }`).
// Commands on stdin: `stop` (server.stop(), answers `OK <µs>`) and `start`
// (server.start() again on the same port, answers `OK <port> <µs>`).
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { allowsPassword, allowsTopic, blockLoop, microsSince, parseFlags, stopOnStdinEnd } from './block-loop.mjs'

const flags = parseFlags(process.argv.slice(2))
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const require = createRequire(import.meta.url)
let api
try {
  api = require(repo)
} catch (e) {
  console.log(`UNAVAILABLE package not built (npm install): ${e.message.split('\n')[0]}`)
  process.exit(3)
}
const { MqttServer } = api
const server = new MqttServer()

if (flags.hooks === 'js') {
  server.setHooks({
    onClientAuthenticate: (req) => ({ allow: allowsPassword(req.password) }),
    onClientPublishAuthorize: (session, msg) => ({ allow: allowsTopic(session?.username, msg.topic) }),
  })
} else if (flags.hooks === 'wasm') {
  if (typeof api.WasmPolicy?.load !== 'function') {
    console.log('UNAVAILABLE WasmPolicy is not in the JS API yet')
    process.exit(3)
  }
  const policy = await api.WasmPolicy.load(flags.wasm)
  server.setHooks({ onClientAuthenticate: policy, onClientPublishAuthorize: policy })
}

const config = MqttServer.createBasicConfig(0, '127.0.0.1')
if (flags.persistence) config.persistence = { dir: flags.persistence }
await server.start(config)
if (flags.blockLoop) blockLoop()
console.log(`READY ${server.listeners[0].port}`)
// Restarts keep the port, as a restarted service would.
config.listeners[0].port = server.listeners[0].port
stopOnStdinEnd(() => server.stop(), {
  stop: async () => {
    const t0 = process.hrtime.bigint()
    await server.stop()
    return `${microsSince(t0)}`
  },
  start: async () => {
    const t0 = process.hrtime.bigint()
    await server.start(config)
    return `${server.listeners[0].port} ${microsSince(t0)}`
  },
})
