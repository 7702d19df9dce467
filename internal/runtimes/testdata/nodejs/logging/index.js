console.log('init line')

exports.handler = async function(event) {
  console.log('hello %s, %d items', 'world', 3)
  console.info('info', { a: 1 })
  console.warn('warn line')
  console.error('error line', new Error('logged error').message)
  console.debug('debug line')
  console.trace('trace line')
  console.log('first\nsecond\nthird')
  console.log()
  process.stdout.write('raw stdout line\n')
  return 'logged'
}
