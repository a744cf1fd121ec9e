export function describe() {
  return 'reports chunk of v1 loaded';
}
