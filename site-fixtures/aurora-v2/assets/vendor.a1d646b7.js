/* vendor bundle: tiny DOM helpers shared by every page */
export function $(selector, root = document) { return root.querySelector(selector); }
export function setText(selector, text) { const el = $(selector); if (el) el.textContent = text; return el; }
export function formatBytes(n) { const u = ['B','KiB','MiB']; let i = 0; while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; } return n.toFixed(i ? 1 : 0) + ' ' + u[i]; }
