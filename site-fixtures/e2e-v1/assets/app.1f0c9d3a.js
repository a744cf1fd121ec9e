import { show } from './shared.7b3e0f21.js';

show('status', 'app v1 is running');

// Loaded on demand, as a bundler splits a route: only build v1 has this chunk.
window.loadMore = async function () {
  const chunk = await import('./reports.9e4b2c7d.js');
  show('lazy', chunk.describe());
  return chunk.describe();
};
