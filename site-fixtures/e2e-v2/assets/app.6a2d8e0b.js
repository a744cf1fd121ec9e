import { show } from './shared.7b3e0f21.js';

show('status', 'app v2 is running');

// Loaded on demand, as a bundler splits a route: only build v2 has this chunk.
window.loadMore = async function () {
  const chunk = await import('./charts.3c8f1a5e.js');
  show('lazy', chunk.describe());
  return chunk.describe();
};
