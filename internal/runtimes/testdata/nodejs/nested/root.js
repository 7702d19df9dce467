exports.main = async function() {
  return { file: 'root.js' }
}
