const path = require('path')

exports.handler = async (event) => {
  return { module: 'cjs', ext: path.extname(__filename), isCJS: typeof module !== 'undefined' }
}
