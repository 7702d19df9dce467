// Streamified handlers: awslambda is a global, as on Lambda.
const { once } = require('node:events')
const { Readable } = require('node:stream')
const { pipeline } = require('node:stream/promises')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

class StreamBroke extends Error {
  constructor(message) {
    super(message)
    this.name = 'StreamBroke'
  }
}

// chunks writes event.chunks, event.delayMs apart.
exports.chunks = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain')
  for (const [i, chunk] of event.chunks.entries()) {
    if (i > 0) await sleep(event.delayMs)
    responseStream.write(chunk)
  }
  responseStream.end()
  console.log('handler done', context.awsRequestId)
})

// http answers with a metadata prelude for HTTP integrations.
exports.http = awslambda.streamifyResponse(async (event, responseStream) => {
  const s = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'content-type': 'text/plain', 'x-a': 'b' },
    cookies: ['a=b'],
  })
  s.write('hello ')
  s.end('world')
})

// midError fails after its first chunk.
exports.midError = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('partial')
  await sleep(50)
  throw new StreamBroke('broke after one chunk')
})

// earlyError fails before it writes anything.
exports.earlyError = awslambda.streamifyResponse(async () => {
  await sleep(10)
  throw new TypeError('nothing written yet')
})

// notAsync returns no promise.
exports.notAsync = awslambda.streamifyResponse((event, responseStream) => {})

// tooLate sets the content type after writing.
exports.tooLate = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('a')
  responseStream.setContentType('text/html')
  responseStream.end()
})

// uncaught writes, then throws outside the handler's promise.
exports.uncaught = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('before the crash')
  await new Promise(() => {
    setTimeout(() => { throw new RangeError('thrown from a timer') }, 20)
  })
})

// openEnded writes an object and never ends the stream.
exports.openEnded = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write({ a: 1 })
  setTimeout(() => responseStream.write('!'), 50)
})

// backpressure writes event.mb MiB in 64 KiB chunks, waiting for drain
// whenever write says to, and logs how many times it did.
exports.backpressure = awslambda.streamifyResponse(async (event, responseStream) => {
  const chunk = Buffer.alloc(64 * 1024)
  let drains = 0
  for (let i = 0; i < event.mb * 16; i++) {
    chunk.fill(i % 251)
    if (!responseStream.write(Buffer.from(chunk))) {
      drains++
      await once(responseStream, 'drain')
    }
  }
  responseStream.end()
  console.log('drains', drains)
}, { highWaterMark: 4096 })

// piped pipes a Readable of event.n lines into the stream.
exports.piped = awslambda.streamifyResponse(async (event, responseStream) => {
  async function* lines() {
    for (let i = 0; i < event.n; i++) yield `line ${i}\n`
  }
  await pipeline(Readable.from(lines()), responseStream)
})

// plain is not streamified: it answers as any handler does, and sees the
// global.
exports.plain = async () => ({
  awslambda: typeof awslambda,
  streamifyResponse: typeof awslambda.streamifyResponse,
  HttpResponseStream: typeof awslambda.HttpResponseStream.from,
})
