import { greet, format } from 'layerpkg'

export const handler = async () => {
  return { greeting: greet('esm'), format }
}

// A callback handler: its result goes when the event loop is empty, which
// the resolution hooks for NODE_PATH must not hold up.
export const callback = (event, context, callback) => {
  setTimeout(() => callback(null, { greeting: greet('callback'), format }), 10)
}
