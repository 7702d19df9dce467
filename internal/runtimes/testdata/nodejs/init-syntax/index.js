exports.handler = async function(event) {
  return { ok: true }
}}
