// Lazily loaded settings panel (only in v1)
export function render(root) { root.textContent = 'Settings panel (v1)'; return 'settings-v1'; }
