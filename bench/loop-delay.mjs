// Preloaded into the server by bench:abuse (`node --import ./bench/loop-delay.mjs ...`): samples
// the event loop's delay (perf_hooks, 10 ms resolution) and writes p50/p99/max in ms and the RSS
// to $FM_BENCH_LOOP_FILE once a second and at exit; the server's own code is untouched.
import { writeFileSync } from "node:fs"
import { monitorEventLoopDelay } from "node:perf_hooks"

const file = process.env.FM_BENCH_LOOP_FILE
if (file) {
  const h = monitorEventLoopDelay({ resolution: 10 })
  h.enable()
  let rssPeak = 0
  const write = () => {
    rssPeak = Math.max(rssPeak, process.memoryUsage.rss())
    const ms = (n) => n / 1e6
    writeFileSync(
      file,
      JSON.stringify({ p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), rssPeak, at: Date.now() })
    )
  }
  const timer = setInterval(write, 1000)
  timer.unref()
  const rss = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage.rss())), 100)
  rss.unref()
  process.on("exit", write)
}
