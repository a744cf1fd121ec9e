// Aurora application entry (v2)
import { setText } from '/assets/vendor.a1d646b7.js';
setText('#app-status', 'Aurora 2.0 is running');
document.documentElement.dataset.version = 'v2';
export async function openPanel() {
  const mod = await import('/assets/chunk-billing.48d2e2b4.js');
  return mod.render(document.querySelector('#panel'));
}
window.auroraOpenPanel = openPanel;
