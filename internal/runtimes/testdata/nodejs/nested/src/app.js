exports.main = async function(event) {
  return { file: 'src/app.js', export: 'main' }
}

exports.api = {
  v1: {
    get: async function() {
      return { file: 'src/app.js', export: 'api.v1.get' }
    },
  },
}
