export function describe() {
  return 'charts chunk of v2 loaded';
}
