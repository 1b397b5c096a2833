/**
 * The `route` label of a request: a procedure's path, `batch` for a batch of
 * known procedures, `/metrics`, or `other`. Never the raw URL, which a client
 * chooses freely: the label's values must stay few.
 */
export function createRouteLabeler(procedures: string[]) {
  const known = new Set(procedures);
  return (pathname: string, searchParams: URLSearchParams) => {
    if (pathname === '/metrics') return '/metrics';
    if (!pathname.startsWith('/trpc/')) return 'other';
    let paths: string[];
    try {
      paths = decodeURIComponent(pathname.slice('/trpc/'.length)).split(',');
    } catch {
      // A malformed escape (`/trpc/%E0`): tRPC answers it; this must not throw, it would end the process.
      return 'other';
    }
    if (!paths.every((path) => known.has(path))) return 'other';
    return searchParams.get('batch') === '1' ? 'batch' : paths[0]!;
  };
}
