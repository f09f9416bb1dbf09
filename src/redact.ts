/**
 * Redis URLs may carry a password; it must not reach a log or an error
 * message. Everything between the scheme and the last '@' is hidden, so a
 * password holding '/' or '@' is hidden whole.
 */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)(.*)@/i, '$1***@');
}
