// aedes (npm) on Node's `net` server, as its README starts it, for the bench:
// prints `READY <port>`, stops when stdin closes.
// Flags: --hooks none|js  (authenticate + authorizePublish), --block-loop.
import net from 'node:net'
import { createRequire } from 'node:module'
import { allowsPassword, allowsTopic, blockLoop, parseFlags, stopOnStdinEnd } from './block-loop.mjs'

const flags = parseFlags(process.argv.slice(2))
const require = createRequire(import.meta.url)
let Aedes
try {
  ({ Aedes } = require('aedes'))
} catch (e) {
  console.log(`UNAVAILABLE aedes not installed (npm install): ${e.message.split('\n')[0]}`)
  process.exit(3)
}

const broker = await Aedes.createBroker()
if (flags.hooks === 'js') {
  broker.authenticate = (client, username, password, callback) => {
    client.benchUsername = username // aedes keeps no username itself
    callback(null, allowsPassword(password))
  }
  broker.authorizePublish = (client, packet, callback) => {
    if (allowsTopic(client.benchUsername, packet.topic)) {
      callback(null)
    } else {
      callback(new Error('not allowed'))
    }
  }
} else if (flags.hooks !== 'none') {
  console.log(`UNAVAILABLE aedes has no ${flags.hooks} hooks`)
  process.exit(3)
}

const server = net.createServer(broker.handle)
server.listen(0, '127.0.0.1', () => {
  if (flags.blockLoop) blockLoop()
  console.log(`READY ${server.address().port}`)
})
stopOnStdinEnd(() => new Promise((resolve) => {
  server.close()
  broker.close(resolve)
}))
