// Shared by both builds, byte for byte: its ETag stays the same across releases.
export function show(id, text) {
  document.getElementById(id).textContent = text;
}
