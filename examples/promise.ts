// Without Effect: the promise client (the API of FlowMason's Python client).
import { getRemoteRegistry } from "fm"

const client = getRemoteRegistry() // home: $FLOWMASON_HOME, else ~/.flowmason; or { home: "/path" }
await client.addRegistry({ name: "primary", url: process.env["REGISTRY_URL"] ?? "http://127.0.0.1:8080", priority: 10 })

const results = await client.search("hello")
for (const pkg of results.packages) console.log(`${pkg.name} v${pkg.version} on ${pkg.registry}: ${pkg.description}`)

const installed = await client.install("hello-flow", { version: "1.0.0" }) // primary is asked first
console.log(`installed ${installed}`)
await client.dispose()
