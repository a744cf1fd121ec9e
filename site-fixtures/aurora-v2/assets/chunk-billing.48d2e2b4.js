// Lazily loaded billing panel (new in v2)
export function render(root) { root.textContent = 'Billing panel (v2)'; return 'billing-v2'; }
