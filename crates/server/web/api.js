// The API: every page reads the same JSON API as other clients.

/** The signed-in session: who, the CSRF token for state-changing calls,
 * and the operations (OpenAPI operation ids) the server says it may call. */
export const session = { user: null, csrf: null, operations: new Set() };

/** Whether the session may call `operation` (an OpenAPI operation id).
 * Only decides what is shown: the server checks every request. */
export function can(operation) {
  return session.operations.has(operation);
}

let unauthorized = () => {};

/** What to do when the server says the session has ended (sign in again). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export class ApiError extends Error {
  constructor(status, text, data = null) {
    super(text);
    this.status = status;
    this.data = data;
  }
}

/** Calls the API; state-changing calls carry the session's CSRF token. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session.csrf) headers["X-CSRF-Token"] = session.csrf;
  const r = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (r.status === 401 && path !== "/api/v1/login") {
    unauthorized();
    throw new ApiError(401, "Please sign in.");
  }
  if (!r.ok) throw new ApiError(r.status, (data && data.error) || `${r.status} ${r.statusText}`, data);
  return data;
}
