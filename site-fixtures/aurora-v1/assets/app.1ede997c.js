// Aurora application entry (v1)
import { setText } from '/assets/vendor.a1d646b7.js';
setText('#app-status', 'Aurora 1.0 is running');
document.documentElement.dataset.version = 'v1';
export async function openPanel() {
  const mod = await import('/assets/chunk-settings.88c4240a.js');
  return mod.render(document.querySelector('#panel'));
}
window.auroraOpenPanel = openPanel;
