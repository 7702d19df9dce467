exports.other = async function() {
  return 'not the handler'
}
